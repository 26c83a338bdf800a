"""A burst of 300 cancels of distinct jobs, with the emulator's clock sped up 10x to keep the test
short: jobs live a tenth as long, and the key is one Omni raised to 500 requests a real minute, which
the relay is told (OmniRequestsPerMinute) and spends on the cancels first."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from local.cloud.stack import LocalStack
from tests.e2e.helpers import stack_config
from tools.send import as_slack_shows, post_command

JOBS = 300


def test_300_cancels_end_in_their_true_state_none_lost_none_twice():
    config = stack_config(omni_speed=10, params={"OmniRequestsPerMinute": "500"})
    with LocalStack(config) as stack:
        omni, capture = stack.omni, stack.capture
        assert omni is not None and capture is not None
        # The emulator's window is in its own seconds: 600 of them are a real minute at 10x.
        omni.state.rate_limit, omni.state.rate_window_s = 500, 60 * config.omni_speed
        key = config.omni_api_key
        # Mostly running jobs, some already finished: each must end CANCELLED or in its own terminal state.
        jobs = [omni.create_job(key=key, pinned="COMPLETE" if i % 10 == 0 else "QUEUED") for i in range(JOBS)]
        expected = {job: ("COMPLETE" if i % 10 == 0 else "CANCELLED") for i, job in enumerate(jobs)}

        def cancel(i: int) -> tuple[int, str]:
            # An incident's on-call channel: 30 people, 10 cancels each (the relay's per-sender limit).
            user = f"U0BURST{i % 30:03d}"
            status, payload = post_command(stack.url, jobs[i], user_id=user, response_url=capture.url(f"/burst/{i}"))
            return status, as_slack_shows(status, payload)

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=4) as pool:
            replies = list(pool.map(cancel, range(JOBS)))
        bad = [(status, text[:160]) for status, text in replies if status != 200 or "rate-limiting" in text]
        bad += [(status, text[:160]) for status, text in replies if "did not respond" in text]
        assert not bad and not stack.failures, f"{len(bad)} replies not the cancel's: {bad[:3]} {stack.failures[:3]}"
        assert not stack.gate.denied()
        pending = [i for i, (_, text) in enumerate(replies) if "I will post the result here" in text]

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len({p["path"] for p in capture.posts}) < len(pending):
            time.sleep(0.2)
        elapsed = time.monotonic() - started

        posts = Counter(p["path"] for p in capture.posts)
        assert set(posts) == {f"/burst/{i}" for i in pending}, "a handed-off cancel was lost"
        assert max(posts.values(), default=1) == 1, "a result was posted twice"
        wrong = {replies[i][1][:120] for i, (job, state) in enumerate(expected.items()) if omni.job_state(job) != state}
        assert not wrong, f"jobs not in their true state; their replies: {wrong}"
        accepted = Counter(c["job"] for c in omni.cancel_calls())
        assert max(accepted.values()) == 1, "a job was cancelled twice"
        print(
            f"\n300 cancels: {JOBS - len(pending)} answered in Slack's window, {len(pending)} handed off, "
            f"all settled in {elapsed:.1f}s"
        )
