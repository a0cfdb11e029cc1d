"""Argo CD, installed by Pulumi as a pinned Helm release: the one in-cluster chart Pulumi owns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.applications import pod_security_labels
from components.catalog import load_data
from components.values import deep_merge


def argocd_values(ha: bool) -> dict[str, Any]:
    base = load_data("argocd/values.yaml")
    return deep_merge(base, load_data("argocd/values-ha.yaml")) if ha else deep_merge(base)


def bootstrap_namespace(name: str, pod_security: str = "baseline") -> dict[str, Any]:
    """A namespace Pulumi owns because it holds a bootstrap object (Argo CD, a secret)."""
    return {"name": name, "labels": {"app.kubernetes.io/managed-by": "pulumi", **pod_security_labels(pod_security)}}


@dataclass(frozen=True)
class ArgoCdArgs:
    namespace: str
    ha: bool
    provider: k8s.Provider
    depends_on: tuple[pulumi.Resource, ...] = ()
    # Pulumi protect on the namespace and the release (stacks with `protect: true`).
    protect: bool = False
    # Deleted with this resource instead of on their own (kind: the cluster itself).
    deleted_with: pulumi.Resource | None = None


class ArgoCd(pulumi.ComponentResource):
    namespace: pulumi.Output[str]
    release_status: pulumi.Output[Any]

    def __init__(self, name: str, args: ArgoCdArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("inference-platform:bootstrap:ArgoCd", name, None, opts)
        child = pulumi.ResourceOptions(
            parent=self, provider=args.provider, protect=args.protect, deleted_with=args.deleted_with
        )
        ns = bootstrap_namespace(args.namespace)
        self.ns = k8s.core.v1.Namespace(
            "namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=ns["name"], labels=ns["labels"]),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=list(args.depends_on))),
        )
        pin = load_data("argocd/release.yaml")
        self.release = k8s.helm.v3.Release(
            "argocd",
            k8s.helm.v3.ReleaseArgs(
                name="argocd",
                chart=pin["name"],
                version=str(pin["version"]),
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=pin["repoURL"]),
                namespace=self.ns.metadata.name,
                create_namespace=False,
                values=argocd_values(args.ha),
                cleanup_on_fail=True,
                max_history=5,
                timeout=900,
            ),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[self.ns])),
        )
        self.namespace = self.ns.metadata.name
        self.release_status = self.release.status
        self.register_outputs({"namespace": self.namespace, "release_status": self.release_status})
