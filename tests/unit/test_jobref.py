from __future__ import annotations

import pytest

from omni_relay.domain.grammar import parse_args
from omni_relay.domain.jobref import is_job_id

JOB = "3f0e6a52-8c1b-4d7e-9a2f-5b6c7d8e9f01"
CONVERSATION = "660e8400-e29b-41d4-a716-446655440001"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (JOB, JOB),
        (f"  {JOB.upper()}  ", JOB),
        (f"https://acme.omniapp.co/api/v1/ai/jobs/{JOB}", JOB),
        (f"https://acme.omniapp.co/api/v1/ai/jobs/{JOB}/cancel", JOB),
        (f"<https://acme.omniapp.co/api/v1/ai/jobs/{JOB}|the job>", JOB),
        (f"https://acme.omniapp.co/chat/{CONVERSATION}/jobs/{JOB}", JOB),
        (f"https://elsewhere.example/api/v1/ai/jobs/{JOB}", None),  # a job URL only on the configured Omni
        (f"please stop {JOB} now", None),  # the job is the next token, nothing later
        ("help", None),
        ("", None),
        ("3f0e6a52-8c1b-4d7e-9a2f-5b6c7d8e9f0", None),  # one digit short
        (JOB + "0", None),  # one digit long: not a UUID
    ],
)
def test_the_job_a_command_names(text: str, expected: str | None):
    assert (parse_args(text, "acme.omniapp.co").job_id or None) == expected


def test_is_job_id_accepts_only_canonical_uuids():
    assert is_job_id(JOB)
    assert not is_job_id(JOB.replace("-", ""))
    assert not is_job_id("{" + JOB + "}")
    assert not is_job_id("../../admin")
