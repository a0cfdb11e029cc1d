"""StackConfig: the one typed view of a stack's `inference-platform:*` config."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from components.catalog import PROFILES, load_catalog
from components.config.base import Strict
from components.config.modelspec import ModelSpec
from components.config.substrates import SubstrateConfig

# Top-level keys that hold secret values. Pulumi marks secrecy per top-level key, so a
# secret never sits inside an object: it gets a key of its own.
SECRET_KEYS = ("kubeconfig", "sopsAgeKey", "supervisorKubeconfig")


class ArgoCdConfig(Strict):
    # HA: redis-ha and replicated server/repo-server/applicationset controllers.
    ha: bool = False
    namespace: str = "argocd"


class SecretsConfig(Strict):
    # external-secrets: a cloud secret manager through workload identity (GKE);
    # sops: SopsSecret objects decrypted in-cluster with the age key (secret zero);
    # none: no secret delivery at all, allowed only for the local kind stack.
    backend: Literal["external-secrets", "sops", "none"] = "sops"


class ComponentOverride(Strict):
    enabled: bool = True
    # Deep-merged over the catalog's base values and the values computed from ClusterFacts.
    values: dict[str, Any] = Field(default_factory=dict)


class StackConfig(Strict):
    substrate: SubstrateConfig
    profile: Literal["platform", "serving", "llm-gateway", "full"] = "serving"
    # Secure default: cluster and stateful cloud resources refuse deletion unless a stack opts out.
    protect: bool = True
    argocd: ArgoCdConfig = ArgoCdConfig()
    secrets: SecretsConfig = SecretsConfig()
    components: dict[str, ComponentOverride] = Field(default_factory=dict)
    models: list[ModelSpec] = Field(default_factory=list)
    kubeconfig: SecretStr | None = None
    sops_age_key: SecretStr | None = None
    supervisor_kubeconfig: SecretStr | None = None

    @field_validator("components")
    @classmethod
    def _known_components(cls, value: dict[str, ComponentOverride]) -> dict[str, ComponentOverride]:
        known = sorted(load_catalog())
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise ValueError(f"unknown component(s) {', '.join(unknown)}; the catalog has: {', '.join(known)}")
        return value

    @field_validator("sops_age_key")
    @classmethod
    def _age_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("AGE-SECRET-KEY-1"):
            raise ValueError("sopsAgeKey is not an age identity (it starts with AGE-SECRET-KEY-1)")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> StackConfig:
        kind = self.substrate.kind
        layers = PROFILES[self.profile]
        catalog = load_catalog()
        for layer in layers:
            if layer != "serving" and not any(c.layer == layer for c in catalog.values()):
                raise ValueError(
                    f"profile {self.profile!r} needs layer {layer!r}, which has no components yet; "
                    f"use one of: {', '.join(p for p, ls in PROFILES.items() if set(ls) <= _filled_layers())}"
                )
        if self.models and "serving" not in layers:
            raise ValueError(f"models are configured but profile {self.profile!r} has no serving layer")
        if kind == "existing" and self.kubeconfig is None:
            raise ValueError("substrate 'existing' needs the secret key kubeconfig "
                             "(pulumi config set --secret inference-platform:kubeconfig < file)")
        if kind != "existing" and self.kubeconfig is not None:
            raise ValueError(f"kubeconfig is only read for substrate 'existing'; substrate {kind!r} makes its own")
        if (kind == "vks") != (self.supervisor_kubeconfig is not None):
            raise ValueError(
                "supervisorKubeconfig is required for substrate 'vks' and read by no other substrate "
                "(pulumi config set --secret inference-platform:supervisorKubeconfig < supervisor-kubeconfig)"
            )
        backend = self.secrets.backend
        if backend == "external-secrets" and kind != "gke":
            raise ValueError(
                f"secrets.backend 'external-secrets' needs a cloud secret manager with workload identity "
                f"(substrate gke); substrate {kind!r} supports: sops"
            )
        if backend == "none" and kind != "kind":
            raise ValueError("secrets.backend 'none' is allowed only on substrate 'kind'; use sops or external-secrets")
        if backend == "sops" and self.sops_age_key is None:
            # Without the key the operator's key Secret never exists and its pod never starts,
            # on kind as anywhere else.
            hint = "; or, on kind only, secrets.backend: none for no secret delivery" if kind == "kind" else ""
            raise ValueError(
                "secrets.backend 'sops' needs the secret key sopsAgeKey (sops is the default backend): "
                "pulumi config set --secret inference-platform:sopsAgeKey AGE-SECRET-KEY-1..." + hint
            )
        self._check_models()
        return self

    def _check_models(self) -> None:
        names = [m.name for m in self.models]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"model names must be unique; repeated: {', '.join(dupes)}")
        declared = list(getattr(self.substrate, "gpu_pools", []))
        pools = {p.accelerator: p for p in declared}
        if len(pools) != len(declared):
            # Models pick their pool by accelerator, so two pools of one type would be ambiguous.
            raise ValueError("substrate.gpuPools: each pool needs its own accelerator type")
        for i, model in enumerate(self.models):
            if model.gpus == 0:
                continue
            pool = pools.get(model.gpu_type or "")
            if pool is None:
                have = ", ".join(sorted(pools)) or "none"
                raise ValueError(
                    f"models[{i}] ({model.name}) wants gpuType {model.gpu_type!r}, but the substrate's "
                    f"GPU pools offer: {have}"
                )
            if model.gpus > pool.count:
                raise ValueError(
                    f"models[{i}] ({model.name}) wants {model.gpus} GPUs per replica; pool {pool.name!r} "
                    f"nodes have {pool.count}"
                )

    def enabled(self, component: str) -> bool:
        override = self.components.get(component)
        return override.enabled if override else True

    def overrides(self, component: str) -> dict[str, Any]:
        override = self.components.get(component)
        return dict(override.values) if override else {}

    @property
    def layers(self) -> tuple[str, ...]:
        return PROFILES[self.profile]


def _filled_layers() -> set[str]:
    return {"serving"} | {c.layer for c in load_catalog().values()}

