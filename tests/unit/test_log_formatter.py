"""The relay's log formatter writes exactly what Powertools' own writes: only its speed differs."""

from __future__ import annotations

import json
import logging
import sys

import pytest
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from omni_relay.observability import LogLines, _message


def record(msg: object, *args: object, exc: bool = False, **extra: object) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            exc_info = sys.exc_info()
    made = logging.getLogger("omni-cancel-relay").makeRecord(
        "omni-cancel-relay", logging.WARNING, __file__, 42, msg, args, exc_info, "answer", extra
    )
    return made


def both(**keys: object) -> tuple[logging.Formatter, logging.Formatter]:
    ours, theirs = LogLines(json_deserializer=_message), LambdaPowertoolsFormatter(json_deserializer=_message)
    for formatter in (ours, theirs):
        formatter.append_keys(service="omni-cancel-relay", sampling_rate=None, **keys)
    return ours, theirs


@pytest.mark.parametrize(
    "made",
    [
        record("cancel answered", source="slack", job_id="j", outcome="cancelled", detail="HTTP 200"),
        record("%s cancels in %d s", "two", 3),
        record({"already": "an object"}, source="github"),
        record('{"a JSON string": 1}'),
        record("{not JSON"),
        record("refused", exc=True, reason="no"),
        record("with a key that names a record attribute", location="overridden", level="too"),
    ],
)
def test_a_line_is_the_line_powertools_writes(made):
    ours, theirs = both(user_id="U1", correlation_id="abc", cold_start=False, empty="", none=None)
    assert ours.format(made) == theirs.format(made)
    assert json.loads(ours.format(made))["service"] == "omni-cancel-relay"


def test_keys_added_and_removed_per_request_and_per_thread_come_out_the_same():
    ours, theirs = both()
    for formatter in (ours, theirs):
        formatter.append_keys(user_id="U2", location="%(module)s")
        formatter.thread_safe_append_keys(thread_key="t")
        formatter.remove_keys(["user_id"])
    try:
        made = record("cancel answered", job_id="j")
        assert ours.format(made) == theirs.format(made)
        assert '"thread_key":"t"' in ours.format(made)
    finally:
        ours.thread_safe_clear_keys()


def test_a_reserved_key_that_is_not_text_fails_as_powertools_does():
    ours, theirs = both(location=12)
    made = record("x")
    with pytest.raises(ValueError) as our_error:
        ours.format(made)
    with pytest.raises(ValueError) as their_error:
        theirs.format(made)
    assert str(our_error.value) == str(their_error.value)
