"""The Slack secret: the app's signing secrets (current and previous, for rotation) and its bot token."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omni_relay.adapters.secret_store import SecretStore
from omni_relay.errors import SecretsUnavailable, SettingsUnavailable, WhoUnknown
from omni_relay.observability import count, logger
from omni_relay.sources.signing import MIN_KEY_CHARS


class SlackSecret:
    def __init__(self, secrets: SecretStore, secret_id: str) -> None:
        self._secrets = secrets
        self._secret_id = secret_id

    def signing_secrets(self) -> list[str]:
        try:
            value = self._secrets.get_json(self._secret_id)
        except SecretsUnavailable as exc:
            raise SettingsUnavailable("The relay cannot read its Slack settings right now.") from exc
        return signing_secrets(value)

    def bot_token(self) -> str:
        """The Slack app's bot token ("bot_token"), for asking Slack who someone is, DMs and unfurls."""
        try:
            value = self._secrets.get_json(self._secret_id).get("bot_token", "")
        except SecretsUnavailable:
            raise WhoUnknown("the relay cannot read its Slack secret", setup=True) from None
        return value.strip() if isinstance(value, str) else ""

    def unfurl_token(self) -> str:
        """The bot token for chat.unfurl; '' when the Slack secret has none (or cannot be read): unfurls are off."""
        try:
            return self.bot_token()
        except WhoUnknown:
            return ""


def signing_secrets(value: Mapping[str, Any]) -> list[str]:
    """Every accepted signing secret in the Slack secret: {"signing_secrets": [current, previous]}
    (rotation without downtime) or {"signing_secret": s}."""
    listed = value.get("signing_secrets", [])
    single = value.get("signing_secret", "")
    candidates = (listed if isinstance(listed, list) else []) + [single]
    secrets = [s.strip() for s in candidates if isinstance(s, str) and s.strip()]
    if not secrets:
        raise SettingsUnavailable("The relay's Slack secret has no signing secret.")
    if any(len(s) < MIN_KEY_CHARS for s in secrets):  # a placeholder, or guessable: nothing is verified by it
        logger.error("Slack not set up: a signing secret is a placeholder", extra={"min_chars": MIN_KEY_CHARS})
        count("SetupIncomplete", reason="slack_key")
        raise SettingsUnavailable(
            f"A signing secret in the relay's Slack secret is shorter than {MIN_KEY_CHARS} characters."
        )
    return secrets
