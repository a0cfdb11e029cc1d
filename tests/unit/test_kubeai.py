"""Engine kubeai: ModelSpec -> KubeAI Model, its operator's values, and how clients reach it."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from components.catalog import load_catalog
from components.config import ConfigError, parse_stack_config
from components.config.modelspec import ModelSpec
from components.gateway import litellm, names, routing
from components.layers import platform_children, serving_children
from components.serving import kubeai
from components.serving.engines import render_model
from tests.plain_facts import gke_facts, operator_facts
from tooling import chart_values as cv
from tooling.conformance import Conformance

FACTS = gke_facts(gpus_per_node=2)
TEXT = {
    "name": "llama",
    "source": "hf://meta-llama/Llama-3.1-8B-Instruct",
    "engine": "kubeai",
    "gpus": 2,
    "gpuType": "nvidia-l4",
    "replicas": {"min": 0, "max": 3},
    "scaling": {"scaleDownStabilizationSeconds": 120},
    "maxModelLen": 8192,
    "adapters": [{"name": "sql", "source": "hf://org/sql-lora"}],
    "engineArgs": ["--gpu-memory-utilization=0.85"],
    "kubeai": {"targetRequests": 16, "prefixCharLength": 300},
}
EMBED = {
    "name": "bge",
    "source": "hf://BAAI/bge-small-en-v1.5",
    "engine": "kubeai",
    "task": "embedding",
    "gpus": 0,
    "replicas": {"min": 0, "max": 2},
    "resources": {"cpu": "2", "memory": "6Gi"},
}
SPEECH = {
    "name": "whisper",
    "source": "hf://Systran/faster-whisper-small",
    "engine": "kubeai",
    "task": "speech",
    "gpus": 0,
    "replicas": {"min": 0, "max": 1},
}
OLLAMA = {
    "name": "ol",
    "source": "ollama://qwen2.5:0.5b",
    "engine": "kubeai",
    "gpus": 0,
    "kubeai": {"engine": "ollama"},
}
AGE = "AGE-SECRET-KEY-1TEST"


def model(base: dict, **overrides) -> ModelSpec:
    return ModelSpec.model_validate(base | overrides)


def the_model(m: ModelSpec, facts=FACTS) -> dict:
    (obj,) = [o for o in render_model(m, facts, "inference") if o["kind"] == "Model"]
    assert obj["apiVersion"] == "kubeai.org/v1"
    return obj


def spec(m: ModelSpec, facts=FACTS) -> dict:
    return the_model(m, facts)["spec"]


def stack(models, profile="llm-gateway") -> dict:
    return {
        "substrate": {"kind": "kind"},
        "secrets": {"backend": "none"},
        "profile": profile,
        "models": models,
    }


def kind_facts() -> dict:
    return operator_facts() | {"substrate": "kind", "gpuStack": "none", "storageClass": "standard", "gpuPools": []}


# --- renderer: what the config says is what the Model says ------------------------------------


def test_text_model_is_a_vllm_model_with_its_pool_profile_scaling_adapters_and_prefix_hash():
    m = model(TEXT)
    s = spec(m)
    assert s["url"] == TEXT["source"]
    assert (s["engine"], s["features"]) == ("VLLM", ["TextGeneration"])
    assert s["resourceProfile"] == "nvidia-l4:2"
    assert (s["minReplicas"], s["maxReplicas"]) == (0, 3)
    assert s["targetRequests"] == 16
    assert s["scaleDownDelaySeconds"] == 120
    assert s["loadBalancing"] == {"strategy": "PrefixHash", "prefixHash": {"prefixCharLength": 300}}
    assert s["adapters"] == [{"name": "sql", "url": "hf://org/sql-lora"}]
    # KubeAI sets --model, --served-model-name and --enable-lora itself; the rest come from the spec.
    assert s["args"] == [
        "--tensor-parallel-size",
        "2",
        "--enable-prefix-caching",
        "--max-model-len",
        "8192",
        "--gpu-memory-utilization=0.85",
    ]
    assert not any(a.startswith(("--model", "--served-model-name", "--enable-lora")) for a in s["args"])


def test_the_model_lives_in_kubeais_namespace_whatever_the_serving_namespace():
    objects = render_model(model(TEXT), FACTS, "inference")
    assert sorted(o["kind"] for o in objects) == ["Model", "NetworkPolicy"]
    assert {o["metadata"]["namespace"] for o in objects} == {load_catalog()["kubeai"].namespace} == {"kubeai"}
    assert the_model(model(TEXT))["metadata"]["name"] == "llama"


def test_server_pods_answer_only_kubeai_and_prometheus_on_their_port():
    (policy,) = [o for o in render_model(model(TEXT), FACTS, "inference") if o["kind"] == "NetworkPolicy"]
    assert policy["spec"]["podSelector"]["matchLabels"] == {"app.kubernetes.io/managed-by": "kubeai", "model": "llama"}
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": 8000, "protocol": "TCP"}]
    assert {"podSelector": {"matchLabels": kubeai.PROXY_POD}} in rule["from"]
    assert len(rule["from"]) == 2


def test_embedding_defaults_to_infinity_and_may_run_on_vllm_pooling():
    s = spec(model(EMBED))
    assert (s["engine"], s["features"]) == ("Infinity", ["TextEmbedding"])
    assert s["loadBalancing"] == {"strategy": "LeastLoad"}
    assert "args" not in s
    on_vllm = spec(model(EMBED, kubeai={"engine": "vllm"}, weightsSize="1Gi"))
    assert on_vllm["engine"] == "VLLM"
    assert on_vllm["args"][:2] == ["--runner", "pooling"]


def test_speech_is_faster_whisper_and_ollama_reads_its_library():
    s = spec(model(SPEECH))
    assert (s["engine"], s["features"], s["url"]) == ("FasterWhisper", ["SpeechToText"], SPEECH["source"])
    o = spec(model(OLLAMA))
    assert (o["engine"], o["url"]) == ("OLlama", "ollama://qwen2.5:0.5b")


@pytest.mark.parametrize(
    ("cpu", "memory", "profile"),
    [("1", "4Gi", "cpu:1"), ("2", "6Gi", "cpu:2"), ("500m", "16Gi", "cpu:4"), ("8", "4Gi", "cpu:8")],
)
def test_a_cpu_model_asks_for_enough_cpu_profile_units_for_its_cpu_and_memory(cpu, memory, profile):
    assert spec(model(EMBED, resources={"cpu": cpu, "memory": memory}))["resourceProfile"] == profile


def test_a_gpu_type_without_a_pool_is_refused_at_render():
    with pytest.raises(ValueError, match="no GPU pool with accelerator 'nvidia-h100'"):
        spec(model(TEXT, gpuType="nvidia-h100"))


def test_hf_token_comes_from_the_named_secret_never_a_value():
    s = spec(model(TEXT, hfTokenSecret="hf-token"))
    assert s["envFrom"] == [{"secretRef": {"name": "hf-token"}}]
    assert "HF_TOKEN" not in s["env"]


def test_server_pods_get_a_writable_home_for_a_uid_without_passwd_entry():
    env = spec(model(TEXT))["env"]
    assert env["HOME"] == "/tmp" and env["HF_HOME"].startswith("/tmp/")
    assert env["USER"] == env["LOGNAME"]
    cpu_vllm = spec(model(EMBED, kubeai={"engine": "vllm"}, weightsSize="1Gi"))["env"]
    assert cpu_vllm["VLLM_CPU_KVCACHE_SPACE"] == str(model(EMBED, weightsSize="1Gi").cpu_kv_cache_gib())


# --- schema and the CRD's own validation rules -------------------------------------------------

ALL = [TEXT, EMBED, SPEECH, OLLAMA, EMBED | {"name": "bge-vllm", "kubeai": {"engine": "vllm"}, "weightsSize": "1Gi"}]


@pytest.mark.parametrize("base", ALL, ids=lambda b: b["name"])
def test_every_rendered_object_validates_strictly_against_the_pinned_schemas(base):
    for obj in render_model(model(base), FACTS, "inference"):
        assert Conformance().validate(obj) == [], obj["kind"]


@pytest.mark.parametrize("base", ALL, ids=lambda b: b["name"])
def test_every_rendered_model_meets_the_crds_cel_rules(base):
    """The Model CRD's x-kubernetes-validations (kubeai 0.22.1), which JSON schema does not run."""
    obj = the_model(model(base))
    s = obj["spec"]
    assert len(obj["metadata"]["name"]) <= 40
    assert s["url"].startswith(("hf://", "pvc://", "ollama://", "s3://", "gs://", "oss://"))
    assert not s["url"].startswith(("gs://", "oss://"))  # only with a cache profile, which is not used
    assert "adapters" not in s or s["engine"] == "VLLM"
    assert s["minReplicas"] <= s["maxReplicas"]
    # resourceProfile is `<profile>:<count>` naming a profile the operator's values define.
    name, count = s["resourceProfile"].split(":")
    assert name in kubeai.resource_profiles(FACTS) and int(count) >= 1


# --- operator values: resource profiles, images, security ---------------------------------------


def test_resource_profiles_map_each_gpu_pool_and_cpu():
    facts = FACTS | {
        "gpuPools": [
            *FACTS["gpuPools"],
            {"name": "h", "accelerator": "nvidia-h100-80gb", "count": 8, "labels": {"pool": "h"}, "taints": []},
        ]
    }
    profiles = kubeai.resource_profiles(facts)
    assert set(profiles) == {"cpu", "nvidia-l4", "nvidia-h100-80gb"}
    l4 = profiles["nvidia-l4"]
    assert l4["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
    assert l4["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"}
    ]
    assert l4["limits"] == {"nvidia.com/gpu": "1"} and l4["imageName"] == "nvidia-gpu"
    assert profiles["nvidia-h100-80gb"]["tolerations"] == []
    assert profiles["cpu"]["imageName"] == "cpu"


def test_model_pods_run_non_root_unless_a_faster_whisper_model_needs_its_images_root():
    values = kubeai.chart_values(FACTS, [model(TEXT), model(EMBED)])["modelServerPods"]
    assert values["podSecurityContext"]["runAsNonRoot"] is True
    assert values["podSecurityContext"]["runAsUser"] == 10001
    with_speech = kubeai.chart_values(FACTS, [model(TEXT), model(SPEECH)])["modelServerPods"]
    assert "runAsNonRoot" not in with_speech["podSecurityContext"]
    assert "runAsNonRoot" not in with_speech["securityContext"]
    for container in (values["securityContext"], with_speech["securityContext"]):
        assert container["allowPrivilegeEscalation"] is False
        assert container["capabilities"] == {"drop": ["ALL"]}


def test_kubeai_runs_the_platforms_pinned_vllm_images():
    images = kubeai.chart_values(FACTS, [model(TEXT)])["modelServers"]["VLLM"]["images"]
    assert images["default"].endswith(":v0.33.0") and images["cpu"].endswith(":v0.33.0-x86_64")


def test_no_engine_image_is_a_floating_tag():
    entry = load_catalog()["kubeai"]
    values = cv.deep_merge(entry.values, kubeai.chart_values(FACTS, [model(TEXT)]))
    chart_defaults = cv.load_chart_values("kubeai", entry.chart.version).defaults
    for server, spec_ in cv.deep_merge(chart_defaults["modelServers"], values["modelServers"]).items():
        for name, image in spec_["images"].items():
            assert ":latest" not in image, (server, name, image)


@pytest.mark.parametrize("substrate_facts", [gke_facts(), operator_facts(), kind_facts()])
def test_computed_operator_values_exist_in_the_pinned_chart(substrate_facts):
    entry = load_catalog()["kubeai"]
    chart = cv.load_chart_values("kubeai", entry.chart.version)
    values = kubeai.chart_values(substrate_facts, [model(SPEECH), model(EMBED)])
    assert cv.unknown_keys(values, chart) == []
    assert cv.unknown_keys(entry.values, chart) == []


# --- layers: operator where a kubeai model is, Models in its namespace ---------------------------


def test_the_operator_is_installed_only_where_a_model_uses_kubeai():
    with_kubeai = parse_stack_config(stack([EMBED], profile="serving"), secret_keys={"sopsAgeKey": AGE})
    names_ = {c["metadata"]["name"] for c in platform_children(with_kubeai, kind_facts(), set())}
    assert "kubeai" in names_
    vllm_only = stack([{"name": "q", "source": "hf://Qwen/Qwen2.5-0.5B-Instruct", "gpus": 0}], profile="serving")
    without = parse_stack_config(vllm_only, secret_keys={"sopsAgeKey": AGE})
    assert "kubeai" not in {c["metadata"]["name"] for c in platform_children(without, kind_facts(), set())}


def test_model_applications_target_kubeais_namespace_and_leave_it_to_the_operator_chart():
    cfg = parse_stack_config(stack([EMBED], profile="serving"), secret_keys={"sopsAgeKey": AGE})
    (app,) = serving_children(cfg, kind_facts())
    assert app["spec"]["destination"]["namespace"] == "kubeai"
    assert "CreateNamespace=true" not in app["spec"]["syncPolicy"]["syncOptions"]
    (operator,) = [c for c in platform_children(cfg, kind_facts(), set()) if c["metadata"]["name"] == "kubeai"]
    assert operator["spec"]["destination"]["namespace"] == "kubeai"
    assert "CreateNamespace=true" in operator["spec"]["syncPolicy"]["syncOptions"]
    security = operator["spec"]["source"]["helm"]["valuesObject"]["modelServerPods"]["podSecurityContext"]
    assert security["runAsNonRoot"] is True


# --- reaching the models: KubeAI's proxy, not the Gateway ----------------------------------------


def test_litellm_sends_kubeai_models_and_adapters_to_kubeais_proxy():
    cfg = parse_stack_config(
        stack(
            [TEXT | {"gpus": 0, "gpuType": None, "weightsSize": "16Gi", "resources": {"memory": "32Gi"}}, EMBED, SPEECH]
        )
    )
    values = litellm.children(cfg, kind_facts())
    (chart,) = [c for c in values if c["metadata"]["name"] == "litellm"]
    entries = {
        e["model_name"]: e
        for e in chart["spec"]["source"]["helm"]["valuesObject"]["gateway"]["config"]["proxy_config"]["model_list"]
    }
    proxy = "http://kubeai.kubeai.svc.cluster.local:80/openai/v1"
    assert set(entries) == {"llama", "sql", "bge"}
    assert entries["llama"]["litellm_params"] == {"model": "hosted_vllm/llama", "api_base": proxy}
    # KubeAI names an adapter `<model>_<adapter>`.
    assert entries["sql"]["litellm_params"] == {"model": "hosted_vllm/llama_sql", "api_base": proxy}
    assert entries["bge"]["litellm_params"]["api_base"] == proxy
    assert entries["bge"]["model_info"] == {"mode": "embedding"}


def test_litellm_may_reach_kubeais_proxy_pods_and_no_gateway_port_is_opened_for_them():
    cfg = parse_stack_config(stack([EMBED]))
    policy = litellm.litellm_policy(cfg, kind_facts())
    assert litellm.gateway_ports(cfg, kind_facts()) == []
    assert litellm.kubeai_egress() in policy["spec"]["egress"]
    (to,) = litellm.kubeai_egress()["to"]
    assert to["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "kubeai"}
    assert to["podSelector"]["matchLabels"] == kubeai.PROXY_POD
    assert litellm.kubeai_egress()["ports"] == [{"protocol": "TCP", "port": 8000}]


def test_no_inference_pool_or_route_is_rendered_for_a_kubeai_model():
    cfg = parse_stack_config(stack([EMBED | {"task": "text", "kubeai": {"engine": "vllm"}, "weightsSize": "1Gi"}]))
    assert routing.text_models(cfg) == []
    facts = kind_facts() | {"gatewayClass": "istio"}
    assert not [c for c in routing.children(cfg, facts) if c["metadata"]["name"].startswith(("pool-", "route-"))]
    assert names.model_base_url(cfg.models[0], facts) == kubeai.proxy_url()


# --- refused combinations ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "overrides", "message"),
    [
        (
            TEXT,
            {"kubeai": {"engine": "infinity"}},
            "kubeai.engine 'infinity' cannot serve task 'text'; it is served by: vllm, ollama",
        ),
        (EMBED, {"kubeai": {"engine": "ollama"}}, "cannot serve task 'embedding'; it is served by: infinity, vllm"),
        (SPEECH, {"kubeai": {"engine": "vllm"}}, "cannot serve task 'speech'; it is served by: faster-whisper"),
        (EMBED, {"source": "oci://reg.example/m@sha256:" + "a" * 64}, "reads sources hf://, pvc://, not oci://"),
        (EMBED, {"source": "s3://bucket/bge"}, "not s3://"),
        (
            OLLAMA,
            {"source": "hf://Qwen/Qwen2.5-0.5B-Instruct"},
            "kubeai.engine 'ollama' reads sources ollama://, pvc://",
        ),
        (TEXT, {"source": "ollama://llama3.1:8b"}, "kubeai.engine 'vllm' reads sources hf://, pvc://, not ollama://"),
        (OLLAMA, {"adapters": [{"name": "a", "source": "hf://o/a"}]}, "need kubeai.engine 'vllm'"),
        (EMBED, {"engineArgs": ["--max-num-seqs=8"]}, "engineArgs are checked against vLLM's flags"),
        (SPEECH, {"maxModelLen": 4096}, "maxModelLen is a vLLM flag"),
        (EMBED, {"kubeai": {"loadBalancing": "PrefixHash"}}, "PrefixHash helps text generation only"),
        (EMBED, {"image": "reg.example/x:1.0", "imageExtras": ["audio"]}, "imageExtras describes a raw-vLLM image"),
        (TEXT, {"engine": "vllm", "replicas": {"min": 1, "max": 2}}, "kubeai options apply to engine 'kubeai' only"),
        (
            {"name": "o", "source": "ollama://qwen2.5:0.5b", "gpus": 0, "weightsSize": "1Gi"},
            {},
            "ollama:// sources are served by engine 'kubeai' with kubeai.engine 'ollama' only",
        ),
        (TEXT, {"kubeai": {"targetRequests": 0}}, "targetRequests"),
        (TEXT, {"kubeai": {"loadBalancing": "RoundRobin"}}, "loadBalancing"),
        (TEXT, {"kubeai": {"engine": "tgi"}}, "engine"),
    ],
)
def test_refused_kubeai_combinations_name_what_works(base, overrides, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        model(base, **overrides)


def test_scale_from_zero_is_kubeais_own_and_raw_vllm_embeddings_cannot():
    assert model(EMBED).replicas.min == 0
    raw = {"name": "q", "source": "hf://BAAI/bge-small-en-v1.5", "task": "embedding", "gpus": 0,
           "weightsSize": "1Gi", "replicas": {"min": 0, "max": 1}}
    with pytest.raises(ValidationError, match=re.escape("replicas.min 0 needs task 'text' on engine 'vllm'")):
        model(raw)


def test_the_autoscaling_simulator_says_it_does_not_model_kubeai():
    from simulator.stack import from_rendered

    config = {"models": [EMBED], "substrate": {"kind": "kind"}}
    with pytest.raises(ValueError, match="has engine 'kubeai'; only raw vLLM's autoscaling is simulated"):
        from_rendered("s", "bge", [], config)


def test_keda_may_be_turned_off_when_only_kubeai_models_are_served():
    cfg = parse_stack_config(
        stack([EMBED], profile="serving") | {"components": {"keda": {"enabled": False}}},
    )
    assert not cfg.enabled("keda")
    mixed = [EMBED, {"name": "q", "source": "hf://Qwen/Qwen2.5-0.5B-Instruct", "gpus": 0}]
    with pytest.raises(ConfigError, match=r"models \(q\) scale on queue depth through KEDA"):
        parse_stack_config(stack(mixed, profile="serving") | {"components": {"keda": {"enabled": False}}})
