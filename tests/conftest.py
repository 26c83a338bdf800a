"""Test tiers: unit, fuzz and infra tests cannot open a socket; integration and e2e tests reach 127.0.0.1 only.
A test hands the handlers its Runtime with the `use_runtime` fixture, or `in_use` for one block."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import pytest
from pytest_socket import disable_socket, enable_socket, socket_allow_hosts

# Powertools: no X-Ray, and EMF to stdout only where a test captures it.
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "omni-cancel-relay")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

if TYPE_CHECKING:
    from omni_relay.wiring import Runtime


@pytest.fixture(autouse=True)
def _network_policy(request: pytest.FixtureRequest):
    if any(f"/tests/{tier}/" in str(request.node.fspath) for tier in ("unit", "fuzz", "infra")):
        disable_socket(allow_unix_socket=True)
    else:
        enable_socket()
        socket_allow_hosts(["127.0.0.1", "localhost", "::1"], allow_unix_socket=True)
    yield
    enable_socket()


@contextmanager
def in_use(runtime: Runtime) -> Iterator[Runtime]:
    """The handlers use `runtime` inside the block; after it, the one built from the environment again."""
    from omni_relay import wiring

    wiring.use(runtime)
    try:
        yield runtime
    finally:
        wiring.use(None)


@pytest.fixture
def use_runtime() -> Iterator[Callable[[Runtime], Runtime]]:
    """`use_runtime(runtime)` hands the handlers `runtime` (and returns it) until the test ends; called
    again, the next one. At teardown the handlers go back to the Runtime built from the environment."""
    from omni_relay import wiring

    def use(runtime: Runtime) -> Runtime:
        wiring.use(runtime)
        return runtime

    yield use
    wiring.use(None)
