"""KEDA ScaledObject on vLLM queue depth: never GPU utilisation, which PagedAttention pins near 100%."""

from __future__ import annotations

from typing import Any

from components.config.modelspec import ModelSpec


def queue_query(model: ModelSpec, namespace: str) -> str:
    return f'sum(vllm:num_requests_waiting{{namespace="{namespace}",model_name="{model.name}"}})'


def kv_cache_query(model: ModelSpec, namespace: str) -> str:
    return f'avg(vllm:kv_cache_usage_perc{{namespace="{namespace}",model_name="{model.name}"}})'


def scaled_object(model: ModelSpec, namespace: str, prometheus: str, labels: dict[str, str]) -> dict[str, Any]:
    triggers: list[dict[str, Any]] = [
        {
            "type": "prometheus",
            "name": "queue-depth",
            "metadata": {
                "serverAddress": prometheus,
                "query": queue_query(model, namespace),
                # AverageValue: target waiting requests per replica.
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
                "metadata": {
                    "serverAddress": prometheus,
                    "query": kv_cache_query(model, namespace),
                    "threshold": str(model.scaling.kv_cache_usage_target),
                    "ignoreNullValues": "true",
                },
            }
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
