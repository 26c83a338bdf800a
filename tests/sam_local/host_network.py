"""`python -m tests.sam_local.host_network <sam arguments>`: SAM CLI itself, with its Lambda
containers on the host's network instead of a bridge network.

Why: this machine's Docker engine has no bridge (`dockerd --bridge=none`), and SAM CLI 1.170 cannot
put a function's container on the host's network: `--docker-network host` is accepted but never
applied (samcli.local.docker.container.Container.create only *connects* to a named network, and
never for "host"), and it publishes the emulator's port 8080, which host networking ignores. So for
each Lambda container this shim (the test tier's only help to SAM CLI) does what host networking
needs, and nothing else:
- network_mode "host" and no published ports;
- the Runtime Interface Emulator told to listen where SAM CLI will call it (127.0.0.1 and the port
  SAM CLI picked), and its Runtime API on a free port of its own, since containers that share the
  host's network cannot all take the emulator's defaults (0.0.0.0:8080 and 127.0.0.1:9001).
Everything else (the image build, the environment, the invoke, start-api's routing) is SAM CLI's own.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

RIE = "/var/rapid/aws-lambda-rie"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def install() -> None:
    from docker.models.containers import ContainerCollection
    from samcli.local.docker.container import Container

    create_container = Container.create

    def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self._entrypoint and self._entrypoint[0] == RIE:
            self._entrypoint = [
                *self._entrypoint,
                "--runtime-interface-emulator-address",
                f"127.0.0.1:{self.rapid_port_host}",
                "--runtime-api-address",
                f"127.0.0.1:{_free_port()}",
            ]
        return create_container(self, *args, **kwargs)

    docker_create = ContainerCollection.create

    def on_host_network(self: Any, image: str, command: Any = None, **kwargs: Any) -> Any:
        if (kwargs.get("labels") or {}).get("sam.cli.container.type") == "lambda":
            kwargs.pop("ports", None)
            kwargs["network_mode"] = "host"
        return docker_create(self, image, command, **kwargs)

    Container.create = create  # type: ignore[method-assign]
    ContainerCollection.create = on_host_network  # type: ignore[method-assign]


if __name__ == "__main__":
    install()
    from samcli.cli.main import cli

    sys.argv[0] = "sam"
    cli()
