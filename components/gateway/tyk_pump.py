"""Tyk's request analytics as Prometheus metrics: the gateway's analytics switches and Tyk Pump.

Tyk OSS 5.13.1 has no metrics endpoint. With `enable_analytics` on, the gateway writes one
record per proxied request to its store (the Valkey list `analytics-tyk-system-analytics`);
Tyk Pump (catalog entry `tyk-pump`, chart `tyk-pump` 5.3.0, image v1.16.0) drains that list
every `purgeDelay` seconds and, with only its Prometheus pump configured, counts the records
into series on :9090/metrics, which Prometheus scrapes through the PodMonitor here.

What this module renders (all pure):
- the gateway's analytics values (`gateway_values`): analytics on exactly when the pump runs,
  never detailed recording (the raw request would carry the caller's key), records expire
  from the store if no pump drains them;
- the pump's chart values (`chart_values`): the catalog's plus its security contexts;
- its ServiceAccount (no token), PodMonitor and NetworkPolicy (`objects`), which go with the
  `tyk-config` Application.

Pump pods: `app.kubernetes.io/name: tyk-pump` (the store's NetworkPolicy admits them).
"""

from __future__ import annotations

from typing import Any

from components.catalog import CatalogEntry
from components.computed_values import computed_values
from components.config import StackConfig
from components.gateway.tyk_shared import DNS, STORE_POD, egress_to, meta, network_policy
from components.security import restricted_container, restricted_pod
from components.values import deep_merge

COMPONENT = "tyk-pump"
PUMP_POD = {"app.kubernetes.io/name": "tyk-pump"}
# The chart's container port name and the Prometheus pump's listener (pump.containerPort).
METRICS_PORT_NAME = "tyk-pump-port"
METRICS_PORT = 9090
STORE_PORT = 6379
# The docker.tyk.io/tyk-pump/tyk-pump image is distroless `static-debian13:nonroot`
# (ci/Dockerfile.distroless at v1.16.0): user and group 65532.
PUMP_UID = 65532
PROMETHEUS = {"namespace": "monitoring", "pod": {"app.kubernetes.io/name": "prometheus"}}
# Seconds an analytics list lives in the store once written, unless the pump drains it first
# (the gateway's RedisPurger sets this TTL on a list that has none; 60 is Tyk's default).
STORAGE_EXPIRATION_SECONDS = 60


def enabled(cfg: StackConfig) -> bool:
    """The pump runs where Tyk runs, unless `components.tyk-pump.enabled` is false."""
    return cfg.enabled("tyk") and cfg.enabled(COMPONENT)


def gateway_values(cfg: StackConfig) -> dict[str, Any]:
    """The tyk-gateway chart's analytics switches (`gateway.analyticsEnabled` sets
    TYK_GW_ENABLEANALYTICS) and the analytics_config variables, for the gateway section."""
    on = enabled(cfg)
    env = [
        # Never the raw request and response in a record: the request carries the caller's key.
        {"name": "TYK_GW_ANALYTICSCONFIG_ENABLEDETAILEDRECORDING", "value": "false"},
        # A record nobody drains (pump down) is gone after this many seconds.
        {"name": "TYK_GW_ANALYTICSCONFIG_STORAGEEXPIRATIONTIME", "value": str(STORAGE_EXPIRATION_SECONDS)},
    ]
    return {"analyticsEnabled": "true" if on else "false", "extraEnvs": env if on else []}


def chart_values(entry: CatalogEntry, cfg: StackConfig, facts: dict[str, Any]) -> dict[str, Any]:
    security = {
        "securityContext": restricted_pod(PUMP_UID),
        "containerSecurityContext": {**restricted_container(PUMP_UID), "privileged": False},
    }
    return deep_merge(entry.values, computed_values(entry.name, facts), {"pump": security}, cfg.overrides(entry.name))


def pod_monitor() -> dict[str, Any]:
    """Prometheus scrapes the pump's /metrics on its named container port."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": meta(COMPONENT),
        "spec": {
            "selector": {"matchLabels": dict(PUMP_POD)},
            "podMetricsEndpoints": [{"port": METRICS_PORT_NAME, "path": "/metrics", "interval": "30s"}],
        },
    }


def pump_policy() -> dict[str, Any]:
    """Prometheus -> the pump's metrics port only; the pump -> DNS and the store only."""
    prometheus = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": PROMETHEUS["namespace"]}},
        "podSelector": {"matchLabels": dict(PROMETHEUS["pod"])},
    }
    ingress = [{"from": [prometheus], "ports": [{"port": METRICS_PORT, "protocol": "TCP"}]}]
    return network_policy(COMPONENT, PUMP_POD, ingress, [egress_to(STORE_POD, STORE_PORT), DNS])


def service_account() -> dict[str, Any]:
    """The pump calls no Kubernetes API: its pods mount no token (the chart runs them under
    `pump.serviceAccountName` and has no switch for the token itself)."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta(COMPONENT),
        "automountServiceAccountToken": False,
    }


def objects(cfg: StackConfig) -> list[dict[str, Any]]:
    """The pump's manifests beside Tyk's config (created before the pump); none when it is off."""
    return [service_account(), pod_monitor(), pump_policy()] if enabled(cfg) else []
