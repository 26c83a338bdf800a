"""`/omni-cancel history [n]`: the decisions a Slack user may see (audit.Viewer: their own, or all
of them for on-call and, in owner-or-on-call mode, the cancels of their jobs), as a Slack message."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from omni_relay.domain.deadline import Deadline
from omni_relay.domain.identity import Requester
from omni_relay.errors import AwsCallFailed, SecretsUnavailable, WhoUnknown
from omni_relay.observability import count, logger
from omni_relay.settings import Settings
from omni_relay.usecases.audit import Recorder, Viewer, history
from omni_relay.usecases.auth import policy_for
from omni_relay.usecases.authorized_omni import AuthorizedOmni

if TYPE_CHECKING:
    from omni_relay.usecases.ownership import OwnerOrOnCall


class HistoryPorts(Protocol):
    settings: Settings
    authorized: AuthorizedOmni
    recorder: Recorder
    ownership: OwnerOrOnCall | None
    slack_budget_s: float
    now: Callable[[], float]


def slack_history(ports: HistoryPorts, requester: Requester, n: int) -> dict[str, Any]:
    from omni_relay.presentation.slack_blocks import render_history

    duty = ports.settings.on_call
    viewer = Viewer(
        requester.principal, on_call=requester.user_id in duty.slack_users or requester.principal in duty.senders
    )
    if ports.ownership is not None and not viewer.on_call:
        try:
            policy = policy_for(ports.settings, requester.source)
            on_call, me = ports.ownership.standing(
                requester,
                ports.authorized.credentials(),
                policy.trusts_identity(requester),
                Deadline.within(ports.slack_budget_s),
            )
            viewer = Viewer(requester.principal, me, on_call)
        except (WhoUnknown, SecretsUnavailable) as exc:  # their own requests only
            logger.warning("history: who asked is unknown, showing their own requests", extra={"why": str(exc)})
    try:
        entries = history(ports.recorder.log, viewer, n, ports.now())
    except AwsCallFailed as exc:
        logger.error("history: the audit table cannot be read", extra={"reason": exc.code})
        count("AuditReadFailures", reason=exc.code[:40])
        text = "The record of cancels cannot be read right now. Try again in a minute."
        return {"response_type": "ephemeral", "text": text}
    return render_history(entries, ports.now(), n)
