"""Scaling policies: the one a rendered ScaledObject describes, and the alternatives to compare it with.

The HPA defaults below are Kubernetes' own (autoscaling/v2 HorizontalPodAutoscalerBehavior):
a direction the ScaledObject leaves out behaves as if it had been written with these.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

MetricKind = Literal["queue", "kv-cache", "gpu-util", "demand"]


@dataclass(frozen=True)
class Rule:
    type: Literal["Pods", "Percent"]
    value: int
    period_seconds: int


@dataclass(frozen=True)
class Direction:
    stabilization_seconds: int
    policies: tuple[Rule, ...]
    select: Literal["Max", "Min", "Disabled"] = "Max"


# Kubernetes' defaults when a ScaledObject gives no behavior for a direction.
DEFAULT_UP = Direction(0, (Rule("Percent", 100, 15), Rule("Pods", 4, 15)))
DEFAULT_DOWN = Direction(300, (Rule("Percent", 100, 15),))


@dataclass(frozen=True)
class Trigger:
    name: str
    metric: MetricKind
    # "AverageValue": target per replica (KEDA's default for the prometheus scaler);
    # "Value": target for the query's value as a whole.
    metric_type: Literal["AverageValue", "Value"]
    threshold: float
    activation_threshold: float = 0.0
    query: str = ""
    # useCachedMetrics: the HPA gets the value KEDA read at its last poll, not a fresh query.
    cached: bool = False


@dataclass(frozen=True)
class Policy:
    """What decides the replica count. `fixed` set: no autoscaler at all."""

    name: str
    min_replicas: int
    max_replicas: int
    triggers: tuple[Trigger, ...] = ()
    polling_seconds: int = 30  # KEDA's own loop: activation (0 -> 1) and scale to zero only
    cooldown_seconds: int = 300  # KEDA: quiet time before 1 -> 0 (only when min is 0)
    sync_seconds: int = 15  # kube-controller-manager --horizontal-pod-autoscaler-sync-period
    tolerance: float = 0.1  # --horizontal-pod-autoscaler-tolerance
    scale_up: Direction = DEFAULT_UP
    scale_down: Direction = DEFAULT_DOWN
    fixed: int | None = None
    source: dict[str, Any] = field(default_factory=dict, compare=False)

    def with_queue_target(self, target: float) -> Policy:
        triggers = tuple(replace(t, threshold=target) if t.metric == "queue" else t for t in self.triggers)
        return replace(self, triggers=triggers)


def _metric_of(trigger: dict[str, Any]) -> MetricKind:
    query = trigger.get("metadata", {}).get("query", "")
    if "inference_objective_request" in query:
        # Scale from zero: requests the model runs or queues, and the ones its endpoint picker
        # refused lately; simulated as the requests that reached the Gateway in the window.
        return "demand"
    if "num_requests_waiting" in query:
        return "queue"
    if "kv_cache_usage" in query:
        return "kv-cache"
    if "GPU_UTIL" in query.upper():
        return "gpu-util"
    raise ValueError(f"trigger {trigger.get('name')!r}: no simulated signal for query {query!r}")


def _direction(raw: dict[str, Any] | None, default: Direction) -> Direction:
    if not raw:
        return default
    policies = tuple(Rule(p["type"], int(p["value"]), int(p["periodSeconds"])) for p in raw.get("policies", []))
    return Direction(
        stabilization_seconds=int(raw.get("stabilizationWindowSeconds", default.stabilization_seconds)),
        policies=policies or default.policies,
        select=raw.get("selectPolicy", "Max"),
    )


def from_scaled_object(obj: dict[str, Any]) -> Policy:
    """The policy a KEDA ScaledObject gives the HPA it creates (KEDA defaults where a field is absent)."""
    if obj.get("kind") != "ScaledObject":
        raise ValueError(f"expected a ScaledObject, got {obj.get('kind')!r}")
    spec = obj["spec"]
    triggers = []
    for raw in spec.get("triggers", []):
        meta = raw.get("metadata", {})
        triggers.append(
            Trigger(
                name=raw.get("name", raw.get("type", "")),
                metric=_metric_of(raw),
                metric_type=raw.get("metricType", "AverageValue"),
                threshold=float(meta["threshold"]),
                activation_threshold=float(meta.get("activationThreshold", 0)),
                query=meta.get("query", ""),
                cached=bool(raw.get("useCachedMetrics", False)),
            )
        )
    behavior = spec.get("advanced", {}).get("horizontalPodAutoscalerConfig", {}).get("behavior", {})
    return Policy(
        name="queue-depth (rendered)",
        min_replicas=int(spec.get("minReplicaCount", 0)),
        max_replicas=int(spec.get("maxReplicaCount", 100)),
        triggers=tuple(triggers),
        polling_seconds=int(spec.get("pollingInterval", 30)),
        cooldown_seconds=int(spec.get("cooldownPeriod", 300)),
        scale_up=_direction(behavior.get("scaleUp"), DEFAULT_UP),
        scale_down=_direction(behavior.get("scaleDown"), DEFAULT_DOWN),
        source=obj,
    )


def gpu_utilisation(base: Policy, target_percent: float = 80.0) -> Policy:
    """The same bounds and behavior, scaling on average DCGM GPU utilisation instead.

    As people usually write it: a prometheus trigger on avg(DCGM_FI_DEV_GPU_UTIL) with
    metricType Value, so the HPA scales by the ratio of the average to the target.
    """
    trigger = Trigger("gpu-util", "gpu-util", "Value", target_percent, query="avg(DCGM_FI_DEV_GPU_UTIL{...})")
    return replace(base, name=f"gpu-utilisation {target_percent:g}%", triggers=(trigger,))


def fixed(replicas: int) -> Policy:
    return Policy(name=f"fixed {replicas}", min_replicas=replicas, max_replicas=replicas, fixed=replicas)
