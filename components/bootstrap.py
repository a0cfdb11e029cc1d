"""The in-cluster bootstrap: provider, Argo CD, secret zero, AppProjects, one root per layer."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.applications import CASCADE_FINALIZER
from components.argocd import ArgoCd, ArgoCdArgs, restricted_namespace
from components.config import StackConfig
from components.layers import build_layers, roots_project
from substrate.facts import ClusterFacts

SOPS_NAMESPACE = "sops-secrets-operator"
SOPS_KEY_SECRET = "sops-age-key"


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
        child = pulumi.ResourceOptions(parent=self, provider=self.provider)
        self.argocd = ArgoCd(
            "argocd",
            ArgoCdArgs(namespace=cfg.argocd.namespace, ha=cfg.argocd.ha, provider=self.provider),
            opts=pulumi.ResourceOptions(parent=self),
        )
        owned = self._secret_zero(cfg, child)
        after_argocd = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[self.argocd.release]))

        layers = build_layers(cfg, facts.plain(), owned)
        projects = [_custom("project-roots", roots_project(cfg), after_argocd)]
        projects += [_custom(f"project-{layer.name}", layer.project, after_argocd) for layer in layers]
        self.root_apps = []
        from components.applications import root_application

        for layer in layers:
            root = root_application(layer.name, layer.children, cfg.argocd.namespace)
            assert CASCADE_FINALIZER in root["metadata"]["finalizers"]
            self.root_apps.append(
                _custom(
                    f"root-{layer.name}",
                    root,
                    pulumi.ResourceOptions.merge(
                        after_argocd,
                        # Destroy deletes roots (and, by cascade, workloads) before Argo CD itself.
                        pulumi.ResourceOptions(depends_on=[self.argocd.release, *projects, *self.secret_zero]),
                    ),
                )
            )
        self.argocd_namespace = self.argocd.namespace
        self.roots = pulumi.Output.from_input([f"root-{layer.name}" for layer in layers])
        self.register_outputs({"argocd_namespace": self.argocd_namespace, "roots": self.roots})

    def _secret_zero(self, cfg: StackConfig, child: pulumi.ResourceOptions) -> set[str]:
        """The one bootstrap secret (the SOPS age key); returns the namespaces Pulumi owns."""
        self.secret_zero: list[pulumi.Resource] = []
        owned = {cfg.argocd.namespace}
        if cfg.secrets.backend != "sops" or cfg.sops_age_key is None:
            return owned
        ns = restricted_namespace(SOPS_NAMESPACE)
        namespace = k8s.core.v1.Namespace(
            "sops-namespace", metadata=k8s.meta.v1.ObjectMetaArgs(name=ns["name"], labels=ns["labels"]), opts=child
        )
        key = pulumi.Output.secret(cfg.sops_age_key.get_secret_value())
        secret = k8s.core.v1.Secret(
            "sops-age-key",
            k8s.core.v1.SecretInitArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(name=SOPS_KEY_SECRET, namespace=namespace.metadata.name),
                type="Opaque",
                string_data={"key.txt": key},
                immutable=False,
            ),
            opts=child,
        )
        self.secret_zero = [namespace, secret]
        return owned | {SOPS_NAMESPACE}
