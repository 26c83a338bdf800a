"""`make bench` cannot break unnoticed: its harness runs end to end with one cold start and a few warm
requests per variant (the default deploy, the no-extension fallback, the Bolt peer, the floor, the
relay's own code without Powertools), every reply checked to be the cancel's own answer. No timing is
asserted here; `make bench` measures."""

from __future__ import annotations

import subprocess
import sys

from local.cloud.build import ROOT


def test_the_bench_harness_runs_every_variant_and_checks_every_reply():
    done = subprocess.run(  # noqa: S603 (our own module, fixed arguments)
        [sys.executable, "-m", "tests.bench.run", "--cold-runs", "1", "--warm-requests", "5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ") and "variant" not in line]
    assert len(rows) == 5, done.stdout
    assert any(line.startswith("bench: cold_ms=") for line in done.stdout.splitlines())
