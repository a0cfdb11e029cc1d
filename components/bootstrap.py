"""The in-cluster bootstrap: provider, Argo CD, bootstrap secrets, AppProjects, one root per layer."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.applications import root_application
from components.argocd import ArgoCd, ArgoCdArgs, bootstrap_namespace
from components.catalog import load_catalog
from components.config import StackConfig
from components.layers import build_layers, roots_project
from contract.facts import ClusterFacts

SOPS_COMPONENT = "sops-secrets-operator"
SOPS_KEY_SECRET = "sops-age-key"
GRAFANA_COMPONENT = "kube-prometheus-stack"
GRAFANA_ADMIN_SECRET = "grafana-admin"


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
        self.provider = k8s.Provider(
            "cluster",
            k8s.ProviderArgs(
                kubeconfig=facts.kubeconfig,
                context=facts.kube_context,
                enable_server_side_apply=True,
                delete_unreachable=cfg.substrate.kind == "kind",
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(facts.ready)),
        )
        # In-cluster objects go with the cluster when the substrate says so (kind); the engine
        # passes deleted_with on from a component to its children.
        self._child = pulumi.ResourceOptions(parent=self, provider=self.provider, deleted_with=facts.deleted_with)
        self.argocd = ArgoCd(
            "argocd",
            ArgoCdArgs(namespace=cfg.argocd.namespace, ha=cfg.argocd.ha, provider=self.provider),
            opts=pulumi.ResourceOptions(parent=self, deleted_with=facts.deleted_with),
        )
        self.bootstrap_secrets: list[pulumi.Resource] = []
        owned = {cfg.argocd.namespace} | self._sops_age_key(cfg) | self._grafana_admin(cfg)

        after_argocd = pulumi.ResourceOptions.merge(
            self._child, pulumi.ResourceOptions(depends_on=[self.argocd.release])
        )
        layers = build_layers(cfg, facts.plain(), owned)
        projects = [_custom("project-roots", roots_project(cfg), after_argocd)]
        projects += [_custom(f"project-{layer.name}", layer.project, after_argocd) for layer in layers]
        # Destroy deletes roots (and, by cascade, workloads) before Argo CD and the secrets.
        root_deps = pulumi.ResourceOptions(depends_on=[self.argocd.release, *projects, *self.bootstrap_secrets])
        self.root_apps = [
            _custom(
                f"root-{layer.name}",
                root_application(layer.name, layer.children, cfg.argocd.namespace),
                pulumi.ResourceOptions.merge(after_argocd, root_deps),
            )
            for layer in layers
        ]
        self.argocd_namespace = self.argocd.namespace
        self.roots = pulumi.Output.from_input([f"root-{layer.name}" for layer in layers])
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

    def _sops_age_key(self, cfg: StackConfig) -> set[str]:
        """Secret zero: the age key SOPS decrypts every other secret with."""
        if cfg.secrets.backend != "sops" or cfg.sops_age_key is None or not cfg.enabled(SOPS_COMPONENT):
            return set()
        namespace = self._namespace(SOPS_COMPONENT)
        key = pulumi.Output.secret(cfg.sops_age_key.get_secret_value())
        self.bootstrap_secrets += [namespace, self._secret(SOPS_KEY_SECRET, namespace, {"key.txt": key})]
        return {load_catalog()[SOPS_COMPONENT].namespace}

    def _grafana_admin(self, cfg: StackConfig) -> set[str]:
        """Grafana's admin login, generated once: never the chart's well-known default."""
        self.grafana_admin_password = None
        if "platform" not in cfg.layers or not cfg.enabled(GRAFANA_COMPONENT):
            return set()
        provider = random.Provider("random", opts=pulumi.ResourceOptions(parent=self))
        password = random.RandomPassword(
            "grafana-admin-password",
            random.RandomPasswordArgs(length=32, special=False),
            opts=pulumi.ResourceOptions(parent=self, provider=provider),
        )
        namespace = self._namespace(GRAFANA_COMPONENT)
        data = {"admin-user": "admin", "admin-password": password.result}
        self.bootstrap_secrets += [namespace, self._secret(GRAFANA_ADMIN_SECRET, namespace, data)]
        self.grafana_admin_password = pulumi.Output.secret(password.result)
        return {load_catalog()[GRAFANA_COMPONENT].namespace}
