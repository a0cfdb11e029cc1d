"""The catalog Argo CD deploys: upstream charts, pinned, read from platform/catalog/."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from contract.facts import SUBSTRATES

PLATFORM_DIR = Path(__file__).resolve().parent.parent / "platform"
CATALOG_DIR = PLATFORM_DIR / "catalog"

LAYERS = ("platform", "serving", "llm-gateway", "experience")
# Profiles are cumulative: each widens the one before it, never switches.
PROFILES: dict[str, tuple[str, ...]] = {
    "platform": LAYERS[:1],
    "serving": LAYERS[:2],
    "llm-gateway": LAYERS[:3],
    "full": LAYERS,
}
GPU_STACKS = ("gke-managed", "operator", "none")
SECRET_BACKENDS = ("external-secrets", "sops", "none")
# Serving engines a ModelSpec may name; a catalog entry may apply only where one is used.
ENGINES = ("vllm", "kserve", "llm-d", "kubeai")
SEMVER = re.compile(r"^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$")
CATALOG_KEYS = {"name", "layer", "wave", "namespace", "chart", "when", "serverSideApply", "podSecurity", "values"}
# Pod Security Standard enforced on a component's namespace; privileged only where the
# component must touch the host (drivers, node exporters).
POD_SECURITY_LEVELS = ("privileged", "baseline", "restricted")


class CatalogError(Exception):
    """A malformed catalog file; names the file and the field."""


@dataclass(frozen=True)
class ChartPin:
    repo_url: str
    name: str
    version: str


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    layer: str
    wave: int
    namespace: str
    chart: ChartPin
    values: dict[str, Any] = field(default_factory=dict)
    server_side_apply: bool = False
    pod_security: str = "baseline"
    # Conditions on ClusterFacts/config, e.g. {"gpuStack": ["operator"]}.
    when: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def applies(
        self, gpu_stack: str, secrets_backend: str, substrate: str | None = None, engines: frozenset[str] = frozenset()
    ) -> bool:
        return self.unmet(gpu_stack, secrets_backend, substrate, engines) is None

    def unmet(
        self, gpu_stack: str, secrets_backend: str, substrate: str | None = None, engines: frozenset[str] = frozenset()
    ) -> tuple[str, object] | None:
        """The first `when` condition the stack does not meet, as (key, what the stack has), or None.

        `engine` holds when any model of the stack uses one of the listed engines."""
        facts = {"gpuStack": gpu_stack, "secretsBackend": secrets_backend, "substrate": substrate}
        for key, allowed in self.when.items():
            if key == "engine":
                if not set(engines) & set(allowed):
                    return key, sorted(engines)
            elif facts[key] not in allowed:
                return key, facts[key]
        return None


def _entry(path: Path) -> CatalogEntry:
    doc = yaml.safe_load(path.read_text())
    where = f"{path.parent.name}/{path.name}"
    if not isinstance(doc, dict):
        raise CatalogError(f"{where}: not a mapping")
    unknown = set(doc) - CATALOG_KEYS
    if unknown:
        raise CatalogError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    try:
        chart = doc["chart"]
        pin = ChartPin(repo_url=chart["repoURL"], name=chart["name"], version=str(chart["version"]))
        entry = CatalogEntry(
            name=doc["name"],
            layer=doc["layer"],
            wave=int(doc["wave"]),
            namespace=doc["namespace"],
            chart=pin,
            values=doc.get("values") or {},
            server_side_apply=bool(doc.get("serverSideApply", False)),
            pod_security=doc.get("podSecurity", "baseline"),
            when={k: tuple(v) for k, v in (doc.get("when") or {}).items()},
        )
    except (KeyError, TypeError) as exc:
        raise CatalogError(f"{where}: missing or malformed field {exc}") from None
    if entry.name != path.stem:
        raise CatalogError(f"{where}: name {entry.name!r} differs from the file name")
    if entry.layer not in LAYERS or path.parent.name != entry.layer:
        raise CatalogError(f"{where}: layer {entry.layer!r} must be one of {LAYERS} and match its folder")
    if entry.pod_security not in POD_SECURITY_LEVELS:
        raise CatalogError(f"{where}: podSecurity must be one of {', '.join(POD_SECURITY_LEVELS)}")
    if not SEMVER.match(pin.version):
        raise CatalogError(f"{where}: chart version {pin.version!r} is not a pinned semantic version")
    if not pin.repo_url.startswith(("https://", "oci://")):
        raise CatalogError(f"{where}: chart repoURL must be https:// or oci://")
    allowed = {"gpuStack": GPU_STACKS, "secretsBackend": SECRET_BACKENDS, "substrate": SUBSTRATES, "engine": ENGINES}
    for key, values in entry.when.items():
        if key not in allowed or not set(values) <= set(allowed[key]):
            raise CatalogError(f"{where}: when.{key} must list values from {allowed.get(key, allowed)}")
    return entry


@functools.cache
def load_catalog(root: Path = CATALOG_DIR) -> dict[str, CatalogEntry]:
    entries = [_entry(p) for p in sorted(root.glob("*/*.yaml"))]
    catalog = {e.name: e for e in entries}
    if len(catalog) != len(entries):
        raise CatalogError("catalog: component names must be unique across layers")
    return catalog


@functools.cache
def load_data(relative: str) -> Any:
    """A data file under platform/ (values, dashboards, policies)."""
    return yaml.safe_load((PLATFORM_DIR / relative).read_text())


# The generic manifests chart that carries rendered objects to Argo CD (GitOps Bridge
# pattern). Pinned here because roots and first-party children all use it.
def manifests_chart() -> ChartPin:
    doc = load_data("manifests-chart.yaml")
    return ChartPin(repo_url=doc["repoURL"], name=doc["name"], version=str(doc["version"]))
