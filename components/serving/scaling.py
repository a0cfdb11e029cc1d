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


# How long a request the endpoint picker turned away keeps a model wanted.
ACTIVITY_WINDOW = "2m"


def activity_query(model: ModelSpec, namespace: str) -> str:
    """Demand for a model that may have no replica: requests its replicas run or queue, plus
    requests its endpoint picker turned away (the Inference Extension's EPP counts a request it
    cannot place, e.g. on an empty pool, in inference_objective_request_error_total, labelled
    with the request's model: the base model or one of its adapters). Each part is 0 when
    absent, so the sum exists with no replica and no traffic."""
    served = "|".join([model.name, *(a.name for a in model.adapters)])
    vllm_labels = f'namespace="{namespace}",model_name="{model.name}"'
    refused = f'inference_objective_request_error_total{{namespace="{namespace}",model_name=~"{served}"}}'
    # Growth over the window, not rate(): a series the picker creates on its first refusal has
    # one sample, which rate() ignores; against a missing past value the growth is the count.
    return (
        f"(sum(vllm:num_requests_running{{{vllm_labels}}}) or vector(0))"
        f" + (sum(vllm:num_requests_waiting{{{vllm_labels}}}) or vector(0))"
        f" + (clamp_min(sum({refused}) - (sum({refused} offset {ACTIVITY_WINDOW}) or vector(0)), 0) or vector(0))"
    )


# Scale-from-zero trigger: it only says whether the model is wanted (KEDA activates above
# activationThreshold 0) and never asks for a second replica (AverageValue with a target no
# demand reaches); queue depth sizes the model once it runs.
ACTIVITY_TARGET = "1000000"


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
    if model.replicas.min == 0:
        triggers.append(
            {
                "type": "prometheus",
                "name": "activity",
                "metricType": "AverageValue",
                "metadata": {
                    "serverAddress": prometheus,
                    "query": activity_query(model, namespace),
                    "threshold": ACTIVITY_TARGET,
                    "activationThreshold": "0",
                    "ignoreNullValues": "true",
                },
            }
        )
    spec_extra = (
        # Scale to zero only after this long with no request running, queued or turned away.
        {"cooldownPeriod": model.scaling.scale_down_stabilization_seconds} if model.replicas.min == 0 else {}
    )
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": model.name, "namespace": namespace, "labels": labels},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": model.name},
            "minReplicaCount": model.replicas.min,
            "maxReplicaCount": model.replicas.max,
            "pollingInterval": model.scaling.polling_interval_seconds,
            **spec_extra,
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
