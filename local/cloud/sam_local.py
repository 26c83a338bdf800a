"""The `sam local` command lines docs/local-stack.md gives, in one place: the test tier (tests/sam_local) runs
exactly these, and `python -m local.cloud.sam_local` prints them for this machine.

- The template is the local stack's build (`make local-build`: .aws-sam/local, built for this
  machine's architecture), and Architecture is overridden to match, since the built template keeps
  the parameter's deployed default (arm64): without it SAM CLI asks for the other architecture's
  base image.
- The base image is never pulled (--skip-pull-image): AWS's, or the stand-in `make sam-local-image`
  builds where no registry is reachable, under the tag SAM CLI asks for.
- events/env.json points the functions at the local stack (`make local`) through host.docker.internal.
- `sam local start-api` listens on 3001: `make local` holds 3000. Its containers are started with it
  (--warm-containers EAGER): otherwise SAM CLI builds an image and starts a container for each
  request after the request's arrival time, 3-5 s that spend Slack's whole 3-second budget before the
  relay runs (in AWS a cold start takes a fraction of that), and every cancel would be handed off.
- AWS credentials are test ones, given on the command line, so a container never gets yours.
"""

from __future__ import annotations

import sys

from local.cloud.build import ROOT, host_architecture

TEMPLATE = ".aws-sam/local/template.yaml"
ENV_VARS = "events/env.json"
START_API_PORT = 3001  # make local's relay is on 3000
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def common(architecture: str | None = None) -> list[str]:
    return [
        "--template",
        TEMPLATE,
        "--parameter-overrides",
        f"Architecture={architecture or host_architecture()}",
        "--env-vars",
        ENV_VARS,
        "--skip-pull-image",
    ]


def invoke_args(function: str, event: str, architecture: str | None = None) -> list[str]:
    """`sam local invoke` of `function` with the event file `event`."""
    return ["local", "invoke", function, "--event", event, *common(architecture)]


def start_api_args(port: int = START_API_PORT, architecture: str | None = None) -> list[str]:
    """`sam local start-api` on 127.0.0.1:`port`."""
    return [
        "local",
        "start-api",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--warm-containers",
        "EAGER",
        *common(architecture),
    ]


def shell(args: list[str]) -> str:
    creds = " ".join(f"{k}={v}" for k, v in CREDENTIALS.items())
    return f"{creds} .venv/bin/sam {' '.join(args)}"


def main() -> int:
    print(f"# sam local, from {ROOT}, for this machine ({host_architecture()}); make local serves the stack")
    print(shell(invoke_args("RelayFunction", ".aws-sam/events/slack_command_cancel.json")))
    print(shell(invoke_args("RelayFunction", ".aws-sam/events/webhook_github.json")))
    print(shell(start_api_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
