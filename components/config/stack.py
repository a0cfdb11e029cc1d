"""StackConfig: the one typed view of a stack's `inference-platform:*` config."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from components.catalog import PROFILES, load_catalog, load_data
from components.config import deployed, plaintext
from components.config.base import Strict, dns_label, key_error
from components.config.gateway import GatewayConfig
from components.config.litellm import LiteLLMConfig
from components.config.modelspec import ModelSpec
from components.config.substrates import SubstrateConfig
from components.config.tenants import Tenant

# Top-level keys that hold secret values. Pulumi marks secrecy per top-level key, so a
# secret never sits inside an object: it gets a key of its own.
SECRET_KEYS = ("kubeconfig", "sopsAgeKey", "supervisorKubeconfig")
# sops is the default backend, so a stack that never chose one meets this first.
SECRET_KEY_HINT = {"sopsAgeKey": "; sops is the default backend, and on kind secrets.backend: none delivers no secrets"}
# What each secret key is read for, and how to set it.
SECRET_KEY_USE = {
    "kubeconfig": ("substrate 'existing'", "< cluster.kubeconfig"),
    "supervisorKubeconfig": ("substrate 'vks'", "< supervisor-kubeconfig"),
    "sopsAgeKey": ("secrets.backend 'sops'", "AGE-SECRET-KEY-1..."),
}
# Namespaces Kubernetes itself owns.
RESERVED_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")


def needed_secret_keys(kind: Any, backend: Any) -> set[str]:
    """The secret keys a stack must hold, from its substrate kind and secrets backend.

    The validator enforces these and offline runs stand placeholders in for them: one rule.
    """
    need = set()
    if kind == "existing":
        need.add("kubeconfig")
    if kind == "vks":
        need.add("supervisorKubeconfig")
    if backend == "sops":
        # Without the key the operator's key Secret never exists and its pod never starts,
        # on kind as anywhere else.
        need.add("sopsAgeKey")
    return need


def used_namespaces() -> dict[str, str]:
    """Namespace -> what already lives there: Kubernetes, catalog components, the model servers."""
    used = {entry.namespace: f"component {entry.name}" for entry in load_catalog().values()}
    used[load_data("serving/vllm.yaml")["namespace"]] = "the model servers"
    # Last, so a system namespace a component also installs into is named for its real owner.
    used.update(dict.fromkeys(RESERVED_NAMESPACES, "Kubernetes itself"))
    return used


class ArgoCdConfig(Strict):
    # HA: redis-ha and replicated server/repo-server/applicationset controllers.
    ha: bool = False
    namespace: str = "argocd"

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        dns_label(value)
        used = used_namespaces()
        if value in used:
            # Argo CD's AppProjects and Applications live here; sharing it mixes owners and,
            # for a namespace Pulumi creates for a bootstrap secret, registers it twice.
            raise ValueError(
                f"{value!r} is already used by {used[value]}; Argo CD needs a namespace of its own, "
                f"not one of: {', '.join(sorted(used))}"
            )
        return value


class SecretsConfig(Strict):
    # external-secrets: a cloud secret manager through workload identity (GKE);
    # sops: SopsSecret objects decrypted in-cluster with the age key (secret zero);
    # none: no secret delivery at all, allowed only for the local kind stack.
    backend: Literal["external-secrets", "sops", "none"] = "sops"


class ComponentOverride(Strict):
    enabled: bool = True
    # Deep-merged over the catalog's base values and the values computed from ClusterFacts.
    values: dict[str, Any] = Field(default_factory=dict)


def _section(raw: Any) -> Mapping[str, Any]:
    """A raw config section as a mapping, or empty when it is not one (validation says why)."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
    return raw if isinstance(raw, Mapping) else {}


class StackConfig(Strict):
    substrate: SubstrateConfig
    profile: Literal["platform", "serving", "llm-gateway", "full"] = "serving"
    # Secure default: cluster and stateful cloud resources refuse deletion unless a stack opts out.
    protect: bool = True
    argocd: ArgoCdConfig = ArgoCdConfig()
    secrets: SecretsConfig = SecretsConfig()
    components: dict[str, ComponentOverride] = Field(default_factory=dict)
    models: list[ModelSpec] = Field(default_factory=list)
    tenants: list[Tenant] = Field(default_factory=list)
    litellm: LiteLLMConfig = LiteLLMConfig()
    gateway: GatewayConfig = GatewayConfig()
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

    @field_validator("components")
    @classmethod
    def _no_plain_secrets(cls, value: dict[str, ComponentOverride]) -> dict[str, ComponentOverride]:
        for name, override in value.items():
            for path in plaintext.plain_secrets(override.values):
                raise key_error(f"{name}.values.{path}", plaintext.HELP)
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
        backend = self.secrets.backend
        if backend == "external-secrets" and kind != "gke":
            raise ValueError(
                f"secrets.backend 'external-secrets' needs a cloud secret manager with workload identity "
                f"(substrate gke); substrate {kind!r} supports: sops"
            )
        if backend == "none" and kind != "kind":
            raise ValueError("secrets.backend 'none' is allowed only on substrate 'kind'; use sops or external-secrets")
        self._check_models()
        return self

    @model_validator(mode="after")
    def _secret_keys(self) -> StackConfig:
        kind = self.substrate.kind
        given = {
            "kubeconfig": self.kubeconfig,
            "supervisorKubeconfig": self.supervisor_kubeconfig,
            "sopsAgeKey": self.sops_age_key,
        }
        need = needed_secret_keys(kind, self.secrets.backend)
        for key in SECRET_KEYS:
            use, how = SECRET_KEY_USE[key]
            if key in need and given[key] is None:
                raise key_error(
                    key,
                    f"{use} needs the secret key {key} (pulumi config set --secret inference-platform:{key} {how})"
                    + SECRET_KEY_HINT.get(key, ""),
                )
            # The age key may also serve a kind stack's sops backend; the kubeconfigs serve one substrate only.
            if key != "sopsAgeKey" and key not in need and given[key] is not None:
                raise key_error(key, f"{key} is read only for {use}; substrate {kind!r} does not read it")
        return self

    @classmethod
    def required_secrets(cls, values: Mapping[str, Any]) -> set[str]:
        """The secret keys raw config (keys without the namespace) needs, by the validator's rule.

        Tolerant of malformed sections: validation reports those; this only has to not fail first.
        """
        kind = _section(values.get("substrate")).get("kind")
        backend = _section(values.get("secrets")).get("backend", SecretsConfig.model_fields["backend"].default)
        return needed_secret_keys(kind, backend)

    @property
    def engines(self) -> frozenset[str]:
        """The serving engines this stack's models use."""
        return frozenset(m.engine for m in self.models)

    @property
    def gpu_stack(self) -> str:
        """How GPUs are driven on this stack's substrate (ClusterFacts.gpu_stack)."""
        return deployed.gpu_stack(self.substrate)

    @model_validator(mode="after")
    def _needed_components(self) -> StackConfig:
        """A component turned off while something this stack deploys relies on it."""
        for name, (why, otherwise) in deployed.needed_components(self).items():
            if not self.enabled(name):
                raise key_error(
                    f"components.{name}.enabled",
                    f"{name} is turned off, but {why}; keep it enabled (remove `enabled: false`) or {otherwise}",
                )
        return self

    @model_validator(mode="after")
    def _deployed_components(self) -> StackConfig:
        """Values (or an explicit `enabled: true`) for a component this stack does not deploy."""
        catalog = load_catalog()
        for name, override in self.components.items():
            why = deployed.not_deployed(self, catalog[name])
            if why and "enabled" in override.model_fields_set and override.enabled:
                raise key_error(f"components.{name}.enabled", f"{name} cannot be enabled on this stack: {why}")
            if not override.enabled:
                why = why or "it is turned off (enabled: false)"
            if why and override.values:
                raise key_error(
                    f"components.{name}.values",
                    f"values for {name}, which this stack does not deploy: {why}; remove them",
                )
        return self

    @model_validator(mode="after")
    def _tenants(self) -> StackConfig:
        """Tenants name models that exist and limits that something enforces."""
        if not self.tenants:
            return self
        if "llm-gateway" not in self.layers:
            raise key_error(
                "tenants", f"tenants need the llm-gateway layer; profile {self.profile!r} does not include it"
            )
        names = [t.name for t in self.tenants]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise key_error("tenants", f"tenant names must be unique; repeated: {', '.join(dupes)}")
        callable_ = {m.name for m in self.models} | {a.name for m in self.models for a in m.adapters}
        for i, tenant in enumerate(self.tenants):
            unknown = [m for m in tenant.models if m not in callable_]
            if unknown:
                have = ", ".join(sorted(callable_)) or "none"
                raise key_error(
                    f"tenants[{i}].models",
                    f"tenant {tenant.name!r} names {', '.join(unknown)}, which no model or adapter is; "
                    f"models and adapters: {have}",
                )
            # A limit nothing enforces would look like a control and be none.
            if not self.enabled("litellm"):
                raise key_error(
                    f"tenants[{i}].monthlyBudget",
                    "budgets, TPM and RPM are enforced by LiteLLM, which is turned off; enable litellm",
                )
            for key, value in (("rateLimit", tenant.rate_limit), ("quota", tenant.quota)):
                if value is not None and not self.enabled("tyk"):
                    raise key_error(
                        f"tenants[{i}].{key}", f"{key} is enforced by Tyk, which is turned off; enable tyk or remove it"
                    )
            if tenant.oidc_group is not None and not self.enabled("tyk"):
                raise key_error(
                    f"tenants[{i}].oidcGroup", "JWTs are verified by Tyk, which is turned off; enable tyk or remove it"
                )
            if tenant.oidc_group is not None and self.gateway.oidc is None:
                raise key_error(
                    f"tenants[{i}].oidcGroup",
                    "an OIDC group needs the provider whose JWTs Tyk verifies: set gateway.oidc.jwksUri",
                )
        return self

    @model_validator(mode="after")
    def _litellm(self) -> StackConfig:
        """Aliases and fallbacks name models that exist; an alias does not hide a model."""
        callable_ = {m.name for m in self.models} | {a.name for m in self.models for a in m.adapters}
        have = ", ".join(sorted(callable_)) or "none"
        for alias, target in self.litellm.aliases.items():
            if alias in callable_:
                raise key_error(f"litellm.aliases.{alias}", f"{alias!r} is already a model or adapter name")
            if target not in callable_:
                raise key_error(f"litellm.aliases.{alias}", f"{target!r} is no model or adapter; have: {have}")
        for model, targets in self.litellm.fallbacks.items():
            for name in [model, *targets]:
                if name not in callable_:
                    raise key_error(f"litellm.fallbacks.{model}", f"{name!r} is no model or adapter; have: {have}")
            if model in targets:
                raise key_error(f"litellm.fallbacks.{model}", f"{model!r} cannot fall back to itself")
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
        # Substrates that know their Kubernetes release say whether pods can mount OCI images.
        image_volumes = getattr(self.substrate, "image_volumes", True)
        for i, model in enumerate(self.models):
            if model.engine == "vllm" and model.replicas.min == 0:
                self._check_scale_from_zero(i, model)
            if model.engine == "llm-d" and ("llm-gateway" not in self.layers or not self.enabled("inferencepool")):
                raise key_error(
                    f"models[{i}].engine",
                    f"{model.name}: llm-d models are reached through the Gateway, where their InferencePool and "
                    f"llm-d's scheduler run: use a profile with the llm-gateway layer (llm-gateway or full) and "
                    f"keep the inferencepool component on; profile {self.profile!r}",
                )
            # KServe delivers a modelcar as a sidecar container sharing /mnt/models, no image volume.
            if model.source.startswith("oci://") and not image_volumes and model.engine != "kserve":
                raise ValueError(
                    f"models[{i}] ({model.name}) is an oci:// modelcar, mounted as an image volume, but the "
                    f"ImageVolume feature is on by default only from Kubernetes 1.35 and this {self.substrate.kind} "
                    f"cluster is older (docs/substrates/{self.substrate.kind}.md); use another source or release"
                )
            # KServe: a model at zero replicas wakes on requests its endpoint picker turns away.
            wakes = "llm-gateway" in self.layers and self.enabled("inferencepool")
            if model.engine == "kserve" and model.replicas.min == 0 and not wakes:
                raise key_error(
                    f"models[{i}].replicas.min",
                    f"{model.name}: engine 'kserve' scales out from zero on requests its endpoint picker turns "
                    "away, which needs the llm-gateway layer (profile llm-gateway or full) with component "
                    "inferencepool; set replicas.min to at least 1",
                )
            if model.gpus == 0:
                continue
            pool = pools.get(model.gpu_type or "")
            if pool is None:
                have = ", ".join(sorted(pools)) or "none"
                raise ValueError(
                    f"models[{i}] ({model.name}) wants gpuType {model.gpu_type!r}, but the substrate's "
                    f"GPU pools offer: {have}"
                )
            if model.engine == "llm-d" and model.gpus > pool.count:
                self._check_multinode(i, model, pool.name, pool.count)
            elif model.gpus > pool.count:
                raise ValueError(
                    f"models[{i}] ({model.name}) wants {model.gpus} GPUs per replica; pool {pool.name!r} "
                    f"nodes have {pool.count}"
                )

    @staticmethod
    def _check_multinode(i: int, model: ModelSpec, pool: str, per_node: int) -> None:
        """llm-d spreads a replica over several nodes (a LeaderWorkerSet group), each node's GPUs whole."""
        if model.gpus % per_node:
            raise key_error(
                f"models[{i}].gpus",
                f"{model.name} wants {model.gpus} GPUs per replica, more than a node of pool {pool!r} has "
                f"({per_node}); across nodes it must be a multiple of {per_node}",
            )
        if model.disaggregation is not None:
            raise key_error(
                f"models[{i}].disaggregation",
                f"{model.name}: a multi-node replica ({model.gpus} GPUs over nodes of {per_node}) with a "
                "prefill/decode split is not rendered by this release; fit a replica on one node or drop "
                "disaggregation",
            )

    def _check_scale_from_zero(self, i: int, model: ModelSpec) -> None:
        """A raw-vLLM model at zero replicas wakes on its endpoint picker's request count: the
        llm-gateway layer's InferencePool must exist, and requests must reach it."""
        if "llm-gateway" not in self.layers or not self.enabled("inferencepool"):
            raise key_error(
                f"models[{i}].replicas.min",
                f"{model.name}: replicas.min 0 scales out on the requests its InferencePool's endpoint picker "
                f"counts, which exists only with the llm-gateway layer and its inferencepool component; "
                f"profile {self.profile!r}"
                + ("" if "llm-gateway" not in self.layers else " has inferencepool turned off")
                + ". Use a profile with llm-gateway (llm-gateway or full) or set replicas.min to 1",
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

