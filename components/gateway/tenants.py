"""Tenants in the cluster: the secrets hook and the reconcile Job, their RBAC and NetworkPolicy.

The Jobs run components/gateway/tenant_reconciler.py (standard-library Python, mounted from a
ConfigMap). The secrets hook (`tyk-secrets`, a Sync hook of tyk-config) creates random Secrets
only when absent; the reconcile Job (`tenant-reconciler`, a PostSync hook of tyk-tenants)
brings LiteLLM teams and keys and Tyk keys in line with `tenants`. With TLS, the CronJob
`tyk-certificate-reload` (tyk-config) restarts Tyk after cert-manager renews its certificate.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from components.config import StackConfig
from components.config.tenants import Tenant
from components.gateway import names, pki
from components.gateway.tyk_shared import (
    API_ID,
    DNS,
    GATEWAY_SECRET,
    KUBE_API,
    LABELS,
    LITELLM_POD,
    ORG_ID,
    RECONCILER_POD,
    RELOAD_POD,
    SECRETS_POD,
    STORE_SECRET,
    TYK_DEPLOYMENT,
    TYK_POD,
    egress_to,
    meta,
    network_policy,
    tyk_url,
)
from components.security import restricted_container, restricted_pod

# A plain, pinned Python: the reconciler needs the standard library only.
JOB_IMAGE = "docker.io/library/python:3.13.7-slim"
RECONCILER = Path(__file__).with_name("tenant_reconciler.py")


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
            "metadata": meta(name),
            "automountServiceAccountToken": False,
        },
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta(name), "rules": rules},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": meta(name),
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
# The layer's CA certificate among the credentials (a volume name: no dots).
CA_FILE_NAME = "llm-gateway-ca"


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
        "metadata": meta(
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
                    "securityContext": restricted_pod(uid),
                    "containers": [
                        {
                            "name": name,
                            "image": JOB_IMAGE,
                            "imagePullPolicy": "IfNotPresent",
                            "command": ["python", "/opt/reconciler/tenant_reconciler.py"],
                            "env": [{"name": "PYTHONDONTWRITEBYTECODE", "value": "1"}, *env],
                            "securityContext": restricted_container(uid),
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
        "metadata": meta("tyk-secrets"),
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
        "metadata": meta("tenant-reconciler"),
        "data": {
            "tenant_reconciler.py": RECONCILER.read_text(),
            "tenants.json": json.dumps(tenants_spec(cfg), indent=2, sort_keys=True),
        },
    }
    tls = pki.enabled(cfg)
    env = [
        {"name": "TENANTS_FILE", "value": "/opt/reconciler/tenants.json"},
        {"name": "LITELLM_URL", "value": names.litellm_url(tls)},
        {"name": "TYK_URL", "value": tyk_url(tls)},
        {"name": "CREDENTIALS_DIR", "value": CREDENTIALS_DIR},
        {"name": "ATTEMPTS", "value": "10"},
        {"name": "PAUSE_SECONDS", "value": "15"},
    ]
    # Files, not environment variables. The master key Secret is LiteLLM's; the API secret is
    # generated by the tyk-secrets hook; with TLS, the layer's CA certificate (item ca.crt only).
    credentials = {
        "litellm-master-key": ("litellm-master-key", "master-key"),
        "tyk-secret": (GATEWAY_SECRET, "APISecret"),
    }
    if tls:
        credentials[CA_FILE_NAME] = (pki.CA, pki.CA_KEY)
        env.append({"name": "CA_FILE", "value": f"{CREDENTIALS_DIR}/{CA_FILE_NAME}"})
    litellm_port = names.LITELLM_TLS_PORT if tls else names.LITELLM_PORT
    egress = [egress_to(LITELLM_POD, litellm_port), egress_to(TYK_POD, names.TYK_PORT), KUBE_API, DNS]
    return [
        script,
        *_rbac("tenant-reconciler", owned),
        network_policy("tenant-reconciler", RECONCILER_POD, [], egress),
        _job(
            "tenant-reconciler",
            RECONCILER_POD,
            "PostSync",
            env,
            "tenant-reconciler",
            credentials,
        ),
    ]


RELOAD = "tyk-certificate-reload"
# Hourly: a check is two reads; Tyk is restarted only in the hour after a renewal, well inside
# renewBefore (30 days by default), while the old certificate is still valid.
RELOAD_SCHEDULE = "41 * * * *"


def certificate_reload(cfg: StackConfig) -> list[dict[str, Any]]:
    """The CronJob that restarts Tyk once cert-manager has renewed `tyk-gateway-tls` (Tyk loads
    its listener's certificate at start only), its RBAC and NetworkPolicy. Nothing without TLS.

    RBAC: get on that one Certificate (its status, not its Secret's key) and get/patch on Tyk's
    Deployment alone. It runs the reconciler's file from the secrets hook's ConfigMap."""
    if not pki.enabled(cfg):
        return []
    certificate = {"apiGroups": ["cert-manager.io"], "resources": ["certificates"], "verbs": ["get"]}
    deployment = {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "patch"]}
    rules = [certificate | {"resourceNames": [pki.TYK_CERT]}, deployment | {"resourceNames": [TYK_DEPLOYMENT]}]
    account, _, binding = _rbac(RELOAD, [])
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta(RELOAD), "rules": rules}
    env = [{"name": "RESTART_ON_RENEWAL", "value": f"{pki.TYK_CERT}:{TYK_DEPLOYMENT}"}]
    job = _job(RELOAD, RELOAD_POD, "", env, "tyk-secrets")
    cron = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": meta(RELOAD, RELOAD_POD),
        "spec": {
            "schedule": RELOAD_SCHEDULE,
            "concurrencyPolicy": "Forbid",
            "successfulJobsHistoryLimit": 1,
            "failedJobsHistoryLimit": 1,
            "jobTemplate": {"metadata": {"labels": {**LABELS, **RELOAD_POD}}, "spec": job["spec"]},
        },
    }
    # The API server only: no DNS (its address comes from the environment), nothing reaches it.
    return [account, role, binding, network_policy(RELOAD, RELOAD_POD, [], [KUBE_API]), cron]

