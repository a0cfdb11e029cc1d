"""Tenants: who may call which models, at what budget and rate. Drives LiteLLM teams and keys
and Tyk policies; keys themselves are generated in the cluster, never in config."""

from __future__ import annotations

from pydantic import Field, field_validator

from components.config.base import Strict, dns_label


class RateLimit(Strict):
    """Tyk rate limit: at most `requests` per `perSeconds` seconds, per key."""

    requests: int = Field(ge=1, le=1_000_000)
    per_seconds: int = Field(default=1, ge=1, le=86_400)


class Quota(Strict):
    """Tyk quota: at most `requests` per period; the counter resets after `periodSeconds`."""

    requests: int = Field(ge=1, le=1_000_000_000)
    period_seconds: int = Field(default=2_592_000, ge=60, le=31_622_400)


class Tenant(Strict):
    name: str
    # Model names (or LoRA adapter names) this tenant may call.
    models: list[str] = Field(min_length=1)
    # LiteLLM budget in US dollars per month; spending stops at it (fail closed).
    monthly_budget: float = Field(gt=0, le=10_000_000)
    tpm: int | None = Field(default=None, ge=1, description="LiteLLM tokens per minute")
    rpm: int | None = Field(default=None, ge=1, description="LiteLLM requests per minute")
    rate_limit: RateLimit | None = None
    quota: Quota | None = None
    # Members of this OIDC group may call with a JWT instead of a key (Tyk JWT auth).
    oidc_group: str | None = Field(default=None, min_length=1, max_length=256)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        # Names Secrets and LiteLLM teams: a DNS label, short enough for `tenant-<name>-key`.
        return dns_label(value, 40)

    @field_validator("models")
    @classmethod
    def _unique_models(cls, value: list[str]) -> list[str]:
        dupes = sorted({m for m in value if value.count(m) > 1})
        if dupes:
            raise ValueError(f"models lists {', '.join(dupes)} more than once")
        return value
