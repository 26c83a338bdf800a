"""Request errors, each with the HTTP status it maps to (in one place: the relay's exception handlers).

Messages are written for the requester: they never hold a secret or a raw exception.
"""

from __future__ import annotations


class RelayError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MalformedRequest(RelayError):
    status = 400
    code = "malformed_request"


class InvalidSignature(RelayError):
    status = 401
    code = "invalid_signature"


class StaleRequest(RelayError):
    status = 401
    code = "stale_request"


class ReplayedRequest(RelayError):
    status = 401
    code = "replayed_request"


class PayloadTooLarge(RelayError):
    status = 413
    code = "payload_too_large"


class HeadersTooLarge(RelayError):
    status = 431
    code = "headers_too_large"


class UnsupportedMediaType(RelayError):
    status = 415
    code = "unsupported_media_type"


class SettingsUnavailable(RelayError):
    """The relay's own secrets could not be read (store down, secret missing or malformed)."""

    status = 503
    code = "settings_unavailable"


class ConfigError(Exception):
    """Deployment configuration is wrong; raised at cold start with every problem listed."""


class SourceDisabled(RelayError):
    """A webhook source with no entry in the webhooks secret: as if it did not exist."""

    status = 404
    code = "source_not_enabled"


class SourceSetupError(SourceDisabled):
    """A webhook source's entry in the webhooks secret cannot be used as written: disabled, and said why."""
