"""KEDA ScaledObject: queue depth is the signal; GPU utilisation never is."""

from __future__ import annotations

from components.config.modelspec import ModelSpec
from components.serving.scaling import scaled_object


def spec(**scaling) -> ModelSpec:
    return ModelSpec.model_validate({"name": "m", "source": "hf://a/b", "gpus": 0, "scaling": scaling})


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
