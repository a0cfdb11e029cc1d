"""Argo CD objects as plain data: child and root Applications, AppProjects.

Pure functions: plain data in, Kubernetes objects (dicts) out. Pulumi only applies the
roots and projects; everything else reaches the cluster inside a root's values.
"""

from __future__ import annotations

import json
from typing import Any

from components.catalog import ChartPin, manifests_chart

IN_CLUSTER = "https://kubernetes.default.svc"
CASCADE_FINALIZER = "resources-finalizer.argocd.argoproj.io"
ROOTS_PROJECT = "platform-roots"
MANAGED_BY = {"app.kubernetes.io/managed-by": "inference-platform"}

# A failed automated sync is not tried again for the same revision unless the operation
# retries it. A negative limit retries without end (Argo CD 3.2: `RetryCount < Limit ||
# Limit < 0`), backing off to one attempt every 3 minutes: a child whose CRDs or webhooks
# come from a slow platform bring-up (GPU driver builds, node scale-up from zero) converges
# whenever that ends, however long it takes.
RETRY = {"limit": -1, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "3m"}}

# Argo CD copies spec.source into the object's status once per history entry (default 10).
# Children keep the last deployment; roots keep none (they are auto-synced, so Argo CD
# refuses a rollback anyway, and their source is the largest object the platform writes).
CHILD_HISTORY = 1
ROOT_HISTORY = 0

# pulumi-kubernetes waits after create/update until every expression holds (JSONPath on
# the live object). Synced: every child Application exists as rendered. Healthy: each child
# reports Healthy through the Application health check in platform/argocd/values.yaml.
WAIT_FOR_ANNOTATION = "pulumi.com/waitFor"
ROOT_READY = ["jsonpath={.status.sync.status}=Synced", "jsonpath={.status.health.status}=Healthy"]


def pod_security_labels(level: str) -> dict[str, str]:
    """Enforce the namespace's level; warn and audit at restricted so drift shows."""
    return {
        "pod-security.kubernetes.io/enforce": level,
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
    }


def chart_source(pin: ChartPin, values: dict[str, Any], release: str) -> dict[str, Any]:
    helm = {"releaseName": release, "valuesObject": values}
    if pin.repo_url.startswith("oci://"):
        # An OCI chart is an Argo CD OCI source (Argo CD 3.1+): the artifact's full reference,
        # its tag, and path "." (the chart is the artifact's root); anonymous for public registries.
        return {
            "repoURL": f"{pin.repo_url.rstrip('/')}/{pin.name}",
            "path": ".",
            "targetRevision": pin.version,
            "helm": helm,
        }
    return {"repoURL": pin.repo_url, "chart": pin.name, "targetRevision": pin.version, "helm": helm}


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
    history: int = CHILD_HISTORY,
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
        "revisionHistoryLimit": history,
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


def root_application(
    name: str,
    layer: str,
    children: list[dict[str, Any]],
    argocd_namespace: str,
    wait_healthy: bool = False,
) -> dict[str, Any]:
    """A root of a layer: an app-of-apps whose children are carried as manifests-chart values.

    A layer has one root, or several (shards) when its children would not fit one object.
    `wait_healthy`: Pulumi reports the root created only once Argo CD has synced every child
    and every child is Healthy, so what depends on it starts after the layer is up.
    """
    app = application(
        name,
        project=ROOTS_PROJECT,
        namespace=argocd_namespace,
        source=manifests_source(children, name),
        argocd_namespace=argocd_namespace,
        create_namespace=False,
        labels={"inference-platform/layer": layer, "inference-platform/root": "true"},
        history=ROOT_HISTORY,
    )
    if wait_healthy:
        app["metadata"]["annotations"] = {WAIT_FOR_ANNOTATION: json.dumps(ROOT_READY)}
    else:
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
