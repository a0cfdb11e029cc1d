"""KEDA ScaledObject on vLLM queue depth: never GPU utilisation, which PagedAttention pins near 100%.

KEDA hands each trigger to the HPA as an external metric whose target type is the trigger's
`metricType`. The HPA then computes (k8s replica calculator, tolerance 0.1):

- AverageValue (KEDA's default): desired = ceil(metric / threshold), a count of replicas
  the total needs. Right for a sum such as waiting requests.
- Value: desired = ceil(ready replicas * metric / threshold), proportional to how far the
  metric is from its target. Right for an average or a ratio such as KV-cache usage: an
  average under AverageValue gives ceil(avg / target), never more than ceil(1 / target).
"""

from __future__ import annotations

import math
from typing import Any

from components.config.modelspec import ModelSpec


def queue_query(model: ModelSpec, namespace: str) -> str:
    return f'sum(vllm:num_requests_waiting{{namespace="{namespace}",model_name="{model.name}"}})'


def kv_cache_query(model: ModelSpec, namespace: str) -> str:
    return f'avg(vllm:kv_cache_usage_perc{{namespace="{namespace}",model_name="{model.name}"}})'


# The endpoint picker (Inference Extension v1.5.0, one per model, `<model>-epp`, scraped by the
# inferencepool chart's ServiceMonitor) counts every request it routes
# (inference_objective_request_total) and every one it fails (..._request_error_total). With no
# endpoint in the pool it answers 503 (error_code "ServiceUnavailable"), or 429
# ("ResourceExhausted") for a sheddable (negative-priority) request; every refusal is demand,
# so the query counts all error codes. Both counters exist while no replica runs.
DEMAND_WINDOW = "2m"
# One replica per this many requests in the window: large, so the demand trigger only ever asks
# for the first replica and queue depth decides the rest.
DEMAND_PER_REPLICA = 1_000_000


def demand_query(model: ModelSpec, namespace: str) -> str:
    sel = f'namespace="{namespace}",service="{model.name}-epp"'
    return (
        f"sum(increase(inference_objective_request_total{{{sel}}}[{DEMAND_WINDOW}]) or vector(0))"
        f" + sum(increase(inference_objective_request_error_total{{{sel}}}[{DEMAND_WINDOW}]) or vector(0))"
    )


# The HPA does not act while desired/current stays within this ratio of 1 (its default
# --horizontal-pod-autoscaler-tolerance).
HPA_TOLERANCE = 0.1


def hpa_desired(metric_type: str, metric: float, threshold: float, current: int, low: int, high: int) -> int:
    """Replicas the HPA asks for from one external metric, clamped to [low, high]."""
    if metric_type == "AverageValue":
        ratio = metric / (threshold * current) if current else math.inf
        desired = current if abs(ratio - 1) <= HPA_TOLERANCE else math.ceil(metric / threshold)
    elif metric_type == "Value":
        ratio = metric / threshold
        desired = current if abs(ratio - 1) <= HPA_TOLERANCE else math.ceil(current * ratio)
    else:
        raise ValueError(f"metric type {metric_type!r} is not used by the platform")
    return max(low, min(high, desired))


def scaled_object(model: ModelSpec, namespace: str, prometheus: str, labels: dict[str, str]) -> dict[str, Any]:
    triggers: list[dict[str, Any]] = [
        {
            "type": "prometheus",
            "name": "queue-depth",
            "metricType": "AverageValue",
            "metadata": {
                "serverAddress": prometheus,
                "query": queue_query(model, namespace),
                # A total over replicas: AverageValue gives ceil(total / per-replica target).
                "threshold": str(model.scaling.waiting_requests_target),
                "ignoreNullValues": "true",
            },
        }
    ]
    if model.scaling.kv_cache_usage_target is not None:
        triggers.append(
            {
                "type": "prometheus",
                "name": "kv-cache",
                # An average (0-1): Value scales replicas in proportion to avg / target.
                "metricType": "Value",
                "metadata": {
                    "serverAddress": prometheus,
                    "query": kv_cache_query(model, namespace),
                    "threshold": str(model.scaling.kv_cache_usage_target),
                    "ignoreNullValues": "true",
                },
            }
        )
    extra: dict[str, Any] = {}
    if model.replicas.min == 0:
        triggers.append(
            {
                "type": "prometheus",
                "name": "gateway-demand",
                "metricType": "AverageValue",
                "metadata": {
                    "serverAddress": prometheus,
                    "query": demand_query(model, namespace),
                    "threshold": str(DEMAND_PER_REPLICA),
                    # Any request in the window, routed or refused for want of a replica, wakes it.
                    "activationThreshold": "0",
                    "ignoreNullValues": "true",
                },
            }
        )
        # From one replica to none: after every trigger has been idle this long (KEDA acts on it,
        # not the HPA, whose floor is one).
        extra["cooldownPeriod"] = model.scaling.scale_down_stabilization_seconds
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": model.name, "namespace": namespace, "labels": labels},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": model.name},
            "minReplicaCount": model.replicas.min,
            "maxReplicaCount": model.replicas.max,
            "pollingInterval": model.scaling.polling_interval_seconds,
            **extra,
            "advanced": {
                "horizontalPodAutoscalerConfig": {
                    "behavior": {
                        # Scale down slowly: a cold start costs minutes, an idle replica seconds.
                        "scaleDown": {
                            "stabilizationWindowSeconds": model.scaling.scale_down_stabilization_seconds,
                            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 120}],
                        },
                        "scaleUp": {
                            "stabilizationWindowSeconds": 0,
                            "policies": [{"type": "Pods", "value": 2, "periodSeconds": 60}],
                        },
                    }
                }
            },
            "triggers": triggers,
        },
    }
