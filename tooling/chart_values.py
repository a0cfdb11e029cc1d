"""Values the platform sets, checked against the pinned chart's own values.yaml.

A chart silently ignores a key it does not read: a misspelt or renamed key changes nothing
and nothing fails. This module walks every key the platform sets and reports the ones the
chart at its pinned version does not have, using the copies under schemas/values/.

A key is known when the chart's default values.yaml has it at that path; under a subchart's
name (or alias) the subchart's values.yaml counts too. Maps the chart documents as free-form
(labels, annotations, node selectors, extra arguments, ...) are listed in FREE_FORM; their
contents are not walked. Where a chart values object is passed straight into a custom
resource's spec (kube-prometheus-stack's prometheusSpec), CRD_BACKED names the CRD whose
schema lists the allowed keys.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent
VALUES_DIR = ROOT / "schemas" / "values"
CRD_DIR = ROOT / "schemas" / "crds"

# Maps whose keys are the user's, not the chart's: the chart copies them into an object
# field of the same free-form nature (metadata maps, selectors, env-style maps), or documents
# the map as arbitrary. Keyed by chart name; each entry is a dotted path, "*" matches one key.
FREE_FORM: dict[str, tuple[str, ...]] = {
    # argocd-cm, argocd-cmd-params-cm and argocd-rbac-cm: the chart writes every key of these
    # maps into the ConfigMap as it is; Argo CD defines the keys, not the chart.
    "argo-cd": ("configs.cm", "configs.params", "configs.rbac"),
    # The controller's ServiceAccount annotations (e.g. GKE workload identity) are metadata.
    "external-secrets": ("serviceAccount.annotations",),
    # The deployment template turns every args entry into a --<key>=<value> flag and every env
    # entry into an environment variable of that name: the controller's flags and variables
    # (HCLOUD_*), not the chart's.
    "hcloud-cloud-controller-manager": ("args.*", "env.*"),
    # Every env entry becomes an environment variable of istiod (its feature flags).
    "istiod": ("env",),
    # Documented only as commented examples in values.yaml (their templates read them): the
    # pool's pod selector (required) and extra EPP config files, keyed by file name.
    "inferencepool": ("inferencePool.modelServers", "inferenceExtension.pluginsCustomConfig"),
    # helm/litellm 1.0.0: gateway.config.proxy_config is written as LiteLLM's config.yaml
    # (templates/gateway/configmap.yaml, toYaml; the keys are LiteLLM's); the security contexts
    # are copied into the pod spec as they are (_workload.tpl, migrations-job.yaml, toYaml).
    "litellm": (
        "gateway.config.proxy_config",
        "gateway.podSecurityContext",
        "gateway.securityContext",
        "migrationJob.podSecurityContext",
        "migrationJob.securityContext",
    ),
    # Keys the tyk-gateway chart documents only in comments of its values.yaml and reads in
    # templates (_helpers.tpl redis_url / redis_secret_*, deployment-gw-repset.yaml); the pod's
    # labels and annotations; resource requirements, copied into the containers as they are.
    "tyk-gateway": (
        "global.redis.addrs",
        "global.redis.passSecret",
        "gateway.accessLogs.template",
        "gateway.podLabels",
        "gateway.podAnnotations",
        "gateway.resources",
        "gateway.initContainers.setupDirectories.resources",
    ),
    # Keys the tyk-pump chart documents only in comments of its values.yaml and reads in
    # templates (_helpers.tpl redis_url, redis_secret_*, mongo_url_secret_*,
    # pg_connection_string_secret_*); the pod's labels; the pod's and container's security
    # contexts and resources, copied into the pod spec as they are (Kubernetes' own objects).
    "tyk-pump": (
        "global.redis.addrs",
        "global.redis.passSecret",
        "global.mongo.connectionURLSecret",
        "global.postgres.connectionStringSecret",
        "pump.podLabels",
        "pump.resources",
        "pump.securityContext",
        "pump.containerSecurityContext",
    ),
    # KubeAI writes these maps into its system config as they are (templates/configmap.yaml):
    # resource profiles are named by the platform (one per GPU pool), images keyed by profile
    # image name, and the model pods' security contexts are Kubernetes' own objects.
    "kubeai": (
        "resourceProfiles",
        "modelServers.*.images",
        "modelServerPods.podSecurityContext",
        "modelServerPods.securityContext",
    ),
    # Valkey ACL users (names are the operator's; the chart reads permissions and passwordKey)
    # and the container's resource requirements.
    "valkey": ("auth.aclUsers", "resources"),
}

# Chart values the chart copies into a custom resource: chart path -> (CRD schema file, dotted
# field of that CRD). Below them, the CRD's schema lists what is allowed beyond the chart's
# own defaults (kube-prometheus-stack copies prometheusSpec fields into the Prometheus spec
# and storageSpec as spec.storage).
CRD_BACKED: dict[str, dict[str, tuple[str, str]]] = {
    "kube-prometheus-stack": {
        "prometheus.prometheusSpec": ("monitoring.coreos.com_v1_Prometheus.json", "spec"),
        "prometheus.prometheusSpec.storageSpec": ("monitoring.coreos.com_v1_Prometheus.json", "spec.storage"),
        "alertmanager.alertmanagerSpec": ("monitoring.coreos.com_v1_Alertmanager.json", "spec"),
        "alertmanager.alertmanagerSpec.storage": ("monitoring.coreos.com_v1_Alertmanager.json", "spec.storage"),
    },
}


@dataclass(frozen=True)
class ChartValues:
    """A pinned chart's carried default values, values schema and subcharts' defaults."""

    chart: str
    version: str
    defaults: dict[str, Any]
    schema: dict[str, Any] | None
    subcharts: dict[str, ChartValues]


ISTIO_DEFAULTS = "_internal_defaults_do_not_set"


def values_dir(chart: str, version: str, root: Path = VALUES_DIR) -> Path:
    return root / chart / version


@cache
def load_chart_values(chart: str, version: str, root: Path = VALUES_DIR) -> ChartValues:
    folder = values_dir(chart, version, root)
    return _load(folder, chart, version)


def _load(folder: Path, chart: str, version: str) -> ChartValues:
    file = folder / "values.yaml"
    if not file.is_file():
        raise FileNotFoundError(f"no carried values for chart {chart} {version}: {file} (run make schemas)")
    defaults = yaml.safe_load(file.read_text()) or {}
    # Istio's charts keep their defaults under `_internal_defaults_do_not_set` and merge them
    # under the top-level values at render time (templates/zzz_profile.yaml): they are top-level keys.
    internal = defaults.pop(ISTIO_DEFAULTS, None)
    if isinstance(internal, dict):
        defaults = deep_merge(internal, defaults)
    schema_file = folder / "values.schema.json"
    schema = json.loads(schema_file.read_text()) if schema_file.is_file() else None
    subcharts = {}
    sub_root = folder / "charts"
    if sub_root.is_dir():
        for sub in sorted(p for p in sub_root.iterdir() if p.is_dir()):
            subcharts[sub.name] = _load(sub, sub.name, "")
    return ChartValues(chart, version, defaults, schema, subcharts)


def _matches(path: tuple[str, ...], pattern: str) -> bool:
    parts = pattern.split(".")
    return len(parts) == len(path) and all(p in ("*", k) for p, k in zip(parts, path, strict=True))


@cache
def _crd_field(file: str, field: str, root: Path = CRD_DIR) -> dict[str, Any]:
    schema = json.loads((root / file).read_text())
    for part in field.split("."):
        schema = schema["properties"][part]
    return schema


def _schema_child(schema: Mapping[str, Any] | None, key: str) -> Mapping[str, Any] | None:
    if not isinstance(schema, Mapping):
        return None
    props = schema.get("properties") or {}
    if key in props:
        return props[key]
    extra = schema.get("additionalProperties")
    if isinstance(extra, Mapping):
        return extra
    if schema.get("x-kubernetes-preserve-unknown-fields") or extra is True:
        return {"x-kubernetes-preserve-unknown-fields": True}
    return None


def _schema_is_open(schema: Mapping[str, Any] | None) -> bool:
    """An object schema with no properties of its own: anything goes below it."""
    if not isinstance(schema, Mapping):
        return False
    return bool(schema.get("x-kubernetes-preserve-unknown-fields")) or (
        "properties" not in schema and schema.get("additionalProperties") not in (None, False)
    )


def unknown_keys(values: Mapping[str, Any], chart: ChartValues) -> list[str]:
    """Dotted paths of keys in values that the chart (at its carried version) does not have."""
    return sorted(_walk(values, chart, (), [chart.defaults], None))


def _walk(
    values: Mapping[str, Any],
    chart: ChartValues,
    path: tuple[str, ...],
    known: list[Any],
    crd: Mapping[str, Any] | None,
) -> Iterator[str]:
    for key, value in values.items():
        here = (*path, str(key))
        dotted = ".".join(here)
        if any(_matches(here, p) for p in FREE_FORM.get(chart.chart, ())):
            continue
        below = [k[key] for k in known if isinstance(k, Mapping) and key in k]
        # Below a subchart's name, the subchart's own defaults count as well.
        if not path and key in chart.subcharts:
            below.append(chart.subcharts[key].defaults)
        crd_below = _schema_child(crd, str(key)) if crd is not None else None
        backed = CRD_BACKED.get(chart.chart, {}).get(dotted)
        if backed:
            crd_below = _crd_field(*backed)
        if not below and crd_below is None:
            yield dotted
            continue
        if not isinstance(value, Mapping) or not value:
            continue
        if _schema_is_open(crd_below):
            continue
        nested = [b for b in below if isinstance(b, Mapping) and b]
        if not nested and crd_below is None:
            # The chart's default here is empty or scalar: it documents no keys below.
            yield from (f"{dotted}.{k}" for k in value)
            continue
        yield from _walk(value, chart, here, nested, crd_below)


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


OTHER_DRAFT_NAMES = {"https://json-schema.org/draft-07/schema#": jsonschema.Draft7Validator}


def schema_errors(values: Mapping[str, Any], chart: ChartValues) -> list[str]:
    """values.schema.json violations of the chart defaults with values merged over them (and of
    each subchart's section, against the subchart's own schema)."""
    found = []
    for name, sub in chart.subcharts.items():
        if isinstance(values.get(name), Mapping):
            found += [f"{name}.{e}" for e in schema_errors(values[name], sub)]
    if chart.schema is None:
        return found
    merged = deep_merge(chart.defaults, values)
    # Some charts name draft 7 by its https address, which jsonschema does not know by that name.
    validator_class = OTHER_DRAFT_NAMES.get(chart.schema.get("$schema", "")) or jsonschema.validators.validator_for(
        chart.schema
    )
    validator = validator_class(chart.schema)
    errors = sorted(validator.iter_errors(merged), key=lambda e: list(map(str, e.absolute_path)))
    return found + [f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:200]}" for e in errors]
