"""What `sam local` is given works as the README says, checked without Docker (tests/sam_local runs
the same with SAM CLI in containers): the events `make events` writes, the command lines the README
gives (local/cloud/sam_local.py), and the base image they ask for."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs

from local.cloud.build import ROOT, host_architecture
from local.cloud.sam_local import START_API_PORT, invoke_args, start_api_args
from local.cloud.sam_local_image import image_tag
from local.cloud.stack import StackConfig
from omni_relay.domain.deadline import Deadline
from omni_relay.sources.request import InboundRequest
from tools.signers.events import JOB, write_all

BUDGET_S = 1.9


def form_of(event: dict) -> dict[str, list[str]]:
    import base64

    raw = base64.b64decode(event["body"]).decode() if event.get("isBase64Encoded") else event["body"]
    return parse_qs(raw)


def test_an_event_from_make_events_keeps_its_budget_however_late_sam_invokes_it(tmp_path: Path):
    """`sam local invoke` starts the function 10-15 s after the event was written."""
    import time

    for path in write_all(tmp_path, emulator_url=None):
        event = json.loads(path.read_text())
        request = InboundRequest.from_event(event, max_body_bytes=1 << 20)
        later = time.time() + 15
        remaining = Deadline.from_arrival(request.arrival_epoch_ms, BUDGET_S, wall=lambda t=later: t).remaining()
        assert remaining > BUDGET_S - 0.1, f"{path.name}: the budget was spent before the function ran"


def test_make_events_posts_results_to_the_capture_server_never_to_slack(tmp_path: Path):
    for path in write_all(tmp_path, emulator_url=None):
        event = json.loads(path.read_text())
        if path.name.startswith("slack_command_"):
            form = form_of(event)
            assert form["response_url"][0].startswith("http://host.docker.internal:8098/"), path.name
            assert "hooks.slack.com" not in json.dumps(form), path.name


def test_without_a_running_stack_the_events_name_the_job_make_local_creates(tmp_path: Path):
    cancel = json.loads((write_all(tmp_path, emulator_url=None)[0].parent / "slack_command_cancel.json").read_text())
    assert form_of(cancel)["text"] == [JOB]


def architecture_sam_resolves(args: list[str]) -> str:
    """The architecture SAM CLI gives RelayFunction for these `sam local` arguments."""
    from samcli.lib.providers.sam_function_provider import SamFunctionProvider
    from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

    overrides = dict(item.split("=", 1) for item in args[args.index("--parameter-overrides") + 1].split())
    stacks, _ = SamLocalStackProvider.get_stacks(str(ROOT / "template.yaml"), parameter_overrides=overrides)
    function = SamFunctionProvider(stacks).get("RelayFunction")
    assert function is not None
    return function.architecture


def test_the_readme_commands_run_the_functions_on_this_machines_architecture():
    for args in (invoke_args("RelayFunction", "e.json"), start_api_args()):
        assert architecture_sam_resolves(args) == host_architecture()
    assert image_tag().endswith(f"python:3.12-{host_architecture()}")


def test_start_api_does_not_take_make_locals_port():
    args = start_api_args()
    assert int(args[args.index("--port") + 1]) == START_API_PORT != StackConfig.from_env().port


def test_make_locals_worker_may_post_back_to_the_capture_server_as_containers_name_it():
    assert StackConfig.from_env().container_host == "host.docker.internal"


def test_the_readme_gives_the_commands_the_tier_runs():
    readme = (ROOT / "docs" / "local-stack.md").read_text()
    section = readme[readme.index("### With Docker: `sam local`") :]
    commands = " ".join(section.replace("\\\n", " ").split())
    for args in (
        invoke_args("RelayFunction", ".aws-sam/events/slack_command_cancel.json", "$ARCH"),
        start_api_args(architecture="$ARCH"),
    ):
        shown = " ".join(args)
        assert f".venv/bin/sam {shown}" in commands, shown
