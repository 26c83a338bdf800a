"""The module walk of one request: which of the relay's modules it passes through, in what order.

Runs one signed Slack command and one signed GitHub comment through the relay's handler in-process
(fakes behind the real adapters' interfaces) with a profiler that sees every call into the
relay's own code (functions/ and layers/core/). A hop is a call from one module into another; a
jump back is a hop into the composition root (wiring.py) from anywhere below it. `make walk`
prints the figures; tests/architecture/test_request_walk.py holds them to the layout's promise.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
OURS = (str(ROOT / "functions"), str(ROOT / "layers" / "core"))
JOB = "3f0e6a52-8c1b-4d7e-9a2f-5b6c7d8e9f01"
NOW = 1_795_000_000
ROOT_MODULE = "omni_relay.wiring"
# The floors a request goes down, entry point first; the modules every floor uses (errors, settings,
# logging) are beside them, not below.
FLOORS = (
    ("relay_app", "worker_app"),
    ("omni_relay.sources",),
    ("omni_relay.usecases",),
    ("omni_relay.presentation", "omni_relay.adapters"),
    ("omni_relay.domain",),
)
for _path in ("layers/core", "functions/relay", "functions/worker"):  # as pyproject's pythonpath
    if str(ROOT / _path) not in sys.path:
        sys.path.insert(0, str(ROOT / _path))


def _module(filename: str) -> str | None:
    if not filename.startswith(OURS):
        return None
    path = Path(filename)
    base = ROOT / "layers" / "core" if str(path).startswith(OURS[1]) else path.parent
    return ".".join(path.relative_to(base).with_suffix("").parts)


@dataclass
class Walk:
    hops: list[tuple[str, str]] = field(default_factory=list)

    @property
    def modules(self) -> list[str]:
        seen: dict[str, None] = {}
        for caller, callee in self.hops:
            seen.setdefault(caller)
            seen.setdefault(callee)
        return list(seen)

    @property
    def edges(self) -> list[tuple[str, str]]:
        """Each module-to-module step once, in the order the request first takes it."""
        return list(dict.fromkeys(self.hops))

    @property
    def jumps_back(self) -> int:
        """Calls into the composition root from the modules below it (the entry point's one lookup of
        the adapters it was composed with is not one)."""
        return sum(1 for caller, callee in self.hops if callee == ROOT_MODULE and "." in caller)

    @property
    def upward(self) -> list[tuple[str, str]]:
        """Steps from a floor back up to one above it (a callback handed down, such as the action
        de-duplication runs once)."""
        return [(a, b) for a, b in self.edges if -1 < floor(b) < floor(a)]

    def summary(self) -> dict[str, Any]:
        return {
            "calls_across_modules": len(self.hops),
            "module_steps": len(self.edges),
            "modules": len(self.modules),
            "jumps_back_into_wiring": self.jumps_back,
            "steps_back_up": len(self.upward),
        }


def floor(module: str) -> int:
    """The module's floor (0 the entry points); -1 for the root and the modules beside the floors."""
    for i, prefixes in enumerate(FLOORS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return i
    return -1


def trace(run: Callable[[], Any]) -> Walk:
    walk = Walk()
    modules: dict[str, str | None] = {}

    def ours(frame: Any) -> str | None:
        name = frame.f_code.co_filename
        if name not in modules:
            modules[name] = _module(name)
        return modules[name]

    def profile(frame: Any, event: str, _arg: Any) -> None:
        if event != "call":
            return
        callee = ours(frame)
        if callee is None:
            return
        caller_frame = frame.f_back
        while caller_frame is not None and ours(caller_frame) is None:
            caller_frame = caller_frame.f_back  # through libraries (Powertools' router) to our caller
        caller = ours(caller_frame) if caller_frame is not None else None
        if caller is not None and caller != callee:
            walk.hops.append((caller, callee))

    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
    return walk


def _runtime(**env: str) -> Any:
    from omni_relay import wiring
    from omni_relay.adapters.postback import AllowedHosts, PostBack
    from tests.fakes import FakeOmni, FakeSecretStore, MemoryDedupe, MemoryQueue, RecordingHttp
    from tests.unit.conftest import OMNI_KEY, SIGNING_SECRET, make_settings
    from tools.signers.webhooks import secret_entry, secrets_for

    hooks = {"github": {**secret_entry("github", secrets_for("walk")["github"]), "api_token": "ghp_walk_token"}}
    store = FakeSecretStore(
        {"slack": {"signing_secrets": [SIGNING_SECRET]}, "omni": {"api_key": OMNI_KEY}, "webhooks": hooks}
    )
    settings = make_settings(WEBHOOK_SECRET_ID="webhooks", GITHUB_ALLOWED="*", **env)
    postback = PostBack(AllowedHosts.parse("hooks.slack.com,api.github.com"), http=RecordingHttp())  # no network
    return wiring.Runtime(
        settings, store, FakeOmni(), queue=MemoryQueue(), postback=postback, dedupe=MemoryDedupe(), now=lambda: NOW
    )


def slack_command() -> Walk:
    from tests.unit.conftest import SIGNING_SECRET
    from tools.signers.events import slack_event

    event = slack_event("/slack/commands", JOB, secret=SIGNING_SECRET, timestamp=NOW)
    return _through_relay(event)


def github_comment() -> Walk:
    from tools.signers.events import webhook_event
    from tools.signers.webhooks import secrets_for

    return _through_relay(webhook_event("github", JOB, timestamp=NOW, secret=secrets_for("walk")["github"]))


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The relay's log lines and metrics (written to stdout, as in Lambda) go nowhere while it walks."""
    import logging

    from omni_relay.observability import logger

    handlers = [h for h in logging.getLogger(logger.name).handlers if isinstance(h, logging.StreamHandler)]
    streams = [h.setStream(io.StringIO()) for h in handlers]
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        for handler, stream in zip(handlers, streams, strict=True):
            if stream is not None:
                handler.setStream(stream)


def _through_relay(event: dict[str, Any]) -> Walk:
    import relay_app
    from local.cloud.gateway import LambdaContext
    from omni_relay import wiring

    wiring.use(_runtime())
    try:
        with _quiet():
            relay_app.lambda_handler(event, LambdaContext())  # warm: the walk is the hot path, not first imports
        wiring.use(_runtime())  # a fresh one: the same event again is not a replay to it
        answer: dict[str, Any] = {}
        with _quiet():
            walk = trace(lambda: answer.update(relay_app.lambda_handler(event, LambdaContext())))
    finally:
        wiring.use(None)
    if answer.get("statusCode") != 200:
        raise AssertionError(f"the request was not answered 200: {answer}")
    return walk


def main() -> int:
    figures = {"slack_command": slack_command(), "github_comment": github_comment()}
    verbose = "-v" in sys.argv
    for name, walk in figures.items():
        print(f"{name}: {json.dumps(walk.summary())}")
        if verbose:
            for caller, callee in walk.edges:
                up = "   (back up)" if (caller, callee) in walk.upward else ""
                print(f"    {caller} -> {callee}{up}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
