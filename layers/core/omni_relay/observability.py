"""Powertools Logger, Metrics and (when X-Ray tracing is on) Tracer, one of each per process.
Service name and namespace come from POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE."""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Callable
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import RESERVED_LOG_ATTRS, LambdaPowertoolsFormatter, _get_context
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from omni_relay.redaction import guard_root_handlers, redact

# Requests that end without a cancel (help, ignored events, refusals) record no application metric:
# that is expected, not worth a warning in every execution environment's log.
warnings.filterwarnings("ignore", message="No application metrics to publish")

# No log line shows a thread, process or asyncio task, so records need not look them up (the logging
# HOWTO's "Optimization" section): a few microseconds of every line.
logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
logging.logAsyncioTasks = False  # type: ignore[attr-defined,unused-ignore]  # Python 3.12+


def _message(message: object) -> Any:
    """What Powertools logs as a line's message: it tries json.loads on every message (so a JSON string
    logs as an object), and for a plain sentence the failed parse was a third of the line's cost."""
    return json.loads(message) if isinstance(message, str) and message[:1] in ("{", "[") else message


_RESERVED = frozenset(RESERVED_LOG_ATTRS)


class LogLines(LambdaPowertoolsFormatter):
    """Powertools' JSON log lines, key for key (tests/unit/test_log_formatter.py compares the two), with
    its reserved-attribute test made a set look-up: Powertools tests each of a record's ~30 attributes
    against a 24-name tuple, the largest single cost of every line. Each line is redacted (redaction.py)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))

    def _extract_log_keys(self, log_record: logging.LogRecord) -> dict[str, Any]:
        record = log_record.__dict__.copy()
        record["asctime"] = self.formatTime(record=log_record)
        formatted: dict[str, Any] = {}
        for keys in (self.log_format, _get_context().get()):
            for key, value in keys.items():
                if value and key in _RESERVED:
                    if not isinstance(value, str):
                        return super()._extract_log_keys(log_record)  # Powertools' own error for this
                    formatted[key] = value % record
                else:
                    formatted[key] = value
        formatted.update({key: value for key, value in record.items() if key not in _RESERVED})
        return formatted


logger = Logger(service="omni-cancel-relay", logger_formatter=LogLines(json_deserializer=_message))
# Every other logger's records (urllib3's, botocore's, Powertools' own) reach the root logger's handlers,
# which Lambda's runtime installs before it imports the function: each one redacts what it writes.
guard_root_handlers()
metrics = Metrics(namespace="OmniCancelRelay", service="omni-cancel-relay")

Handler = TypeVar("Handler", bound=Callable[..., Any])


def tracing_enabled() -> bool:
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower() not in ("1", "true")


def traced(handler: Handler) -> Handler:
    """The handler under Powertools Tracer when tracing is on (template parameter Tracing=Active).
    Imported only then: aws_xray_sdk loads botocore, a few hundred ms of every cold start."""
    if not tracing_enabled():
        return handler
    from aws_lambda_powertools import Tracer

    return cast(Handler, Tracer(service="omni-cancel-relay").capture_lambda_handler(handler))


def count(name: str, **dimensions: str) -> None:
    """One count with its own dimensions (outcome, source, reason), flushed at once as EMF."""
    if is_metrics_disabled():  # single_metric does not check POWERTOOLS_METRICS_DISABLED itself
        return
    with single_metric(
        name=name, unit=MetricUnit.Count, value=1, namespace=metrics.namespace or "OmniCancelRelay"
    ) as metric:
        for key, value in dimensions.items():
            metric.add_dimension(name=key, value=value)
