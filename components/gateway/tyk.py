"""The llm-gateway layer's Tyk part: the open-source Tyk Gateway, its Valkey store, and tenants.

Children of the llm-gateway root, in sync-wave order:
- `tyk-config` (wave 10): the API definitions (the key-authenticated API, and a JWT entrance per
  tenant with an `oidcGroup`) and one policy per tenant as files (ConfigMaps the gateway mounts
  as its app and policy directories), the `tyk-gateway` Service, NetworkPolicies, the
  secrets hook and, with TLS, the certificate reload CronJob (components/gateway/tenants.py).
- `tyk-redis` (wave 11): Valkey, the Valkey project's chart (catalog entry tyk-redis).
- `tyk` (wave 20): the tyk-gateway chart (catalog entry tyk).
- `tyk-pump` (wave 21): Tyk Pump, analytics records to Prometheus (components/gateway/tyk_pump.py);
  its PodMonitor and NetworkPolicy are in `tyk-config`.
- `tyk-tenants` (wave 30): the tenant reconcile Job (components/gateway/tenants.py); needs LiteLLM.

Pod labels: Tyk gateway pods `app.kubernetes.io/name: tyk-gateway`; the store's
`app.kubernetes.io/name: valkey` + `app.kubernetes.io/instance: tyk-redis`; the reconcile Job's
`app.kubernetes.io/name: tenant-reconciler`; the secrets hook's `app.kubernetes.io/name: tyk-secrets`;
the pump's `app.kubernetes.io/name: tyk-pump`.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from components.applications import application, chart_source, manifests_source
from components.catalog import CatalogEntry, load_catalog
from components.computed_values import computed_values
from components.config import StackConfig
from components.config.gateway import OidcConfig
from components.config.tenants import Tenant
from components.gateway import names, pki, tyk_pump
from components.gateway.tenants import certificate_reload, secrets_hook, tenant_objects
from components.gateway.tyk_shared import (
    API_ID,
    DNS,
    KUBE_API,
    LITELLM_POD,
    ORG_ID,
    SECRETS_POD,
    STORE_POD,
    TYK_POD,
    egress_to,
    meta,
    network_policy,
)
from components.values import deep_merge

# Cluster-scoped kinds this part's charts and manifests create: none.
CLUSTER_KINDS: list[dict[str, str]] = []

CONFIG_WAVE = 10
TENANTS_WAVE = 30


def _upstream_authorization(key: str) -> dict[str, Any]:
    """An API's one unversioned version, which sends LiteLLM `Bearer <key>` (a Tyk variable)."""
    return {
        "not_versioned": True,
        "default_version": "Default",
        "versions": {
            "Default": {
                "name": "Default",
                "use_extended_paths": True,
                "global_headers": {"Authorization": f"Bearer {key}"},
            }
        },
    }


def api_definition(tls: bool = False) -> dict[str, Any]:
    """The one API: every path to LiteLLM, auth by key, the tenant's LiteLLM key injected upstream.
    With `tls`, LiteLLM's TLS port; Tyk verifies its certificate against the system roots, to
    which the layer's CA is added (SSL_CERT_DIR, see tls_values)."""
    return {
        "name": API_ID,
        "api_id": API_ID,
        "org_id": ORG_ID,
        "slug": API_ID,
        "active": True,
        "use_keyless": False,
        "auth": {"auth_header_name": "Authorization"},
        "auth_configs": {"authToken": {"auth_header_name": "Authorization"}},
        # The client's Tyk key goes no further than Tyk.
        "strip_auth_data": True,
        "proxy": {"listen_path": "/", "target_url": names.litellm_url(tls), "strip_listen_path": False},
        # $tyk_meta.* reads the session's meta_data (gateway/mw_url_rewrite.go, applied by
        # mw_modify_headers.go to global headers); the reconciler puts the key there.
        "version_data": _upstream_authorization("$tyk_meta.litellm_key"),
    }


def key_env(tenant: str) -> str:
    """`$secret_env.<name>` resolves to the gateway's environment variable TYK_SECRET_<NAME>."""
    return "litellm_key_" + tenant.replace("-", "_")


def jwt_api(tenant: Tenant, oidc: OidcConfig, tls: bool = False) -> dict[str, Any]:
    """A tenant's JWT entrance (/oidc/<tenant>/): the provider's signature, and membership of the
    tenant's group (scope-to-policy mapping, no default policy: no group, no entry).

    A JWT session takes its meta_data from policies, which are files in git: it cannot carry the
    tenant's LiteLLM key. That key reaches this API from the tenant's Secret as an environment
    variable of the gateway ($secret_env, gateway/mw_url_rewrite.go).
    """
    api_id = f"tenant-{tenant.name}-oidc"
    return {
        "name": api_id,
        "api_id": api_id,
        "org_id": ORG_ID,
        "slug": api_id,
        "active": True,
        "use_keyless": False,
        "enable_jwt": True,
        "jwt_signing_method": "rsa",
        # Tyk fetches and caches the JWKS from this URL (mw_jwt.go getSecretFromURL); base64 as documented.
        "jwt_source": base64.b64encode(oidc.jwks_uri.encode()).decode(),
        "jwt_identity_base_field": oidc.identity_claim,
        "jwt_scope_claim_name": oidc.groups_claim,
        "jwt_scope_to_policy_mapping": {tenant.oidc_group: f"tenant-{tenant.name}"},
        "jwt_default_policies": [],
        "auth_configs": {"jwt": {"auth_header_name": "Authorization"}},
        "strip_auth_data": True,
        "proxy": {
            "listen_path": f"/oidc/{tenant.name}/",
            "target_url": names.litellm_url(tls),
            "strip_listen_path": True,
        },
        "version_data": _upstream_authorization(f"$secret_env.{key_env(tenant.name)}"),
    }


def policy(tenant: Tenant) -> dict[str, Any]:
    """The tenant's Tyk policy: rate limit and quota (none when unset: rate 0, quota -1)."""
    rate = tenant.rate_limit
    quota = tenant.quota
    return {
        "id": f"tenant-{tenant.name}",
        "name": f"tenant-{tenant.name}",
        "org_id": ORG_ID,
        "active": True,
        "rate": rate.requests if rate else 0,
        "per": rate.per_seconds if rate else 0,
        "quota_max": quota.requests if quota else -1,
        "quota_renewal_rate": quota.period_seconds if quota else -1,
        "access_rights": {api: {"api_id": api, "api_name": api, "versions": ["Default"]} for api in _apis(tenant)},
        "meta_data": {"tenant": tenant.name},
        "tags": ["tenant"],
    }


def _apis(tenant: Tenant) -> list[str]:
    return [API_ID] + ([f"tenant-{tenant.name}-oidc"] if tenant.oidc_group else [])


def config_maps(cfg: StackConfig) -> list[dict[str, Any]]:
    tls = pki.enabled(cfg)
    apps = {f"{API_ID}.json": json.dumps(api_definition(tls), indent=2, sort_keys=True)}
    for tenant in cfg.tenants:
        if tenant.oidc_group and cfg.gateway.oidc:
            apps[f"tenant-{tenant.name}-oidc.json"] = json.dumps(
                jwt_api(tenant, cfg.gateway.oidc, tls), indent=2, sort_keys=True
            )
    policies = {f"tenant-{t.name}.json": json.dumps(policy(t), indent=2, sort_keys=True) for t in cfg.tenants}
    return [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("tyk-apps"), "data": apps},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("tyk-policies"), "data": policies},
    ]


def config_checksum(cfg: StackConfig) -> str:
    """Tyk reads apps and policies at start: a change rolls the gateway pods."""
    data = [cm["data"] for cm in config_maps(cfg)]
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def service(tls: bool = False) -> dict[str, Any]:
    """The address the contract names (tyk-gateway:8080); the chart's own is gateway-svc-tyk."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(names.TYK_SERVICE),
        "spec": {
            "type": "ClusterIP",
            "selector": TYK_POD,
            "ports": [
                {
                    "name": "https" if tls else "http",
                    "port": names.TYK_PORT,
                    "targetPort": names.TYK_PORT,
                    "protocol": "TCP",
                }
            ],
        },
    }


def network_policies(cfg: StackConfig) -> list[dict[str, Any]]:
    """Clients -> Tyk (any source: Tyk is the edge that authenticates); Tyk -> LiteLLM and its
    store only (and, with OIDC, the provider's JWKS over HTTPS); the store from Tyk only; the
    secrets hook to the API server only."""
    litellm_port = names.LITELLM_TLS_PORT if pki.enabled(cfg) else names.LITELLM_PORT
    egress = [egress_to(LITELLM_POD, litellm_port), egress_to(STORE_POD, 6379), DNS]
    if cfg.gateway.oidc is not None:
        # The provider is outside the cluster, its address unknown here: HTTPS, anywhere.
        egress.append({"ports": [{"port": 443, "protocol": "TCP"}]})
    return [
        network_policy("tyk-gateway", TYK_POD, [{"ports": [{"port": names.TYK_PORT, "protocol": "TCP"}]}], egress),
        network_policy(
            "tyk-redis",
            STORE_POD,
            [{"from": _store_clients(cfg), "ports": [{"port": 6379, "protocol": "TCP"}]}],
            [],
        ),
        network_policy("tyk-secrets", SECRETS_POD, [], [KUBE_API, DNS]),
    ]


def _store_clients(cfg: StackConfig) -> list[dict[str, Any]]:
    """Tyk, and Tyk Pump where it drains the analytics records."""
    pods = [TYK_POD, *([tyk_pump.PUMP_POD] if tyk_pump.enabled(cfg) else [])]
    return [{"podSelector": {"matchLabels": dict(p)}} for p in pods]


def chart_values(entry: CatalogEntry, cfg: StackConfig, facts: dict[str, Any]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if entry.name == "tyk":
        env = [
            # Revocation lists the keys it made; Tyk stores them hashed (config enable_hashed_keys_listing).
            {"name": "TYK_GW_ENABLEHASHEDKEYSLISTING", "value": "true"},
            *(
                {
                    "name": "TYK_SECRET_" + key_env(t.name).upper(),
                    # Optional: a missing key sends an empty bearer upstream, which LiteLLM refuses.
                    "valueFrom": {
                        "secretKeyRef": {"name": f"tenant-{t.name}-litellm-key", "key": "key", "optional": True}
                    },
                }
                for t in cfg.tenants
                if t.oidc_group
            ),
        ]
        if pki.enabled(cfg):
            # Go's system roots: the image's bundle file and every file in these directories (the
            # usual certificate directory, kept, and the layer's CA).
            env.append({"name": "SSL_CERT_DIR", "value": f"/etc/ssl/certs:{pki.CA_DIR}"})
        analytics = tyk_pump.gateway_values(cfg)
        pod = {
            "podAnnotations": {"inference-platform/tyk-config": config_checksum(cfg)},
            "extraEnvs": [*env, *analytics["extraEnvs"]],
            "analyticsEnabled": analytics["analyticsEnabled"],
        }
        extra = deep_merge({"gateway": pod}, tls_values(cfg, entry.values))
    elif entry.name == tyk_pump.COMPONENT:
        return tyk_pump.chart_values(entry, cfg, facts)
    return deep_merge(entry.values, computed_values(entry.name, facts), extra, cfg.overrides(entry.name))


def tls_values(cfg: StackConfig, base: dict[str, Any]) -> dict[str, Any]:
    """The tyk-gateway chart's TLS (chart 5.3.0): `global.tls.gateway` serves HTTPS on the
    gateway port (TYK_GW_HTTPSERVEROPTIONS_USESSL) and switches the chart's probes to HTTPS, with
    the certificate mounted from `gateway.tls.secretName` (the layer's tyk-gateway-tls; the
    chart's own default certificate is not installed). Upstream, Tyk 5.13.1 has no CA setting: it
    verifies LiteLLM against Go's system roots, which read every file in SSL_CERT_DIR besides
    the image's bundle; the layer's CA is mounted there. Tyk loads both at start: a renewed
    listener certificate is served after a restart, which the CronJob of certificate_reload
    makes (docs/gateway.md#tls)."""
    if not pki.enabled(cfg):
        return {}
    gateway = base.get("gateway") or {}
    return {
        "global": {"tls": {"gateway": True, "useDefaultTykCertificate": False}},
        "gateway": {
            "tls": {"secretName": pki.TYK_CERT},
            "extraVolumes": [*gateway.get("extraVolumes", []), pki.ca_volume()],
            "extraVolumeMounts": [*gateway.get("extraVolumeMounts", []), pki.ca_mount()],
        },
    }


def _child(name: str, wave: int, source: dict[str, Any], cfg: StackConfig) -> dict[str, Any]:
    return application(
        name,
        project="llm-gateway",
        namespace=names.NAMESPACE,
        source=source,
        argocd_namespace=cfg.argocd.namespace,
        wave=wave,
        labels={"inference-platform/layer": "llm-gateway"},
    )


def children(cfg: StackConfig, facts: dict[str, Any]) -> list[dict[str, Any]]:
    """Child Applications of the llm-gateway root for this part."""
    if not cfg.enabled("tyk"):
        return []
    catalog = load_catalog()
    config = [
        *config_maps(cfg),
        service(pki.enabled(cfg)),
        *network_policies(cfg),
        *secrets_hook(cfg),
        *certificate_reload(cfg),
        *tyk_pump.objects(cfg),
    ]
    apps = [_child("tyk-config", CONFIG_WAVE, manifests_source(config, "tyk-config"), cfg)]
    for name in ("tyk-redis", "tyk", tyk_pump.COMPONENT):
        entry = catalog[name]
        if cfg.enabled(name):
            source = chart_source(entry.chart, chart_values(entry, cfg, facts), name)
            apps.append(_child(name, entry.wave, source, cfg))
    if cfg.enabled("litellm"):
        apps.append(_child("tyk-tenants", TENANTS_WAVE, manifests_source(tenant_objects(cfg), "tyk-tenants"), cfg))
    return sorted(apps, key=lambda app: int(app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]))
