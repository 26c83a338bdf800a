"""End-to-end tests drive the template-driven local stack (local/cloud/stack.py) as users do: over HTTP,
with each function in its own processes, in the environment and under the IAM policy template.yaml
gives it. The template can be swapped for a copy (RELAY_TEMPLATE), which is how
tests/e2e/test_fidelity.py shows these tests fail when the template is broken."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _after_each_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test of a module-scoped local stack: Omni answers normally again, and no function
    was refused an AWS call by the policy the template gives it."""
    stack = request.getfixturevalue("stack") if "stack" in request.fixturenames else None
    yield
    if stack is not None:
        if stack.omni is not None:
            stack.omni.set_faults()
        denied = stack.gate.denied() if stack.gate else []
        stack.gate.decisions.clear() if stack.gate else None
        assert not denied, f"AccessDenied under the template's IAM policy: {denied}"
        failures, stack.failures[:] = list(stack.failures), []
        assert not failures, f"a function returned no result (API Gateway's 500): {failures}"
