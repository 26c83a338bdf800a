"""With secrets served by the Parameters and Secrets extension, a Slack command never imports boto3, a
botocore session, or aws_xray_sdk (which builds one) while tracing is off, the template's default
(a fresh interpreter per check, so nothing earlier in the test run has imported it already)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import json, sys, threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from local.omni_emulator import OmniEmulator
    from local.events import slack_event
    from local.slack_signer import DEV_SIGNING_SECRET

    SECRETS = {
        "slack": json.dumps({"signing_secrets": [DEV_SIGNING_SECRET]}),
        "omni": json.dumps({"api_key": "org-key"}),
    }

    class Extension(BaseHTTPRequestHandler):
        def log_message(self, *args): pass
        def do_GET(self):
            name = self.path.split("secretId=", 1)[1]
            body = json.dumps({"SecretString": SECRETS[name]}).encode()
            self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
            self.wfile.write(body)

    ext = ThreadingHTTPServer(("127.0.0.1", 0), Extension)
    threading.Thread(target=ext.serve_forever, daemon=True).start()
    omni = OmniEmulator().start(); omni.add_key("org-key")
    job = omni.create_job(key="org-key", queued_s=600)
    import os
    os.environ.update({
        "SECRETS_EXTENSION_PORT": str(ext.server_address[1]), "OMNI_BASE_URL": omni.base_url,
        "OMNI_SECRET_ID": "omni", "SLACK_SECRET_ID": "slack", "SLACK_ALLOWED_TEAMS": "*",
        "AWS_SESSION_TOKEN": "t", "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "CRITICAL",
        "POWERTOOLS_METRICS_DISABLED": "true", "CANCEL_QUEUE_URL": "http://127.0.0.1:9/queue",
    })
    # Powertools imports the bare botocore package (1 ms) for its user-agent hook; a client or a session is
    # what costs: boto3, botocore.session, and aws_xray_sdk, which creates one.
    heavy = ("boto3", "botocore.session", "aws_xray_sdk")
    assert not any(name in sys.modules for name in heavy)
    import relay_app
    from local.gateway import LambdaContext
    result = relay_app.lambda_handler(slack_event("/slack/commands", job), LambdaContext())
    print(json.dumps({"status": result["statusCode"], "body": result["body"],
                      "loaded": [n for n in heavy if n in sys.modules], "state": omni.job_state(job)}))
    """
)


def test_a_slack_command_with_extension_secrets_does_not_import_boto3():
    paths = [str(ROOT / p) for p in ("layers/core", "functions/relay", ".")]
    env = {"PYTHONPATH": ":".join(paths), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(  # noqa: S603 (our own script, fixed arguments)
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, env=env, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == 200 and "Cancelled" in result["body"]
    assert result["state"] == "CANCELLED"
    assert result["loaded"] == []
