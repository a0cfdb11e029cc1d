"""The platform's policy rules as pure functions over one resource.

Self-contained (no project imports) so the pack runs on its own under `pulumi preview
--policy-pack policy`, and the same rules run in tests over every recorded resource.

The engine sends every registered resource to a resource policy: custom resources, the
program's components, provider resources and the `pulumi:pulumi:Stack` resource, and the
Python SDK says nothing about which is which. `kind_of` tells them apart by type token.
In preview a value computed by another resource is unknown (`UNKNOWN` here): a rule never
reports what it cannot know yet; the update runs the pack again on known values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

CASCADE_FINALIZER = "resources-finalizer.argocd.argoproj.io"
STACK_TYPE = "pulumi:pulumi:Stack"
PROVIDER_PREFIX = "pulumi:providers:"
# The program's own components carry this package in their type token.
COMPONENT_PACKAGE = "inference-platform"
UNPINNED_REVISIONS = {"", "HEAD", "main", "master", "latest", "*"}
SECRET_KEY = re.compile(r"(password|passwd|token|apikey|api_key|secretkey|secret_key|privatekey|private_key)$", re.I)
GPU_UTIL = re.compile(r"DCGM_FI_DEV_GPU_UTIL|gpu_util", re.I)


class _Unknown:
    """A value the engine does not know yet (preview)."""

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = _Unknown()


def kind_of(type_: str) -> str:
    """stack, provider, component or custom: what the engine's resource is."""
    if type_ == STACK_TYPE:
        return "stack"
    if type_.startswith(PROVIDER_PREFIX):
        return "provider"
    if type_.split(":", 1)[0] == COMPONENT_PACKAGE:
        return "component"
    return "custom"


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    props: dict[str, Any]
    provider_type: str | None = None
    provider_name: str | None = None

    @property
    def kind(self) -> str:
        return kind_of(self.type)


Rule = Callable[[Resource], list[str]]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def carried_objects(props: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Objects an Application carries as manifests-chart values, recursively."""
    source = _dict(_dict(props.get("spec")).get("source"))
    for obj in _list(_dict(_dict(source.get("helm")).get("valuesObject")).get("resources")):
        if isinstance(obj, dict):
            yield obj
            if obj.get("kind") == "Application":
                yield from carried_objects(obj)


def _names_a_key(mapping: Any, key: str) -> bool:
    """A key naming a key inside a Secret, not a secret value: `fooSecretKey` beside
    `fooSecretName` (a chart reference, e.g. LiteLLM's masterKey.secretName/masterKey.secretKey),
    or an External Secrets data item's `secretKey` beside its `remoteRef`."""
    if not key.lower().endswith("secretkey"):
        return False
    prefix = key[: -len("SecretKey")].lower()
    return "remoteRef" in mapping or any(str(k).lower() == f"{prefix}secretname" for k in mapping)


def _is_application(r: Resource) -> bool:
    return r.type.endswith(":Application") and r.type.startswith("kubernetes:argoproj.io")


def _pod_specs(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = _dict(obj.get("spec"))
    if obj.get("kind") == "Pod":
        yield spec
    template = _dict(_dict(spec.get("template")).get("spec"))
    if template:
        yield template


def _name(obj: dict[str, Any]) -> str:
    return str(_dict(obj.get("metadata")).get("name", "?"))


def explicit_provider(r: Resource) -> list[str]:
    # Only custom resources have providers: the stack, components and providers have none.
    if r.kind != "custom":
        return []
    if not r.provider_type or (r.provider_name or "").startswith("default"):
        return [f"{r.type} {r.name} must name an explicit provider (default providers are disabled)"]
    return []


def no_secret_values_in_applications(r: Resource) -> list[str]:
    # The SDK hands a policy secret values unwrapped, so secret-ness itself is not visible
    # here (the program tests check no Application input is secret); what is visible is
    # a Secret object or a secret-like key carrying a literal.
    if not _is_application(r) and not r.type.endswith(":AppProject"):
        return []
    problems: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            if node.get("kind") == "Secret" and "apiVersion" in node:
                problems.append(f"{r.name}: carries a Secret object at {path}; use ExternalSecret or SopsSecret")
            for key, value in node.items():
                literal = isinstance(value, str) and value and not _names_a_key(node, str(key))
                if SECRET_KEY.search(str(key)) and literal:
                    problems.append(f"{r.name}: literal secret-like value at {path}.{key}")
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{path}[{i}]")

    walk(r.props, "")
    return problems


def _image_pinned(image: Any) -> bool:
    if image is UNKNOWN:
        return True  # judged at update, once known
    image = str(image or "")
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
            revision = _dict(_dict(app.get("spec")).get("source")).get("targetRevision", "")
            if revision is UNKNOWN:
                continue
            revision = str(revision)
            if revision in UNPINNED_REVISIONS or any(c in revision for c in "*^~><"):
                problems.append(f"Application {_name(app)}: targetRevision {revision!r} is not pinned")
        for obj in carried_objects(r.props):
            for pod in _pod_specs(obj):
                for c in _list(pod.get("containers")) + _list(pod.get("initContainers")):
                    if not _image_pinned(_dict(c).get("image", "")):
                        problems.append(f"{obj.get('kind')} {_name(obj)}: image {_dict(c).get('image')!r} unpinned")
    return problems


def cascade_finalizer(r: Resource) -> list[str]:
    if not _is_application(r):
        return []
    apps = [r.props, *[o for o in carried_objects(r.props) if o.get("kind") == "Application"]]
    return [
        f"Application {_name(a)} lacks the {CASCADE_FINALIZER} finalizer (destroy would orphan workloads)"
        for a in apps
        if _dict(a.get("metadata")).get("finalizers") is not UNKNOWN
        and CASCADE_FINALIZER not in _list(_dict(a.get("metadata")).get("finalizers"))
    ]


def gpu_pods_target_gpu_nodes(r: Resource) -> list[str]:
    if not _is_application(r):
        return []
    problems = []
    for obj in carried_objects(r.props):
        for pod in _pod_specs(obj):
            wants_gpu = any(
                "nvidia.com/gpu" in _dict(_dict(_dict(c).get("resources")).get("limits"))
                for c in _list(pod.get("containers"))
            )
            if not wants_gpu or UNKNOWN in (pod.get("tolerations"), pod.get("nodeSelector"), pod.get("affinity")):
                continue
            tolerates = any(_dict(t).get("key") == "nvidia.com/gpu" for t in _list(pod.get("tolerations")))
            selects = bool(pod.get("nodeSelector") or pod.get("affinity"))
            if not (tolerates and selects):
                where = f"{obj.get('kind')} {_name(obj)}"
                problems.append(f"{where}: GPU pod needs the GPU toleration and a pool selector")
    return problems


def no_gpu_utilisation_scaling(r: Resource) -> list[str]:
    if not _is_application(r):
        return []
    return [
        f"ScaledObject {_name(o)}: scales on GPU utilisation, which PagedAttention pins near 100%"
        for o in carried_objects(r.props)
        if o.get("kind") == "ScaledObject"
        and any(
            GPU_UTIL.search(str(_dict(_dict(t).get("metadata")).get("query", "")))
            for t in _list(_dict(o.get("spec")).get("triggers"))
        )
    ]


def workloads_run_unprivileged(r: Resource) -> list[str]:
    if not _is_application(r):
        return []
    problems = []
    for obj in carried_objects(r.props):
        for pod in _pod_specs(obj):
            for c in map(_dict, _list(pod.get("containers"))):
                sc = _dict(c.get("securityContext"))
                pod_sc = _dict(pod.get("securityContext"))
                if UNKNOWN in (c.get("securityContext"), pod.get("securityContext")):
                    continue
                where = f"{obj.get('kind')} {_name(obj)}/{c.get('name')}"
                if sc.get("allowPrivilegeEscalation") is not False or sc.get("privileged"):
                    problems.append(f"{where}: privilege escalation allowed")
                if not (sc.get("runAsNonRoot") or pod_sc.get("runAsNonRoot")):
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
