"""The end-to-end tests test what deploys: run against a copy of template.yaml, they pass when the
copy is untouched and fail when the copy loses a variable from a function's environment, an action
from a function's policy, or a route. (Before the stack was derived from the template, all three
edits left them green.)"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The end-to-end tests each edit must break: the worker finishing handed-off Slack and GitHub cancels.
SUITE = "tests/e2e/test_worker_in_its_environment.py"

EDITS = {
    "untouched": [],
    "a variable removed from the functions' environment": [
        ("        SLACK_ALLOWED_TEAMS: !Ref SlackAllowedTeams\n", ""),
    ],
    "an action removed from the relay's role": [
        (
            "              - Sid: HandOffSlowCancels\n"
            "                Effect: Allow\n"
            "                Action: sqs:SendMessage\n"
            "                Resource: !GetAtt TaskQueue.Arn\n",
            "",
        )
    ],
    "a route removed": [
        (
            "        Webhooks:\n"
            "          Type: HttpApi\n"
            "          Properties:\n"
            "            ApiId: !Ref HttpApi\n"
            "            Method: POST\n"
            "            Path: /webhooks/{source}\n",
            "",
        )
    ],
}


def run_suite(template: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RELAY_TEMPLATE": str(template)}
    command = [sys.executable, "-m", "pytest", SUITE, "-x", "-q", "-p", "no:randomly", "-W", "ignore"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)  # noqa: S603


@pytest.mark.slow
def test_the_end_to_end_tests_fail_exactly_when_the_template_is_broken(tmp_path: Path):
    copies = {}
    for edit, changes in EDITS.items():
        text = (ROOT / "template.yaml").read_text()
        for old, new in changes:
            assert text.count(old) == 1, f"the edit no longer applies to template.yaml: {old!r}"
            text = text.replace(old, new)
        copies[edit] = tmp_path / f"{len(copies)}" / "template.yaml"
        copies[edit].parent.mkdir()
        copies[edit].write_text(text)
    with ThreadPoolExecutor(max_workers=2) as pool:  # two stacks at a time (each its own processes and ports)
        results = dict(zip(copies, pool.map(run_suite, copies.values()), strict=True))
    for edit, result in results.items():
        summary = result.stdout.strip().splitlines()[-1:] or [result.stderr[-500:]]
        if edit == "untouched":
            assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
        else:
            assert result.returncode == 1 and "failed" in summary[0], f"{edit}: {summary}"
