"""What a webhook source is: the base class every module under sources/ subclasses, the config it
gets from the webhooks secret, what it reads from a request (Delivery) and the API call it builds to
comment back (CommentCall), and the helpers for reading vendor payloads.

Adding a source: one module here with a WebhookSource subclass (name, title, deadline_s; verify and
read; can_comment and comment if its tool has an API for comments) and SOURCE = YourSource(), plus
one line in registry.py. The pipeline in webhook.py does the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from omni_relay.domain.identity import Requester
from omni_relay.errors import SourceDisabled, SourceSetupError, StaleRequest
from omni_relay.sources.request import InboundRequest, Reply
from omni_relay.sources.signing import MIN_KEY_BYTES, MIN_KEY_CHARS

# Where senders that sign nothing themselves (Jira Automation, Opsgenie, ServiceNow) present the shared secret.
TOKEN_HEADER = "x-omni-relay-token"  # noqa: S105 (a header name, not a secret)


@dataclass(frozen=True)
class SourceConfig:
    """One source's entry in the webhooks secret: its HMAC signing secrets, its header tokens (a lower
    level of trust, kept apart), and its API credentials if any."""

    secrets: tuple[str, ...]
    values: Mapping[str, Any] = field(default_factory=dict, repr=False)
    tokens: tuple[str, ...] = field(default=(), repr=False)

    def get(self, key: str, default: str = "") -> str:
        value = self.values.get(key, default)
        return value.strip() if isinstance(value, str) else default

    @classmethod
    def from_secret(
        cls, value: Mapping[str, Any], source: str, keys: tuple[str, ...] = ("secrets",), decode: Any = None
    ) -> SourceConfig:
        """`source`'s entry in the webhooks secret: {"secrets": [...], "tokens": [...], <API credentials>}
        or a bare secret. `keys` are the lists the source reads; `decode` turns a secret into its HMAC
        key bytes (ValueError when it is not one). Placeholders disable the source with a setup error."""
        entry = value.get(source)
        if isinstance(entry, str):
            entry = {keys[0]: [entry]}
        if not isinstance(entry, dict):
            raise SourceDisabled(f"The {source} webhook source is not enabled on this relay.")
        found: dict[str, tuple[str, ...]] = {}
        for name in ("secrets", "tokens"):
            listed = entry.get(name, [])
            found[name] = tuple(
                s.strip() for s in (listed if isinstance(listed, list) else []) if isinstance(s, str) and s.strip()
            )
        if found["secrets"] and "secrets" not in keys:  # the shared-secret source: its one list is tokens
            found["tokens"], found["secrets"] = found["tokens"] + found["secrets"], ()
        if not any(found[name] for name in keys):
            raise SourceDisabled(f"The {source} webhook source is not enabled on this relay.")
        for name in keys:
            for i, key in enumerate(found[name]):
                if problem := _weak(key, decode if name == "secrets" else None):
                    raise SourceSetupError(
                        f"The {source} webhook source is disabled: {name}[{i}] in the webhooks secret {problem}."
                    )
        if shared := _keys_elsewhere(value, source) & {*found["secrets"], *found["tokens"]}:
            # A key is one trust level for one sender: the callback's signing key as a source's key would
            # let anyone who reads the callbacks replay one as a command.
            raise SourceSetupError(
                f"The {source} webhook source is disabled: {len(shared)} of its keys are also another entry's"
                " in the webhooks secret (the callback's, or another source's); give each its own."
            )
        return cls(found["secrets"], entry, found["tokens"])


def _keys_elsewhere(value: Mapping[str, Any], source: str) -> set[str]:
    """Every key the webhooks secret lists under an entry other than `source`'s."""
    keys: set[str] = set()
    for name, entry in value.items():
        if name == source:
            continue
        listed = [entry] if isinstance(entry, str) else []
        if isinstance(entry, dict):
            listed = [k for field in ("secrets", "tokens") if isinstance(entry.get(field), list) for k in entry[field]]
        keys.update(k.strip() for k in listed if isinstance(k, str))
    return keys


def _weak(key: str, decode: Any) -> str:
    """Why `key` cannot be a key ('' when it can)."""
    if len(key) < MIN_KEY_CHARS:
        return f"is shorter than {MIN_KEY_CHARS} characters (a placeholder?)"
    if decode is not None:
        try:
            raw = decode(key)
        except ValueError:
            return "is not in the form this vendor issues"
        if len(raw) < MIN_KEY_BYTES:
            return f"holds a key shorter than {MIN_KEY_BYTES} bytes"
    return ""


@dataclass(frozen=True)
class CommentCall:
    """One HTTP call to a vendor's API (a comment on the issue the request came from)."""

    method: str
    url: str
    body: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Delivery:
    """What a source reads from one verified request."""

    requester: Requester
    delivery_id: str = ""  # the vendor's id for this delivery; repeats are answered once
    texts: tuple[str, ...] = ()  # free text a person wrote, searched after the command word
    thread: Mapping[str, str] = field(default_factory=dict)  # where a comment goes back, if anywhere
    ignore: str = ""  # set for events the relay does not act on, saying why


class WebhookSource:
    """Base class of every source. A subclass sets the class attributes and implements verify and read."""

    name: ClassVar[str]
    title: ClassVar[str]
    deadline_s: ClassVar[float] = 10.0  # the caller's own timeout
    default_job_path: ClassVar[str] = ""  # JMESPath into the payload, tried before free text
    # False where the delivery itself is the command (a Teams @mention, a structured sender).
    needs_command_word: ClassVar[bool] = True
    # Replays: how long after the time its vendor signs (a header or a body field) a delivery is still
    # acted on, wide enough for the vendor's documented retries; 0 where the vendor signs no time.
    # A signed body is remembered at least this long, so a resend inside the window acts once.
    max_age_s: ClassVar[float] = 0.0
    # Which lists of the source's secret entry it reads: HMAC signing secrets, header tokens, or both
    # (Jira). A value is only ever one of the two: a token never signs as the vendor.
    keys: ClassVar[tuple[str, ...]] = ("secrets",)

    def verify(self, request: InboundRequest, config: SourceConfig, now: float) -> None:
        raise NotImplementedError

    def signing_key(self, secret: str) -> bytes:
        """The HMAC key a signing secret stands for (ValueError when it is not one this vendor issues)."""
        return secret.encode("utf-8")

    def read(
        self, request: InboundRequest, payload: Mapping[str, Any], now: float, config: SourceConfig | None = None
    ) -> Delivery:
        raise NotImplementedError

    def can_comment(self, thread: Mapping[str, str], config: SourceConfig) -> bool:
        """Whether this source can put a result on `thread` later (its API, and credentials for it)."""
        return False

    def comment(self, thread: Mapping[str, str], text: str, config: SourceConfig) -> CommentCall | None:
        """The vendor API call that puts `text` on the issue/ticket/incident; None if there is none."""
        return None

    def literal(self, text: str) -> str:
        """`text` (from Omni or a sender) as this source's comments show it literally. Plain-text
        comment APIs (the default) need nothing; Markdown ones override this (markup.py)."""
        return text

    def render(self, status: int, body: dict[str, Any]) -> Reply:
        return Reply(status, body)


def check_age(sent_at: float | None, now: float, max_age_s: float, what: str) -> None:
    """StaleRequest unless the signed time `sent_at` is within `max_age_s` of now (either way: clocks drift)."""
    if sent_at is None:
        raise StaleRequest(f"The signed {what} is missing or unreadable.")
    if abs(now - sent_at) > max_age_s:
        raise StaleRequest(f"The signed {what} is more than {max_age_s / 3600:g} h away: a replay or a stale retry.")


def dig(payload: Any, *path: str) -> Any:
    """payload[path[0]][path[1]]..., or None as soon as a step is missing or not an object."""
    for key in path:
        if not isinstance(payload, Mapping):
            return None
        payload = payload.get(key)
    return payload


def text(value: Any) -> str:
    """A payload value as a string ('' for anything that is not a string or a number)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""
