"""What each layer's root carries: child Applications for catalog charts and for
first-party manifests, plus the AppProject that fences the layer in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.applications import (
    ROOTS_PROJECT,
    app_project,
    application,
    chart_source,
    manifests_source,
    root_application,
)
from components.catalog import CatalogEntry, load_catalog, manifests_chart
from components.computed_values import computed_values
from components.config import StackConfig
from components.config.stack import RESERVED_NAMESPACES
from components.gateway.layer import CLUSTER_KINDS as GATEWAY_CLUSTER_KINDS
from components.gateway.layer import gateway_children
from components.serving import serving_tls
from components.serving.engines import render_model
from components.serving.kubeai import chart_values as kubeai_chart_values
from components.serving.kubeai import namespace as kubeai_namespace
from components.serving.vllm import settings as vllm_settings
from components.shards import root_names, shard, stages
from components.values import deep_merge

MODEL_WAVE = 10
# After external-secrets (wave 0), whose CRDs and webhook the store needs.
SECRET_STORE_WAVE = 5
# After cert-manager (wave 0), whose CRDs and webhook the issuers need.
MODEL_SERVING_PKI_WAVE = 5
CLUSTER_ISSUER_KIND = {"group": "cert-manager.io", "kind": "ClusterIssuer"}

# Cluster-scoped kinds each layer's upstream charts need; nothing else is allowed.
PLATFORM_CLUSTER_KINDS = [
    {"group": "", "kind": "Namespace"},
    {"group": "apiextensions.k8s.io", "kind": "CustomResourceDefinition"},
    {"group": "rbac.authorization.k8s.io", "kind": "ClusterRole"},
    {"group": "rbac.authorization.k8s.io", "kind": "ClusterRoleBinding"},
    {"group": "admissionregistration.k8s.io", "kind": "MutatingWebhookConfiguration"},
    {"group": "admissionregistration.k8s.io", "kind": "ValidatingWebhookConfiguration"},
    {"group": "apiregistration.k8s.io", "kind": "APIService"},
    {"group": "scheduling.k8s.io", "kind": "PriorityClass"},
    {"group": "node.k8s.io", "kind": "RuntimeClass"},
    {"group": "nvidia.com", "kind": "ClusterPolicy"},
    # The GPU Operator's bundled Node Feature Discovery ships cluster-scoped rules.
    {"group": "nfd.k8s-sigs.io", "kind": "NodeFeatureRule"},
    {"group": "external-secrets.io", "kind": "ClusterSecretStore"},
    # The hcloud CSI driver (substrate hetzner) registers its driver and the hcloud-volumes class.
    {"group": "storage.k8s.io", "kind": "CSIDriver"},
    {"group": "storage.k8s.io", "kind": "StorageClass"},
]
SERVING_CLUSTER_KINDS = [{"group": "", "kind": "Namespace"}]
# KServe's controller chart ships the storage initializer's default ClusterStorageContainer.
KSERVE_CLUSTER_KINDS = [{"group": "serving.kserve.io", "kind": "ClusterStorageContainer"}]


@dataclass(frozen=True)
class Layer:
    name: str
    project: dict[str, Any]
    children: list[dict[str, Any]]


def _enabled_entries(cfg: StackConfig, facts: dict[str, Any], layer: str) -> list[CatalogEntry]:
    entries = [
        e
        for e in load_catalog().values()
        if e.layer == layer
        and cfg.enabled(e.name)
        and e.applies(facts["gpuStack"], cfg.secrets.backend, facts["substrate"], cfg.engines)
    ]
    return sorted(entries, key=lambda e: (e.wave, e.name))


def _model_values(name: str, cfg: StackConfig, facts: dict[str, Any]) -> dict[str, Any]:
    """Values of an engine's operator chart that depend on the stack's models."""
    return kubeai_chart_values(facts, list(cfg.models)) if name == "kubeai" else {}


def _chart_child(entry: CatalogEntry, cfg: StackConfig, facts: dict[str, Any], owned: set[str]) -> dict[str, Any]:
    computed = deep_merge(computed_values(entry.name, facts), _model_values(entry.name, cfg, facts))
    values = deep_merge(entry.values, computed, cfg.overrides(entry.name))
    return application(
        entry.name,
        project=entry.layer,
        namespace=entry.namespace,
        source=chart_source(entry.chart, values, entry.name),
        argocd_namespace=cfg.argocd.namespace,
        wave=entry.wave,
        # A namespace Pulumi created for bootstrap secrets is Pulumi's, never shared with Argo CD;
        # one Kubernetes made (kube-system) keeps its own labels: no Pod Security labels from us.
        create_namespace=entry.namespace not in owned and entry.namespace not in RESERVED_NAMESPACES,
        server_side_apply=entry.server_side_apply,
        pod_security=entry.pod_security,
        labels={"inference-platform/layer": entry.layer},
    )


def secret_store(facts: dict[str, Any]) -> dict[str, Any]:
    """The ClusterSecretStore External Secrets reads the cloud secret manager through."""
    store = facts["secretStore"]
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ClusterSecretStore",
        "metadata": {"name": "cloud-secrets", "labels": {"app.kubernetes.io/part-of": "inference-platform"}},
        "spec": {"provider": {"gcpsm": {"projectID": store["project"]}}},
    }


def platform_children(cfg: StackConfig, facts: dict[str, Any], owned: set[str]) -> list[dict[str, Any]]:
    entries = _enabled_entries(cfg, facts, "platform")
    children = [_chart_child(e, cfg, facts, owned) for e in entries]
    if cfg.secrets.backend == "external-secrets" and cfg.enabled("external-secrets"):
        children.append(
            application(
                "secret-store",
                project="platform",
                namespace="external-secrets",
                source=manifests_source([secret_store(facts)], "secret-store"),
                argocd_namespace=cfg.argocd.namespace,
                wave=SECRET_STORE_WAVE,
                create_namespace=False,
                labels={"inference-platform/layer": "platform"},
            )
        )
    tls = serving_tls.settings(cfg, facts)
    if tls is not None:
        namespace = load_catalog()["cert-manager"].namespace
        children.append(
            application(
                "model-serving-pki",
                project="platform",
                namespace=namespace,
                source=manifests_source(serving_tls.pki_objects(tls, namespace), "model-serving-pki"),
                argocd_namespace=cfg.argocd.namespace,
                wave=MODEL_SERVING_PKI_WAVE,
                create_namespace=False,
                labels={"inference-platform/layer": "platform"},
            )
        )
    return children


def serving_children(cfg: StackConfig, facts: dict[str, Any]) -> list[dict[str, Any]]:
    namespace = vllm_settings()["namespace"]
    return [
        application(
            f"model-{model.name}",
            project="serving",
            # KubeAI reconciles Models in its own namespace, which its platform chart creates.
            namespace=kubeai_namespace() if model.engine == "kubeai" else namespace,
            create_namespace=model.engine != "kubeai",
            source=manifests_source(
                render_model(
                    model,
                    facts,
                    namespace,
                    serving_tls.for_model(cfg, facts, model),
                    serving_tls.behind_pool(cfg, model),
                ),
                f"model-{model.name}",
            ),
            argocd_namespace=cfg.argocd.namespace,
            wave=MODEL_WAVE,
            labels={"inference-platform/layer": "serving", "inference-platform/model": model.name},
        )
        for model in cfg.models
    ]


def _project(layer: str, children: list[dict[str, Any]], cfg: StackConfig) -> dict[str, Any]:
    repos = [c["spec"]["source"]["repoURL"] for c in children] + [manifests_chart().repo_url]
    namespaces = [c["spec"]["destination"]["namespace"] for c in children]
    if layer == "platform":
        # kube-system: charts that install into it (e.g. KEDA's auth reader RoleBinding).
        namespaces.append("kube-system")
    kinds = {
        "platform": PLATFORM_CLUSTER_KINDS,
        "serving": SERVING_CLUSTER_KINDS,
        "llm-gateway": [*SERVING_CLUSTER_KINDS, *GATEWAY_CLUSTER_KINDS],
    }[layer]
    if layer == "platform" and "kserve" in cfg.engines:
        kinds = [*kinds, *KSERVE_CLUSTER_KINDS]
    if any(c["metadata"]["name"] == "model-serving-pki" for c in children):
        kinds = [*kinds, CLUSTER_ISSUER_KIND]
    return app_project(
        layer,
        description=f"inference-platform {layer} layer",
        source_repos=repos,
        namespaces=namespaces or [vllm_settings()["namespace"]],
        cluster_resources=kinds,
        argocd_namespace=cfg.argocd.namespace,
    )


def roots_project(cfg: StackConfig) -> dict[str, Any]:
    """Roots may only create Applications in the Argo CD namespace, from the manifests chart."""
    return app_project(
        ROOTS_PROJECT,
        description="inference-platform roots: the app-of-apps roots of each layer",
        source_repos=[manifests_chart().repo_url],
        namespaces=[cfg.argocd.namespace],
        cluster_resources=[],
        namespace_resources=[{"group": "argoproj.io", "kind": "Application"}],
        argocd_namespace=cfg.argocd.namespace,
    )


def build_layers(cfg: StackConfig, facts: dict[str, Any], owned_namespaces: set[str]) -> list[Layer]:
    """Every layer of the profile with its project and children; pure."""
    builders = {
        "platform": lambda: platform_children(cfg, facts, owned_namespaces),
        "serving": lambda: serving_children(cfg, facts),
        "llm-gateway": lambda: gateway_children(cfg, facts),
    }
    layers = []
    for name in cfg.layers:
        children = builders[name]()
        layers.append(Layer(name=name, project=_project(name, children, cfg), children=children))
    return layers


def layer_roots(layer: Layer, argocd_namespace: str, wait_healthy: bool) -> list[list[dict[str, Any]]]:
    """The root Applications of a layer, in stages: one root, or several when its children
    would not fit one object. Roots of a stage followed by another stage (or, with
    `wait_healthy`, by a later layer) report created only once Healthy."""
    groups = shard(layer.name, layer.children)
    names = iter(root_names(layer.name, len(groups)))
    planned = stages(layer.children, groups)
    return [
        [
            root_application(next(names), layer.name, group, argocd_namespace, wait_healthy or i < len(planned) - 1)
            for group in stage
        ]
        for i, stage in enumerate(planned)
    ]
