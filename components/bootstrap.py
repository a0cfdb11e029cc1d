"""The in-cluster bootstrap: provider, Argo CD, bootstrap secrets, AppProjects, the roots of each layer."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.argocd import ArgoCd, ArgoCdArgs, bootstrap_namespace
from components.catalog import load_catalog
from components.config import StackConfig
from components.layers import build_layers, layer_roots, roots_project
from contract.facts import ClusterFacts

SOPS_COMPONENT = "sops-secrets-operator"
SOPS_KEY_SECRET = "sops-age-key"
GRAFANA_COMPONENT = "kube-prometheus-stack"
GRAFANA_ADMIN_SECRET = "grafana-admin"

# A root whose layer another layer follows waits until Argo CD reports it Synced and
# Healthy: a platform bring-up (GPU driver builds, nodes scaling up from zero, Prometheus
# volumes) takes longer than the provider's 10-minute default. Delete waits for the cascade:
# Argo CD deletes every child and what the child deployed before the root goes.
ROOT_TIMEOUTS = pulumi.CustomTimeouts(create="45m", update="45m", delete="30m")


def cluster_identifier(facts: ClusterFacts) -> str | None:
    """What the in-cluster provider is replaced on; a changed kubeconfig alone updates it.

    Without it the provider is replaced whenever the kubeconfig's active cluster entry
    changes or is unknown in preview (a rotated CA, a new endpoint, a cluster update), and
    with it Argo CD and the roots, whose cascade deletes every workload. kind is the
    exception: nothing rotates there, and a recreated kind cluster (same name, new CA) must
    take the bootstrap with it, which the provider's own kubeconfig comparison does.
    """
    if facts.substrate == "kind":
        return None
    return f"{facts.substrate}/{facts.cluster_name}"


@dataclass(frozen=True)
class PlatformBootstrapArgs:
    config: StackConfig
    facts: ClusterFacts


def _custom(name: str, obj: dict, opts: pulumi.ResourceOptions) -> k8s.apiextensions.CustomResource:
    meta = obj["metadata"]
    return k8s.apiextensions.CustomResource(
        name,
        api_version=obj["apiVersion"],
        kind=obj["kind"],
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=meta["name"],
            namespace=meta.get("namespace"),
            labels=meta.get("labels"),
            annotations=meta.get("annotations"),
            finalizers=meta.get("finalizers"),
        ),
        spec=obj["spec"],
        opts=opts,
    )


class PlatformBootstrap(pulumi.ComponentResource):
    """Hands the cluster to Argo CD: after this, Argo CD owns every workload object."""

    argocd_namespace: pulumi.Output[str]
    roots: pulumi.Output[list[str]]
    grafana_admin_password: pulumi.Output[str] | None

    def __init__(self, name: str, args: PlatformBootstrapArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("inference-platform:bootstrap:PlatformBootstrap", name, None, opts)
        cfg, facts = args.config, args.facts
        # Everything Argo CD will be given is planned (and refused if too big) before any
        # in-cluster resource is registered.
        owned = {cfg.argocd.namespace} | {load_catalog()[c].namespace for c in _key_holders(cfg)}
        layers = build_layers(cfg, facts.plain(), owned)
        stages = [
            stage
            for i, layer in enumerate(layers)
            for stage in layer_roots(layer, cfg.argocd.namespace, wait_healthy=i < len(layers) - 1)
        ]
        self.provider = k8s.Provider(
            "cluster",
            k8s.ProviderArgs(
                kubeconfig=facts.kubeconfig,
                context=facts.kube_context,
                enable_server_side_apply=True,
                delete_unreachable=cfg.substrate.kind == "kind",
                cluster_identifier=cluster_identifier(facts),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(facts.ready)),
        )
        # protect: the bootstrap is what every workload hangs from; deleting it (a destroy, a
        # replaced provider) takes a deliberate `pulumi state unprotect` on protected stacks.
        # deleted_with: in-cluster objects go with the cluster when the substrate says so (kind).
        self._child = pulumi.ResourceOptions(
            parent=self, provider=self.provider, protect=cfg.protect, deleted_with=facts.deleted_with
        )
        self.argocd = ArgoCd(
            "argocd",
            ArgoCdArgs(
                namespace=cfg.argocd.namespace,
                ha=cfg.argocd.ha,
                provider=self.provider,
                protect=cfg.protect,
                deleted_with=facts.deleted_with,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.bootstrap_secrets: list[pulumi.Resource] = []
        self.grafana_admin_password = None
        if SOPS_COMPONENT in _key_holders(cfg):
            self._sops_age_key(cfg)
        if GRAFANA_COMPONENT in _key_holders(cfg):
            self._grafana_admin()

        after_argocd = pulumi.ResourceOptions.merge(
            self._child, pulumi.ResourceOptions(depends_on=[self.argocd.release])
        )
        projects = [_custom("project-roots", roots_project(cfg), after_argocd)]
        projects += [_custom(f"project-{layer.name}", layer.project, after_argocd) for layer in layers]
        # Destroy deletes roots (and, by cascade, workloads) before Argo CD and the secrets.
        root_deps = [self.argocd.release, *projects, *self.bootstrap_secrets]
        self.root_apps: list[k8s.apiextensions.CustomResource] = []
        root_names: list[str] = []
        earlier: list[k8s.apiextensions.CustomResource] = []
        for apps in stages:
            # Every root depends on every root of the stages before it (earlier layers, and the
            # earlier waves of its own layer): created once those are Healthy (they wait, see
            # layer_roots), destroyed before them, so KEDA still runs when the ScaledObjects
            # that carry its finalizer go.
            opts = pulumi.ResourceOptions.merge(
                after_argocd,
                pulumi.ResourceOptions(depends_on=[*root_deps, *earlier], custom_timeouts=ROOT_TIMEOUTS),
            )
            current = [_custom(app["metadata"]["name"], app, opts) for app in apps]
            root_names += [app["metadata"]["name"] for app in apps]
            self.root_apps += current
            earlier += current
        self.argocd_namespace = self.argocd.namespace
        self.roots = pulumi.Output.from_input(root_names)
        self.register_outputs(
            {
                "argocd_namespace": self.argocd_namespace,
                "roots": self.roots,
                "grafana_admin_password": self.grafana_admin_password,
            }
        )

    def _namespace(self, component: str) -> k8s.core.v1.Namespace:
        """The namespace of a catalog component, owned by Pulumi because it holds a bootstrap secret."""
        entry = load_catalog()[component]
        ns = bootstrap_namespace(entry.namespace, entry.pod_security)
        return k8s.core.v1.Namespace(
            f"{component}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=ns["name"], labels=ns["labels"]),
            opts=self._child,
        )

    def _secret(self, name: str, namespace: k8s.core.v1.Namespace, data: dict) -> k8s.core.v1.Secret:
        return k8s.core.v1.Secret(
            name,
            k8s.core.v1.SecretInitArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace.metadata.name),
                type="Opaque",
                string_data=data,
            ),
            opts=self._child,
        )

    def _sops_age_key(self, cfg: StackConfig) -> None:
        """Secret zero: the age key SOPS decrypts every other secret with."""
        namespace = self._namespace(SOPS_COMPONENT)
        key = pulumi.Output.secret(cfg.sops_age_key.get_secret_value())
        self.bootstrap_secrets += [namespace, self._secret(SOPS_KEY_SECRET, namespace, {"key.txt": key})]

    def _grafana_admin(self) -> None:
        """Grafana's admin login, generated once: never the chart's well-known default."""
        provider = random.Provider("random", opts=pulumi.ResourceOptions(parent=self))
        password = random.RandomPassword(
            "grafana-admin-password",
            random.RandomPasswordArgs(length=32, special=False),
            opts=pulumi.ResourceOptions.merge(self._child, pulumi.ResourceOptions(provider=provider)),
        )
        namespace = self._namespace(GRAFANA_COMPONENT)
        data = {"admin-user": "admin", "admin-password": password.result}
        self.bootstrap_secrets += [namespace, self._secret(GRAFANA_ADMIN_SECRET, namespace, data)]
        self.grafana_admin_password = pulumi.Output.secret(password.result)


def _key_holders(cfg: StackConfig) -> list[str]:
    """Catalog components whose namespace Pulumi creates to put a bootstrap secret in."""
    holders = []
    if cfg.secrets.backend == "sops" and cfg.sops_age_key is not None and cfg.enabled(SOPS_COMPONENT):
        holders.append(SOPS_COMPONENT)
    if "platform" in cfg.layers and cfg.enabled(GRAFANA_COMPONENT):
        holders.append(GRAFANA_COMPONENT)
    return holders
