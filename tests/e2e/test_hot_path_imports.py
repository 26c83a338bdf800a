"""As deployed by default (template.yaml's defaults: the Parameters and Secrets extension layer on),
a Slack command never imports boto3, a botocore session, or aws_xray_sdk (which builds one). With
SecretsExtensionLayerArn=none the relay falls back to Powertools and boto3, which the same check sees.

The relay (the sam build output, on python3.12) runs in a fresh interpreter (nothing imported before)
with exactly the environment the template gives RelayFunction, against the local stack (its secrets
extension stand-in, IAM-checked moto, the Omni emulator)."""

from __future__ import annotations

import json
import subprocess
import textwrap

import pytest

from local.cloud.build import ROOT, ensure_build, python312
from local.cloud.stack import LocalStack
from tests.e2e.helpers import stack_config

SCRIPT = textwrap.dedent(
    """
    import json, sys
    # Powertools imports the bare botocore package (1 ms) for its user-agent hook; a client or a session is
    # what costs: boto3, botocore.session, and aws_xray_sdk, which creates one.
    heavy = ("boto3", "botocore.session", "aws_xray_sdk")
    assert not any(name in sys.modules for name in heavy)
    import relay_app
    from tools.signers.events import slack_event
    from local.cloud.gateway import LambdaContext
    result = relay_app.lambda_handler(slack_event("/slack/commands", sys.argv[1]), LambdaContext())
    print(json.dumps({"status": result["statusCode"], "body": result["body"],
                      "loaded": [n for n in heavy if n in sys.modules]}))
    """
)


def slack_command_in_a_fresh_relay(stack: LocalStack) -> dict:
    assert stack.omni is not None
    job = stack.omni.create_job(key=stack.config.omni_api_key, queued_s=600)
    # The built function and layer on python3.12, as deployed (the repository root only for the test's event).
    build = ensure_build()
    paths = [build / "RelayFunction", build / "CoreLayer" / "python", ROOT]
    env = {**stack.environments["RelayFunction"], "PYTHONPATH": ":".join(map(str, paths)), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(  # noqa: S603 (our own script, fixed arguments)
        [python312(), "-c", SCRIPT, job], capture_output=True, text=True, timeout=60, env=env, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == 200 and "Cancelled" in result["body"], result
    assert stack.omni.job_state(job) == "CANCELLED"
    return result


@pytest.mark.parametrize(("extension", "heavy"), [("default", []), ("none", ["boto3", "botocore.session"])])
def test_a_slack_command_as_deployed_by_default_never_imports_boto3(extension: str, heavy: list[str]):
    params = {} if extension == "default" else {"SecretsExtensionLayerArn": extension}
    with LocalStack(stack_config(params=params)) as stack:
        assert stack.parameters.get("SecretsExtensionLayerArn", "default") == extension
        assert bool(stack.environments["RelayFunction"]["SECRETS_EXTENSION_PORT"]) is (extension == "default")
        result = slack_command_in_a_fresh_relay(stack)
    assert result["loaded"] == heavy
