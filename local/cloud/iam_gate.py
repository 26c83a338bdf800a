"""IAM in front of moto server: every AWS call a function makes, or that is made with its
credentials on its behalf (the SQS event source, the secrets extension), is judged against the policy
template.yaml gives that function, and refused with AccessDenied as AWS would when it is not allowed.

Each function gets its own access key, as each Lambda function gets its own role's credentials. The
gate reads the key and the service from the SigV4 Authorization header, the action from the request
(X-Amz-Target, or Action in a query-protocol form), and the resource's real ARN from its parameters
(SecretId, QueueUrl, TableName); moto's own policy evaluator (moto.iam.access_control) decides. Keys
it does not know (the local stack's own administration) pass unchecked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from local.cloud.http_reply import LoopbackServer, send_reply

_CREDENTIAL = re.compile(r"Credential=([^/]+)/[^/]+/([^/]+)/([^/]+)/")
# SQS authorises its batch operations as the single ones (the Service Authorization Reference lists no
# sqs:*Batch action: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsqs.html).
AUTHORIZED_AS = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}


@dataclass(frozen=True)
class Decision:
    principal: str
    action: str
    resource: str
    allowed: bool


def evaluate(documents: list[dict[str, Any]], action: str, resource: str) -> bool:
    """IAM's rule for one identity: an explicit Deny wins, then any Allow; otherwise denied."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    results = [IAMPolicy(json.dumps(doc)).is_action_permitted(action, resource) for doc in documents]
    return PermissionResult.DENIED not in results and PermissionResult.PERMITTED in results


class IamGate(LoopbackServer):
    thread_name = "iam-gate"

    def __init__(
        self,
        upstream: str,
        policies: Mapping[str, list[dict[str, Any]]],  # access key id -> the function's policy documents
        principals: Mapping[str, str],  # access key id -> the function's logical id
        secret_arns: Callable[[str], str],  # a secret's name or ARN -> its ARN
        *,
        region: str,
        account: str,
        on_decision: Callable[[Decision], None] | None = None,
    ) -> None:
        import urllib3

        self.upstream = upstream
        self.policies, self.principals, self.secret_arns = policies, principals, secret_arns
        self.region, self.account = region, account
        self.on_decision = on_decision
        self.decisions: list[Decision] = []
        self.http = urllib3.PoolManager(maxsize=16, retries=False, timeout=urllib3.Timeout(connect=2, read=60))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
        self._server.daemon_threads = True
        self._server.gate = self  # type: ignore[attr-defined]

    def arn_of(self, service: str, params: Mapping[str, Any]) -> str:
        """The real ARN of the resource a call acts on, from its parameters."""
        if service == "secretsmanager" and params.get("SecretId"):
            return self.secret_arns(str(params["SecretId"]))
        if service == "sqs" and params.get("QueueUrl"):
            name = urlsplit(str(params["QueueUrl"])).path.rstrip("/").rsplit("/", 1)[-1]
            return f"arn:aws:sqs:{self.region}:{self.account}:{name}"
        if service == "dynamodb" and params.get("TableName"):
            table = f"arn:aws:dynamodb:{self.region}:{self.account}:table/{params['TableName']}"
            # A Query of an index acts on the index's own ARN, as IAM judges it.
            return f"{table}/index/{params['IndexName']}" if params.get("IndexName") else table
        return "*"

    def judge(self, headers: Any, body: bytes) -> Decision | None:
        """The decision on a function's call (None for calls of the stack's own)."""
        match = _CREDENTIAL.search(headers.get("Authorization", ""))
        key, service = (match.group(1), match.group(3)) if match else ("", "")
        if key not in self.policies:
            return None
        target = headers.get("X-Amz-Target", "")
        if target:
            operation, params = target.rsplit(".", 1)[-1], json.loads(body or b"{}")
        else:
            params = {k: v[0] for k, v in parse_qs(body.decode(errors="replace")).items()}
            operation = params.get("Action", "")
        action = AUTHORIZED_AS.get(f"{service}:{operation}", f"{service}:{operation}")
        resource = self.arn_of(service, params)
        allowed = evaluate(self.policies[key], action, resource)
        decision = Decision(self.principals[key], action, resource, allowed)
        self.decisions.append(decision)
        if self.on_decision:
            self.on_decision(decision)
        return decision

    def denial(self, decision: Decision, *, json_protocol: bool) -> tuple[int, dict[str, str], bytes]:
        """What AWS answers a call the caller's policy does not allow."""
        message = (
            f"User: arn:aws:sts::{self.account}:assumed-role/{decision.principal}Role/{decision.principal} "
            f"is not authorized to perform: {decision.action} on resource: {decision.resource} "
            f"because no identity-based policy allows the {decision.action} action"
        )
        if json_protocol:
            code = "AccessDenied" if decision.action.startswith("sqs:") else "AccessDeniedException"
            body = json.dumps({"__type": code, "message": message}).encode()
            return 400, {"Content-Type": "application/x-amz-json-1.0", "x-amzn-query-error": f"{code};Sender"}, body
        xml = (
            "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
            f"<Message>{message}</Message></Error></ErrorResponse>"
        )
        return 403, {"Content-Type": "text/xml"}, xml.encode()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def denied(self) -> list[Decision]:
        return [d for d in self.decisions if not d.allowed]


class _Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _forward(self) -> None:
        gate: IamGate = self.server.gate  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        decision = gate.judge(self.headers, body)
        if decision is not None and not decision.allowed:
            send_reply(self, *gate.denial(decision, json_protocol=bool(self.headers.get("X-Amz-Target"))))
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        reply = gate.http.request(self.command, gate.upstream + self.path, body=body, headers=headers)
        send_reply(self, reply.status, dict(reply.headers), reply.data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward  # noqa: N815
