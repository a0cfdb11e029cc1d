"""StackConfig: good stacks parse; each bad stack fails with one message naming the key path."""

from __future__ import annotations

import copy

import pytest

from components.config import ConfigError, parse_stack_config

AGE = "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ"

GKE = {
    "substrate": {
        "kind": "gke",
        "project": "my-project-1",
        "region": "europe-west4",
        "gpuPools": [{"name": "l4", "accelerator": "nvidia-l4", "count": 1}],
    },
    "secrets": {"backend": "external-secrets"},
    "models": [
        {"name": "qwen", "source": "hf://Qwen/Qwen2.5-7B-Instruct", "gpus": 1, "gpuType": "nvidia-l4"},
    ],
}
# A GKE pool of nodes with two L4s each.
TWO_L4 = {"name": "l4", "accelerator": "nvidia-l4", "count": 2, "machineType": "g2-standard-24"}
KIND = {"substrate": {"kind": "kind"}, "secrets": {"backend": "none"}}


def with_(base: dict, path: str, value) -> dict:
    """Copy of `base` with the dotted `path` set (`[n]` indexes lists); value None deletes."""
    out = copy.deepcopy(base)
    node = out
    parts = path.replace("]", "").replace("[", ".").split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    last = parts[-1]
    if value is None:
        del node[int(last) if last.isdigit() else last]
    elif last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return out


def test_gke_stack_parses_with_secure_defaults():
    cfg = parse_stack_config(GKE)
    assert cfg.protect is True
    assert cfg.profile == "serving"
    assert cfg.layers == ("platform", "serving")
    assert cfg.models[0].replicas.min == 1
    assert cfg.substrate.authorized_networks == []


def test_kind_stack_parses():
    cfg = parse_stack_config(KIND)
    assert cfg.substrate.kind == "kind"
    assert "@sha256:" in cfg.substrate.node_image


def test_json_encoded_values_are_decoded():
    cfg = parse_stack_config({"substrate": '{"kind": "kind"}', "secrets": '{"backend": "none"}', "protect": "false"})
    assert cfg.protect is False


def test_secret_keys_accepted_when_secret():
    cfg = parse_stack_config(
        {"substrate": {"kind": "existing"}, "kubeconfig": "apiVersion: v1", "sopsAgeKey": AGE},
        secret_keys=["kubeconfig", "sopsAgeKey"],
    )
    assert cfg.kubeconfig is not None
    assert "AGE" not in repr(cfg)  # secrets never show in reprs or logs


BAD = [
    ("unknown top-level key", with_(KIND, "replicaCount", 3), "inference-platform:replicaCount: unknown key"),
    ("unknown nested key", with_(GKE, "substrate.nodes", 3), "inference-platform:substrate.nodes: unknown key"),
    ("unknown substrate", with_(KIND, "substrate", {"kind": "aks"}), "unknown substrate 'aks'; allowed: gke"),
    ("substrate missing", {"secrets": {"backend": "none"}}, "inference-platform:substrate: Field required"),
    ("wrong type", with_(KIND, "protect", "sometimes"), "inference-platform:protect: Input should be a valid bool"),
    (
        "profile that does not exist",
        with_(KIND, "profile", "everything"),
        "inference-platform:profile: 'everything' is not allowed",
    ),
    (
        "profile whose layer is empty",
        with_(KIND, "profile", "full"),
        "profile 'full' needs layer 'experience'",
    ),
    (
        "GPU pool without accelerator",
        with_(GKE, "substrate.gpuPools[0].accelerator", None),
        "inference-platform:substrate.gpuPools[0].accelerator: Field required",
    ),
    (
        "GPU pool min > max",
        with_(GKE, "substrate.gpuPools[0]", {"name": "l4", "accelerator": "nvidia-l4", "minNodes": 3, "maxNodes": 1}),
        "substrate.gpuPools[0]: minNodes (3) is greater than maxNodes (1)",
    ),
    (
        "replicas min > max",
        with_(GKE, "models[0].replicas", {"min": 3, "max": 2}),
        "inference-platform:models[0].replicas: min (3) is greater than max (2)",
    ),
    (
        "llm-d without the Gateway",
        with_(GKE, "models[0].engine", "llm-d"),
        "inference-platform:models[0].engine: qwen: llm-d models are reached through the Gateway",
    ),
    (
        "llm-d on CPU",
        with_(GKE, "models[0]", {"name": "tiny", "source": "hf://Qwen/Qwen2.5-0.5B-Instruct", "engine": "llm-d",
                                 "gpus": 0}),
        "engine 'llm-d' serves on GPUs only",
    ),
    (
        "llm-d with a replica range",
        with_(with_(GKE, "models[0].engine", "llm-d"), "models[0].replicas", {"min": 1, "max": 3}),
        "engine 'llm-d' runs a fixed number of replicas",
    ),
    (
        "disaggregation on raw vLLM",
        with_(GKE, "models[0].disaggregation", {"prefill": 1, "decode": 1}),
        "disaggregation is an llm-d feature; engine 'vllm' has no prefill/decode split",
    ),
    (
        "disaggregation beside replicas",
        with_(
            with_(with_(GKE, "models[0].engine", "llm-d"), "models[0].disaggregation", {"prefill": 1, "decode": 1}),
            "models[0].replicas",
            {"min": 2, "max": 2},
        ),
        "disaggregation.prefill and .decode are the replica counts; drop replicas",
    ),
    (
        "llm-d multi-node replica not a multiple of a node",
        with_(
            with_(with_(GKE, "substrate.gpuPools[0]", TWO_L4), "profile", "llm-gateway"),
            "models[0]",
            {"name": "big", "source": "hf://Qwen/Qwen2.5-72B-Instruct", "engine": "llm-d", "gpus": 3,
             "gpuType": "nvidia-l4"},
        ),
        "inference-platform:models[0].gpus: big wants 3 GPUs per replica, more than a node of pool 'l4' has (2); "
        "across nodes it must be a multiple of 2",
    ),
    (
        "llm-d multi-node replica with disaggregation",
        with_(
            with_(with_(GKE, "substrate.gpuPools[0]", TWO_L4), "profile", "llm-gateway"),
            "models[0]",
            {"name": "big", "source": "hf://Qwen/Qwen2.5-72B-Instruct", "engine": "llm-d", "gpus": 4,
             "gpuType": "nvidia-l4", "disaggregation": {"prefill": 1, "decode": 1}},
        ),
        "inference-platform:models[0].disaggregation: big: a multi-node replica",
    ),
    (
        "raw vLLM beyond a node",
        with_(with_(GKE, "models[0].gpus", 2), "profile", "llm-gateway"),
        "models[0] (qwen) wants 2 GPUs per replica; pool 'l4' nodes have 1",
    ),
    (
        "KV-cache offload on llm-d",
        with_(with_(GKE, "models[0].engine", "llm-d"), "models[0].kvOffload", {"cpuMemory": "8Gi"}),
        "kvOffload is rendered for engine 'vllm' only, not 'llm-d'",
    ),
    (
        "engine/task pair outside the table",
        with_(with_(GKE, "models[0].engine", "llm-d"), "models[0].task", "speech"),
        "inference-platform:models[0]: engine 'llm-d' cannot serve task 'speech'; it serves: text",
    ),
    (
        "unknown engine",
        with_(GKE, "models[0].engine", "tgi"),
        "inference-platform:models[0].engine: 'tgi' is not allowed",
    ),
    (
        "model source scheme",
        with_(GKE, "models[0].source", "ftp://x/y"),
        "inference-platform:models[0].source: source 'ftp://x/y' is not one of hf://",
    ),
    (
        "modelcar without digest",
        with_(GKE, "models[0].source", "oci://registry.example.com/models/qwen:1.0"),
        "is not one of hf://org/model, s3://bucket/path, pvc://claim/path or oci://",
    ),
    (
        "image tag latest",
        with_(GKE, "models[0].image", "vllm/vllm-openai:latest"),
        "inference-platform:models[0].image: image 'vllm/vllm-openai:latest' is not pinned",
    ),
    (
        "gpus without gpuType",
        with_(GKE, "models[0].gpuType", None),
        "inference-platform:models[0]: gpus > 0 needs gpuType",
    ),
    (
        "gpuType no pool offers",
        with_(GKE, "models[0].gpuType", "nvidia-h100-80gb"),
        "models[0] (qwen) wants gpuType 'nvidia-h100-80gb', but the substrate's GPU pools offer: nvidia-l4",
    ),
    (
        "more GPUs than a node has",
        with_(GKE, "models[0].gpus", 4),
        "models[0] (qwen) wants 4 GPUs per replica; pool 'l4' nodes have 1",
    ),
    (
        "GPU model on kind",
        with_(KIND, "models", [{"name": "m", "source": "hf://a/b", "gpus": 1, "gpuType": "nvidia-l4"}]),
        "GPU pools offer: none",
    ),
    (
        "scale to zero on raw vLLM without the Gateway",
        with_(GKE, "models[0].replicas", {"min": 0, "max": 2}),
        "inference-platform:models[0].replicas.min: qwen: replicas.min 0 scales out on the requests its "
        "InferencePool's endpoint picker counts",
    ),
    (
        "scale to zero with the inferencepool component off",
        with_(
            with_(with_(GKE, "models[0].replicas", {"min": 0, "max": 2}), "profile", "llm-gateway"),
            "components",
            {"inferencepool": {"enabled": False}},
        ),
        "profile 'llm-gateway' has inferencepool turned off",
    ),
    (
        "scale to zero of an embedding model",
        with_(
            with_(GKE, "models[0]", {"name": "embed", "source": "hf://intfloat/e5-mistral-7b-instruct",
                                     "task": "embedding", "gpus": 1, "gpuType": "nvidia-l4",
                                     "replicas": {"min": 0, "max": 1}}),
            "profile",
            "llm-gateway",
        ),
        "replicas.min 0 needs task 'text' on engine 'vllm'",
    ),
    (
        "KV-cache offload on a CPU model",
        with_(GKE, "models[0]", {"name": "tiny", "source": "hf://Qwen/Qwen2.5-0.5B-Instruct", "gpus": 0,
                                 "kvOffload": {"cpuMemory": "4Gi"}}),
        "kvOffload moves a GPU KV cache to host memory: it needs task 'text' and gpus > 0",
    ),
    (
        "KV-cache offload sized in Mi",
        with_(GKE, "models[0].kvOffload", {"cpuMemory": "512Mi"}),
        "models[0].kvOffload.cpuMemory",
    ),
    (
        "managed engine flag",
        with_(GKE, "models[0].engineArgs", ["--port=9000"]),
        "inference-platform:models[0].engineArgs: engine arg --port is set by the platform",
    ),
    (
        "duplicate model names",
        with_(GKE, "models", [GKE["models"][0], GKE["models"][0]]),
        "model names must be unique; repeated: qwen",
    ),
    ("model name not DNS", with_(GKE, "models[0].name", "Qwen_7B"), "models[0].name: 'Qwen_7B' is not a DNS label"),
    (
        "external-secrets off GKE",
        with_(KIND, "secrets.backend", "external-secrets"),
        "secrets.backend 'external-secrets' needs a cloud secret manager",
    ),
    (
        "no secret backend on a real cluster",
        with_(GKE, "secrets.backend", "none"),
        "secrets.backend 'none' is allowed only on substrate 'kind'",
    ),
    (
        "sops without age key",
        with_(GKE, "secrets.backend", "sops"),
        "secrets.backend 'sops' needs the secret key sopsAgeKey",
    ),
    (
        "existing without kubeconfig",
        {"substrate": {"kind": "existing"}, "secrets": {"backend": "sops"}},
        "substrate 'existing' needs the secret key kubeconfig",
    ),
    ("unknown component", with_(KIND, "components", {"istio": {"enabled": False}}), "unknown component(s) istio"),
    ("bad CIDR", with_(GKE, "substrate.nodeCidr", "10.0.0.0/33"), "substrate.nodeCidr: '10.0.0.0/33' is not a CIDR"),
    ("bad GCP project", with_(GKE, "substrate.project", "X"), "substrate.project: 'X' is not a GCP project id"),
    (
        "kind node image without digest",
        with_(KIND, "substrate.nodeImage", "kindest/node:v1.33.1"),
        "substrate.nodeImage: 'kindest/node:v1.33.1' must be pinned by digest",
    ),
    (
        "hetzner subnet outside network",
        {
            "substrate": {
                "kind": "hetzner",
                "networkCidr": "10.0.0.0/16",
                "subnetCidr": "10.9.0.0/24",
                "adminCidrs": ["203.0.113.0/24"],
            },
            "sopsAgeKey": AGE,
        },
        "subnetCidr 10.9.0.0/24 is not inside networkCidr 10.0.0.0/16",
    ),
    (
        "two pools of one accelerator",
        with_(
            GKE,
            "substrate.gpuPools",
            [{"name": "a", "accelerator": "nvidia-l4"}, {"name": "b", "accelerator": "nvidia-l4"}],
        ),
        "each pool needs its own accelerator type",
    ),
    (
        "not an age key",
        with_(with_(GKE, "secrets.backend", "sops"), "sopsAgeKey", "hunter2"),
        "inference-platform:sopsAgeKey: sopsAgeKey is not an age identity",
    ),
    (
        "kv-cache target out of range",
        with_(GKE, "models[0].scaling", {"kvCacheUsageTarget": 1.5}),
        "inference-platform:models[0].scaling.kvCacheUsageTarget: Input should be less than or equal to 0.9",
    ),
]


@pytest.mark.parametrize(("case", "values", "expected"), BAD, ids=[b[0] for b in BAD])
def test_bad_config_names_the_key(case, values, expected):
    secrets = [k for k in ("kubeconfig", "sopsAgeKey", "supervisorKubeconfig") if k in values]
    with pytest.raises(ConfigError) as err:
        parse_stack_config(values, secret_keys=secrets)
    message = str(err.value)
    assert message.startswith("invalid stack config:")
    assert expected in message, message


def test_plain_text_secret_is_refused():
    values = {"substrate": {"kind": "existing"}, "kubeconfig": "apiVersion: v1", "sopsAgeKey": AGE}
    with pytest.raises(ConfigError) as err:
        parse_stack_config(values, secret_keys=["sopsAgeKey"])
    assert "inference-platform:kubeconfig: must be a secret" in str(err.value)
    assert "pulumi config set --secret inference-platform:kubeconfig" in str(err.value)


def test_at_least_twenty_distinct_bad_inputs():
    assert len({b[0] for b in BAD}) >= 20


def test_load_reads_the_runtime_config_and_its_secret_marks():
    import pulumi

    from components.config import load_stack_config

    kubeconfig = "apiVersion: v1\nkind: Config\n"
    base = {
        "inference-platform:substrate": '{"kind": "existing"}',
        "inference-platform:kubeconfig": kubeconfig,
        "inference-platform:sopsAgeKey": AGE,
        "gcp:project": "not-ours",
    }
    try:
        pulumi.runtime.set_all_config(base, ["inference-platform:kubeconfig", "inference-platform:sopsAgeKey"])
        cfg = load_stack_config()
        assert cfg.kubeconfig.get_secret_value() == kubeconfig.strip()
        pulumi.runtime.set_all_config(base, ["inference-platform:sopsAgeKey"])
        with pytest.raises(ConfigError, match="inference-platform:kubeconfig: must be a secret"):
            load_stack_config()
    finally:
        pulumi.runtime.set_all_config({}, [])
