"""ModelSpec: everything one served model needs, validated before any resource exists."""

from __future__ import annotations

import math
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from components.catalog import ENGINES, load_data
from components.config.base import Strict, dns_label
from components.serving import engine_flags

Engine = Literal[ENGINES]
Task = Literal["text", "speech", "embedding"]

# Which tasks each engine can serve. A pair outside this table is a config error.
ENGINE_TASKS: dict[str, tuple[str, ...]] = {
    "vllm": ("text", "embedding", "speech"),
    "kserve": ("text", "embedding"),
    "llm-d": ("text",),
    "kubeai": ("text", "embedding", "speech"),
}
# Engines whose manifests this release renders; the others are accepted by the schema
# table above but refused here rather than silently producing nothing.
RENDERED_ENGINES = ("vllm", "kserve", "llm-d", "kubeai")

SOURCE_PATTERNS = {
    "hf": re.compile(r"^hf://[A-Za-z0-9][\w.-]*/[\w.-]+$"),
    "s3": re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]*)?$"),
    "pvc": re.compile(r"^pvc://[a-z0-9]([-a-z0-9]*[a-z0-9])?(/[^\s]*)?$"),
    # Modelcars are images and must be digest-pinned: the model is a versioned artifact.
    "oci": re.compile(r"^oci://[^\s@]+@sha256:[a-f0-9]{64}$"),
    # An Ollama library model (KubeAI's OLlama backend only): ollama://qwen2.5:0.5b.
    "ollama": re.compile(r"^ollama://[a-z0-9][\w.-]*(/[\w.-]+)?(:[\w.-]+)?$"),
}
SOURCE_HELP = (
    "hf://org/model, s3://bucket/path, pvc://claim/path or oci://registry/repo@sha256:<digest> "
    "(engine kubeai also reads ollama://model:tag)"
)
IMAGE_PINNED = re.compile(r"^[^\s:@]+(:[0-9][\w.+-]*|:v[0-9][\w.+-]*)?(@sha256:[a-f0-9]{64})?$")


# Optional dependency groups of the vLLM package (its setup.py extras) an image may carry.
VllmExtra = Literal["audio", "runai", "tensorizer", "fastsafetensors", "instanttensor", "bench", "otel", "grpc"]
GIB = 1 << 30
UNITS = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": GIB, "Ti": 1 << 40}
# CPU models: what the vLLM process needs besides weights and KV cache (Python, torch,
# tokenizer, activations). An allowance, not a measurement of any one model.
CPU_RUNTIME_BYTES = 2 * GIB
# The smallest KV cache the platform will give a CPU model.
CPU_MIN_KV_BYTES = 1 * GIB
# Weights are loaded in bfloat16 on CPU (vLLM's CPU platform prefers it); 4-bit
# quantised checkpoints (AWQ, GPTQ, int4) take about half a byte per parameter.
BYTES_PER_PARAM = 2.0
BYTES_PER_PARAM_4BIT = 0.5
QUANTISED_4BIT = re.compile(r"(awq|gptq|int4|4bit|q4)", re.IGNORECASE)
# A parameter count in a model's name: "7B", "0.5B", "360M" (not "A3B", the active count).
PARAM_COUNT = re.compile(r"(?<![A-Za-z0-9.])(\d+(?:\.\d+)?)([BM])(?![A-Za-z0-9])")
# The longest context any released open model advertises (10M tokens); past this no
# model can reach, whatever the hardware.
MAX_MODEL_LEN_CEILING = 10 * 1024 * 1024
# The least KV cache one token can take in any common architecture (a small model with
# grouped-query attention, bfloat16): a CPU model whose KV space cannot hold one
# maxModelLen sequence even at this rate cannot start (vLLM refuses at start-up).
MIN_KV_BYTES_PER_TOKEN = 4 * 1024


def quantity_bytes(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)(Ki|Mi|Gi|Ti)", value).groups()  # type: ignore[union-attr]
    return int(number) * UNITS[unit]


def gib(n_bytes: float) -> str:
    return f"{n_bytes / GIB:.1f} GiB"


def pinned_vllm_version() -> str:
    return str(load_data("serving/vllm.yaml")["version"])


def source_scheme(source: str) -> str:
    return source.split("://", 1)[0]


def check_image(value: str) -> str:
    """Images must be pinned: a version tag (not latest/main) or a sha256 digest."""
    if "@sha256:" in value:
        return value
    tag = value.rsplit(":", 1)[1] if ":" in value.rsplit("/", 1)[-1] else ""
    if not tag or tag in ("latest", "main", "nightly", "HEAD"):
        raise ValueError(f"image {value!r} is not pinned: use a version tag or @sha256:<digest>")
    return value


class Replicas(Strict):
    min: int = Field(default=1, ge=0, le=100)
    max: int = Field(default=1, ge=1, le=100)

    @model_validator(mode="after")
    def _bounds(self) -> Replicas:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class Scaling(Strict):
    # Queue depth per replica that triggers a scale-out: vllm:num_requests_waiting.
    waiting_requests_target: int = Field(default=5, ge=1, le=1000)
    # Optional second signal: KV-cache usage (0-1) averaged across replicas. Usage never
    # passes 1, and the HPA ignores a ratio within 10% of its target: above 0.9 the
    # trigger could never ask for another replica.
    kv_cache_usage_target: float | None = Field(default=None, gt=0, le=0.9)
    # Longer than a cold start (about 331 s for a 7B model on a new GPU node, docs/performance.md):
    # a shorter window can remove a replica asked for at a brief backlog before it ever serves.
    scale_down_stabilization_seconds: int = Field(default=600, ge=0, le=3600)
    polling_interval_seconds: int = Field(default=15, ge=5, le=300)


# KV-cache offload (raw vLLM): vLLM's in-tree CPU offloading connector.
class KvOffload(Strict):
    # Host memory that holds KV blocks evicted from the GPU; added to the pod's memory
    # request and limit, since the connector allocates it pinned at start-up.
    cpu_memory: str = Field(pattern=r"^\d+(Gi|Ti)$")

    def gib(self) -> int:
        return quantity_bytes(self.cpu_memory) // GIB


# llm-d: prefill/decode disaggregation. Prefill pods compute prompts' KV caches and hand them
# to decode pods over NIXL; llm-d's scheduler decides per request whether to split.
class Disaggregation(Strict):
    prefill: int = Field(ge=1, le=100)
    decode: int = Field(ge=1, le=100)


class Adapter(Strict):
    name: str
    source: str

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return dns_label(value)

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        if not SOURCE_PATTERNS["hf"].match(value):
            raise ValueError(f"adapter source {value!r} must be hf://org/adapter")
        return value


class ModelResources(Strict):
    cpu: str = Field(default="4", pattern=r"^\d+(\.\d+)?m?$")
    memory: str = Field(default="16Gi", pattern=r"^\d+(Ki|Mi|Gi|Ti)$")
    cache_size: str = Field(default="50Gi", pattern=r"^\d+(Mi|Gi|Ti)$")


# --- engine kubeai ---------------------------------------------------------------------
# KubeAI's backends (Model.spec.engine) per task; the first is the default.
KUBEAI_BACKENDS: dict[str, tuple[str, ...]] = {
    "text": ("vllm", "ollama"),
    "embedding": ("infinity", "vllm"),
    "speech": ("faster-whisper",),
}
# Sources KubeAI 0.22.1 reads per backend without a cache profile (Model.spec.url; its s3://
# path needs KubeAI's own AWS credential Secret and an image with the Run:ai streamer, and
# it has no modelcar or image-volume source).
KUBEAI_SOURCES: dict[str, tuple[str, ...]] = {
    "vllm": ("hf", "pvc"),
    "ollama": ("ollama", "pvc"),
    "infinity": ("hf", "pvc"),
    "faster-whisper": ("hf", "pvc"),
}
KubeAIBackend = Literal["vllm", "ollama", "infinity", "faster-whisper"]


class KubeAIOptions(Strict):
    """Options of engine kubeai only (Model fields the raw-vLLM keys do not cover)."""

    # The server process KubeAI runs; unset = the task's default (vllm, infinity, faster-whisper).
    engine: KubeAIBackend | None = None
    # Average in-flight requests per replica KubeAI's autoscaler keeps (Model.spec.targetRequests).
    target_requests: int = Field(default=100, ge=1, le=10000)
    # PrefixHash: KubeAI's proxy hashes the first characters of the prompt onto a ring of
    # replicas (bounded load), so a shared prefix meets a warm KV cache. LeastLoad otherwise.
    load_balancing: Literal["PrefixHash", "LeastLoad"] | None = None
    prefix_char_length: int = Field(default=100, ge=1, le=100000)


class ModelSpec(Strict):
    name: str
    source: str
    engine: Engine = "vllm"
    task: Task = "text"
    gpus: int = Field(default=1, ge=0, le=16)
    gpu_type: str | None = None
    replicas: Replicas = Replicas()
    scaling: Scaling = Scaling()
    engine_args: list[str] = Field(default_factory=list)
    adapters: list[Adapter] = Field(default_factory=list)
    prefix_caching: bool = True
    max_model_len: int | None = Field(default=None, ge=128, le=MAX_MODEL_LEN_CEILING)
    image: str | None = None
    # vLLM extras (pip install vllm[...]) the custom `image` carries; speech needs "audio".
    image_extras: list[VllmExtra] = Field(default_factory=list)
    # Size of the weights in memory, for CPU models whose name does not tell it.
    weights_size: str | None = Field(default=None, pattern=r"^\d+(Mi|Gi|Ti)$")
    resources: ModelResources = ModelResources()
    # Name of a Secret (key HF_TOKEN) materialised by External Secrets or SOPS; never the token.
    hf_token_secret: str | None = None
    # Priority of this model's requests in the Gateway's endpoint picker (an InferenceObjective
    # named after the model; higher is served first under saturation, negative allowed, unset = 0).
    priority: int | None = Field(default=None, ge=-1000, le=1000)
    # engine kubeai only.
    kubeai: KubeAIOptions | None = None
    # KV-cache offload to host memory (text models on GPUs); off unless set.
    kv_offload: KvOffload | None = None
    # llm-d: separate prefill and decode pods (replica counts of each).
    disaggregation: Disaggregation | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return dns_label(value, 40)

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        pattern = SOURCE_PATTERNS.get(source_scheme(value))
        if pattern is None or not pattern.match(value):
            raise ValueError(f"source {value!r} is not one of {SOURCE_HELP}")
        return value

    @field_validator("image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        return None if value is None else check_image(value)

    @field_validator("hf_token_secret")
    @classmethod
    def _secret_name(cls, value: str | None) -> str | None:
        return None if value is None else dns_label(value, 253)

    @field_validator("engine_args")
    @classmethod
    def _engine_args(cls, value: list[str]) -> list[str]:
        flags = engine_flags.load_flags(pinned_vllm_version())
        problems = engine_flags.check(value, flags)
        if problems:
            raise ValueError("; ".join(problems))
        return engine_flags.split_items(value)

    def weights_bytes(self) -> int | None:
        """The weights' size in memory: weightsSize, else from the parameter count in the name."""
        if self.weights_size:
            return quantity_bytes(self.weights_size)
        name = self.source.rstrip("/").rsplit("/", 1)[-1].split("@", 1)[0]
        match = PARAM_COUNT.search(name)
        if not match:
            return None
        params = float(match.group(1)) * (1e9 if match.group(2) == "B" else 1e6)
        per_param = BYTES_PER_PARAM_4BIT if QUANTISED_4BIT.search(name) else BYTES_PER_PARAM
        return math.ceil(params * per_param)

    def cpu_kv_cache_gib(self) -> int:
        """VLLM_CPU_KVCACHE_SPACE: what the memory request leaves after weights and runtime."""
        weights = self.weights_bytes() or 0
        return (quantity_bytes(self.resources.memory) - weights - CPU_RUNTIME_BYTES) // GIB

    def _check_cpu_memory(self) -> None:
        weights = self.weights_bytes()
        if weights is None:
            raise ValueError(
                f"weightsSize: cannot tell the weights' size from the source name {self.source!r} "
                "(no parameter count such as 7B or 360M in it); set weightsSize, e.g. 2Gi, so the "
                "KV cache can be sized from resources.memory"
            )
        memory = quantity_bytes(self.resources.memory)
        needed = weights + CPU_RUNTIME_BYTES + CPU_MIN_KV_BYTES
        if memory < needed:
            raise ValueError(
                f"resources.memory {self.resources.memory} cannot hold this CPU model: weights about "
                f"{gib(weights)} + runtime {gib(CPU_RUNTIME_BYTES)} + KV cache at least "
                f"{gib(CPU_MIN_KV_BYTES)}; set resources.memory to at least {math.ceil(needed / GIB)}Gi"
            )
        if self.max_model_len:
            kv = self.cpu_kv_cache_gib() * GIB
            reach = kv // MIN_KV_BYTES_PER_TOKEN
            if self.max_model_len > reach:
                raise ValueError(
                    f"maxModelLen {self.max_model_len} is beyond what the KV cache of this CPU model can hold "
                    f"({self.cpu_kv_cache_gib()} GiB from resources.memory holds at most {reach} tokens even at "
                    f"{MIN_KV_BYTES_PER_TOKEN // 1024} KiB per token); lower maxModelLen or raise resources.memory"
                )

    def kubeai_backend(self) -> str:
        """KubeAI's server process for this model: kubeai.engine, else the task's default."""
        chosen = self.kubeai.engine if self.kubeai else None
        return chosen or KUBEAI_BACKENDS[self.task][0]

    def _check_kubeai(self) -> None:
        backend = self.kubeai_backend()
        allowed = KUBEAI_BACKENDS[self.task]
        if backend not in allowed:
            raise ValueError(
                f"kubeai.engine {backend!r} cannot serve task {self.task!r}; it is served by: {', '.join(allowed)}"
            )
        scheme = source_scheme(self.source)
        if scheme not in KUBEAI_SOURCES[backend]:
            raise ValueError(
                f"engine 'kubeai' with kubeai.engine {backend!r} reads sources "
                f"{', '.join(s + '://' for s in KUBEAI_SOURCES[backend])}, not {scheme}://"
            )
        if self.adapters and backend != "vllm":
            raise ValueError("LoRA adapters on engine 'kubeai' need kubeai.engine 'vllm'")
        if self.engine_args and backend != "vllm":
            # The flag table the project carries is vLLM's; other servers' flags go unchecked.
            raise ValueError(f"engineArgs are checked against vLLM's flags; kubeai.engine {backend!r} takes none")
        if self.image_extras:
            raise ValueError("imageExtras describes a raw-vLLM image; engine 'kubeai' picks its images per backend")
        if self.max_model_len and backend != "vllm":
            raise ValueError("maxModelLen is a vLLM flag; set it with kubeai.engine 'vllm' only")
        lb = self.kubeai.load_balancing if self.kubeai else None
        if lb == "PrefixHash" and self.task != "text":
            raise ValueError("kubeai.loadBalancing PrefixHash helps text generation only (a shared prompt prefix)")

    def _check_speech(self) -> None:
        # The vLLM GPU image installs vLLM without extras; its transcription endpoint
        # needs the `audio` extra. The CPU image installs vllm[audio,...].
        if self.image is None and self.gpus == 0:
            return
        if self.image is None:
            raise ValueError(
                "task 'speech' on a GPU needs an image with vLLM's audio extra: the stock vllm-openai image "
                "does not carry it. Build one (see docs/models.md), pin it by digest in `image` and declare "
                "imageExtras: [audio]"
            )
        if "audio" not in self.image_extras:
            raise ValueError("task 'speech' needs an image with vLLM's audio extra; declare imageExtras: [audio]")
        if "@sha256:" not in self.image:
            raise ValueError("a speech image built with the audio extra must be pinned by digest (@sha256:...)")

    def _check_llmd(self) -> None:
        # llm-d: fixed replica counts (no KEDA ScaledObject is rendered for its workloads), GPUs
        # only (its image is a CUDA build), and multi-node replicas without a prefill/decode split.
        if self.gpus == 0:
            raise ValueError("engine 'llm-d' serves on GPUs only (its image is a CUDA build); set gpus and gpuType")
        if self.replicas.min != self.replicas.max:
            raise ValueError(
                "engine 'llm-d' runs a fixed number of replicas (no autoscaler is rendered for it): "
                f"set replicas.min = replicas.max (have {self.replicas.min} and {self.replicas.max})"
            )
        if self.disaggregation is not None and "replicas" in self.model_fields_set:
            raise ValueError(
                "with disaggregation, disaggregation.prefill and .decode are the replica counts; drop replicas"
            )
        if self.replicas.min == 0 and self.disaggregation is None:
            raise ValueError("engine 'llm-d' needs at least one replica (replicas.min >= 1)")

    @model_validator(mode="after")
    def _coherent(self) -> ModelSpec:
        allowed = ENGINE_TASKS[self.engine]
        if self.task not in allowed:
            raise ValueError(
                f"engine {self.engine!r} cannot serve task {self.task!r}; it serves: {', '.join(allowed)}"
            )
        if self.engine not in RENDERED_ENGINES:
            raise ValueError(
                f"engine {self.engine!r} is not rendered by this release; available: {', '.join(RENDERED_ENGINES)}"
            )
        if self.gpus > 0 and not self.gpu_type:
            raise ValueError("gpus > 0 needs gpuType (the accelerator of a GPU pool, e.g. nvidia-l4)")
        if self.gpus == 0 and self.gpu_type:
            raise ValueError("gpuType is set but gpus is 0; set gpus or drop gpuType")
        if self.engine == "kubeai":
            self._check_kubeai()
        elif self.kubeai is not None:
            raise ValueError("kubeai options apply to engine 'kubeai' only")
        elif source_scheme(self.source) == "ollama":
            raise ValueError("ollama:// sources are served by engine 'kubeai' with kubeai.engine 'ollama' only")
        if self.engine == "vllm" and self.replicas.min < 1 and self.task != "text":
            # With no replica there is no vllm:num_requests_waiting to wake on; text models
            # wake on their endpoint picker's request count (the stack checks the Gateway is there).
            raise ValueError(
                f"replicas.min 0 needs task 'text' on engine 'vllm' (it scales out from zero on the Gateway's "
                f"endpoint picker, which routes text models only); task {self.task!r} needs replicas.min >= 1"
            )
        if self.kv_offload is not None:
            if self.engine != "vllm":
                raise ValueError(f"kvOffload is rendered for engine 'vllm' only, not {self.engine!r}")
            if self.task != "text" or self.gpus == 0:
                raise ValueError("kvOffload moves a GPU KV cache to host memory: it needs task 'text' and gpus > 0")
        if self.engine == "llm-d":
            self._check_llmd()
        elif self.disaggregation is not None:
            raise ValueError(f"disaggregation is an llm-d feature; engine {self.engine!r} has no prefill/decode split")
        # KServe: scale to zero wakes on requests its endpoint picker turns away, and only
        # text models sit behind one (embeddings are routed straight to KServe's Service).
        if self.engine == "kserve" and self.replicas.min == 0 and self.task != "text":
            raise ValueError(
                "replicas.min 0 with engine 'kserve' needs task 'text' (the scale-from-zero signal comes "
                "from the model's endpoint picker); set replicas.min to at least 1"
            )
        if self.image_extras and self.image is None:
            raise ValueError("imageExtras describes a custom image; set image too (the stock images are known)")
        if self.task == "speech" and self.engine != "kubeai":
            self._check_speech()
        if self.gpus == 0 and not (self.engine == "kubeai" and self.kubeai_backend() != "vllm"):
            self._check_cpu_memory()
        if self.adapters and self.task != "text":
            raise ValueError("LoRA adapters apply to task 'text' only")
        names = [a.name for a in self.adapters]
        if len(set(names)) != len(names):
            raise ValueError("adapter names must be unique")
        return self
