"""`make job`: a job to cancel, created in the Omni emulator of a running `make local` (its
/_emulator/jobs control), as if the org key had submitted it. Prints its id, ready for
`python -m tools.send <job id>`.

python -m local.job [--state QUEUED|EXECUTING|DELIVERING|COMPLETE] [--prompt TEXT]
Environment: OMNI_EMULATOR_PORT (8099), OMNI_API_KEY (the org key make local put in the Omni secret).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import urllib3

from local.cloud.stack import DEV_OMNI_KEY

STATES = ("QUEUED", "EXECUTING", "DELIVERING", "COMPLETE")


def create(port: int, key: str, state: str | None, prompt: str) -> str:
    fields: dict[str, object] = {"key": key, "prompt": prompt}
    if state:
        fields["pinned"] = state
    else:
        fields["executing_s"] = 600  # executing for ten minutes, as make local's own first job
    reply = urllib3.request(
        "POST", f"http://127.0.0.1:{port}/_emulator/jobs", body=json.dumps(fields).encode(), timeout=5, retries=False
    )
    return str(json.loads(reply.data)["jobId"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state", type=str.upper, choices=STATES, help="pin the job in this state")
    parser.add_argument("--prompt", default="A job started to be cancelled")
    args = parser.parse_args()
    port = int(os.environ.get("OMNI_EMULATOR_PORT") or 8099)
    try:
        job = create(port, os.environ.get("OMNI_API_KEY") or DEV_OMNI_KEY, args.state, args.prompt)
    except urllib3.exceptions.HTTPError:
        print(f"error: no Omni emulator answers on 127.0.0.1:{port}: start make local first", file=sys.stderr)
        return 1
    print(job)
    return 0


if __name__ == "__main__":
    sys.exit(main())
