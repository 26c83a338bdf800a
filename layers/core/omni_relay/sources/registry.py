"""Every webhook source behind POST /webhooks/{source}: one line each, imported on first use
(a request from one source never loads the others)."""

from __future__ import annotations

import importlib

from omni_relay.sources.base import WebhookSource

WEBHOOK_SOURCES: dict[str, str] = {
    "github": "omni_relay.sources.github",
    "jira": "omni_relay.sources.jira",
    "zendesk": "omni_relay.sources.zendesk",
    "pagerduty": "omni_relay.sources.pagerduty",
    "linear": "omni_relay.sources.linear",
    "teams": "omni_relay.sources.teams",
    "standard": "omni_relay.sources.standard",
    "shared": "omni_relay.sources.shared_secret",
}

_loaded: dict[str, WebhookSource] = {}


def webhook_source(name: str) -> WebhookSource | None:
    """The source registered as `name`, or None for a name nobody registered."""
    if name not in WEBHOOK_SOURCES:
        return None
    if name not in _loaded:
        _loaded[name] = importlib.import_module(WEBHOOK_SOURCES[name]).SOURCE
    return _loaded[name]
