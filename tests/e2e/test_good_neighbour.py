"""`make local` as a good neighbour: a port in use is one line naming it and its variable (no hang,
no traceback); INT, TERM, HUP, and `make` itself going away, each stop every process it started."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.cloud.lambda_runtime import free_port
from local.demo import demo_config
from tools.send import post_command

ROOT = Path(__file__).resolve().parents[2]
PORTS = ("PORT", "MOTO_PORT", "OMNI_EMULATOR_PORT", "CAPTURE_PORT", "SLACK_API_PORT")


def stack_env(**ports: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "PYTEST"))}
    env.update({name: str(ports.get(name) or free_port()) for name in PORTS})
    if os.environ.get("RELAY_TEMPLATE"):
        pytest.skip("runs template.yaml itself")
    return env


@pytest.fixture
def taken() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


@pytest.mark.parametrize("variable", ["MOTO_PORT", "PORT", "CAPTURE_PORT"])
def test_a_port_in_use_is_one_line_naming_it_and_its_variable(variable: str, taken: int):
    started = time.monotonic()
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "local.cloud.stack"],
        cwd=ROOT,
        env=stack_env(**{variable: taken}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and time.monotonic() - started < 30
    errors = done.stderr.strip().splitlines()
    assert errors == [f"error: port {taken} ({variable}) on 127.0.0.1 is in use (another make local?): stop it, "
                      f"or run with {variable}=<a free port>"], done.stderr  # fmt: skip


def test_the_demo_takes_free_ports_so_it_runs_beside_make_local():
    config = demo_config()
    assert (config.port, config.moto_port, config.omni_port, config.capture_port, config.slack_api_port) == (0,) * 5


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (the RIE emulators run in their own sessions, still its children)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    living = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            living.add(pid)
    return living


def wait_for_line(proc: subprocess.Popen[str], words: str, timeout: float = 180) -> list[str]:
    assert proc.stdout is not None
    lines, end = [], time.monotonic() + timeout
    while time.monotonic() < end:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        lines.append(line)
        if words in line:
            return lines
    raise AssertionError(f"never printed {words!r}: {''.join(lines)[-2000:]}")


STOPS = [
    ("python -m local.cloud.stack", "SIGINT", "process"),  # Ctrl-C
    ("python -m local.cloud.stack", "SIGTERM", "process"),  # kill
    ("python -m local.cloud.stack", "SIGHUP", "process"),
    ("make local", "SIGTERM", "process"),  # make passes TERM on to its child
    ("make local", "SIGHUP", "group"),  # the terminal closing: HUP to the whole foreground group
    ("make local", "SIGKILL", "process"),  # make gone without a word: the stack sees its parent go
]


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process table from /proc")
@pytest.mark.parametrize(("what", "name", "to"), STOPS)
def test_every_way_of_stopping_leaves_no_process_behind(what: str, name: str, to: str):
    env = stack_env()
    command = (
        ["make", "--no-print-directory", "local"]
        if what == "make local"
        else [sys.executable, "-m", "local.cloud.stack"]
    )
    proc = subprocess.Popen(  # noqa: S603
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        wait_for_line(proc, "Ctrl-C stops everything")
        status, _ = post_command(f"http://127.0.0.1:{env['PORT']}", "help")  # a cold start: RIE processes
        assert status == 200
        started = descendants(proc.pid) | {proc.pid}
        assert len(started) >= 3, started  # at least the stack, the relay's emulator and its runtime
        if to == "group":
            os.killpg(proc.pid, getattr(signal, name))
        else:
            os.kill(proc.pid, getattr(signal, name))
        proc.wait(timeout=30)
        end = time.monotonic() + 20
        while alive(started) and time.monotonic() < end:
            time.sleep(0.2)
        assert not alive(started), f"{name} to {what} left {alive(started)} running"
    finally:
        for pid in alive(descendants(proc.pid)) | ({proc.pid} if proc.poll() is None else set()):
            os.kill(pid, signal.SIGKILL)
