"""Lambda execution environments on this machine, without Docker: each one is the Lambda Runtime
Interface Emulator (the binary inside aws-sam-cli) running awslambdaric on python3.12, in its own
process, with the function's code and layers from the `sam build` output and the environment SAM
CLI resolves for it (samcli.local.lambdafn.env_vars.EnvironmentVariables, as `sam local` does).

A FunctionPool starts environments on demand (a cold start) and reuses idle ones (warm), up to a
bound, the way Lambda scales a function. Their output (the JSON logs) goes to a log file.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from local.cloud.sam_template import FunctionSpec


class FunctionFailed(Exception):
    """The invocation did not return a result: the handler raised, timed out, or its process died."""


def rie_binary() -> Path:
    import samcli

    arch = "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"
    return Path(samcli.__file__).parent / "local" / "rapid" / f"aws-lambda-rie-{arch}"


def rie_command(port: int, python: str, handler: str) -> list[str]:
    """The emulator serving invocations on 127.0.0.1:`port`, running `handler` with awslambdaric."""
    emulator = ["--runtime-interface-emulator-address", f"127.0.0.1:{port}"]
    runtime_api = ["--runtime-api-address", f"127.0.0.1:{free_port()}"]
    return [str(rie_binary()), *emulator, *runtime_api, python, "-m", "awslambdaric", handler]


def wait_for_port(port: int, proc: subprocess.Popen[str], timeout_s: float = 10, interval_s: float = 0.002) -> bool:
    """True once the emulator listens on `port`; False if it exits or `timeout_s` passes first."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(interval_s)
    return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def function_environment(
    spec: FunctionSpec, overrides: Mapping[str, str], credentials: Mapping[str, str]
) -> dict[str, str]:
    """The variables a deployed function sees: the template's (Globals + its own, resolved) with the
    env-file overrides SAM CLI allows (declared variables only), plus the AWS_* ones Lambda sets,
    its role's credentials among them. SAM CLI's own resolver does the merging."""
    from samcli.local.lambdafn.env_vars import EnvironmentVariables

    resolved = EnvironmentVariables(
        function_name=spec.logical_id,
        function_memory=spec.memory,
        function_timeout=spec.timeout,
        function_handler=spec.handler,
        variables=dict(spec.variables),
        shell_env_values={},  # the developer's shell never leaks in: only the template and the overrides
        override_values=dict(overrides),
        aws_creds=dict(credentials),
    ).resolve()
    resolved.pop("AWS_SAM_LOCAL", None)  # `sam local` adds it; a deployed function has no such variable
    return resolved


class Instance:
    """One execution environment: the emulator and, from the first invoke, the runtime process in it."""

    def __init__(
        self,
        spec: FunctionSpec,
        env: Mapping[str, str],
        *,
        python: str,
        code_dir: Path,
        layer_dirs: list[Path],
        runtime_client: Path,
        log: Callable[[str, str], None],
    ) -> None:
        self.spec = spec
        self.port = free_port()
        self.log = log
        paths = [code_dir, *layer_dirs, runtime_client]
        process_env = {
            **env,
            # What Lambda's python runtime itself sets (not configuration): code root, handler, paths.
            "LAMBDA_TASK_ROOT": str(code_dir),
            "_HANDLER": spec.handler,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "PYTHONPATH": os.pathsep.join(str(p) for p in paths),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PYTHONDONTWRITEBYTECODE": "1",  # /var/task and /opt are read-only in Lambda
            "PYTHONUNBUFFERED": "1",
        }
        command = rie_command(self.port, python, spec.handler)
        self.proc = subprocess.Popen(  # noqa: S603 (our own command line)
            command,
            cwd=code_dir,
            env=process_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        threading.Thread(target=self._pump, args=(self.proc.stdout,), daemon=True).start()
        import urllib3

        self.http = urllib3.PoolManager(
            retries=False, timeout=urllib3.Timeout(connect=1, read=spec.timeout + 5), maxsize=1
        )
        self._wait_for_port()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self.log(self.spec.logical_id, line.rstrip("\n"))

    def _wait_for_port(self) -> None:
        if not wait_for_port(self.port, self.proc):
            raise FunctionFailed(f"{self.spec.logical_id}: the runtime interface emulator did not start")

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def invoke(self, event: Mapping[str, Any]) -> Any:
        import urllib3

        url = f"http://127.0.0.1:{self.port}/2015-03-31/functions/function/invocations"
        try:
            reply = self.http.request("POST", url, body=json.dumps(event).encode())
        except urllib3.exceptions.HTTPError as exc:
            raise FunctionFailed(f"{self.spec.logical_id}: {type(exc).__name__}") from None
        try:
            result = json.loads(reply.data or b"null")
        except ValueError:
            raise FunctionFailed(f"{self.spec.logical_id}: not a JSON result: {reply.data[:200]!r}") from None
        if reply.status != 200 or (isinstance(result, dict) and {"errorType", "errorMessage"} <= set(result)):
            raise FunctionFailed(f"{self.spec.logical_id}: {str(result)[:300]}")
        return result

    def stop(self) -> None:
        if self.alive:
            try:
                os.killpg(self.proc.pid, 15)
                self.proc.wait(timeout=5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, 9)
        self.http.clear()

    def kill(self) -> None:
        """As when the execution environment dies mid-invocation (out of memory, a crash)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, 9)


class FunctionPool:
    """The execution environments of one function: reused when idle, started when all are busy."""

    def __init__(self, make: Callable[[], Instance], name: str, max_instances: int) -> None:
        self._make = make
        self.name = name
        self.max_instances = max_instances
        self._idle: list[Instance] = []
        self._all: list[Instance] = []
        self._busy: list[Instance] = []
        self._changed = threading.Condition()
        self._starting = 0
        self.cold_starts = 0

    def _acquire(self) -> Instance:
        with self._changed:
            while True:
                while self._idle:
                    instance = self._idle.pop()
                    if instance.alive:
                        self._busy.append(instance)
                        return instance
                    self._all.remove(instance)
                if len(self._all) + self._starting < self.max_instances:
                    self._starting += 1
                    break
                self._changed.wait(0.5)
        try:
            instance = self._make()  # a cold start
        finally:
            with self._changed:
                self._starting -= 1
                self._changed.notify_all()
        with self._changed:
            self._all.append(instance)
            self._busy.append(instance)
            self.cold_starts += 1
        return instance

    def _release(self, instance: Instance) -> None:
        with self._changed:
            self._busy.remove(instance)
            if instance.alive:
                self._idle.append(instance)
            else:
                self._all.remove(instance)
                instance.stop()
            self._changed.notify_all()

    def invoke(self, event: Mapping[str, Any]) -> Any:
        instance = self._acquire()
        try:
            return instance.invoke(event)
        finally:
            self._release(instance)

    def kill_busy(self) -> int:
        """Kill every environment in the middle of an invocation; returns how many."""
        with self._changed:
            busy = list(self._busy)
        for instance in busy:
            instance.kill()
        return len(busy)

    def stop(self) -> None:
        with self._changed:
            everything, self._all, self._idle = self._all, [], []
        for instance in everything:
            instance.stop()
