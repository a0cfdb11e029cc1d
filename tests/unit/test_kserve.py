"""KServe renderer: pure ModelSpec + facts -> LLMInferenceService and the objects around it."""

from __future__ import annotations

import shlex

import pytest

from components.catalog import load_catalog
from components.config import ConfigError, parse_stack_config
from components.config.modelspec import ModelSpec
from components.gateway import routing
from components.serving.engines import render_model
from components.serving.kserve import render_kserve, selector
from tests.plain_facts import gke_facts, operator_facts
from tooling.conformance import Conformance

FACTS = gke_facts(gpus_per_node=2)
DIGEST = "sha256:" + "a" * 64


def model(**overrides) -> ModelSpec:
    base = {
        "name": "qwen",
        "source": "hf://Qwen/Qwen2.5-7B-Instruct",
        "engine": "kserve",
        "gpus": 1,
        "gpuType": "nvidia-l4",
    }
    return ModelSpec.model_validate(base | overrides)


def by_kind(objects):
    return {o["kind"]: o for o in objects}


def isvc(m: ModelSpec, facts=FACTS):
    return by_kind(render_kserve(m, facts, "inference"))["LLMInferenceService"]


def main_container(m: ModelSpec, facts=FACTS):
    (container,) = isvc(m, facts)["spec"]["template"]["containers"]
    assert container["name"] == "main"  # the preset's container, merged by name
    return container


def additional_args(m: ModelSpec) -> list[str]:
    env = {e["name"]: e.get("value") for e in main_container(m)["env"]}
    return shlex.split(env.get("VLLM_ADDITIONAL_ARGS", ""))


def test_engine_kserve_renders_an_llm_inference_service_and_its_companions():
    objs = render_model(model(), FACTS, "inference")
    assert sorted(o["kind"] for o in objs) == sorted(
        ["ServiceAccount", "LLMInferenceService", "PodDisruptionBudget", "PodMonitor", "NetworkPolicy", "ScaledObject"]
    )
    assert {o["metadata"]["namespace"] for o in objs} == {"inference"}
    assert by_kind(objs)["LLMInferenceService"]["apiVersion"] == "serving.kserve.io/v1alpha2"


@pytest.mark.parametrize(
    "source",
    [
        "hf://Qwen/Qwen2.5-7B-Instruct",
        "s3://models-bucket/qwen2.5-7b",
        f"oci://registry.example.com/models/qwen2.5-7b@{DIGEST}",
        "pvc://model-store/qwen2.5-7b",
    ],
    ids=["hf", "s3", "oci-modelcar", "pvc"],
)
def test_the_source_is_the_model_uri_kserve_fetches(source):
    spec = isvc(model(source=source))["spec"]
    assert spec["model"] == {"uri": source, "name": "qwen"}


def test_oci_sources_must_be_digest_pinned():
    with pytest.raises(ValueError, match="sha256"):
        model(source="oci://registry.example.com/models/qwen:1.0")


def test_adapters_become_kserve_lora_adapters_served_by_name():
    m = model(adapters=[{"name": "sql", "source": "hf://org/sql-lora"}, {"name": "chat", "source": "hf://org/c"}])
    lora = isvc(m)["spec"]["model"]["lora"]
    assert lora["adapters"] == [{"uri": "hf://org/sql-lora", "name": "sql"}, {"uri": "hf://org/c", "name": "chat"}]
    assert lora["maxAdapters"] == 2
    # KServe adds --enable-lora/--lora-modules itself; the platform must not say them twice.
    assert "--enable-lora" not in additional_args(m)


def test_gpus_and_pool_placement_come_from_the_spec_and_facts():
    m = model(gpus=2)
    spec = isvc(m)["spec"]
    assert spec["parallelism"] == {"tensor": 2}
    assert main_container(m)["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert spec["template"]["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
    assert spec["template"]["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert "parallelism" not in isvc(model())["spec"]


def test_embedding_runs_vllm_as_a_pooling_model_without_prefix_caching_flag():
    m = model(task="embedding", source="hf://BAAI/bge-small-en-v1.5", gpus=0, gpuType=None, weightsSize="1Gi")
    args = additional_args(m)
    assert args[:2] == ["--runner", "pooling"]
    assert "--enable-prefix-caching" not in args
    env = {e["name"]: e.get("value") for e in main_container(m)["env"]}
    assert env["VLLM_CPU_KVCACHE_SPACE"] == str(m.cpu_kv_cache_gib())
    assert "nodeSelector" not in isvc(m)["spec"]["template"]


def test_engine_args_and_options_travel_in_vllm_additional_args_quoted():
    m = model(prefixCaching=False, maxModelLen=8192, engineArgs=["--gpu-memory-utilization=0.85"])
    expected = ["--disable-prefix-caching", "--max-model-len", "8192", "--gpu-memory-utilization=0.85"]
    assert additional_args(m) == expected


def test_the_image_is_the_pinned_vllm_release_and_runs_as_non_root():
    container = main_container(model())
    assert container["image"] == "docker.io/vllm/vllm-openai:v0.33.0"
    assert container["securityContext"]["runAsNonRoot"] and container["securityContext"]["runAsUser"] == 10001
    assert isvc(model())["spec"]["template"]["automountServiceAccountToken"] is False


def test_replicas_are_left_to_keda_on_the_deployment_kserve_creates():
    objs = by_kind(render_kserve(model(replicas={"min": 2, "max": 5}), FACTS, "inference"))
    assert "replicas" not in objs["LLMInferenceService"]["spec"]
    assert "scaling" not in objs["LLMInferenceService"]["spec"]
    so = objs["ScaledObject"]["spec"]
    assert so["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "qwen-kserve"}
    assert (so["minReplicaCount"], so["maxReplicaCount"]) == (2, 5)
    assert [t["name"] for t in so["triggers"]] == ["queue-depth"]
    assert "vllm:num_requests_waiting" in so["triggers"][0]["metadata"]["query"]
    assert "cooldownPeriod" not in so


def test_scale_to_zero_wakes_on_requests_the_endpoint_picker_turns_away():
    m = model(replicas={"min": 0, "max": 3}, adapters=[{"name": "sql", "source": "hf://org/sql-lora"}])
    so = by_kind(render_kserve(m, FACTS, "inference"))["ScaledObject"]["spec"]
    assert so["minReplicaCount"] == 0
    assert so["cooldownPeriod"] == m.scaling.scale_down_stabilization_seconds
    (activity,) = [t for t in so["triggers"] if t["name"] == "activity"]
    query = activity["metadata"]["query"]
    # A signal that exists with no replica: the EPP's error counter, for the model and its adapters.
    refused = 'inference_objective_request_error_total{namespace="inference",model_name=~"qwen|sql"}'
    # Growth against the value 2m ago (0 when the series is new): the first refusal counts.
    assert f"sum({refused}) - (sum({refused} offset 2m) or vector(0))" in query
    assert "rate(" not in query
    # While replicas work, running requests keep the model awake even with an empty queue.
    assert "vllm:num_requests_running" in query
    assert query.count("or vector(0)") == 4
    assert activity["metadata"]["activationThreshold"] == "0"


def test_scale_to_zero_is_refused_for_kserve_embeddings():
    with pytest.raises(ValueError, match=r"replicas\.min 0 with engine 'kserve' needs task 'text'"):
        model(task="embedding", replicas={"min": 0, "max": 2})


def test_speech_is_refused_naming_what_kserve_serves():
    with pytest.raises(ValueError, match="engine 'kserve' cannot serve task 'speech'; it serves: text, embedding"):
        model(task="speech")


def test_hf_token_reaches_kserve_storage_initializer_through_the_service_account():
    sa = by_kind(render_kserve(model(hfTokenSecret="hf-token"), FACTS, "inference"))["ServiceAccount"]
    assert sa["secrets"] == [{"name": "hf-token"}]
    assert sa["automountServiceAccountToken"] is False
    assert "secrets" not in by_kind(render_kserve(model(), FACTS, "inference"))["ServiceAccount"]


def test_monitoring_policy_and_budget_select_the_pods_kserve_creates():
    objs = by_kind(render_kserve(model(), FACTS, "inference"))
    pods = selector(model())
    assert objs["PodMonitor"]["spec"]["selector"]["matchLabels"] == pods
    assert objs["NetworkPolicy"]["spec"]["podSelector"]["matchLabels"] == pods
    assert objs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == pods
    assert objs["NetworkPolicy"]["spec"]["ingress"][0]["ports"] == [{"port": 8000, "protocol": "TCP"}]
    # The platform's labels never overwrite the ones KServe selects its pods by.
    assert not set(objs["LLMInferenceService"]["spec"]["labels"]) & set(pods)


VARIANTS = [
    {},
    {"gpus": 2, "replicas": {"min": 0, "max": 4}, "adapters": [{"name": "sql", "source": "hf://org/sql-lora"}]},
    {"source": f"oci://registry.example.com/models/qwen2.5-7b@{DIGEST}", "hfTokenSecret": "hf"},
    {"task": "embedding", "source": "hf://BAAI/bge-small-en-v1.5", "gpus": 0, "gpuType": None, "weightsSize": "1Gi"},
]


@pytest.mark.parametrize("overrides", VARIANTS, ids=["text", "zero-lora", "modelcar", "embedding"])
def test_every_rendered_object_validates_strictly(overrides):
    checker = Conformance()
    problems = {o["kind"]: checker.validate(o) for o in render_kserve(model(**overrides), FACTS, "inference")}
    assert {k: v for k, v in problems.items() if v} == {}


# --- the llm-gateway layer and the platform catalog -------------------------------------

TEXT = {"name": "qwen", "source": "hf://Qwen/Qwen2.5-0.5B-Instruct", "gpus": 0, "engine": "kserve",
        "adapters": [{"name": "sql", "source": "hf://org/sql-lora"}]}
EMBED = {"name": "embed", "source": "hf://BAAI/bge-small-en-v1.5", "gpus": 0, "task": "embedding",
         "weightsSize": "1Gi", "engine": "kserve"}


def config(models=(TEXT, EMBED)):
    return parse_stack_config(
        {"substrate": {"kind": "kind"}, "secrets": {"backend": "none"}, "profile": "llm-gateway",
         "models": list(models)}
    )


def istio_facts() -> dict:
    return operator_facts() | {"substrate": "hetzner", "gatewayClass": "istio"}


def test_a_kserve_text_model_gets_a_pool_over_kserve_pods():
    cfg = config()
    assert [m.name for m in routing.text_models(cfg)] == ["qwen"]
    values = routing.pool_values(cfg.models[0], istio_facts())
    assert values["inferencePool"]["modelServers"]["matchLabels"] == selector(cfg.models[0])
    assert values["inferencePool"]["targetPorts"] == [{"number": 8000}]


def test_a_kserve_embedding_model_is_routed_to_kserve_service():
    children = {c["metadata"]["name"]: c for c in routing.children(config(), istio_facts())}
    assert "pool-embed" not in children and "pool-qwen" in children
    (route,) = routing.kserve_embedding_models(config())
    obj = routing.kserve_embedding_route(route, "inference")
    assert obj["spec"]["rules"][0]["backendRefs"] == [
        {"group": "", "kind": "Service", "name": "embed-kserve-workload-svc", "port": 8000}
    ]
    assert obj["spec"]["rules"][0]["matches"][0]["path"]["value"] == "/embed"
    assert Conformance().validate(obj) == []
    assert "route-embed" in children


def test_litellm_reaches_kserve_models_and_adapters_through_the_gateway():
    from components.computed_values import litellm_model_list
    from components.gateway.names import model_url

    facts = istio_facts()
    entries = {e["model_name"]: e["litellm_params"]["api_base"] for e in litellm_model_list(config(), facts)}
    assert entries == {"qwen": model_url("qwen", facts, tls=True), "sql": model_url("qwen", facts, tls=True),
                       "embed": model_url("embed", facts, tls=True)}


def test_kserve_charts_apply_only_where_a_model_uses_kserve():
    catalog = load_catalog()
    for name in ("kserve-llmisvc-crd", "kserve-llmisvc-resources", "kserve-runtime-configs"):
        entry = catalog[name]
        assert entry.layer == "platform" and entry.namespace == "kserve"
        assert entry.applies("none", "sops", "kind", frozenset({"kserve"}))
        assert not entry.applies("none", "sops", "kind", frozenset({"vllm"}))
    waves = [catalog[n].wave for n in ("cert-manager", "kserve-llmisvc-crd", "kserve-llmisvc-resources",
                                       "kserve-runtime-configs")]
    assert waves == sorted(set(waves))


def test_the_controller_leaves_the_inference_extension_crds_to_the_gateway_layer():
    values = load_catalog()["kserve-llmisvc-resources"].values["kserve"]
    assert values["llmisvc"]["createGIECRDs"] is False
    assert values["controller"]["deploymentMode"] == "Standard"


def test_a_stack_with_a_kserve_speech_model_names_the_key():
    with pytest.raises(ConfigError, match=r"models\[0\].*engine 'kserve' cannot serve task 'speech'"):
        config(models=({**TEXT, "task": "speech", "adapters": []},))


def test_scale_to_zero_needs_the_endpoint_picker_of_the_llm_gateway_layer():
    zero = {**TEXT, "replicas": {"min": 0, "max": 1}}
    with pytest.raises(ConfigError, match=r"models\[0\]\.replicas\.min.*llm-gateway layer"):
        parse_stack_config({"substrate": {"kind": "kind"}, "secrets": {"backend": "none"}, "profile": "serving",
                            "models": [zero]})
    with pytest.raises(ConfigError, match=r"models\[0\]\.replicas\.min"):
        parse_stack_config({"substrate": {"kind": "kind"}, "secrets": {"backend": "none"}, "profile": "llm-gateway",
                            "models": [zero], "components": {"inferencepool": {"enabled": False}}})
    assert config(models=(zero,)).models[0].replicas.min == 0


def test_kserve_modelcars_need_no_image_volume_support():
    source = "oci://registry.example.com/m@sha256:" + "a" * 64

    def stack(engine: str):
        model = {"name": "m", "source": source, "engine": engine, "task": "text", "gpus": 0, "weightsSize": "1Gi"}
        substrate = {"kind": "hetzner", "adminCidrs": ["198.51.100.0/24"], "k3sVersion": "v1.33.4+k3s1"}
        values = {"substrate": substrate, "models": [model], "sopsAgeKey": "AGE-SECRET-KEY-1TEST"}
        return parse_stack_config(values, ["sopsAgeKey"])

    with pytest.raises(ConfigError, match="ImageVolume"):
        stack("vllm")
    assert stack("kserve").models[0].source == source


def test_the_platform_project_admits_kserve_cluster_kinds_only_where_kserve_is_used():
    from components.layers import _project

    def kinds(models):
        cfg = config(models=models)
        project = _project("platform", [], cfg)
        return {k["kind"] for k in project["spec"]["clusterResourceWhitelist"]}

    assert "ClusterStorageContainer" in kinds((TEXT,))
    assert "ClusterStorageContainer" not in kinds(({**TEXT, "engine": "vllm"},))
