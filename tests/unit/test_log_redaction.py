"""No token or secret in any log line, whichever logger writes it: the relay's own (Powertools), or a
library's (urllib3's retry warnings and debug lines, botocore's request and response dumps) through the
handler Lambda's runtime puts on the root logger before it imports the function."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOKENS = {
    "response_url token": "RsPoNsEuRlToKeN0123456789",
    "another response_url token": "CoMmAnDuRlToKeN9876543210",
    "incoming webhook token": "InCoMiNgWeBhOoKtOkEn",
    "query-string token": "QuErYsTrInGtOkEn42",
    "bearer token": "xoxb-1111-2222-BeArErToKeN",
    "AWS signature": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "AWS session token": "SeSsIoNtOkEnIQoJb3JpZ2luX2VjE",
    "secret value": "OmNiOrGaNiSaTiOnKeY",
    "relay token header": "ReLaYhEaDeRtOkEn",
}
SCRIPT = textwrap.dedent(
    """
    import json, logging, sys
    tokens = json.loads(sys.argv[1])
    # What Lambda's runtime does before it imports the function: a handler on the root logger.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("[%(levelname)s]\\t%(name)s\\t%(message)s"))
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.DEBUG)
    import relay_app  # noqa: F401  (the function, as Lambda imports it)
    import worker_app  # noqa: F401
    import urllib3
    from omni_relay.observability import logger

    path = "/actions/T0LOCAL01/1234567890/" + tokens["response_url token"]
    pool = logging.getLogger("urllib3.connectionpool")
    pool.warning("Retrying (%r) after connection broken by '%r': %s", urllib3.Retry(2), OSError("refused"), path)
    pool.debug('%s://%s:%s "%s %s %s" %s %s', "https", "hooks.slack.com", 443, "POST",
               "/commands/T0LOCAL01/99/" + tokens["another response_url token"], "HTTP/1.1", 404, 9)
    pool.debug("Incremented Retry for (url='%s'): %r", "/callback?token=" + tokens["query-string token"], None)
    try:
        raise urllib3.exceptions.MaxRetryError(None, path, OSError("Connection refused"))
    except urllib3.exceptions.MaxRetryError:
        logging.getLogger("omni_relay.anything").exception("a library's exception, logged with its traceback")
    logging.getLogger("botocore.endpoint").debug(
        "Sending http request: %s",
        "<AWSPreparedRequest method=POST, url=https://sqs.us-east-1.amazonaws.com/, headers={'Authorization': "
        "b'AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20250101/us-east-1/sqs/aws4_request, SignedHeaders=host, "
        "Signature=" + tokens["AWS signature"] + "', 'X-Amz-Security-Token': b'" + tokens["AWS session token"] + "'}>",
    )
    logging.getLogger("botocore.parsers").debug(
        "Response body:\\n%r", ('{"ARN":"arn:aws:secretsmanager:us-east-1:1:secret:omni","SecretString":'
                               '"{\\\\"api_key\\\\": \\\\"' + tokens["secret value"] + '\\\\"}"}').encode()
    )
    hook = "https://hooks.slack.com/services/T0/B0/" + tokens["incoming webhook token"]
    logger.warning("post-back failed", extra={"reason": hook})
    logger.info("sent", extra={"headers": {"Authorization": "Bearer " + tokens["bearer token"],
                                           "X-Omni-Relay-Token": tokens["relay token header"]}})
    logger.info("to https://hooks.acme.example/in?token=%s&x=1", tokens["query-string token"])
    """
)


def test_no_token_reaches_a_log_line_from_any_logger():
    paths = [ROOT / "layers" / "core", ROOT / "functions" / "relay", ROOT / "functions" / "worker", ROOT]
    env = {"PYTHONPATH": ":".join(map(str, paths)), "PATH": "/usr/bin:/bin", "POWERTOOLS_LOG_LEVEL": "DEBUG",
           "POWERTOOLS_METRICS_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
    done = subprocess.run(  # noqa: S603 (our own script, fixed arguments)
        [sys.executable, "-c", SCRIPT, json.dumps(TOKENS)], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout + done.stderr
    for what, token in TOKENS.items():
        assert token not in out, f"the {what} is in a log line:\n" + "\n".join(
            line for line in out.splitlines() if token in line
        )
    # The lines themselves are still there, saying what happened and where.
    assert "Retrying" in out and "/actions/" in out and "hooks.slack.com" in out and "MaxRetryError" in out
    assert "Sending http request" in out and "Response body" in out and "post-back failed" in out
    for line in out.splitlines():
        if line.startswith("{"):
            json.loads(line)  # the relay's own lines stay JSON
