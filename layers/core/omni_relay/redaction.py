"""No token or secret in a log line, whichever logger writes it.

One redaction, at the logging layer: `redact` removes from a line's text what gives access to something,
and it is applied to every line the relay's own logger writes (observability.LogLines) and, through
RedactFilter, to every record that reaches a handler of the root logger, where urllib3's, botocore's and
Powertools' own loggers write (Lambda's runtime puts its handler there before it imports the function):

- the path of a Slack response_url or incoming webhook (https://hooks.slack.com/actions/T…/…/<token>: the
  path is a bearer token for posting into the channel), with its host or without it, as urllib3 logs a
  retried request's path;
- the query string of any URL or request path (an outbound URL may carry a token there);
- the value of an Authorization header (and of the other headers that carry a credential: AWS's session
  token, the secrets extension's, the shared-secret header), in the forms libraries print headers;
- a bearer token or a token of a known shape (Slack, GitHub, Linear, Standard Webhooks secrets) anywhere;
- what follows SecretString in a Secrets Manager reply that botocore dumps at DEBUG.
"""

from __future__ import annotations

import logging
import re
from typing import Any

REDACTED = "[redacted]"

# Cheap first look: a line with none of these has nothing to redact (most lines).
_MAYBE = re.compile(
    r"hooks\.slack|/actions/|/commands/|/services/|\?|uthoriz|oken|ecret|ookie|Bearer|xox|gh[pousr]_|_pat_|lin_api_|whsec_"
)
_END = r"[^\s\"'\\<>]"  # a URL goes on until whitespace, a quote, a backslash (escaped JSON) or a bracket
_HEADERS = r"(?:proxy-)?authorization|x-amz-security-token|x-aws-parameters-secrets-token|x-omni-relay-token|cookie"
_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(rf"(https?://hooks\.slack(?:-gov)?\.com)/{_END}*"), rf"\1/{REDACTED}"),
    # Slack's shapes without the host, as urllib3 logs a request's path.
    (re.compile(r"/(actions|commands)/[TE][A-Z0-9]+/[0-9]+/[A-Za-z0-9]+"), rf"/\1/{REDACTED}"),
    (re.compile(r"/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+"), f"/services/{REDACTED}"),
    (re.compile(rf"((?:https?://|/)[^\s?#\"'\\<>]*)\?{_END}+"), rf"\1?{REDACTED}"),
    # 'Authorization': b'…'  "Authorization": "…"  \"Authorization\": \"…\"
    (re.compile(rf"(?i)\b({_HEADERS})(\\*['\"]?\s*[:=]\s*b?)(\\*['\"])(.*?)(\3)"), rf"\1\2\3{REDACTED}\5"),
    # Authorization: …   x-amz-security-token:… (a raw header line, or botocore's canonical request)
    (re.compile(rf"(?i)\b({_HEADERS})(\s*:\s*)(?!\\*b?['\"])[^\r\n\"'\\]+"), rf"\1\2{REDACTED}"),
    (re.compile(r"\b(Bearer)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {REDACTED}"),
    (re.compile(r"\b(?:xox[a-z]-|gh[pousr]_|github_pat_|lin_api_|whsec_)[A-Za-z0-9_+/=-]+"), REDACTED),
    (re.compile(r"(SecretString\\*['\"]?\s*:)[^\n]*"), rf"\1 {REDACTED}"),
]


def redact(text: str) -> str:
    """`text` without the tokens and secrets the module docstring lists."""
    if not _MAYBE.search(text):
        return text
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item) for item in value]
    return value


_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_TRACEBACKS = logging.Formatter()


class RedactFilter(logging.Filter):
    """On a handler: every record it writes has its message (arguments filled in), its extra values and its
    traceback redacted first. The traceback is kept as text only, so no formatter renders it unredacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            try:
                message = record.getMessage()
            except (TypeError, ValueError):
                return True  # the handler reports a malformed call itself
            record.msg, record.args = redact(message), None
        else:
            record.msg = _redacted(record.msg)
        for key, value in list(vars(record).items()):
            if key not in _RECORD_ATTRIBUTES and isinstance(value, str | dict | list | tuple):
                setattr(record, key, _redacted(value))
        if record.exc_info:
            record.exc_text = record.exc_text or _TRACEBACKS.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


REDACT = RedactFilter()


def guard_root_handlers() -> None:
    """RedactFilter on each handler of the root logger (and on logging's last resort), once."""
    handlers = [*logging.getLogger().handlers, logging.lastResort]
    for handler in handlers:
        if handler is not None and REDACT not in handler.filters:
            handler.addFilter(REDACT)
