"""The webhooks secret, read per source: each source's keys and API credentials (SourceConfig), and
the callback's signing key."""

from __future__ import annotations

from omni_relay.adapters.secret_store import SecretStore
from omni_relay.errors import RelayError, SecretsUnavailable, SettingsUnavailable, SourceDisabled, SourceSetupError
from omni_relay.observability import count, logger
from omni_relay.sources.base import SourceConfig
from omni_relay.sources.registry import webhook_source
from omni_relay.sources.signing import whsec_key


class WebhookConfigs:
    def __init__(self, secrets: SecretStore, secret_id: str) -> None:
        self._secrets = secrets
        self._secret_id = secret_id

    def config(self, source: str) -> SourceConfig:
        """The source's entry in the webhooks secret (SourceDisabled when it has none)."""
        if not self._secret_id:
            raise SourceDisabled("No webhook source is enabled on this relay.")
        try:
            value = self._secrets.get_json(self._secret_id)
        except SecretsUnavailable as exc:
            raise SettingsUnavailable("The relay cannot read its webhook settings right now.") from exc
        found = webhook_source(source)
        try:
            if found is not None:
                return SourceConfig.from_secret(value, source, found.keys, found.signing_key)
            return SourceConfig.from_secret(value, source, decode=whsec_key)  # the callback's signing key
        except SourceSetupError as exc:
            logger.error("webhook source not set up", extra={"source": source, "why": exc.message})
            count("SetupIncomplete", reason="webhook_key")
            raise

    def callback_key(self) -> str | None:
        """The callback's signing secret ("callback" in the webhooks secret); None when it has none."""
        try:
            return self.config("callback").secrets[0]
        except RelayError:
            return None
