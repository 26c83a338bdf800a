"""Powertools Logger, Metrics and (when X-Ray tracing is on) Tracer, one of each per process.
Service name and namespace come from POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

# Requests that end without a cancel (help, ignored events, refusals) record no application metric:
# that is expected, not worth a warning in every execution environment's log.
warnings.filterwarnings("ignore", message="No application metrics to publish")


def _message(message: str) -> Any:
    """What Powertools logs as a line's message: it tries json.loads on every message (so a JSON string
    logs as an object), and for a plain sentence the failed parse was a third of the line's cost."""
    return json.loads(message) if message[:1] in ("{", "[") else message


logger = Logger(service="omni-cancel-relay", json_deserializer=_message)
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
