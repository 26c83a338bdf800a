"""Test tiers: unit, fuzz and infra tests cannot open a socket; integration and e2e tests reach 127.0.0.1 only."""

from __future__ import annotations

import os

import pytest
from pytest_socket import disable_socket, enable_socket, socket_allow_hosts

# Powertools: no X-Ray, and EMF to stdout only where a test captures it.
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "omni-cancel-relay")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(autouse=True)
def _network_policy(request: pytest.FixtureRequest):
    if any(f"/tests/{tier}/" in str(request.node.fspath) for tier in ("unit", "fuzz", "infra")):
        disable_socket(allow_unix_socket=True)
    else:
        enable_socket()
        socket_allow_hosts(["127.0.0.1", "localhost", "::1"], allow_unix_socket=True)
    yield
    enable_socket()
