"""Argo CD objects as plain data: child and root Applications, AppProjects.

Pure functions: plain data in, Kubernetes objects (dicts) out. Pulumi only applies the
roots and projects; everything else reaches the cluster inside a root's values.
"""

from __future__ import annotations

from typing import Any

from components.catalog import ChartPin, manifests_chart

IN_CLUSTER = "https://kubernetes.default.svc"
CASCADE_FINALIZER = "resources-finalizer.argocd.argoproj.io"
ROOTS_PROJECT = "platform-roots"
MANAGED_BY = {"app.kubernetes.io/managed-by": "inference-platform"}

# Retries with backoff: a child may reference CRDs another child is still installing.
RETRY = {"limit": 10, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}}


def pod_security_labels(level: str) -> dict[str, str]:
    """Enforce the namespace's level; warn and audit at restricted so drift shows."""
    return {
        "pod-security.kubernetes.io/enforce": level,
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
    }


def chart_source(pin: ChartPin, values: dict[str, Any], release: str) -> dict[str, Any]:
    return {
        "repoURL": pin.repo_url,
        "chart": pin.name,
        "targetRevision": pin.version,
        "helm": {"releaseName": release, "valuesObject": values},
    }


def manifests_source(objects: list[dict[str, Any]], release: str) -> dict[str, Any]:
    """Carry rendered objects through the pinned generic manifests chart."""
    return chart_source(manifests_chart(), {"resources": objects}, release)


def application(
    name: str,
    *,
    project: str,
    namespace: str,
    source: dict[str, Any],
    argocd_namespace: str,
    wave: int = 0,
    create_namespace: bool = True,
    server_side_apply: bool = False,
    pod_security: str = "baseline",
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    sync_options = ["PruneLast=true", "SkipDryRunOnMissingResource=true"]
    if create_namespace:
        sync_options.append("CreateNamespace=true")
    if server_side_apply:
        # Large CRDs exceed the client-side apply annotation limit.
        sync_options.append("ServerSideApply=true")
    spec: dict[str, Any] = {
        "project": project,
        "source": source,
        "destination": {"server": IN_CLUSTER, "namespace": namespace},
        "syncPolicy": {"automated": {"prune": True, "selfHeal": True}, "syncOptions": sync_options, "retry": RETRY},
    }
    if create_namespace:
        spec["syncPolicy"]["managedNamespaceMetadata"] = {"labels": {**MANAGED_BY, **pod_security_labels(pod_security)}}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": name,
            "namespace": argocd_namespace,
            "labels": {**MANAGED_BY, **(labels or {})},
            "annotations": {"argocd.argoproj.io/sync-wave": str(wave)},
            # Deleting an Application deletes what it deployed (cascade), so destroy is clean.
            "finalizers": [CASCADE_FINALIZER],
        },
        "spec": spec,
    }


def root_application(layer: str, children: list[dict[str, Any]], argocd_namespace: str) -> dict[str, Any]:
    """One root per layer: an app-of-apps whose children are carried as manifests-chart values."""
    app = application(
        f"root-{layer}",
        project=ROOTS_PROJECT,
        namespace=argocd_namespace,
        source=manifests_source(children, f"root-{layer}"),
        argocd_namespace=argocd_namespace,
        create_namespace=False,
        labels={"inference-platform/layer": layer, "inference-platform/root": "true"},
    )
    del app["metadata"]["annotations"]
    return app


def app_project(
    name: str,
    *,
    description: str,
    source_repos: list[str],
    namespaces: list[str],
    cluster_resources: list[dict[str, str]],
    namespace_resources: list[dict[str, str]] | None = None,
    argocd_namespace: str,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "description": description,
        "sourceRepos": sorted(set(source_repos)),
        "destinations": [{"server": IN_CLUSTER, "namespace": ns} for ns in sorted(set(namespaces))],
        "clusterResourceWhitelist": cluster_resources,
    }
    if namespace_resources is not None:
        spec["namespaceResourceWhitelist"] = namespace_resources
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": name, "namespace": argocd_namespace, "labels": dict(MANAGED_BY)},
        "spec": spec,
    }
