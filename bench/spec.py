"""What one benchmark run is: which model, through which hop, which workload, which sweep."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Hop = Literal["pods", "pool", "litellm", "edge"]
HOPS: tuple[str, ...] = ("pods", "pool", "litellm", "edge")


class BenchSpec(BaseModel):
    """A benchmark run's knobs. Unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hop: Hop = "pods"
    # The tenant whose key hops litellm and edge send (default: the first allowed the model).
    tenant: str | None = None
    workload: str = "chat"
    # A closed-loop sweep over concurrency levels, or an open-loop one over request rates (req/s).
    mode: Literal["concurrency", "rate"] = "concurrency"
    steps: tuple[float, ...] = (1, 2, 4, 8, 16, 32)
    step_seconds: int = Field(default=60, ge=1, le=3600)
    # Requests answered after a step's duration still count if they finish within this.
    grace_seconds: int = Field(default=30, ge=0, le=600)
    warmup_requests: int = Field(default=4, ge=0, le=1000)
    # Tokenizer for synthetic prompts: default is the model's own (hf:// sources).
    tokenizer: str | None = None
    seed: int = 42

    @field_validator("steps")
    @classmethod
    def _steps(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value:
            raise ValueError("steps must name at least one concurrency level or request rate")
        if any(v <= 0 for v in value):
            raise ValueError("steps must be positive")
        if list(value) != sorted(set(value)):
            raise ValueError("steps must be strictly increasing")
        return value

    def step_values(self) -> list[int | float]:
        """Concurrency levels are whole numbers; request rates may be fractions."""
        if self.mode == "concurrency":
            if any(v != int(v) for v in self.steps):
                raise ValueError("concurrency steps must be whole numbers")
            return [int(v) for v in self.steps]
        return list(self.steps)


@dataclass(frozen=True)
class Target:
    """Where the load generator sends requests, and as which model."""

    hop: str
    url: str
    model: str


def pods_target(model: str, namespace: str, port: int, tls: bool = False) -> Target:
    """A model's pods through its ClusterIP Service: no gateway, no router in the path. With
    `tls`, by the name its certificate carries (components/serving/serving_tls.py)."""
    scheme = "https" if tls else "http"
    return Target("pods", f"{scheme}://{model}.{namespace}.svc.cluster.local:{port}", model)
