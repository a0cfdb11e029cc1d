"""Raw vLLM renderer: pure ModelSpec + facts -> manifests."""

from __future__ import annotations

import pytest

from components.config.modelspec import ModelSpec
from components.serving.vllm import engine_args, render_vllm
from tests.plain_facts import gke_facts

FACTS = gke_facts(gpus_per_node=2)


def model(**overrides) -> ModelSpec:
    base = {"name": "qwen", "source": "hf://Qwen/Qwen2.5-7B-Instruct", "gpus": 1, "gpuType": "nvidia-l4"}
    return ModelSpec.model_validate(base | overrides)


def by_kind(objects):
    return {o["kind"]: o for o in objects}


def test_gpu_model_renders_every_object_in_its_namespace():
    objs = render_vllm(model(), FACTS, "inference")
    kinds = sorted(o["kind"] for o in objs)
    assert kinds == sorted(
        ["ServiceAccount", "PersistentVolumeClaim", "Deployment", "Service", "PodDisruptionBudget", "PodMonitor",
         "NetworkPolicy", "ScaledObject"]
    )
    assert {o["metadata"]["namespace"] for o in objs} == {"inference"}


def test_gpu_scheduling_comes_from_the_pool_facts():
    pod = by_kind(render_vllm(model(gpus=2), FACTS, "inference"))["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert pod["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
    assert pod["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"}
    ]
    assert "--tensor-parallel-size" in container["args"]


def test_probes_hit_the_openai_server_health_endpoint():
    container = by_kind(render_vllm(model(), FACTS, "ns"))["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["startupProbe"]["failureThreshold"] * container["startupProbe"]["periodSeconds"] >= 600


def test_container_is_locked_down():
    pod = by_kind(render_vllm(model(), FACTS, "ns"))["Deployment"]["spec"]["template"]["spec"]
    sc = pod["containers"][0]["securityContext"]
    assert sc["readOnlyRootFilesystem"] and sc["runAsNonRoot"] and not sc["allowPrivilegeEscalation"]
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert pod["automountServiceAccountToken"] is False


def test_deployment_leaves_replicas_to_keda():
    objs = by_kind(render_vllm(model(replicas={"min": 2, "max": 5}), FACTS, "ns"))
    assert "replicas" not in objs["Deployment"]["spec"]
    spec = objs["ScaledObject"]["spec"]
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (2, 5)


def cpu_model(**overrides) -> ModelSpec:
    return model(**({"source": "hf://Qwen/Qwen2.5-0.5B-Instruct", "gpus": 0, "gpuType": None} | overrides))


def env_of(spec: ModelSpec) -> dict[str, str]:
    pod = by_kind(render_vllm(spec, FACTS, "ns"))["Deployment"]["spec"]["template"]["spec"]
    return {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}


def test_cpu_model_uses_the_cpu_image_and_no_gpu():
    objs = by_kind(render_vllm(cpu_model(), FACTS, "ns"))
    pod = objs["Deployment"]["spec"]["template"]["spec"]
    assert "cpu" in pod["containers"][0]["image"]
    assert "nvidia.com/gpu" not in pod["containers"][0]["resources"]["limits"]
    assert "nodeSelector" not in pod and "tolerations" not in pod


def test_single_replica_on_rwo_storage_gets_one_claim_and_recreate():
    objs = by_kind(render_vllm(model(replicas={"min": 1, "max": 1}), FACTS, "ns"))
    assert objs["PersistentVolumeClaim"]["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert objs["Deployment"]["spec"]["strategy"] == {"type": "Recreate"}


def test_scaling_model_on_rwo_storage_gets_per_pod_cache():
    objs = by_kind(render_vllm(model(replicas={"min": 1, "max": 3}), FACTS, "ns"))
    assert "PersistentVolumeClaim" not in objs
    volumes = objs["Deployment"]["spec"]["template"]["spec"]["volumes"]
    assert "ephemeral" in next(v for v in volumes if v["name"] == "cache")


def test_shared_storage_gets_one_rwx_claim_and_rolling_updates():
    objs = by_kind(render_vllm(model(replicas={"min": 1, "max": 3}), FACTS | {"storageShared": True}, "ns"))
    assert objs["PersistentVolumeClaim"]["spec"]["accessModes"] == ["ReadWriteMany"]
    assert objs["Deployment"]["spec"]["strategy"]["type"] == "RollingUpdate"


@pytest.mark.parametrize(
    ("source", "model_arg", "volume_key"),
    [
        ("hf://Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B-Instruct", None),
        ("s3://models-bucket/qwen", "s3://models-bucket/qwen", None),
        ("pvc://model-store/qwen/7b", "/models/src/qwen/7b", "persistentVolumeClaim"),
        ("oci://registry.example.com/models/qwen@sha256:" + "a" * 64, "/models/src/models", "image"),
    ],
)
def test_each_source_scheme_reaches_the_engine(source, model_arg, volume_key):
    objs = by_kind(render_vllm(model(source=source), FACTS, "ns"))
    pod = objs["Deployment"]["spec"]["template"]["spec"]
    args = pod["containers"][0]["args"]
    assert pod["containers"][0]["command"] == ["vllm", "serve"]
    assert args[0] == model_arg and "--model" not in args
    source_volumes = [v for v in pod["volumes"] if v["name"] == "source"]
    if volume_key is None:
        assert source_volumes == []
    else:
        assert volume_key in source_volumes[0]


def test_engine_args_lora_and_task():
    args = engine_args(model(adapters=[{"name": "sql", "source": "hf://org/sql-lora"}], engineArgs=["--seed=1"]), 8000)
    assert args[args.index("--lora-modules") + 1] == "sql=org/sql-lora"
    assert args[-1] == "--seed=1"
    assert "--enable-prefix-caching" in args
    embed = engine_args(model(task="embedding"), 8000)
    assert embed[embed.index("--runner") + 1] == "pooling"
    assert "--enable-prefix-caching" not in embed


def test_hf_token_comes_from_a_secret_reference_only():
    pod = by_kind(render_vllm(model(hfTokenSecret="hf-token"), FACTS, "ns"))["Deployment"]["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert "HF_TOKEN" not in env and env["HF_TOKEN_PATH"] == "/var/run/secrets/huggingface/HF_TOKEN"
    (volume,) = [v for v in pod["volumes"] if v["name"] == "hf-token"]
    assert volume["secret"]["secretName"] == "hf-token"
    mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}
    assert mounts["hf-token"]["readOnly"] is True


def test_network_policy_opens_only_the_serving_port():
    policy = by_kind(render_vllm(model(), FACTS, "ns"))["NetworkPolicy"]["spec"]
    assert policy["policyTypes"] == ["Ingress"]
    (rule,) = policy["ingress"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert policy["podSelector"]["matchLabels"]["app.kubernetes.io/instance"] == "qwen"


@pytest.mark.parametrize("spec", [model(), cpu_model()], ids=["gpu", "cpu"])
def test_every_vllm_container_names_its_user(spec):
    # UID 10001 has no passwd entry in either image; getpass.getuser() then needs LOGNAME/USER.
    pod = by_kind(render_vllm(spec, FACTS, "ns"))["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 10001
    env = env_of(spec)
    assert env["USER"] and env["LOGNAME"] == env["USER"]
    assert env["HOME"] == "/tmp"


def test_prefix_caching_off_is_said_to_vllm():
    args = engine_args(model(prefixCaching=False), 8000)
    assert "--disable-prefix-caching" in args and "--enable-prefix-caching" not in args
    embed = engine_args(model(task="embedding", prefixCaching=False), 8000)
    assert "--disable-prefix-caching" in embed


def test_cpu_kv_cache_space_follows_the_memory_request():
    # 0.5B parameters in bfloat16 is about 0.93 GiB; 2 GiB runtime allowance.
    assert env_of(cpu_model(resources={"memory": "6Gi"}))["VLLM_CPU_KVCACHE_SPACE"] == "3"
    assert env_of(cpu_model(resources={"memory": "32Gi"}))["VLLM_CPU_KVCACHE_SPACE"] == "29"
    sized = cpu_model(source="hf://BAAI/bge-m3", weightsSize="3Gi", resources={"memory": "8Gi"})
    assert env_of(sized)["VLLM_CPU_KVCACHE_SPACE"] == "3"
    assert "VLLM_CPU_KVCACHE_SPACE" not in env_of(model())


def test_stock_images_are_the_pinned_release():
    from components.serving.vllm import settings

    cfg = settings()
    assert cfg["images"]["gpu"].endswith(f":v{cfg['version']}")
    assert f":v{cfg['version']}-" in cfg["images"]["cpu"]
    assert "audio" not in cfg["extras"]["gpu"] and "audio" in cfg["extras"]["cpu"]


def refusal(**overrides) -> str:
    from components.config import ConfigError, parse_stack_config

    stack = {"substrate": {"kind": "kind"}, "secrets": {"backend": "none"},
             "models": [{"name": "m", "source": "hf://Qwen/Qwen2.5-0.5B-Instruct", "gpus": 0} | overrides]}
    with pytest.raises(ConfigError) as err:
        parse_stack_config(stack)
    return str(err.value)


def test_speech_on_the_stock_gpu_image_is_refused():
    with pytest.raises(ValueError, match="audio extra"):
        model(source="hf://openai/whisper-large-v3", task="speech")
    with pytest.raises(ValueError, match="imageExtras: \\[audio\\]"):
        model(source="hf://openai/whisper-large-v3", task="speech", image="r.example/vllm-audio:v0.33.0")
    with pytest.raises(ValueError, match="pinned by digest"):
        model(source="hf://openai/whisper-large-v3", task="speech", image="r.example/vllm-audio:v0.33.0",
              imageExtras=["audio"])


def test_speech_runs_on_a_declared_audio_image_or_the_cpu_image():
    digest = "r.example/vllm-audio:v0.33.0@sha256:" + "b" * 64
    spec = model(source="hf://openai/whisper-large-v3", task="speech", image=digest, imageExtras=["audio"])
    container = by_kind(render_vllm(spec, FACTS, "ns"))["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == digest
    cpu = cpu_model(source="hf://openai/whisper-large-v3", task="speech", weightsSize="3Gi")
    from components.serving.vllm import image_extras

    assert "audio" in image_extras(cpu)


def test_cpu_memory_too_small_for_weights_and_kv_is_refused_with_the_minimum():
    message = refusal(source="hf://Qwen/Qwen2.5-7B-Instruct", resources={"memory": "8Gi"})
    assert "inference-platform:models[0]: resources.memory 8Gi cannot hold this CPU model" in message
    assert "at least 17Gi" in message


def test_cpu_model_without_a_parameter_count_needs_weights_size():
    assert "weightsSize" in refusal(source="hf://BAAI/bge-m3", resources={"memory": "8Gi"})


def test_max_model_len_beyond_reach_is_refused():
    assert "maxModelLen" in refusal(maxModelLen=20_000_000)
    # 6Gi leaves a 3 GiB KV cache: 786432 tokens at the 4 KiB floor, so a million cannot fit.
    message = refusal(maxModelLen=1_000_000, resources={"memory": "6Gi"})
    assert "maxModelLen 1000000 is beyond what the KV cache" in message and "3 GiB" in message


def test_every_engine_the_config_accepts_has_a_renderer():
    from components.serving.engines import check_registry

    check_registry()


def test_kv_offload_sizes_vllms_cpu_buffer_and_adds_it_to_the_memory_request():
    objs = by_kind(render_vllm(model(kvOffload={"cpuMemory": "24Gi"}, resources={"memory": "16Gi"}), FACTS, "x"))
    container = objs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    args = container["args"]
    assert args[args.index("--kv-offloading-backend") + 1] == "native"
    assert args[args.index("--kv-offloading-size") + 1] == "24"
    assert container["resources"]["requests"]["memory"] == f"{40 * 1024}Mi"
    assert container["resources"]["limits"]["memory"] == f"{40 * 1024}Mi"


def test_kv_offload_is_off_by_default():
    objs = by_kind(render_vllm(model(resources={"memory": "16Gi"}), FACTS, "x"))
    container = objs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert not any(a.startswith("--kv-offloading") for a in container["args"])
    assert container["resources"]["requests"]["memory"] == "16Gi"


def test_kv_offload_off_gpu_or_off_text_is_refused():
    with pytest.raises(ValueError, match="kvOffload moves a GPU KV cache to host memory"):
        model(task="embedding", kvOffload={"cpuMemory": "8Gi"})
