from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _clear_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test of a module-scoped local stack, Omni answers normally again."""
    yield
    if "stack" in request.fixturenames:
        stack = request.getfixturevalue("stack")
        if stack.omni is not None:
            stack.omni.set_faults()
