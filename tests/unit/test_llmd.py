"""llm-d renderer and its pool: pure ModelSpec + facts -> objects, and config -> pool values."""

from __future__ import annotations

import json

import pytest
import yaml

from components.catalog import load_catalog
from components.config import parse_stack_config
from components.config.modelspec import ModelSpec
from components.gateway import routing
from components.serving import llmd
from components.serving.engines import render_model
from tests.plain_facts import gke_facts
from tooling import chart_values as cv
from tooling.conformance import Conformance

TWO_PER_NODE = gke_facts(gpus_per_node=2)
BASE = {"name": "qwen", "source": "hf://Qwen/Qwen3-8B", "engine": "llm-d", "gpus": 1, "gpuType": "nvidia-l4"}
# Plugin types llm-d-inference-scheduler v0.8.0 registers (pkg/epp/framework/plugins/register.go)
# and those of the Inference Extension v1.5.0 it embeds that the config uses.
SCHEDULER_PLUGINS = {
    "decode-filter", "prefill-filter", "disagg-headers-handler", "disagg-profile-handler",
    "prefix-based-pd-decider",
}
EMBEDDED_PLUGINS = {
    "prefix-cache-scorer", "queue-scorer", "kv-cache-utilization-scorer", "max-score-picker",
    "single-profile-handler", "metrics-data-source", "core-metrics-extractor",
}


def model(**overrides) -> ModelSpec:
    return ModelSpec.model_validate(BASE | overrides)


def kinds(objects) -> list[tuple[str, str]]:
    return [(o["kind"], o["metadata"]["name"]) for o in objects]


def named(objects, kind, name):
    (obj,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return obj


def vllm_of(template):
    (container,) = [c for c in template["spec"]["containers"] if c["name"] == "vllm"]
    return container


def test_one_node_replicas_are_a_decode_deployment_with_fixed_count_and_no_autoscaler():
    objs = render_model(model(replicas={"min": 3, "max": 3}), gke_facts(), "inference")
    # Three replicas on ReadWriteOnce storage: a cache per pod, no shared claim.
    assert kinds(objs) == [
        ("ServiceAccount", "qwen"), ("Deployment", "qwen-decode"),
        ("PodDisruptionBudget", "qwen"), ("PodMonitor", "qwen"), ("NetworkPolicy", "qwen"),
    ]
    assert not [o for o in objs if o["kind"] == "ScaledObject"]
    deployment = named(objs, "Deployment", "qwen-decode")
    assert deployment["spec"]["replicas"] == 3
    template = deployment["spec"]["template"]
    labels = template["metadata"]["labels"]
    assert labels["llm-d.ai/role"] == "decode" and labels["llm-d.ai/inference-serving"] == "true"
    assert labels["llm-d.ai/model"] == "qwen"
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    container = vllm_of(template)
    assert container["image"] == llmd.settings()["images"]["modelServer"]
    assert "--kv-transfer-config" not in container["args"]
    assert "initContainers" not in template["spec"]
    assert container["ports"] == [{"name": "vllm", "containerPort": 8000, "protocol": "TCP"}]
    assert container["readinessProbe"]["httpGet"]["port"] == "vllm"
    assert {o["metadata"]["namespace"] for o in objs} == {"inference"}


def test_disaggregation_renders_prefill_and_decode_roles_with_nixl_and_the_sidecar_on_decode():
    objs = render_model(model(disaggregation={"prefill": 2, "decode": 3}), gke_facts(), "inference")
    prefill, decode = named(objs, "Deployment", "qwen-prefill"), named(objs, "Deployment", "qwen-decode")
    assert (prefill["spec"]["replicas"], decode["spec"]["replicas"]) == (2, 3)
    assert prefill["spec"]["template"]["metadata"]["labels"]["llm-d.ai/role"] == "prefill"
    assert decode["spec"]["template"]["metadata"]["labels"]["llm-d.ai/role"] == "decode"
    # Two roles on ReadWriteOnce storage: a cache per pod, never one claim both roles fight over.
    assert not [o for o in objs if o["kind"] == "PersistentVolumeClaim"]
    for deployment in (prefill, decode):
        container = vllm_of(deployment["spec"]["template"])
        args = container["args"]
        transfer = json.loads(args[args.index("--kv-transfer-config") + 1])
        assert transfer == {"kv_connector": "NixlConnector", "kv_role": "kv_both"}
        env = {e["name"]: e for e in container["env"]}
        assert env["VLLM_NIXL_SIDE_CHANNEL_PORT"]["value"] == str(llmd.settings()["nixlPort"])
        assert env["VLLM_NIXL_SIDE_CHANNEL_HOST"]["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    # The decode pod's entry is the sidecar on the pool's port; vLLM moves behind it.
    (sidecar,) = decode["spec"]["template"]["spec"]["initContainers"]
    assert sidecar["restartPolicy"] == "Always"
    assert sidecar["image"] == llmd.settings()["images"]["routingSidecar"]
    assert sidecar["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    behind = llmd.settings()["vllmBehindSidecarPort"]
    assert f"--vllm-port={behind}" in sidecar["args"] and "--kv-connector=nixlv2" in sidecar["args"]
    decode_vllm = vllm_of(decode["spec"]["template"])
    assert decode_vllm["args"][decode_vllm["args"].index("--port") + 1] == str(behind)
    prefill_vllm = vllm_of(prefill["spec"]["template"])
    assert prefill_vllm["args"][prefill_vllm["args"].index("--port") + 1] == "8000"
    assert "initContainers" not in prefill["spec"]["template"]["spec"]


def test_a_replica_larger_than_a_node_is_a_leader_worker_set_group():
    objs = render_model(model(gpus=4, source="hf://Qwen/Qwen2.5-72B-Instruct"), TWO_PER_NODE, "inference")
    lws = named(objs, "LeaderWorkerSet", "qwen-decode")
    group = lws["spec"]["leaderWorkerTemplate"]
    assert group["size"] == 2 and lws["spec"]["replicas"] == 1
    leader, worker = vllm_of(group["leaderTemplate"]), vllm_of(group["workerTemplate"])
    for container in (leader, worker):
        args = container["args"]
        # A node's GPUs in tensor parallel, the nodes in pipeline parallel.
        assert args[args.index("--tensor-parallel-size") + 1] == "2"
        assert args[args.index("--pipeline-parallel-size") + 1] == "2"
        assert args[args.index("--nnodes") + 1] == "2"
        assert args[args.index("--node-rank") + 1] == "$(LWS_WORKER_INDEX)"
        assert args[args.index("--master-addr") + 1] == "$(LWS_LEADER_ADDRESS)"
        assert container["resources"]["requests"]["nvidia.com/gpu"] == "2"
    assert "--headless" in worker["args"] and "--headless" not in leader["args"]
    assert "readinessProbe" not in worker and leader["readinessProbe"]["httpGet"]["port"] == "vllm"
    # Only leaders serve: the pool and the PodMonitor select worker index 0.
    monitor = named(objs, "PodMonitor", "qwen")["spec"]["selector"]["matchLabels"]
    assert monitor[llmd.WORKER_INDEX] == "0"
    assert not [o for o in objs if o["kind"] == "Deployment"]


def test_scheduler_file_is_the_one_the_chart_mounts():
    assert llmd.SCHEDULER_FILE == routing.SCORERS_FILE


def test_every_rendered_object_validates_against_the_carried_schemas():
    checker = Conformance()
    for spec, facts in (
        (model(disaggregation={"prefill": 1, "decode": 1}), gke_facts()),
        (model(gpus=4), TWO_PER_NODE),
        (model(replicas={"min": 2, "max": 2}), gke_facts()),
    ):
        for obj in render_model(spec, facts, "inference"):
            assert checker.validate(obj) == [], f"{obj['kind']}/{obj['metadata']['name']}"


def test_the_model_pods_accept_the_gateway_and_each_other_only():
    policy = llmd.network_policy(model(disaggregation={"prefill": 1, "decode": 1}), gke_facts())
    serving, internal = policy["spec"]["ingress"]
    assert serving["ports"] == [{"port": 8000, "protocol": "TCP"}]
    # The prefill hop, NIXL's side channel and UCX: any port, from this model's pods only.
    assert internal == {"from": [{"podSelector": {"matchLabels": {
        "app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": "qwen"}}}]}


def gateway_config(*models):
    return parse_stack_config(
        {"substrate": {"kind": "gke", "project": "my-project-1", "region": "europe-west4",
                       "gpuPools": [{"name": "l4", "accelerator": "nvidia-l4", "count": 1}]},
         "secrets": {"backend": "external-secrets"}, "profile": "llm-gateway", "models": list(models)}
    )


def test_the_gateway_gives_an_llm_d_model_one_pool_running_llm_ds_scheduler():
    cfg = gateway_config(BASE | {"disaggregation": {"prefill": 1, "decode": 1}})
    apps = {c["metadata"]["name"]: c for c in routing.children(cfg, gke_facts())}
    assert [n for n in apps if n.startswith("pool-")] == ["pool-qwen"]
    assert "route-qwen" in apps
    values = apps["pool-qwen"]["spec"]["source"]["helm"]["valuesObject"]
    scheduler = llmd.settings()["scheduler"]
    # Merged over the catalog's base values (pullPolicy) by the chart: the image is the scheduler's.
    assert values["inferenceExtension"]["image"].items() >= scheduler.items()
    assert values["inferencePool"]["modelServers"]["matchLabels"] == {
        "app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": "qwen", "llm-d.ai/inference-serving": "true"}
    assert values["provider"] == {"name": "gke"}
    # Pods of the model carry every label the pool selects them by.
    for obj in render_model(cfg.models[0], gke_facts(), "inference"):
        if obj["kind"] == "Deployment":
            pod = obj["spec"]["template"]["metadata"]["labels"]
            assert values["inferencePool"]["modelServers"]["matchLabels"].items() <= pod.items()


@pytest.mark.parametrize("split", [None, {"prefill": 1, "decode": 2}], ids=["single", "disaggregated"])
def test_the_scheduler_config_names_plugins_the_pinned_scheduler_has(split):
    spec = model(disaggregation=split) if split else model()
    extension = llmd.pool_values(spec, gke_facts())["inferenceExtension"]
    doc = yaml.safe_load(extension["pluginsCustomConfig"][routing.SCORERS_FILE])
    declared = {p["type"] for p in doc["plugins"]}
    assert declared <= SCHEDULER_PLUGINS | EMBEDDED_PLUGINS
    # Prefix-cache and KV-cache aware in every profile.
    for profile in doc["schedulingProfiles"]:
        refs = {p["pluginRef"] for p in profile["plugins"]}
        assert {"prefix-cache-scorer", "kv-cache-utilization-scorer", "queue-scorer"} <= refs <= declared
    names = [p["name"] for p in doc["schedulingProfiles"]]
    assert names == (["prefill", "decode"] if split else ["default"])
    if split:
        handler = next(p for p in doc["plugins"] if p["type"] == "disagg-profile-handler")
        assert handler["parameters"]["deciders"]["prefill"] == "prefix-based-pd-decider"


def test_llm_d_pool_values_exist_in_the_pinned_chart():
    entry = load_catalog()["inferencepool"]
    carried = cv.load_chart_values(entry.chart.name, entry.chart.version)
    values = cv.deep_merge(entry.values, routing.pool_values(model(), gke_facts()))
    assert cv.unknown_keys(values, carried) == []
    # The scheduler replaces the EPP image field by field: registry, repository and tag.
    chart_image = yaml.safe_load((cv.ROOT / "schemas/values/inferencepool/v1.5.0/values.yaml").read_text())
    assert set(llmd.settings()["scheduler"]) == set(chart_image["inferenceExtension"]["image"]) - {"pullPolicy"}


def test_lws_operator_applies_only_where_a_model_uses_llm_d():
    entry = load_catalog()["lws"]
    assert entry.layer == "platform" and entry.when == {"engine": ("llm-d",)}
    carried = cv.load_chart_values(entry.chart.name, entry.chart.version)
    assert cv.unknown_keys(entry.values, carried) == []


def test_litellm_reaches_an_llm_d_model_at_its_gateway_url():
    from components.computed_values import litellm_model_list
    from components.gateway.names import model_url

    facts = gke_facts()
    cfg = gateway_config(BASE)
    (entry,) = litellm_model_list(cfg, facts)
    assert entry["model_name"] == "qwen"
    assert entry["litellm_params"]["api_base"] == model_url("qwen", facts, tls=True)
    route = next(c for c in routing.children(cfg, facts) if c["metadata"]["name"] == "route-qwen")
    objects = route["spec"]["source"]["helm"]["valuesObject"]["resources"]
    (http_route,) = [o for o in objects if o["kind"] == "HTTPRoute"]
    assert http_route["spec"]["rules"][0]["backendRefs"][0]["name"] == "qwen"


ADAPTERS = [{"name": "sql", "source": "hf://org/sql-lora"}, {"name": "chat-de", "source": "hf://org/de-lora"}]


def test_adapters_are_loaded_by_every_role_and_routed_by_name_through_the_models_pool():
    from components.computed_values import litellm_model_list
    from components.gateway.names import model_url

    spec = BASE | {"adapters": ADAPTERS, "disaggregation": {"prefill": 1, "decode": 1}}
    objects = render_model(model(**{k: v for k, v in spec.items() if k not in BASE}), TWO_PER_NODE, "inference")
    for role in ("prefill", "decode"):
        args = vllm_of(named(objects, "Deployment", f"qwen-{role}")["spec"]["template"])["args"]
        modules = args[args.index("--lora-modules") + 1 :]
        assert {"sql=org/sql-lora", "chat-de=org/de-lora"} <= set(modules), role
    # LiteLLM sends the base model and each adapter, by name, to the model's one pool.
    entries = {e["model_name"]: e["litellm_params"] for e in litellm_model_list(gateway_config(spec), gke_facts())}
    assert set(entries) == {"qwen", "sql", "chat-de"}
    assert {p["api_base"] for p in entries.values()} == {model_url("qwen", gke_facts(), tls=True)}
    assert entries["sql"]["model"].endswith("/sql")


def test_an_oci_modelcar_is_an_image_volume_in_every_pod_of_the_group():
    digest = "oci://registry.example.com/models/qwen72@sha256:" + "b" * 64
    objects = render_model(model(source=digest, gpus=4), TWO_PER_NODE, "inference")
    group = named(objects, "LeaderWorkerSet", "qwen-decode")["spec"]["leaderWorkerTemplate"]
    for rank in ("leaderTemplate", "workerTemplate"):
        pod = group[rank]["spec"]
        (source,) = [v for v in pod["volumes"] if v["name"] == "source"]
        assert source["image"]["reference"] == digest.removeprefix("oci://"), rank
        args = vllm_of(group[rank])["args"]
        assert args[0].startswith("/models/src") and "--model" not in args, rank
