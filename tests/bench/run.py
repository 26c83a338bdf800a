"""`make bench`: the built functions under the Lambda Runtime Interface Emulator (aws-sam-cli's
binary) with awslambdaric, against the local stack on loopback. Not a test: it measures.

For each variant (the floor, the Bolt peer, the relay with the secrets extension, the relay on its
Powertools/boto3 fallback, and as a diagnostic the relay's own code with no Powertools around it)
it reports
- cold: init duration (the emulator's INIT REPORT) and time to first response for a signed Slack
  command, from starting a fresh runtime process, median over --cold-runs processes;
- warm: the handler's own time per request minus its wait for Omni (emulator at zero latency),
  p50 and p99 over --warm-requests requests to one instance; and the same requests as the caller
  sees them (sent to the emulator until its answer, Omni's time included), p50 and requests/second;
- peak RSS of the runtime process, and the size of the built layer.
Its last line is the summary for scripts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.cloud.lambda_runtime import Instance
from local.cloud.sam_template import FunctionSpec

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / ".bench"
PROBE = Path(__file__).resolve().parent / "probe"
CORE = "relay's own code, no Powertools around it (diagnostic, not deployed)"
SLACK_REPLY_WORDS = {"relay": "Cancelled Omni AI job", "bolt": "is CANCELLED", "floor": "ok"}


@dataclass
class Variant:
    name: str
    kind: str  # relay | bolt | floor: what a correct reply says
    code: Path
    paths: list[Path]
    handler: str
    env: dict[str, str] = field(default_factory=dict)


class Runtime:
    """One execution environment of a variant: the local stack's Instance (the emulator and awslambdaric
    running the probe around the variant's handler), with the probe's samples read from its output."""

    def __init__(self, variant: Variant, python: str, ric: Path) -> None:
        self.init_ms: float | None = None
        self.samples: list[dict[str, float]] = []
        self.errors: list[str] = []
        self._changed = threading.Condition()
        profile = BENCH / (re.sub(r"\W+", "-", variant.name).strip("-").lower() + ".prof")
        env = {
            **variant.env,
            "BENCH_HANDLER": variant.handler,
            **({"BENCH_PROFILE": str(profile)} if os.environ.get("BENCH_PROFILE") else {}),
        }
        spec = FunctionSpec(variant.kind, "bench_probe.handler", "python3.12", 30, 512, (), (), {})
        self.started = time.perf_counter()
        self.instance = Instance(
            spec, env, python=python, code_dir=variant.code, layer_dirs=[*variant.paths, PROBE],
            runtime_client=ric, log=self._read,
        )  # fmt: skip

    def _read(self, function: str, line: str) -> None:
        with self._changed:
            if line.startswith("BENCH "):
                self.samples.append(json.loads(line[6:]))
            elif match := re.search(r"INIT REPORT\(durationMs: ([0-9.]+)\)", line):
                self.init_ms = float(match.group(1))
            elif "Traceback" in line or '"errorType"' in line or "[ERROR]" in line:
                self.errors.append(line.strip())
            self._changed.notify_all()

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        # Arrival is now, as API Gateway would stamp it: the relay's deadline counts from it.
        event["requestContext"]["timeEpoch"] = int(time.time() * 1000)
        return dict(self.instance.invoke(event))

    def wait_samples(self, count: int, timeout: float = 10) -> list[dict[str, float]]:
        end = time.monotonic() + timeout
        with self._changed:
            while len(self.samples) < count and time.monotonic() < end:
                self._changed.wait(0.05)
            return list(self.samples)

    def peak_rss_mb(self) -> float:
        """VmHWM of the runtime process (the emulator's child, started by any of its threads)."""
        for task in Path(f"/proc/{self.instance.proc.pid}/task").iterdir():
            for pid in (task / "children").read_text().split():
                status = Path(f"/proc/{pid}/status").read_text()
                if match := re.search(r"VmHWM:\s+(\d+) kB", status):
                    return int(match.group(1)) / 1024
        return float("nan")

    def stop(self) -> None:
        self.instance.stop()


def check_reply(variant: Variant, reply: dict[str, Any], runtime: Runtime) -> None:
    body = str(reply.get("body", ""))
    if reply.get("statusCode") != 200 or SLACK_REPLY_WORDS[variant.kind] not in body:
        raise SystemExit(f"{variant.name} answered wrongly: {json.dumps(reply)[:300]} {runtime.errors[:3]}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def measure(variants: list[Variant], python: str, ric: Path, events: Any, cold_runs: int, warm: int) -> dict:
    """Every variant's figures, taken in turns (a cold start of each, then the next round; a warm
    request to each, then the next), so that a shared machine's drift during the run falls on all of
    them alike and the ratios between them hold."""
    colds: dict[str, list[float]] = {v.name: [] for v in variants}
    inits: dict[str, list[float]] = {v.name: [] for v in variants}
    for _ in range(cold_runs):
        for variant in variants:
            runtime = Runtime(variant, python, ric)
            try:
                reply = runtime.invoke(events())
                colds[variant.name].append((time.perf_counter() - runtime.started) * 1000)
                check_reply(variant, reply, runtime)
                runtime.wait_samples(1)
                if runtime.init_ms is not None:
                    inits[variant.name].append(runtime.init_ms)
            finally:
                runtime.stop()
    runtimes: dict[str, Runtime] = {}
    try:
        for variant in variants:
            runtimes[variant.name] = Runtime(variant, python, ric)
        prepared = {v.name: [events() for _ in range(warm + 21)] for v in variants}
        for i in range(21):  # the cold invoke, then a short warm-up
            for variant in variants:
                runtime = runtimes[variant.name]
                check_reply(variant, runtime.invoke(prepared[variant.name][i]), runtime)
        walls: dict[str, list[float]] = {name: [] for name in runtimes}
        replies: dict[str, list[dict[str, Any]]] = {name: [] for name in runtimes}
        for i in range(21, warm + 21):
            for variant in variants:
                started = time.perf_counter()
                replies[variant.name].append(runtimes[variant.name].invoke(prepared[variant.name][i]))
                walls[variant.name].append((time.perf_counter() - started) * 1000)
        results = {}
        for variant in variants:
            runtime = runtimes[variant.name]
            for reply in replies[variant.name]:  # every answer must be the right one, or the figures mean nothing
                check_reply(variant, reply, runtime)
            samples = runtime.wait_samples(warm + 21)[21:]
            own = [s["handler_ms"] - s["omni_ms"] for s in samples]
            results[variant.name] = {
                "cold_ms": statistics.median(colds[variant.name]),
                "init_ms": statistics.median(inits[variant.name]) if inits[variant.name] else float("nan"),
                "warm_p50_ms": percentile(own, 0.50),
                "warm_p99_ms": percentile(own, 0.99),
                "omni_p50_ms": percentile([s["omni_ms"] for s in samples], 0.50),
                "e2e_p50_ms": percentile(walls[variant.name], 0.50),
                "rps": warm / (sum(walls[variant.name]) / 1000),
                "rss_mb": runtime.peak_rss_mb(),
                "requests": len(own),
            }
        return results
    finally:
        for runtime in runtimes.values():
            runtime.stop()


def size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


SDK = ("boto3", "botocore", "s3transfer")  # what the python3.12 runtime already ships (in its own version)


def layer_zips(layer: Path, runs: int = 5) -> dict[str, tuple[float, float]]:
    """The layer as Lambda receives it (a zip), with and without the AWS SDK, and the median time to
    unpack each: the part of a real cold start that a smaller layer shortens (Lambda fetches and
    unpacks layers into /opt; the emulator here reads them in place, so this is measured apart)."""
    import io
    import tempfile
    import zipfile

    found = {}
    for name, keep in (("as built", lambda p: True), ("without boto3/botocore", lambda p: p.parts[0] not in SDK)):
        data = io.BytesIO()
        with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in sorted(f for f in layer.rglob("*") if f.is_file()):
                relative = file.relative_to(layer)
                if keep(Path(relative.parts[0].split("-")[0]) if relative.parts else relative):
                    archive.write(file, Path("python") / relative)
        times = []
        for _ in range(runs):
            with tempfile.TemporaryDirectory() as target:
                started = time.perf_counter()
                zipfile.ZipFile(io.BytesIO(data.getvalue())).extractall(target)
                times.append(time.perf_counter() - started)
        found[name] = (len(data.getvalue()) / 1e6, statistics.median(times) * 1000)
    return found


def ensure_bolt() -> Path:
    """The Bolt peer's dependencies as `sam build` would package them (no .pyc)."""
    target = BENCH / "bolt"
    if not (target / ".done").exists():
        requirements = Path(__file__).resolve().parent / "requirements.txt"
        subprocess.run(  # noqa: S603 (fixed arguments)
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
             "--target", str(target), "-r", str(requirements)],
            check=True,
        )  # fmt: skip
        (target / ".done").touch()
    return target


def relay_environments(stack: Any) -> dict[str, dict[str, str]]:
    """RelayFunction's environment as template.yaml gives it, with its defaults (the secrets extension on),
    and with SecretsExtensionLayerArn=none (the Powertools/boto3 fallback): resolved by SAM CLI's code."""
    from local.cloud.lambda_runtime import function_environment
    from local.cloud.sam_template import SamTemplate
    from local.cloud.stack import credentials_for

    default = dict(stack.environments["RelayFunction"])
    fallback_template = SamTemplate(stack.config.template, {**stack.parameters, "SecretsExtensionLayerArn": "none"})
    fallback_template.resolved = stack.template.resolved
    spec = fallback_template.functions()["RelayFunction"]
    fallback = function_environment(
        spec, {"AWS_ENDPOINT_URL": default["AWS_ENDPOINT_URL"]}, credentials_for("RelayFunction")
    )
    return {"default": default, "none": fallback}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cold-runs", type=int, default=10)
    parser.add_argument("--warm-requests", type=int, default=1000)
    parser.add_argument(
        "--relay-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set on both relay variants after the template's environment (what a change would cost or save, "
        "e.g. POWERTOOLS_LOG_LEVEL=WARNING); printed with the results",
    )
    args = parser.parse_args(argv)
    overrides = dict(item.partition("=")[::2] for item in args.relay_env)
    if args.cold_runs < 10 or args.warm_requests < 1000:
        print("note: fewer than 10 cold runs or 1000 warm requests: figures are indicative only")

    from local.cloud.build import ensure_build, ensure_runtime_client, python312
    from local.cloud.stack import LocalStack, StackConfig
    from tools.signers.events import slack_event
    from tools.signers.slack import DEV_SIGNING_SECRET

    build, python = ensure_build(), python312()
    ric, bolt = ensure_runtime_client(), ensure_bolt()
    # Only what a deployment ships counts: .pyc written by earlier runs (or by hand) would flatter cold starts.
    for stray in [*bolt.rglob("__pycache__"), *(build / "RelayFunction").rglob("__pycache__")]:
        shutil.rmtree(stray, ignore_errors=True)
    layer = build / "CoreLayer" / "python"
    with LocalStack(StackConfig(worker=False)) as stack:
        assert stack.omni is not None
        stack.omni.state.rate_limit = 10**9  # measure the relay, not Omni's rate limit
        omni, key = stack.omni, stack.config.omni_api_key
        template_envs = relay_environments(stack)
        envs = {name: {**env, **overrides} for name, env in template_envs.items()}
        assert envs["default"]["SECRETS_EXTENSION_PORT"], "the template's default deploy has no secrets extension"
        # Omni's limit lifted for the relay too (its per-key budget off): thousands of cancels a minute
        # against one key would only measure the budget's hand-offs. Its table calls for the per-sender
        # limit and the job records stay, as deployed.
        common = {"BENCH_OMNI_PORT": str(stack.omni.port), "OMNI_REQUESTS_PER_MIN": "0"}
        bolt_env = {**template_envs["none"], **common}  # the peer reads the same secrets with boto3
        variants = [
            Variant("floor (constant handler)", "floor", ROOT / "tests/bench/floor_app", [], "app.lambda_handler"),
            Variant("Bolt peer", "bolt", ROOT / "tests/bench/bolt_app", [bolt, layer], "app.lambda_handler", bolt_env),
            Variant(
                "relay, template defaults (secrets extension)",
                "relay",
                build / "RelayFunction",
                [layer],
                "relay_app.lambda_handler",
                {**envs["default"], **common},
            ),
            Variant(
                "relay, SecretsExtensionLayerArn=none (Powertools + boto3)",
                "relay",
                build / "RelayFunction",
                [layer],
                "relay_app.lambda_handler",
                {**envs["none"], **common},
            ),
            Variant(
                CORE,
                "relay",
                ROOT / "tests/bench/core_app",
                [layer],
                "app.lambda_handler",
                {**envs["default"], **common},
            ),
        ]
        sender = iter(range(10**9))

        def events() -> dict[str, Any]:
            # Each request from its own Slack user: the relay's per-sender limit (10 a minute) is part of what
            # deploys and stays on; one user sending thousands of commands would only measure its refusals.
            # Each on a queued job of its own: a job cancelled before is answered "was already cancelled".
            job = omni.create_job(key=key, pinned="QUEUED")
            return slack_event("/slack/commands", job, secret=DEV_SIGNING_SECRET, user_id=f"U0BENCH{next(sender):05d}")

        print("measuring, in turns: " + "; ".join(v.name for v in variants) + " …", flush=True)
        results = measure(variants, python, ric, events, args.cold_runs, args.warm_requests)

    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; runtime {python}")
    print(
        f"{args.cold_runs} cold starts and {args.warm_requests} warm requests per variant, one run, "
        "the variants measured in turns"
    )
    print("every reply checked to be the cancel's own answer; each request from a distinct Slack user, on its own job")
    if overrides:
        print("NOT the template's defaults: the relay variants ran with " + ", ".join(args.relay_env))
    print()
    header = (
        "| variant | cold: first response ms | cold: init ms | warm p50 ms | warm p99 ms "
        "| warm as sent, p50 ms | req/s | peak RSS MB |"
    )
    print(header + "\n|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['cold_ms']:.0f} | {r['init_ms']:.0f} | {r['warm_p50_ms']:.2f} | {r['warm_p99_ms']:.2f} "
            f"| {r['e2e_p50_ms']:.2f} | {r['rps']:.0f} | {r['rss_mb']:.0f} |"
        )
    relay, fallback, core = results[variants[2].name], results[variants[3].name], results[CORE]
    bolt_r, floor = results["Bolt peer"], results["floor (constant handler)"]
    print(
        f"\nwarm p50/p99: the handler's own time, Omni's excluded (emulator at zero latency; the relay's median "
        f"wait for it {relay['omni_p50_ms']:.2f} ms); warm as sent: from sending the request to the emulator to "
        f"its answer, Omni's time included. Layer {size_mb(build / 'CoreLayer'):.1f} MB, "
        f"relay code {size_mb(build / 'RelayFunction'):.2f} MB."
    )
    zips = layer_zips(layer)
    print(
        "layer zip: "
        + "; ".join(f"{name} {mb:.1f} MB, unpacked in {ms:.0f} ms (median)" for name, (mb, ms) in zips.items())
    )

    def over_floor_vs_bolt(figures: dict[str, float], key: str) -> float:
        """A variant's time above the floor's, as a multiple of the peer's time above it."""
        return (figures[key] - floor[key]) / max(bolt_r[key] - floor[key], 1e-9)

    over = over_floor_vs_bolt(relay, "warm_p50_ms")
    sent = over_floor_vs_bolt(relay, "e2e_p50_ms")  # the same, as a caller measures it (emulator and Omni in)
    own = over_floor_vs_bolt(core, "warm_p50_ms")  # the relay's own code: the rest is Powertools around it
    print(
        f"bench: cold_ms={relay['cold_ms']:.0f} cold_vs_bolt={relay['cold_ms'] / bolt_r['cold_ms']:.2f} "
        f"fallback_cold_vs_bolt={fallback['cold_ms'] / bolt_r['cold_ms']:.2f} "
        f"warm_p50_ms={relay['warm_p50_ms']:.2f} warm_over_floor_vs_bolt={over:.2f} "
        f"sent_over_floor_vs_bolt={sent:.2f} own_code_over_floor_vs_bolt={own:.2f} rss_mb={relay['rss_mb']:.0f}"
        + "".join(f" relay_env:{item}" for item in args.relay_env)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
