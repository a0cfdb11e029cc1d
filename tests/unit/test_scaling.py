"""KEDA ScaledObject: queue depth is the signal; GPU utilisation never is."""

from __future__ import annotations

import math

import pytest

from components.config.modelspec import ModelSpec
from components.serving.scaling import hpa_desired, scaled_object


def spec(replicas=None, **scaling) -> ModelSpec:
    return ModelSpec.model_validate(
        {"name": "m", "source": "hf://a/b", "gpus": 1, "gpuType": "nvidia-l4", "scaling": scaling,
         "replicas": replicas or {"min": 1, "max": 1}}
    )


def settle(trigger: dict, load: float, low: int, high: int, rounds: int = 30) -> int:
    """Replicas the HPA settles on when `load` is spread over the replicas it runs.

    For queue depth `load` is the number of waiting requests in total (a queue does not
    shrink by adding idle replicas faster than it drains, so it is held constant). For
    KV-cache usage `load` is the KV cache the traffic needs in units of one replica's
    cache: each replica then runs at min(1, load / replicas).
    """
    replicas = low
    threshold = float(trigger["metadata"]["threshold"])
    for _ in range(rounds):
        # avg(vllm:kv_cache_usage_perc), or sum(vllm:num_requests_waiting)
        metric = min(1.0, load / replicas) if trigger["name"] == "kv-cache" else load
        nxt = hpa_desired(trigger.get("metricType", "AverageValue"), metric, threshold, replicas, low, high)
        if nxt == replicas:
            break
        replicas = nxt
    return replicas


def test_scales_on_waiting_requests_of_this_model_only():
    obj = scaled_object(spec(waitingRequestsTarget=7), "inference", "http://prom:9090", {})
    (trigger,) = obj["spec"]["triggers"]
    assert trigger["type"] == "prometheus"
    assert trigger["metadata"]["query"] == 'sum(vllm:num_requests_waiting{namespace="inference",model_name="m"})'
    assert trigger["metadata"]["threshold"] == "7"
    assert obj["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "m"}


def test_kv_cache_is_an_optional_second_trigger():
    obj = scaled_object(spec(kvCacheUsageTarget=0.8), "inference", "http://prom:9090", {})
    names = [t["name"] for t in obj["spec"]["triggers"]]
    assert names == ["queue-depth", "kv-cache"]
    assert "kv_cache_usage_perc" in obj["spec"]["triggers"][1]["metadata"]["query"]


def test_never_gpu_utilisation():
    obj = scaled_object(spec(kvCacheUsageTarget=0.5), "ns", "http://prom:9090", {})
    queries = " ".join(t["metadata"]["query"] for t in obj["spec"]["triggers"])
    assert "GPU_UTIL" not in queries.upper()


def test_scale_down_is_slower_than_scale_up():
    behavior = scaled_object(spec(scaleDownStabilizationSeconds=600), "ns", "p", {})["spec"]["advanced"][
        "horizontalPodAutoscalerConfig"
    ]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 600
    assert behavior["scaleUp"]["stabilizationWindowSeconds"] == 0


def test_hpa_formula_for_each_metric_type():
    # AverageValue: ceil(total / per-replica target), whatever runs now.
    assert hpa_desired("AverageValue", 23, 5, current=1, low=1, high=10) == 5
    # Value: proportional to metric / target on the replicas that run.
    assert hpa_desired("Value", 1.0, 0.5, current=3, low=1, high=10) == 6
    # Within the 10% tolerance nothing moves.
    assert hpa_desired("Value", 0.84, 0.8, current=3, low=1, high=10) == 3
    # Clamped to [min, max].
    assert hpa_desired("Value", 1.0, 0.1, current=5, low=1, high=8) == 8


def test_average_of_a_ratio_under_averagevalue_is_capped():
    # The defect the kv-cache trigger had: avg(usage) under AverageValue is ceil(avg/target).
    capped = {"name": "kv-cache", "metricType": "AverageValue", "metadata": {"threshold": "0.8"}}
    assert settle(capped, load=50, low=1, high=10) == math.ceil(1 / 0.8) == 2


@pytest.mark.parametrize("trigger_name", ["queue-depth", "kv-cache"])
def test_each_trigger_reaches_max_under_load_and_min_when_idle(trigger_name):
    obj = scaled_object(spec({"min": 2, "max": 9}, kvCacheUsageTarget=0.8), "ns", "http://prom:9090", {})
    (trigger,) = [t for t in obj["spec"]["triggers"] if t["name"] == trigger_name]
    low, high = obj["spec"]["minReplicaCount"], obj["spec"]["maxReplicaCount"]
    heavy = 1000 if trigger_name == "queue-depth" else 50
    assert settle(trigger, load=heavy, low=low, high=high) == high
    assert settle(trigger, load=0, low=low, high=high) == low


def test_kv_cache_trigger_uses_value_and_queue_depth_averagevalue():
    triggers = {t["name"]: t for t in scaled_object(spec(kvCacheUsageTarget=0.8), "ns", "p", {})["spec"]["triggers"]}
    assert triggers["kv-cache"]["metricType"] == "Value"
    assert triggers["queue-depth"]["metricType"] == "AverageValue"


def test_a_kv_target_the_hpa_tolerance_swallows_is_refused():
    # Usage tops out at 1; at a target of 0.95 full usage is within the 10% tolerance.
    assert hpa_desired("Value", 1.0, 0.95, current=2, low=1, high=8) == 2
    with pytest.raises(ValueError, match=r"less than or equal to 0\.9"):
        spec(kvCacheUsageTarget=0.95)


def test_a_model_at_zero_wakes_on_its_endpoint_pickers_request_count():
    model = spec({"min": 0, "max": 3}, scaleDownStabilizationSeconds=420)
    obj = scaled_object(model, "inference", "http://prom", {})
    demand = {t["name"]: t for t in obj["spec"]["triggers"]}["activity"]
    query = demand["metadata"]["query"]
    # Requests its replicas run or queue, and every request its endpoint picker refused (503
    # while the pool is empty, 429 for a sheddable one): the last exists with no replica.
    assert 'vllm:num_requests_running{namespace="inference",model_name="m"}' in query
    assert 'inference_objective_request_error_total{namespace="inference",model_name=~"m"}' in query
    assert demand["metadata"]["activationThreshold"] == "0"
    assert obj["spec"]["minReplicaCount"] == 0
    # KEDA's own step from one replica to none waits as long as the HPA's scale-down window.
    assert obj["spec"]["cooldownPeriod"] == 420
    # The demand trigger asks for the first replica only; queue depth decides the rest.
    threshold = float(demand["metadata"]["threshold"])
    assert hpa_desired("AverageValue", 5000, threshold, 1, 0, 3) == 1
    assert hpa_desired("AverageValue", 5000, threshold, 0, 0, 3) == 1


def test_a_model_kept_warm_has_no_demand_trigger():
    obj = scaled_object(spec({"min": 1, "max": 3}), "inference", "http://prom", {})
    assert [t["name"] for t in obj["spec"]["triggers"]] == ["queue-depth"]
    assert "cooldownPeriod" not in obj["spec"]


def test_default_scale_down_window_outlasts_the_measured_cold_start():
    # docs/performance.md: a 7B model on a new GPU node on dev serves after about 331 s.
    window = spec().scaling.scale_down_stabilization_seconds
    assert window > 331
    obj = scaled_object(spec(), "inference", "http://prom", {})
    behavior = obj["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == window
