"""The platform's policy rules as pure functions over one resource.

Self-contained (no project imports) so the pack runs on its own under `pulumi preview
--policy-pack policy`, and the same rules run in tests over every recorded resource.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

CASCADE_FINALIZER = "resources-finalizer.argocd.argoproj.io"
UNPINNED_REVISIONS = {"", "HEAD", "main", "master", "latest", "*"}
SECRET_KEY = re.compile(r"(password|passwd|token|apikey|api_key|secretkey|secret_key|privatekey|private_key)$", re.I)
GPU_UTIL = re.compile(r"DCGM_FI_DEV_GPU_UTIL|gpu_util", re.I)


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    props: dict[str, Any]
    provider_type: str | None = None
    provider_name: str | None = None
    custom: bool = True
    secret_paths: tuple[str, ...] = field(default=())


Rule = Callable[[Resource], list[str]]


def carried_objects(props: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Objects an Application carries as manifests-chart values, recursively."""
    source = (props.get("spec") or {}).get("source") or {}
    for obj in ((source.get("helm") or {}).get("valuesObject") or {}).get("resources") or []:
        if isinstance(obj, dict):
            yield obj
            if obj.get("kind") == "Application":
                yield from carried_objects(obj)


def _is_application(r: Resource) -> bool:
    return r.type.endswith(":Application") and r.type.startswith("kubernetes:argoproj.io")


def _pod_specs(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "Pod":
        yield spec
    template = (spec.get("template") or {}).get("spec")
    if template:
        yield template


def explicit_provider(r: Resource) -> list[str]:
    if not r.custom or r.type.startswith("pulumi:providers:"):
        return []
    if not r.provider_type or (r.provider_name or "").startswith("default"):
        return [f"{r.type} {r.name} must name an explicit provider (default providers are disabled)"]
    return []


def no_secret_values_in_applications(r: Resource) -> list[str]:
    if not _is_application(r) and not r.type.endswith(":AppProject"):
        return []
    problems = [f"{r.name}: secret value at {p}" for p in r.secret_paths]

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            if node.get("kind") == "Secret" and "apiVersion" in node:
                problems.append(f"{r.name}: carries a Secret object at {path}; use ExternalSecret or SopsSecret")
            for key, value in node.items():
                if SECRET_KEY.search(str(key)) and isinstance(value, str) and value:
                    problems.append(f"{r.name}: literal secret-like value at {path}.{key}")
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{path}[{i}]")

    walk(r.props, "")
    return problems


def _image_pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    return ":" in last and last.rsplit(":", 1)[1] not in UNPINNED_REVISIONS


def pinned_versions(r: Resource) -> list[str]:
    problems = []
    if r.type == "kubernetes:helm.sh/v3:Release" and not r.props.get("version"):
        problems.append(f"Helm release {r.name} must pin a chart version")
    if _is_application(r):
        apps = [r.props, *[o for o in carried_objects(r.props) if o.get("kind") == "Application"]]
        for app in apps:
            source = (app.get("spec") or {}).get("source") or {}
            revision = str(source.get("targetRevision", ""))
            if revision in UNPINNED_REVISIONS or any(c in revision for c in "*^~><"):
                problems.append(f"Application {app['metadata']['name']}: targetRevision {revision!r} is not pinned")
        for obj in carried_objects(r.props):
            for pod in _pod_specs(obj):
                for c in pod.get("containers", []) + pod.get("initContainers", []):
                    if not _image_pinned(c.get("image", "")):
                        problems.append(f"{obj['kind']} {obj['metadata']['name']}: image {c.get('image')!r} unpinned")
    return problems


def cascade_finalizer(r: Resource) -> list[str]:
    if not _is_application(r):
        return []
    apps = [r.props, *[o for o in carried_objects(r.props) if o.get("kind") == "Application"]]
    return [
        f"Application {a['metadata']['name']} lacks the {CASCADE_FINALIZER} finalizer (destroy would orphan workloads)"
        for a in apps
        if CASCADE_FINALIZER not in (a.get("metadata") or {}).get("finalizers", [])
    ]


def gpu_pods_target_gpu_nodes(r: Resource) -> list[str]:
    if not _is_application(r):
        return []
    problems = []
    for obj in carried_objects(r.props):
        for pod in _pod_specs(obj):
            wants_gpu = any(
                "nvidia.com/gpu" in ((c.get("resources") or {}).get("limits") or {}) for c in pod.get("containers", [])
            )
            if not wants_gpu:
                continue
            tolerates = any(t.get("key") == "nvidia.com/gpu" for t in pod.get("tolerations", []))
            selects = bool(pod.get("nodeSelector") or pod.get("affinity"))
            if not (tolerates and selects):
                where = f"{obj['kind']} {obj['metadata']['name']}"
                problems.append(f"{where}: GPU pod needs the GPU toleration and a pool selector")
    return problems


def no_gpu_utilisation_scaling(r: Resource) -> list[str]:
    if not _is_application(r):
        return []
    return [
        f"ScaledObject {o['metadata']['name']}: scales on GPU utilisation, which PagedAttention pins near 100%"
        for o in carried_objects(r.props)
        if o.get("kind") == "ScaledObject"
        and any(GPU_UTIL.search(str((t.get("metadata") or {}).get("query", ""))) for t in o["spec"].get("triggers", []))
    ]


def workloads_run_unprivileged(r: Resource) -> list[str]:
    if not _is_application(r):
        return []
    problems = []
    for obj in carried_objects(r.props):
        for pod in _pod_specs(obj):
            for c in pod.get("containers", []):
                sc = c.get("securityContext") or {}
                where = f"{obj['kind']} {obj['metadata']['name']}/{c['name']}"
                if sc.get("allowPrivilegeEscalation") is not False or sc.get("privileged"):
                    problems.append(f"{where}: privilege escalation allowed")
                if not (sc.get("runAsNonRoot") or (pod.get("securityContext") or {}).get("runAsNonRoot")):
                    problems.append(f"{where}: may run as root")
    return problems


RULES: dict[str, tuple[str, Rule]] = {
    "explicit-provider": ("Every resource names an explicit provider.", explicit_provider),
    "no-secret-values-in-applications": (
        "Applications and AppProjects carry secret names and ciphertext, never values.",
        no_secret_values_in_applications,
    ),
    "pinned-versions": ("Charts, revisions and images are pinned; never latest or HEAD.", pinned_versions),
    "cascade-finalizer": ("Applications delete what they deployed when deleted.", cascade_finalizer),
    "gpu-pods-target-gpu-nodes": ("GPU pods tolerate the GPU taint and select a pool.", gpu_pods_target_gpu_nodes),
    "no-gpu-utilisation-scaling": ("Model servers never scale on GPU utilisation.", no_gpu_utilisation_scaling),
    "workloads-run-unprivileged": (
        "First-party workloads run as non-root without escalation.",
        workloads_run_unprivileged,
    ),
}


def violations(resource: Resource) -> dict[str, list[str]]:
    found = {name: rule(resource) for name, (_, rule) in RULES.items()}
    return {name: msgs for name, msgs in found.items() if msgs}
