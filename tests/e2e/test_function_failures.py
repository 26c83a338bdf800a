"""A function that fails behind the gateway fails the end-to-end test that saw it: the gateway
answers 500 as API Gateway does and reports the failure to the stack (stack.failures), which the e2e
conftest checks after every test. Before the gateway reported failures, a crash, a timeout or a
missing result left every such test green."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CASES = "tests/e2e/failing_function_cases.py"  # one stack, the relay's code swapped for a failing handler
# Each case, and what the failure the stack recorded for it says.
FAILURES = {
    "raise": "failed on purpose",
    "exit": "Runtime exited with error: exit status 3",
    "timeout": "Task timed out after 1.00 seconds",
    "none": "the function returned no result (null)",
}


def test_a_function_that_crashes_times_out_or_returns_nothing_fails_the_run_that_saw_it():
    command = [sys.executable, "-m", "pytest", CASES, "-q", "-rA", "--tb=short", "-p", "no:randomly", "-W", "ignore"]
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)  # noqa: S603
    out, lines = run.stdout, run.stdout.splitlines()
    assert run.returncode == 1, out[-3000:] + run.stderr[-2000:]
    # Every request was answered (the cases themselves pass); every failure fails its case at teardown.
    assert lines[-1].startswith("5 passed, 4 errors"), out[-3000:]
    assert "fine: HTTP 200 b'fine'" in out, out[-3000:]
    errors = [line for line in lines if line.startswith("E   AssertionError: a function returned no result")]
    for how, said in FAILURES.items():
        assert f"{how}: HTTP 500" in out, f"{how}: not API Gateway's 500\n{out[-3000:]}"
        assert any(said in line for line in errors), f"{how}: the run did not fail on it\n{out[-3000:]}"
