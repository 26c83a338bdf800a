"""Settings read from the environment once, at cold start, and validated: no silent defaults for required values."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from omni_relay.domain.allowlists import AllowList, OnCall, SenderList
from omni_relay.errors import ConfigError
from omni_relay.observability import count, logger

# Request bodies: 1 MiB by default (a GitHub comment on an issue holding a pasted log is ~75 KB, and GitHub
# allows 65,536-character bodies); at most 4 MiB, the largest that always reaches a function (Lambda takes 6 MB
# events, and API Gateway base64-encodes form bodies). The template's MaxBodyBytes parameter sets it.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
LARGEST_MAX_BODY_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Settings:
    omni_base_url: str
    omni_secret_id: str
    slack_secret_id: str
    slack_allowed_teams: AllowList
    slack_allowed_users: AllowList
    slack_allowed_channels: AllowList
    secrets_max_age_s: int = 300
    secrets_extension_port: int | None = None
    slack_deadline_s: float = 3.0
    deadline_margin_s: float = 0.5
    omni_connect_timeout_s: float = 1.0
    omni_read_timeout_s: float = 20.0
    omni_max_attempts: int = 4
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    cancel_queue_url: str = ""  # empty: no hand-off, the caller gets what is known at its deadline
    postback_hosts: str = ""
    handoff_reserve_s: float = 0.6  # kept from the caller's budget to queue the task and reply
    worker_deadline_s: float = 45.0
    max_receives: int = 5  # the queue's maxReceiveCount: the last attempt tells the requester
    task_retry_delay_s: int = 30  # first retry of a task Omni could not finish; doubles per attempt; 0: queue's
    idempotency_table: str = ""  # empty: no de-duplication
    sender_rate_limit_per_min: int = 10  # per sender, across every environment; 0 turns it off
    # Omni's limit per key (60 a minute; Omni raises it on request), one budget for every environment,
    # cancels first (omni_budget.py). 0: no budget (`make bench`, which lifts the emulator's limit too;
    # the template allows no less than 3).
    omni_requests_per_min: int = 60
    follow_up_minutes: float = 10.0  # how long an executing job is followed after a cancel; 0: not at all
    webhook_secret_id: str = ""  # empty: no webhook source is enabled
    command_word: str = "/omni-cancel"  # required before a job id in free text (comments, notes)
    callback_url: str = ""  # where webhook results are also sent, signed as Standard Webhooks
    # Per webhook source: <SOURCE>_ALLOWED (senders, parsed here once) and <SOURCE>_JOB_ID_PATH (JMESPath).
    source_allowed: Mapping[str, SenderList] = field(default_factory=dict)
    source_job_paths: Mapping[str, str] = field(default_factory=dict)
    # Webhook sources whose sender writes its own identity, where the operator accepts that risk so
    # that mapped per-user tokens are used (TRUST_SENDER_IDENTITY="standard,shared").
    trust_sender_identity: frozenset[str] = frozenset()
    # Who may use the org key on a job: "allow-list" (everyone allowed) or "owner-or-on-call" (Omni's
    # own rule: the job's owner, or someone on ON_CALL; ownership.py).
    who_may_cancel: str = "allow-list"
    on_call: OnCall = field(default_factory=OnCall)
    identity_max_age_s: int = 3600  # how long a person's email and Omni user are cached
    slack_api_url: str = ""  # empty: https://slack.com/api
    # The record of every decision (audit.py): its table ('' : the log line only) and how long it is kept.
    audit_table: str = ""
    audit_retention_days: int = 90
    notify_owner: bool = True  # DM a job's owner when someone else cancels it (with the Slack bot token)

    def allowed_senders(self, source: str) -> SenderList:
        return self.source_allowed.get(source) or SenderList()

    @property
    def identity_problems(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Entries of the allow-lists and ON_CALL that admit no one (refused), and those read in an old form."""
        refused = [p for senders in self.source_allowed.values() for p in senders.problems] + list(
            self.on_call.problems
        )
        old = [d for senders in self.source_allowed.values() for d in senders.deprecated]
        return tuple(refused), tuple(old)

    def job_id_path(self, source: str) -> str:
        return self.source_job_paths.get(source, "")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        problems: list[str] = []

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                problems.append(f"{name} is required")
            return value

        def number(name: str, default: float, low: float, high: float) -> float:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError:
                problems.append(f"{name} must be a number, got {raw!r}")
                return default
            if not low <= value <= high:
                problems.append(f"{name} must be between {low:g} and {high:g}, got {raw}")
            return value

        base_url = required("OMNI_BASE_URL").rstrip("/")
        if base_url:
            parts = urlsplit(base_url)
            # Plain http only to this machine: the emulator, or the host as a `sam local` container sees it.
            local = parts.hostname in ("127.0.0.1", "localhost", "host.docker.internal")
            if parts.scheme != "https" and not (parts.scheme == "http" and local):
                problems.append("OMNI_BASE_URL must be an https URL such as https://acme.omniapp.co/api")

        port_raw = env.get("SECRETS_EXTENSION_PORT", "").strip()
        settings = cls(
            omni_base_url=base_url,
            omni_secret_id=required("OMNI_SECRET_ID"),
            slack_secret_id=required("SLACK_SECRET_ID"),
            slack_allowed_teams=AllowList.parse(env.get("SLACK_ALLOWED_TEAMS", "")),
            slack_allowed_users=AllowList.parse(env.get("SLACK_ALLOWED_USERS", "*")),
            slack_allowed_channels=AllowList.parse(env.get("SLACK_ALLOWED_CHANNELS", "*")),
            secrets_max_age_s=int(number("SECRETS_MAX_AGE_S", 300, 0, 86400)),
            secrets_extension_port=int(number("SECRETS_EXTENSION_PORT", 2773, 1, 65535)) if port_raw else None,
            slack_deadline_s=number("SLACK_DEADLINE_MS", 3000, 500, 30000) / 1000,
            deadline_margin_s=number("DEADLINE_MARGIN_MS", 500, 0, 5000) / 1000,
            omni_connect_timeout_s=number("OMNI_CONNECT_TIMEOUT_S", 1.0, 0.05, 30),
            omni_read_timeout_s=number("OMNI_READ_TIMEOUT_S", 20.0, 0.1, 300),
            omni_max_attempts=int(number("OMNI_MAX_ATTEMPTS", 4, 1, 10)),
            max_body_bytes=int(number("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, 1024, LARGEST_MAX_BODY_BYTES)),
            cancel_queue_url=env.get("CANCEL_QUEUE_URL", "").strip(),
            postback_hosts=env.get("POSTBACK_HOSTS", "").strip(),
            handoff_reserve_s=number("HANDOFF_RESERVE_MS", 600, 0, 2000) / 1000,
            worker_deadline_s=number("WORKER_DEADLINE_S", 45, 1, 900),
            max_receives=int(number("MAX_RECEIVES", 5, 1, 1000)),
            task_retry_delay_s=int(number("TASK_RETRY_DELAY_S", 30, 0, 900)),
            idempotency_table=env.get("IDEMPOTENCY_TABLE", "").strip(),
            sender_rate_limit_per_min=int(number("SENDER_RATE_LIMIT_PER_MIN", 10, 0, 600)),
            omni_requests_per_min=int(number("OMNI_REQUESTS_PER_MIN", 60, 0, 500)),
            follow_up_minutes=number("FOLLOW_UP_MINUTES", 10, 0, 25),
            webhook_secret_id=env.get("WEBHOOK_SECRET_ID", "").strip(),
            who_may_cancel=_choice(env, "WHO_MAY_CANCEL", ("allow-list", "owner-or-on-call"), problems),
            on_call=OnCall.parse(env.get("ON_CALL", "")),
            identity_max_age_s=int(number("IDENTITY_MAX_AGE_S", 3600, 0, 86400)),
            slack_api_url=env.get("SLACK_API_URL", "").strip(),
            audit_table=env.get("AUDIT_TABLE", "").strip(),
            audit_retention_days=int(number("AUDIT_RETENTION_DAYS", 90, 1, 3650)),
            notify_owner=_choice(env, "NOTIFY_OWNER", ("true", "false"), problems) == "true",
            trust_sender_identity=frozenset(
                s.strip().lower() for s in env.get("TRUST_SENDER_IDENTITY", "").split(",") if s.strip()
            ),
            **_webhook_options(env, problems),
        )
        if problems:
            raise ConfigError("invalid configuration: " + "; ".join(problems))
        return settings


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], problems: list[str]) -> str:
    value = env.get(name, "").strip().lower() or allowed[0]
    if value not in allowed:
        problems.append(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        return allowed[0]
    return value


def valid_jmespath(expression: str) -> bool:
    import jmespath  # only when a source's job id path is configured
    from jmespath.exceptions import JMESPathError

    try:
        jmespath.compile(expression)
    except JMESPathError:
        return False
    return True


def _webhook_options(env: Mapping[str, str], problems: list[str]) -> dict[str, Any]:
    """COMMAND_WORD, CALLBACK_URL, and per source <SOURCE>_ALLOWED and <SOURCE>_JOB_ID_PATH."""
    allowed = {
        (name := k[: -len("_ALLOWED")].lower()): SenderList.parse(v, name)
        for k, v in env.items()
        if k.endswith("_ALLOWED") and not k.startswith("SLACK_")
    }
    job_paths = {
        k[: -len("_JOB_ID_PATH")].lower(): v.strip() for k, v in env.items() if k.endswith("_JOB_ID_PATH") and v.strip()
    }
    for name, expression in job_paths.items():
        if not valid_jmespath(expression):
            problems.append(f"{name.upper()}_JOB_ID_PATH is not a JMESPath expression: {expression!r}")
    callback_url = env.get("CALLBACK_URL", "").strip()
    if callback_url and urlsplit(callback_url).scheme not in ("https", "http"):
        problems.append("CALLBACK_URL must be an https URL")
    command_word = env.get("COMMAND_WORD", "/omni-cancel").strip()
    if not command_word or any(c.isspace() for c in command_word):
        problems.append("COMMAND_WORD must be one word, such as /omni-cancel")
    return {
        "command_word": command_word,
        "callback_url": callback_url,
        "source_allowed": allowed,
        "source_job_paths": job_paths,
    }


def report_identity_problems(settings: Settings) -> None:
    """Identity entries that admit no one, or are written in an old form: the operator's to fix."""
    refused, old = settings.identity_problems
    for problem in refused:
        logger.error("identity entry refused: it admits no one", extra={"why": problem})
        count("SetupIncomplete", reason="identity_entry")
    for entry in old:
        logger.warning("identity entry in an old form (still read)", extra={"new_form": entry})
