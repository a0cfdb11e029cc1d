"""ModelSpec: everything one served model needs, validated before any resource exists."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from components.config.base import Strict, dns_label

Engine = Literal["vllm", "kserve", "llm-d", "kubeai"]
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
RENDERED_ENGINES = ("vllm",)

SOURCE_PATTERNS = {
    "hf": re.compile(r"^hf://[A-Za-z0-9][\w.-]*/[\w.-]+$"),
    "s3": re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[^\s]*)?$"),
    "pvc": re.compile(r"^pvc://[a-z0-9]([-a-z0-9]*[a-z0-9])?(/[^\s]*)?$"),
    # Modelcars are images and must be digest-pinned: the model is a versioned artifact.
    "oci": re.compile(r"^oci://[^\s@]+@sha256:[a-f0-9]{64}$"),
}
SOURCE_HELP = "hf://org/model, s3://bucket/path, pvc://claim/path or oci://registry/repo@sha256:<digest>"
# Flags the platform sets itself; letting engineArgs override them breaks probes/routing.
MANAGED_FLAGS = ("--model", "--port", "--host", "--served-model-name", "--runner", "--task")
IMAGE_PINNED = re.compile(r"^[^\s:@]+(:[0-9][\w.+-]*|:v[0-9][\w.+-]*)?(@sha256:[a-f0-9]{64})?$")


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
    # Optional second signal: KV-cache usage (0-1) averaged across replicas.
    kv_cache_usage_target: float | None = Field(default=None, gt=0, le=1)
    scale_down_stabilization_seconds: int = Field(default=300, ge=0, le=3600)
    polling_interval_seconds: int = Field(default=15, ge=5, le=300)


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
    max_model_len: int | None = Field(default=None, ge=128)
    image: str | None = None
    resources: ModelResources = ModelResources()
    # Name of a Secret (key HF_TOKEN) materialised by External Secrets or SOPS; never the token.
    hf_token_secret: str | None = None

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
        for arg in value:
            flag = arg.split("=", 1)[0]
            if flag in MANAGED_FLAGS:
                raise ValueError(f"engine arg {flag} is set by the platform; remove it from engineArgs")
        return value

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
        if self.engine == "vllm" and self.replicas.min < 1:
            # With no replica there is no vllm:num_requests_waiting to wake on.
            raise ValueError("replicas.min must be at least 1 for engine 'vllm' (queue-depth scaling needs a replica)")
        if self.adapters and self.task != "text":
            raise ValueError("LoRA adapters apply to task 'text' only")
        names = [a.name for a in self.adapters]
        if len(set(names)) != len(names):
            raise ValueError("adapter names must be unique")
        return self
