"""Every error of the relay, in one place. First the request errors, each with the HTTP status it
maps to (the relay's exception handlers); then the failures of its parts, which the use cases catch.

Messages are written for the requester: they never hold a secret or a raw exception.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from omni_relay.domain.model import JobDetails, Outcome


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


# Failures of the relay's own parts, below the requests: each is caught by the use case that knows
# what to tell the requester instead (they never reach the exception handlers).


class QueueFailed(Exception):
    """The task queue did not take the call (a task sent, or a redelivery rescheduled)."""


class OmniUnavailable(Exception):
    """No HTTP reply from Omni within the deadline (timeouts, refused or reset connections)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OmniHeldBack(OmniUnavailable):
    """The relay's budget for this key held the call back: Omni was not called."""

    def __init__(self, wait_s: float) -> None:
        super().__init__(f"held back by the relay's Omni budget for {wait_s:.0f}s")
        self.wait_s = wait_s


class NotAllowed(Exception):
    """The relay (or Omni's own rule, checked by the relay) says no. `reason` is for the log; `why`,
    when set, is for the person, in the relay's own words; `job` is what is known of the job."""

    def __init__(self, outcome: Outcome, reason: str, *, why: str = "", job: JobDetails | None = None) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason
        self.why = why
        self.job = job


class AwsCallFailed(Exception):
    """No answer, or an error answer; `code` is AWS's error type (e.g. ConditionalCheckFailedException)."""

    def __init__(self, code: str, status: int = 0) -> None:
        super().__init__(code)
        self.code, self.status = code, status


class PostBackRefused(Exception):
    """The URL is not one the relay may post to."""


class AlreadyInProgress(Exception):
    """The same request is being handled right now (a concurrent duplicate)."""


class DynamoError(Exception):
    """A call the table did not answer with success: `code` is DynamoDB's error type (or the transport's);
    `response` as boto3's ClientError holds it ({"Error": {"Code"}}, and "Item" when the table sent it)."""

    def __init__(self, code: str, item: dict[str, Any] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.response: dict[str, Any] = {"Error": {"Code": code}}
        if item is not None:
            self.response["Item"] = item


class SecretsUnavailable(Exception):
    """A secret could not be read, or is not a JSON object. The message names the secret id only."""


class WindowUnavailable(Exception):
    """The shared count could not be read or written (the caller decides whether to go ahead)."""


class NotTold(Exception):
    """Why the owner was not told, in a word (the metric's dimension) and a sentence (the log)."""

    def __init__(self, outcome: str, why: str) -> None:
        super().__init__(why)
        self.outcome, self.why = outcome, why


class WhoUnknown(Exception):
    """Who someone is could not be established. `reason` is in the relay's own words, for the person;
    `setup` marks a problem only the operator can fix (a missing token or scope)."""

    def __init__(self, reason: str, *, setup: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.setup = setup


class UnfurlFailed(Exception):
    """Slack did not take an unfurl; `reason` is for the log (a Slack error code in the relay's words)."""

    def __init__(self, reason: str, *, setup: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.setup = setup


class NotFinishedYet(Exception):
    """Omni could not answer the worker this time: SQS will deliver the task again."""


class HeldBack(Exception):
    """Omni's budget held the worker's cancel back: it is queued again for when the budget has room."""
