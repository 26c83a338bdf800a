"""An emulator of Omni's AI jobs API (create, status, cancel), from the brief's and the published spec.

- Jobs advance over time: QUEUED -> EXECUTING -> DELIVERING -> COMPLETE or FAILED, on the
  emulator's own clock, which tests can speed up or step.
- Org API keys act as org admins; personal access tokens own the jobs they create and may
  cancel only those. Jobs of another org answer 404.
- Cancel: QUEUED cancels at once; EXECUTING stops after the current iteration (the reply says
  EXECUTING); DELIVERING answers 400; terminal states answer 200 with the state (idempotent).
- 60 requests per minute per key (429 with Retry-After), and injectable latency and faults.
- SCIM users (GET /api/scim/v2/Users?filter=userName eq "<email>", /Users/{id}) for the people who own
  jobs; an org API key reads them; `scim_down` makes only SCIM fail (503).
Controls live under /_emulator/ (JSON), and as methods for in-process tests.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from local.cloud.http_reply import LoopbackServer

TERMINAL = ("COMPLETE", "FAILED", "CANCELLED")
_JOB = re.compile(r"^/api/v1/ai/jobs/([^/]+)(/cancel)?/?$")


class Clock:
    """Emulated seconds: real time times `speed`, plus manual steps. `epoch` is the wall time at 0,
    for the ISO-8601 times the API reports."""

    def __init__(self, speed: float = 1.0) -> None:
        self.epoch = time.time()
        self._lock = threading.Lock()
        self._base_real = time.monotonic()
        self._base = 0.0
        self._speed = speed

    def now(self) -> float:
        with self._lock:
            return self._base + (time.monotonic() - self._base_real) * self._speed

    @property
    def speed(self) -> float:
        return self._speed

    def set_speed(self, speed: float) -> None:
        with self._lock:
            self._base += (time.monotonic() - self._base_real) * self._speed
            self._base_real = time.monotonic()
            self._speed = speed

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._base += seconds


@dataclass
class Job:
    id: str
    org: str
    owner: str
    prompt: str
    created: float
    queued_s: float = 2.0
    executing_s: float = 20.0
    delivering_s: float = 3.0
    iteration_s: float = 4.0
    final: str = "COMPLETE"
    pinned: str | None = None  # a state held until cancelled (demos and tests)
    cancel_at: float | None = None  # when a requested cancel of an EXECUTING job takes effect
    cancelled_at: float | None = None
    cancelled_by: str | None = None
    cancelled_while: str | None = None  # the state the cancel found: a job cancelled while queued never ran
    conversation: str = field(default_factory=lambda: str(uuid.uuid4()))

    def state(self, now: float) -> str:
        if self.cancelled_at is not None and now >= self.cancelled_at:
            return "CANCELLED"
        if self.pinned:
            return self.pinned
        t = now - self.created
        natural = (
            "QUEUED"
            if t < self.queued_s
            else "EXECUTING"
            if t < self.queued_s + self.executing_s
            else "DELIVERING"
            if t < self.queued_s + self.executing_s + self.delivering_s
            else self.final
        )
        return natural

    def as_status(self, now: float, epoch: float = 0.0) -> dict[str, Any]:
        """AiJobStatusResponse, with every field Omni's published spec lists for the job's state."""
        state = self.state(now)
        started = self.created + self.queued_s
        finished = started + self.executing_s + self.delivering_s

        def iso(at: float) -> str:
            return _iso(epoch + at)

        body: dict[str, Any] = {
            "id": self.id,
            "conversationId": self.conversation,
            "organizationId": self.org,
            "userId": self.owner,
            "prompt": self.prompt,
            "state": state,
            "modelId": None,
            "branchId": None,
            "topicName": "orders",
            "omniChatUrl": f"https://{self.org}.omniapp.co/chat/{self.conversation}",
            "createdAt": iso(self.created),
            "updatedAt": iso(now),
        }
        if state != "QUEUED" and self.cancelled_while != "QUEUED":
            body["executionStartedAt"] = iso(self.created if self.pinned else started)
        if state == "EXECUTING":
            iteration = int(max(now - started, 0.0) // self.iteration_s) + 1
            body["progress"] = {"iteration": iteration, "message": "Running query", "updatedAt": iso(now)}
        if state == "CANCELLED":
            body["cancelledAt"] = iso(self.cancelled_at if self.cancelled_at is not None else now)
            body["cancelledBy"] = self.cancelled_by
        if state in ("COMPLETE", "FAILED"):
            body["completedAt"] = iso(finished if not self.pinned else self.created)
        if state == "FAILED":
            body["error"] = {"code": "QUERY_EXECUTION_ERROR", "message": "The query timed out after 300 seconds"}
        return body


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int(seconds % 1 * 1000):03d}Z"


@dataclass
class Faults:
    latency_s: float = 0.0  # added to every /api request
    status: int | None = None  # answer this status ...
    count: int = 0  # ... for this many requests (-1: until cleared)
    mode: str = "status"  # status | reset (close the socket mid-response) | non_json | odd_state | hang
    retry_after: str | None = None


@dataclass
class Credential:
    org: str
    user: str
    admin: bool


@dataclass
class OmniState:
    clock: Clock
    credentials: dict[str, Credential] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    calls: dict[str, deque[float]] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)
    rate_limit: int = 60
    rate_window_s: float = 60.0
    log: list[dict[str, Any]] = field(default_factory=list)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)  # SCIM: id -> {userName, displayName}
    scim_down: bool = False
    lock: threading.RLock = field(default_factory=threading.RLock)


class OmniEmulator(LoopbackServer):
    thread_name = "omni-emulator"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, speed: float = 1.0) -> None:
        self.state = OmniState(Clock(speed))
        handler = type("Handler", (_Handler,), {"omni": self.state})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True

    # -- life cycle -------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def job_url(self, job_id: str) -> str:
        """The job's URL on this Omni, as a person would paste it."""
        return f"{self.base_url}/v1/ai/jobs/{job_id}"

    # -- controls (also reachable over HTTP under /_emulator/) --------------------------------
    def add_key(self, key: str, *, org: str = "org-1", user: str = "admin", admin: bool = True) -> None:
        with self.state.lock:
            self.state.credentials[key] = Credential(org, user, admin)

    def create_job(
        self,
        *,
        key: str | None = None,
        org: str = "org-1",
        owner: str = "admin",
        job_id: str | None = None,
        **fields: Any,
    ) -> str:
        """A job as if `key` (or `owner` in `org`) had submitted it (under `job_id`, or a new id);
        fields override its timings or pin a state."""
        with self.state.lock:
            if key is not None:
                cred = self.state.credentials[key]
                org, owner = cred.org, cred.user
            job_id = job_id or str(uuid.uuid4())
            job = Job(job_id, org, owner, fields.pop("prompt", "emulated"), self.state.clock.now(), **fields)
            self.state.jobs[job.id] = job
            return job.id

    def add_user(self, user_id: str, email: str, name: str = "") -> None:
        """An Omni user, as SCIM lists them; `user_id` is what jobs they own report as userId."""
        with self.state.lock:
            self.state.users[user_id] = {"userName": email, "displayName": name or email.split("@")[0]}

    def job_state(self, job_id: str) -> str:
        with self.state.lock:
            return self.state.jobs[job_id].state(self.state.clock.now())

    def set_faults(self, **values: Any) -> None:
        with self.state.lock:
            self.state.faults = Faults(**values)

    def cancel_calls(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return [entry for entry in self.state.log if entry["op"] == "cancel"]


class _Handler(BaseHTTPRequestHandler):
    omni: OmniState
    protocol_version = "HTTP/1.1"
    server_version = "OmniEmulator/1.0"
    wbufsize = 1 << 16  # one write per response: no Nagle / delayed-ACK stall on keep-alive

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read state, not stderr
        return

    # -- plumbing ---------------------------------------------------------------------------
    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return {}
        try:
            value = json.loads(self.rfile.read(length))
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None, raw: bytes | None = None) -> None:
        data = raw if raw is not None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        self._send(status, {"detail": detail, "status": status}, headers)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        if path.startswith("/_emulator/"):
            self._control(method, path)
            return
        body = self._body() if method == "POST" else {}
        if not self._apply_faults():
            return
        self._api(method, path, body)

    # -- faults and limits ------------------------------------------------------------------
    def _apply_faults(self) -> bool:
        """Latency and injected failures; False when the request was answered (or dropped) here."""
        omni = self.omni
        with omni.lock:
            faults = omni.faults
            hit = faults.count != 0 and (faults.status is not None or faults.mode != "status")
            if hit and faults.count > 0:
                faults.count -= 1
            latency = faults.latency_s
        if latency:
            time.sleep(latency)
        if not hit:
            return True
        if faults.mode == "reset":
            self.wfile.write(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"jobId')
            self.wfile.flush()
            self.close_connection = True
            return False
        if faults.mode == "hang":
            time.sleep(30)
            self.close_connection = True
            return False
        if faults.mode == "non_json":
            self._send(faults.status or 200, None, raw=b"<html>upstream error</html>")
            return False
        if faults.mode == "odd_state":  # a 200 whose state the contract does not list
            self._send(200, {"jobId": self.path.rsplit("/", 2)[-2], "state": "SUSPENDED"})
            return False
        headers = {"Retry-After": faults.retry_after} if faults.retry_after else None
        self._error(int(faults.status or 500), "Injected fault", headers)
        return False

    def _authenticate(self) -> tuple[str, Credential] | None:
        auth = self.headers.get("Authorization", "")
        key = auth[7:].strip() if auth.startswith("Bearer ") else ""
        cred = self.omni.credentials.get(key)
        if cred is None:
            self._error(401, "Unauthorized: Missing or invalid API key")
            return None
        return key, cred

    def _rate_limited(self, key: str) -> bool:
        omni = self.omni
        now = omni.clock.now()
        window = omni.calls.setdefault(key, deque())
        while window and now - window[0] >= omni.rate_window_s:
            window.popleft()
        if len(window) >= omni.rate_limit:
            omni.log.append({"op": "limited", "path": self.path, "key": key, "at": now})
            retry = max(1, int(omni.rate_window_s - (now - window[0])) + 1)
            # Retry-After is in real seconds: scale the emulated wait by the clock's speed.
            real = max(1, round(retry / max(omni.clock.speed, 1e-9)))
            self._error(429, "Too Many Requests - Rate limit exceeded (60 requests/minute)", {"Retry-After": str(real)})
            return True
        window.append(now)
        return False

    # -- the API ----------------------------------------------------------------------------
    def _api(self, method: str, path: str, body: dict[str, Any]) -> None:
        omni = self.omni
        with omni.lock:
            auth = self._authenticate()
            if auth is None:
                return
            key, cred = auth
            if self._rate_limited(key):
                return
            now = omni.clock.now()
            if path.startswith("/api/scim/v2/Users"):
                self._scim(key, cred, path)
                return
            if method == "POST" and path.rstrip("/") == "/api/v1/ai/jobs":
                self._create(cred, body, now)
                return
            match = _JOB.match(path)
            if not match:
                self._error(404, "Not found")
                return
            job_id, is_cancel = match.group(1), bool(match.group(2))
            try:
                canonical = str(uuid.UUID(job_id)) == job_id.lower() and len(job_id) == 36
            except ValueError:
                canonical = False
            if not canonical:
                self._error(400, "Invalid job ID format. Must be a valid UUID.")
                return
            job = omni.jobs.get(job_id.lower())
            if job is None or job.org != cred.org:
                self._error(404, "Job not found. The job may not exist or may belong to a different organization.")
                return
            if method == "GET" and not is_cancel:
                omni.log.append({"op": "status", "job": job.id, "key": key, "at": now})
                self._send(200, job.as_status(now, omni.clock.epoch))
            elif method == "POST" and is_cancel:
                self._cancel(key, cred, job, now)
            else:
                self._error(404, "Not found")

    def _scim(self, key: str, cred: Credential, path: str) -> None:
        omni = self.omni
        omni.log.append({"op": "scim", "path": self.path, "key": key, "at": omni.clock.now()})
        if omni.scim_down:
            self._error(503, "SCIM is unavailable")
            return
        if not cred.admin:
            self._error(401, "Authentication required (SCIM bearer token)")
            return

        def resource(user_id: str) -> dict[str, Any]:
            user = omni.users[user_id]
            schema = "urn:ietf:params:scim:schemas:core:2.0:User"
            return {"schemas": [schema], "id": user_id, "active": True, **user}

        tail = path[len("/api/scim/v2/Users") :].strip("/")
        if tail:
            if tail not in omni.users:
                self._error(404, "User not found")
                return
            self._send(200, resource(tail))
            return
        query = parse_qs(urlsplit(self.path).query)
        wanted = re.fullmatch(r'\s*userName\s+eq\s+"([^"]*)"\s*', (query.get("filter") or [""])[0], re.IGNORECASE)
        found = [
            resource(uid)
            for uid, user in omni.users.items()
            if wanted is None or user["userName"].lower() == wanted.group(1).lower()
        ]
        list_schema = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
        body = {"schemas": [list_schema], "totalResults": len(found), "itemsPerPage": len(found), "startIndex": 1}
        self._send(200, {**body, "Resources": found})

    def _create(self, cred: Credential, body: dict[str, Any], now: float) -> None:
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            self._error(400, "Bad Request: prompt: Required")
            return
        job = Job(str(uuid.uuid4()), cred.org, cred.user, prompt, now)
        self.omni.jobs[job.id] = job
        conversation = str(uuid.uuid4())
        self._send(
            201,
            {"jobId": job.id, "conversationId": conversation, "omniChatUrl": f"http://omni.local/chat/{conversation}"},
        )

    def _cancel(self, key: str, cred: Credential, job: Job, now: float) -> None:
        omni = self.omni
        omni.log.append({"op": "cancel", "job": job.id, "key": key, "at": now})
        if not cred.admin and cred.user != job.owner:
            self._error(403, "Permission denied. Only the job owner or organization admins can cancel jobs.")
            return
        state = job.state(now)
        if state in TERMINAL:
            self._send(200, {"jobId": job.id, "state": state})
        elif state == "DELIVERING":
            self._error(400, "Job is not in a cancellable state")
        elif state == "QUEUED":
            job.cancelled_at, job.cancelled_by, job.cancelled_while = now, cred.user, state
            self._send(200, {"jobId": job.id, "state": "CANCELLED"})
        else:  # EXECUTING: stops after the current iteration
            if job.cancelled_at is None:
                elapsed = now - job.created - job.queued_s
                job.cancelled_at = now + (job.iteration_s - elapsed % job.iteration_s)
                job.cancelled_by, job.cancelled_while = cred.user, state
            self._send(200, {"jobId": job.id, "state": "EXECUTING"})

    # -- controls ---------------------------------------------------------------------------
    def _control(self, method: str, path: str) -> None:
        omni = self.omni
        body = self._body() if method == "POST" else {}
        with omni.lock:
            if path == "/_emulator/keys" and method == "POST":
                omni.credentials[str(body["key"])] = Credential(
                    str(body.get("org", "org-1")), str(body.get("user", "admin")), bool(body.get("admin", True))
                )
                self._send(200, {"ok": True})
            elif path == "/_emulator/jobs" and method == "POST":
                cred = omni.credentials.get(str(body.pop("key", "")))
                org = cred.org if cred else str(body.pop("org", "org-1"))
                owner = cred.user if cred else str(body.pop("owner", "admin"))
                job = Job(str(uuid.uuid4()), org, owner, str(body.pop("prompt", "emulated")), omni.clock.now(), **body)
                omni.jobs[job.id] = job
                self._send(201, {"jobId": job.id, "state": job.state(omni.clock.now())})
            elif path == "/_emulator/faults" and method == "POST":
                omni.faults = Faults(**body)
                self._send(200, {"ok": True})
            elif path == "/_emulator/clock" and method == "POST":
                if "speed" in body:
                    omni.clock.set_speed(float(body["speed"]))
                if "advance_s" in body:
                    omni.clock.advance(float(body["advance_s"]))
                self._send(200, {"now": omni.clock.now()})
            elif path == "/_emulator/calls" and method == "GET":
                self._send(200, {"calls": omni.log})
            else:
                self._error(404, "Unknown emulator control")


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Run the Omni AI jobs API emulator.")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--key", action="append", default=[], help="an org API key to accept (admin)")
    args = parser.parse_args()
    emulator = OmniEmulator(port=args.port)
    for key in args.key:
        emulator.add_key(key)
    print(f"Omni emulator on {emulator.base_url}", flush=True)
    emulator._server.serve_forever()


if __name__ == "__main__":
    main()
