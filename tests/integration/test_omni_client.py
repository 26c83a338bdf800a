"""The urllib3 Omni client against the emulator over real HTTP on 127.0.0.1."""

from __future__ import annotations

import time

import pytest
import urllib3

from local.cloud.lambda_runtime import free_port
from local.standins.omni_emulator import OmniEmulator
from omni_relay.adapters.omni import OmniClient, parse_retry_after
from omni_relay.domain.deadline import Deadline
from omni_relay.errors import OmniUnavailable
from tests.integration.conftest import ORG_KEY


def client(emulator: OmniEmulator, **kwargs) -> OmniClient:
    return OmniClient(emulator.base_url, backoff_base=0.01, **kwargs)


def test_cancel_a_queued_job(emulator: OmniEmulator):
    job = emulator.create_job(key=ORG_KEY, queued_s=60)
    reply = client(emulator).cancel(job, ORG_KEY, Deadline.within(2))
    assert (reply.status, reply.body) == (200, {"jobId": job, "state": "CANCELLED"})
    assert emulator.job_state(job) == "CANCELLED"


def test_cancel_is_idempotent_on_finished_jobs(emulator: OmniEmulator):
    job = emulator.create_job(key=ORG_KEY, pinned="FAILED")
    assert client(emulator).cancel(job, ORG_KEY, Deadline.within(2)).body["state"] == "FAILED"


def test_an_executing_job_stops_after_its_current_iteration(emulator: OmniEmulator):
    job = emulator.create_job(key=ORG_KEY, queued_s=0, executing_s=100, iteration_s=4)
    reply = client(emulator).cancel(job, ORG_KEY, Deadline.within(2))
    assert reply.body["state"] == "EXECUTING"
    emulator.state.clock.advance(4.1)
    assert emulator.job_state(job) == "CANCELLED"


def test_status_reads_the_job(emulator: OmniEmulator):
    job = emulator.create_job(key=ORG_KEY, pinned="DELIVERING")
    assert client(emulator).status(job, ORG_KEY, Deadline.within(2)).body["state"] == "DELIVERING"


def test_retries_503_then_succeeds(emulator: OmniEmulator):
    job = emulator.create_job(key=ORG_KEY, queued_s=60)
    emulator.set_faults(status=503, count=2)
    reply = client(emulator).cancel(job, ORG_KEY, Deadline.within(2))
    assert reply.status == 200
    assert len(emulator.cancel_calls()) == 1  # the two 503s were answered before reaching the API


def test_every_retry_takes_from_omnis_budget_and_none_is_sent_without(emulator: OmniEmulator):
    from omni_relay.adapters.omni_budget import BudgetedOmni, Kind, OmniBudget
    from omni_relay.adapters.sliding_window import LocalWindow
    from omni_relay.errors import OmniHeldBack

    job = emulator.create_job(key=ORG_KEY, queued_s=60)
    emulator.set_faults(status=503, count=5)
    now = [1000.0]
    omni = BudgetedOmni(client(emulator), OmniBudget(LocalWindow(2, lambda: now[0])))
    reply = omni.cancel(job, ORG_KEY, Deadline.within(2))
    assert reply.status == 503  # the budget (2) allowed the call and one retry, not the four attempts
    assert emulator.state.faults.count == 3
    with pytest.raises(OmniHeldBack):
        omni.as_kind(Kind.STATUS).status(job, ORG_KEY, Deadline.within(2))
    assert emulator.state.faults.count == 3  # held back: not sent


def test_honours_retry_after_within_the_deadline(emulator: OmniEmulator):
    job = emulator.create_job(key=ORG_KEY, queued_s=60)
    emulator.set_faults(status=429, count=1, retry_after="1")
    started = time.monotonic()
    reply = client(emulator).cancel(job, ORG_KEY, Deadline.within(2.5))
    assert reply.status == 200
    assert time.monotonic() - started >= 1.0


def test_a_retry_after_beyond_the_deadline_answers_at_once(emulator: OmniEmulator):
    job = emulator.create_job(key=ORG_KEY)
    emulator.set_faults(status=429, count=-1, retry_after="30")
    started = time.monotonic()
    reply = client(emulator).cancel(job, ORG_KEY, Deadline.within(2))
    assert reply.status == 429
    assert time.monotonic() - started < 0.5


def test_the_rate_limit_is_60_a_minute_per_key(emulator: OmniEmulator):
    job = emulator.create_job(key=ORG_KEY, pinned="COMPLETE")
    http = urllib3.PoolManager(retries=False)  # urllib3 would otherwise wait out the Retry-After itself
    url = f"{emulator.base_url}/v1/ai/jobs/{job}"
    statuses = [http.request("GET", url, headers={"Authorization": f"Bearer {ORG_KEY}"}).status for _ in range(61)]
    assert statuses[:60] == [200] * 60 and statuses[60] == 429
    emulator.state.clock.advance(60)
    assert http.request("GET", url, headers={"Authorization": f"Bearer {ORG_KEY}"}).status == 200


def test_slow_omni_is_cut_off_at_the_deadline(emulator: OmniEmulator):
    emulator.set_faults(latency_s=3)
    started = time.monotonic()
    with pytest.raises(OmniUnavailable):
        client(emulator).cancel(emulator.create_job(key=ORG_KEY), ORG_KEY, Deadline.within(0.8))
    assert time.monotonic() - started < 1.2


def test_connection_refused_is_unavailable():
    port = free_port()  # nothing listens here
    omni = OmniClient(f"http://127.0.0.1:{port}/api", backoff_base=0.01)
    with pytest.raises(OmniUnavailable):
        omni.cancel("3f0e6a52-8c1b-4d7e-9a2f-5b6c7d8e9f01", "k", Deadline.within(0.5))


def test_a_reset_mid_response_is_retried(emulator: OmniEmulator):
    job = emulator.create_job(key=ORG_KEY, queued_s=60)
    emulator.set_faults(mode="reset", count=1)
    assert client(emulator).cancel(job, ORG_KEY, Deadline.within(2)).status == 200


def test_a_non_json_body_is_reported_as_such(emulator: OmniEmulator):
    emulator.set_faults(mode="non_json", status=200, count=1)
    reply = client(emulator).cancel(emulator.create_job(key=ORG_KEY), ORG_KEY, Deadline.within(2))
    assert reply.status == 200 and not reply.is_json


def test_other_orgs_jobs_are_404_and_bad_keys_401(emulator: OmniEmulator):
    theirs = emulator.create_job(org="org-2")
    omni = client(emulator)
    assert omni.cancel(theirs, ORG_KEY, Deadline.within(2)).status == 404
    assert omni.cancel(theirs, "wrong-key", Deadline.within(2)).status == 401


def test_personal_tokens_may_cancel_only_their_own_jobs(emulator: OmniEmulator):
    emulator.add_key("pat-bob", user="bob", admin=False)
    mine = emulator.create_job(key="pat-bob", queued_s=60)
    carols = emulator.create_job(owner="carol", queued_s=60)
    omni = client(emulator)
    assert omni.cancel(carols, "pat-bob", Deadline.within(2)).status == 403
    assert omni.cancel(mine, "pat-bob", Deadline.within(2)).body["state"] == "CANCELLED"


def test_invalid_uuid_is_400_from_omni(emulator: OmniEmulator):
    reply = client(emulator).cancel("not-a-uuid", ORG_KEY, Deadline.within(2))
    assert reply.status == 400 and "UUID" in reply.message


def test_retry_after_parses_seconds_and_dates():
    assert parse_retry_after("7") == 7
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=lambda: 1445412470) == 10
    assert parse_retry_after("soon") is None
