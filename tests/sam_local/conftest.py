"""The `sam local` tier runs SAM CLI itself (`sam local invoke`, `sam local start-api`) in containers
on a Docker engine, against the local stack on its fixed ports. Where it cannot run, every test in it
is skipped with one reason, which pytest's summary prints; it never passes without running."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest

PORTS = {3000: "make local's relay", 3001: "sam local start-api", 5005: "moto", 8097: "the Slack API stand-in",
         8098: "the capture server", 8099: "the Omni emulator"}  # fmt: skip


def _busy(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def why_not() -> str | None:
    """Why the tier cannot run here, or None when it can."""
    from local.cloud.sam_local_image import image_tag

    if shutil.which("docker") is None:
        return "no docker command (make sam-local-engine installs Debian's docker.io and starts it)"
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:  # noqa: S607
        return "no Docker engine answers (make sam-local-engine installs and starts one, as root)"
    tag = image_tag()
    if subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode != 0:  # noqa: S603 S607
        return f"the base image {tag} is not there (make sam-local-image builds the stand-in)"
    try:
        address = socket.gethostbyname("host.docker.internal")
    except OSError:
        address = "nothing"
    if address != "127.0.0.1":
        return f"host.docker.internal is {address} here, not 127.0.0.1 (make sam-local-engine maps it)"
    deadline = time.monotonic() + 120  # another run's `make local` or demo may hold them for a while
    while busy := [f"{port} ({what})" for port, what in PORTS.items() if _busy(port)]:
        if time.monotonic() > deadline:
            return f"ports in use on 127.0.0.1: {', '.join(busy)}"
        time.sleep(2)
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tier = [item for item in items if "/tests/sam_local/" in str(item.fspath)]
    if not tier:
        return
    reason = why_not()
    if reason:
        marker = pytest.mark.skip(reason=f"sam local tier not run: {reason}")
        for item in tier:
            item.add_marker(marker)
