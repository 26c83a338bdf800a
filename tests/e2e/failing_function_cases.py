"""Cases for tests/e2e/test_function_failures.py, which runs this file in its own pytest run (a plain
run does not collect it: its name has no test_ prefix). Behind the gateway the relay's code is
swapped for a handler that fails as asked (raises, its process exits, runs past its timeout, returns
no result); each case sends one request and checks nothing about the answer itself, as a test that
met a function's failure by accident would. The e2e conftest must fail every case but the control."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3

from local.cloud.build import ensure_runtime_client, python312
from local.cloud.lambda_runtime import FunctionPool, Instance, function_environment
from local.cloud.stack import LocalStack, credentials_for
from tests.e2e.helpers import stack_config

HANDLER = """
import os
import time


def handler(event, context):
    how = (event.get("headers") or {}).get("x-misbehave", "")
    if how == "raise":
        raise RuntimeError("failed on purpose")
    if how == "exit":
        os._exit(3)  # the execution environment dies mid-invocation
    if how == "timeout":
        time.sleep(30)  # past the function's timeout
    if how == "none":
        return None
    return {"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": "fine"}
"""
TIMEOUT_S = 1


def misbehave(stack: LocalStack, function: str, code_dir: Path) -> None:
    """Serve `function`'s routes with HANDLER, in the environment and runtime the stack gives it."""
    (code_dir / "misbehave.py").write_text(HANDLER)
    spec = dataclasses.replace(stack.functions[function], handler="misbehave.handler", timeout=TIMEOUT_S)
    env = function_environment(spec, {}, credentials_for(function))

    def make() -> Instance:
        return Instance(
            spec,
            env,
            python=python312(),
            code_dir=code_dir,
            layer_dirs=[],
            runtime_client=ensure_runtime_client(),
            log=lambda name, line: None,
        )

    stack.pools[function].stop()
    stack.pools[function] = FunctionPool(make, function, 2)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(stack_config(worker=False)) as running:
        misbehave(running, "RelayFunction", tmp_path_factory.mktemp("misbehave"))
        yield running


@pytest.mark.parametrize("how", ["fine", "raise", "exit", "timeout", "none"])
def test_a_request(stack: LocalStack, how: str) -> None:
    reply = urllib3.request(
        "POST", f"{stack.url}/slack/commands", headers={"x-misbehave": how}, body=b"", timeout=TIMEOUT_S + 20
    )
    print(f"{how}: HTTP {reply.status} {reply.data[:80]!r}")
