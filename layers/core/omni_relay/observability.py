"""Powertools Logger, Metrics and Tracer, one of each per process. Service name and namespace come
from POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE (template Globals)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

logger = Logger(service="omni-cancel-relay")
metrics = Metrics(namespace="OmniCancelRelay", service="omni-cancel-relay")
tracer = Tracer(service="omni-cancel-relay")


def count(name: str, **dimensions: str) -> None:
    """One count with its own dimensions (outcome, source, reason), flushed at once as EMF."""
    if is_metrics_disabled():  # single_metric does not check POWERTOOLS_METRICS_DISABLED itself
        return
    with single_metric(
        name=name, unit=MetricUnit.Count, value=1, namespace=metrics.namespace or "OmniCancelRelay"
    ) as metric:
        for key, value in dimensions.items():
            metric.add_dimension(name=key, value=value)
