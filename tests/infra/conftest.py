"""Fixtures the infrastructure tests share with the unit tests (a Runtime with fakes)."""

from tests.unit.conftest import omni, runtime, secrets  # noqa: F401
