"""The llm-gateway layer's Tyk part: the open-source Tyk Gateway, its Valkey store, and tenants.

Children of the llm-gateway root, in sync-wave order:
- `tyk-config` (wave 10): the API definition and one policy per tenant as files (ConfigMaps the
  gateway mounts as its app and policy directories), the `tyk-gateway` Service, NetworkPolicies,
  and a Sync hook Job that creates the gateway's API secret and the store's password as random
  Secrets when absent (`tyk-gateway-secret`/APISecret, `tyk-redis-auth`/password).
- `tyk-redis` (wave 11): Valkey, the Valkey project's chart (catalog entry tyk-redis).
- `tyk` (wave 20): the tyk-gateway chart (catalog entry tyk).
- `tyk-tenants` (wave 30): the tenant reconciler (components/gateway/tenant_reconciler.py) as a
  PostSync hook Job with its RBAC and NetworkPolicy; needs LiteLLM.

Pod labels: Tyk gateway pods `app.kubernetes.io/name: tyk-gateway`; the store's
`app.kubernetes.io/name: valkey` + `app.kubernetes.io/instance: tyk-redis`; the reconcile Job's
`app.kubernetes.io/name: tenant-reconciler`; the secrets hook's `app.kubernetes.io/name: tyk-secrets`.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from components.applications import application, chart_source, manifests_source
from components.catalog import CatalogEntry, load_catalog
from components.computed_values import computed_values
from components.config import StackConfig
from components.config.gateway import OidcConfig
from components.config.tenants import Tenant
from components.gateway import names
from components.values import deep_merge

# Cluster-scoped kinds this part's charts and manifests create: none.
CLUSTER_KINDS: list[dict[str, str]] = []

CONFIG_WAVE = 10
TENANTS_WAVE = 30
API_ID = "llm"
ORG_ID = "inference-platform"
GATEWAY_SECRET = "tyk-gateway-secret"
STORE_SECRET = "tyk-redis-auth"
# A plain, pinned Python: the reconciler needs the standard library only.
JOB_IMAGE = "docker.io/library/python:3.13.7-slim"
RECONCILER = Path(__file__).with_name("tenant_reconciler.py")
LITELLM_POD = {"app.kubernetes.io/name": "litellm"}
TYK_POD = {"app.kubernetes.io/name": "tyk-gateway"}
STORE_POD = {"app.kubernetes.io/name": "valkey", "app.kubernetes.io/instance": "tyk-redis"}
RECONCILER_POD = {"app.kubernetes.io/name": "tenant-reconciler"}
SECRETS_POD = {"app.kubernetes.io/name": "tyk-secrets"}
LABELS = {"app.kubernetes.io/part-of": "inference-platform", "app.kubernetes.io/component": "tyk"}


def tyk_url() -> str:
    return f"http://{names.TYK_SERVICE}.{names.NAMESPACE}.svc.cluster.local:{names.TYK_PORT}"


def api_definition() -> dict[str, Any]:
    """The one API: every path to LiteLLM, auth by key, the tenant's LiteLLM key injected upstream."""
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
        # No analytics records in the store: nothing (no Pump) would drain them. The access log is the record.
        "do_not_track": True,
        "proxy": {"listen_path": "/", "target_url": names.litellm_url(), "strip_listen_path": False},
        "version_data": {
            "not_versioned": True,
            "default_version": "Default",
            "versions": {
                "Default": {
                    "name": "Default",
                    "use_extended_paths": True,
                    # $tyk_meta.* reads the session's meta_data (gateway/mw_url_rewrite.go, applied by
                    # mw_modify_headers.go to global headers); the reconciler puts the key there.
                    "global_headers": {"Authorization": "Bearer $tyk_meta.litellm_key"},
                }
            },
        },
    }


def key_env(tenant: str) -> str:
    """`$secret_env.<name>` resolves to the gateway's environment variable TYK_SECRET_<NAME>."""
    return "litellm_key_" + tenant.replace("-", "_")


def jwt_api(tenant: Tenant, oidc: OidcConfig) -> dict[str, Any]:
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
        "do_not_track": True,
        "proxy": {"listen_path": f"/oidc/{tenant.name}/", "target_url": names.litellm_url(), "strip_listen_path": True},
        "version_data": {
            "not_versioned": True,
            "default_version": "Default",
            "versions": {
                "Default": {
                    "name": "Default",
                    "use_extended_paths": True,
                    "global_headers": {"Authorization": f"Bearer $secret_env.{key_env(tenant.name)}"},
                }
            },
        },
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


def team(tenant: Tenant) -> dict[str, Any]:
    """The tenant's LiteLLM team: budget reset monthly, TPM/RPM, allowed models."""
    fields: dict[str, Any] = {
        "team_id": tenant.name,
        "team_alias": tenant.name,
        "max_budget": tenant.monthly_budget,
        "budget_duration": "1mo",
        "models": list(tenant.models),
        "metadata": {"managed-by": ORG_ID, "tenant": tenant.name},
    }
    if tenant.tpm is not None:
        fields["tpm_limit"] = tenant.tpm
    if tenant.rpm is not None:
        fields["rpm_limit"] = tenant.rpm
    return fields


def tenants_spec(cfg: StackConfig) -> dict[str, Any]:
    """What the reconciler reads: no key, only names and limits."""
    return {
        "apiId": API_ID,
        "orgId": ORG_ID,
        "tenants": [{"name": t.name, "policy": f"tenant-{t.name}", "team": team(t)} for t in cfg.tenants],
    }


def _meta(name: str, labels: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": names.NAMESPACE, "labels": {**LABELS, **(labels or {})}, **extra}


def config_maps(cfg: StackConfig) -> list[dict[str, Any]]:
    apps = {f"{API_ID}.json": json.dumps(api_definition(), indent=2, sort_keys=True)}
    for tenant in cfg.tenants:
        if tenant.oidc_group and cfg.gateway.oidc:
            apps[f"tenant-{tenant.name}-oidc.json"] = json.dumps(
                jwt_api(tenant, cfg.gateway.oidc), indent=2, sort_keys=True
            )
    policies = {f"tenant-{t.name}.json": json.dumps(policy(t), indent=2, sort_keys=True) for t in cfg.tenants}
    return [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("tyk-apps"), "data": apps},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta("tyk-policies"), "data": policies},
    ]


def config_checksum(cfg: StackConfig) -> str:
    """Tyk reads apps and policies at start: a change rolls the gateway pods."""
    data = [cm["data"] for cm in config_maps(cfg)]
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def service() -> dict[str, Any]:
    """The address the contract names (tyk-gateway:8080); the chart's own is gateway-svc-tyk."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(names.TYK_SERVICE),
        "spec": {
            "type": "ClusterIP",
            "selector": TYK_POD,
            "ports": [{"name": "http", "port": names.TYK_PORT, "targetPort": names.TYK_PORT, "protocol": "TCP"}],
        },
    }


DNS = {
    "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
    "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
}
# The API server's address differs per substrate (and is no pod): its ports, anywhere.
KUBE_API = {"ports": [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}]}


def _to(pods: dict[str, str], port: int) -> dict[str, Any]:
    return {"to": [{"podSelector": {"matchLabels": pods}}], "ports": [{"port": port, "protocol": "TCP"}]}


def _policy(name: str, pods: dict[str, str], ingress: list[Any], egress: list[Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(name),
        "spec": {
            "podSelector": {"matchLabels": pods},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": egress,
        },
    }


def network_policies(cfg: StackConfig) -> list[dict[str, Any]]:
    """Clients -> Tyk (any source: Tyk is the edge that authenticates); Tyk -> LiteLLM and its
    store only (and, with OIDC, the provider's JWKS over HTTPS); the store from Tyk only; the
    secrets hook to the API server only."""
    egress = [_to(LITELLM_POD, names.LITELLM_PORT), _to(STORE_POD, 6379), DNS]
    if cfg.gateway.oidc is not None:
        # The provider is outside the cluster, its address unknown here: HTTPS, anywhere.
        egress.append({"ports": [{"port": 443, "protocol": "TCP"}]})
    return [
        _policy("tyk-gateway", TYK_POD, [{"ports": [{"port": names.TYK_PORT, "protocol": "TCP"}]}], egress),
        _policy(
            "tyk-redis",
            STORE_POD,
            [{"from": [{"podSelector": {"matchLabels": TYK_POD}}], "ports": [{"port": 6379, "protocol": "TCP"}]}],
            [],
        ),
        _policy("tyk-secrets", SECRETS_POD, [], [KUBE_API, DNS]),
    ]


def _rbac(name: str, secret_names: list[str]) -> list[dict[str, Any]]:
    """get on the named Secrets only; create on Secrets (RBAC cannot limit create by name: the
    name is not known when a create is authorised)."""
    rules = [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]}]
    if secret_names:
        # An empty resourceNames would mean every Secret: the rule exists only with names.
        rules.insert(0, {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNames": secret_names})
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _meta(name),
            "automountServiceAccountToken": False,
        },
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": _meta(name), "rules": rules},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": _meta(name),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": names.NAMESPACE}],
        },
    ]


# The Jobs call the Kubernetes API: a short-lived projected token, mounted where clients look
# for it, instead of the automounted one.
API_ACCESS = {
    "name": "kube-api-access",
    "projected": {
        "sources": [
            {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
        ]
    },
}
CREDENTIALS_DIR = "/var/run/credentials"


def _job(
    name: str,
    pods: dict[str, str],
    hook: str,
    env: list[dict[str, Any]],
    config_map: str,
    credentials: dict[str, tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """credentials: file name -> (Secret, key), mounted read-only under CREDENTIALS_DIR."""
    uid = 65534
    credentials = credentials or {}
    mounts = [
        {"name": "reconciler", "mountPath": "/opt/reconciler", "readOnly": True},
        {"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": True},
    ]
    volumes = [{"name": "reconciler", "configMap": {"name": config_map}}, API_ACCESS]
    for file, (secret, key) in credentials.items():
        mounts.append({"name": file, "mountPath": f"{CREDENTIALS_DIR}/{file}", "subPath": key, "readOnly": True})
        volumes.append({"name": file, "secret": {"secretName": secret, "items": [{"key": key, "path": key}]}})
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _meta(
            name,
            pods,
            annotations={
                "argocd.argoproj.io/hook": hook,
                # A new run replaces the last one; a successful run leaves nothing behind.
                "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation,HookSucceeded",
            },
        ),
        "spec": {
            # Retries: the reconciler itself retries each run (ATTEMPTS x PAUSE_SECONDS), the Job its pod.
            "backoffLimit": 4,
            "activeDeadlineSeconds": 1800,
            "template": {
                "metadata": {"labels": {**LABELS, **pods}},
                "spec": {
                    "serviceAccountName": name,
                    "automountServiceAccountToken": False,
                    "restartPolicy": "Never",
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": uid,
                        "runAsGroup": uid,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [
                        {
                            "name": name,
                            "image": JOB_IMAGE,
                            "imagePullPolicy": "IfNotPresent",
                            "command": ["python", "/opt/reconciler/tenant_reconciler.py"],
                            "env": [{"name": "PYTHONDONTWRITEBYTECODE", "value": "1"}, *env],
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "runAsNonRoot": True,
                                "runAsUser": uid,
                                "capabilities": {"drop": ["ALL"]},
                                "seccompProfile": {"type": "RuntimeDefault"},
                            },
                            "resources": {
                                "requests": {"cpu": "50m", "memory": "64Mi"},
                                "limits": {"cpu": "500m", "memory": "128Mi"},
                            },
                            "volumeMounts": mounts,
                        }
                    ],
                    "volumes": volumes,
                },
            },
        },
    }


def secrets_hook(cfg: StackConfig) -> list[dict[str, Any]]:
    """The gateway's API secret, the store's password and the tenants' LiteLLM keys, random,
    created in the cluster if absent: before the gateway starts, which reads JWT tenants' keys
    from its environment."""
    wanted = [f"{GATEWAY_SECRET}/APISecret", f"{STORE_SECRET}/password"]
    wanted += [f"tenant-{t.name}-litellm-key/key:litellm" for t in cfg.tenants]
    script = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta("tyk-secrets"),
        "data": {"tenant_reconciler.py": RECONCILER.read_text()},
    }
    env = [{"name": "ENSURE_SECRETS", "value": ",".join(wanted)}]
    return [
        script,
        *_rbac("tyk-secrets", [item.split("/")[0] for item in wanted]),
        _job("tyk-secrets", SECRETS_POD, "Sync", env, "tyk-secrets"),
    ]


def tenant_objects(cfg: StackConfig) -> list[dict[str, Any]]:
    owned = [f"tenant-{t.name}-{kind}" for t in cfg.tenants for kind in ("litellm-key", "key")]
    script = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta("tenant-reconciler"),
        "data": {
            "tenant_reconciler.py": RECONCILER.read_text(),
            "tenants.json": json.dumps(tenants_spec(cfg), indent=2, sort_keys=True),
        },
    }
    env = [
        {"name": "TENANTS_FILE", "value": "/opt/reconciler/tenants.json"},
        {"name": "LITELLM_URL", "value": names.litellm_url()},
        {"name": "TYK_URL", "value": tyk_url()},
        {"name": "CREDENTIALS_DIR", "value": CREDENTIALS_DIR},
        {"name": "ATTEMPTS", "value": "10"},
        {"name": "PAUSE_SECONDS", "value": "15"},
    ]
    egress = [_to(LITELLM_POD, names.LITELLM_PORT), _to(TYK_POD, names.TYK_PORT), KUBE_API, DNS]
    return [
        script,
        *_rbac("tenant-reconciler", owned),
        _policy("tenant-reconciler", RECONCILER_POD, [], egress),
        _job(
            "tenant-reconciler",
            RECONCILER_POD,
            "PostSync",
            env,
            "tenant-reconciler",
            # Files, not environment variables. The master key Secret is LiteLLM's; the API
            # secret is generated by the tyk-secrets hook.
            {"litellm-master-key": ("litellm-master-key", "master-key"), "tyk-secret": (GATEWAY_SECRET, "APISecret")},
        ),
    ]


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
        pod = {"podAnnotations": {"inference-platform/tyk-config": config_checksum(cfg)}, "extraEnvs": env}
        extra = {"gateway": pod}
    return deep_merge(entry.values, computed_values(entry.name, facts), extra, cfg.overrides(entry.name))


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
    config = [*config_maps(cfg), service(), *network_policies(cfg), *secrets_hook(cfg)]
    apps = [_child("tyk-config", CONFIG_WAVE, manifests_source(config, "tyk-config"), cfg)]
    for name in ("tyk-redis", "tyk"):
        entry = catalog[name]
        if cfg.enabled(name):
            source = chart_source(entry.chart, chart_values(entry, cfg, facts), name)
            apps.append(_child(name, entry.wave, source, cfg))
    if cfg.enabled("litellm"):
        apps.append(_child("tyk-tenants", TENANTS_WAVE, manifests_source(tenant_objects(cfg), "tyk-tenants"), cfg))
    return sorted(apps, key=lambda app: int(app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]))
