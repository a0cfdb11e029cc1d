"""The llm-gateway layer's LiteLLM part: virtual keys, budgets, TPM/RPM and the spend ledger.

Children (namespace llm-gateway):
- `litellm-database` (wave 5): the CloudNativePG Cluster `litellm-db` (database `litellm`, owner
  `litellm`; CloudNativePG writes Secret `litellm-db-app` with username/password), its
  NetworkPolicy, optional backups (ScheduledBackup), and the master key Secret
  `litellm-master-key` (key `master-key`) delivered per secrets backend.
- `litellm` (wave 10): the pinned LiteLLM chart (helm/litellm, monolith mode: one Deployment
  running the full proxy), database and master key by Secret reference only.
- `litellm-policies` (wave 10): the NetworkPolicy in front of LiteLLM and its ServiceMonitor.

Pod labels others select on:
- LiteLLM pods (and its migration Job): `app.kubernetes.io/name: litellm` (the chart's name),
  `app.kubernetes.io/instance: litellm` (the release, named after the Application); the chart
  adds `app.kubernetes.io/component` (`proxy`, `migrations`), which nothing here selects on.
- Database pods: `cnpg.io/cluster: litellm-db`.
Callers LiteLLM admits: Tyk pods `app.kubernetes.io/name: tyk-gateway` and the tenant reconcile
Job's pods `app.kubernetes.io/name: tenant-reconciler` (both in llm-gateway), and
Prometheus (`app.kubernetes.io/name: prometheus` in namespace monitoring).
"""

from __future__ import annotations

import textwrap
from typing import Any
from urllib.parse import urlsplit

from components.applications import application, chart_source, manifests_source
from components.catalog import load_catalog
from components.computed_values import litellm_values
from components.config import StackConfig
from components.gateway import names, pki
from components.security import restricted_container, restricted_pod
from components.values import deep_merge

# Cluster-scoped kinds this part's charts and manifests create: none (the operator is in platform).
CLUSTER_KINDS: list[dict[str, str]] = []

COMPONENT = "litellm"
DATABASE_WAVE = 5
LITELLM_WAVE = 10
CLUSTER = "litellm-db"
DATABASE = "litellm"
# CloudNativePG names these after the Cluster: the read-write Service and the owner's Secret.
DATABASE_HOST = f"{CLUSTER}-rw"
DATABASE_SECRET = f"{CLUSTER}-app"
# The keys CloudNativePG writes the owner's credentials under in that Secret.
DATABASE_SECRET_USERNAME = "username"
DATABASE_SECRET_PASSWORD = "password"
POSTGRES_PORT = 5432
# The instance manager's status endpoint, which the operator calls, and its metrics exporter.
INSTANCE_STATUS_PORT = 8000
METRICS_PORT = 9187
# CloudNativePG 1.30's default (pkg/versions/versions.go), pinned here so an operator bump never
# moves Postgres to a new major version behind the ledger's back.
POSTGRES_IMAGE = "ghcr.io/cloudnative-pg/postgresql:18.4-system-trixie"
MASTER_KEY_SECRET = "litellm-master-key"
MASTER_KEY_KEY = "master-key"
# The cloud secret manager entry the ExternalSecret reads (external-secrets backend).
MASTER_KEY_REMOTE = "litellm-master-key"
MASTER_KEY_JOB = "litellm-master-key"

# TLS in front of LiteLLM (gateway.tls): the chart's probes call LiteLLM's port with plain HTTP
# (gateway.livenessProbe/readinessProbe: httpGet on port http, no scheme), so LiteLLM itself keeps
# plain HTTP on 4000, which no other pod may reach, and ghostunnel (Apache-2.0; server mode: TLS
# listener -> plain target on localhost) serves TLS on 4443. It re-reads the certificate every
# 5 minutes (--timed-reload), so a renewed certificate is served without a restart.
TLS_PROXY_IMAGE = "docker.io/ghostunnel/ghostunnel:v1.11.1-distroless"
TLS_DIR = "/etc/inference-platform/tls"

# The user the LiteLLM image runs as (its Dockerfile's `USER 65532:65532`, which owns /app, the
# Prisma directories and /var/lib/litellm): the proxy, the migration Job and the Jobs and
# sidecars beside them run as it.
LITELLM_USER = 65532
LITELLM_POD = {**names.LITELLM_POD, "app.kubernetes.io/instance": "litellm"}
TYK_POD = names.TYK_POD
RECONCILER_POD = names.RECONCILER_POD
PROMETHEUS = {"namespace": "monitoring", "pod": {"app.kubernetes.io/name": "prometheus"}}
CNPG_OPERATOR = {"namespace": "cnpg-system", "pod": {"app.kubernetes.io/name": "cloudnative-pg"}}
PART_OF = {"app.kubernetes.io/part-of": "inference-platform", "app.kubernetes.io/component": "litellm"}


def _meta(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": names.NAMESPACE, "labels": dict(PART_OF), **extra}


def _namespace_selector(namespace: str) -> dict[str, Any]:
    return {"matchLabels": {"kubernetes.io/metadata.name": namespace}}


def _instances(cfg: StackConfig, facts: dict[str, Any]) -> int:
    configured = cfg.litellm.database.instances
    if configured is not None:
        return configured
    # One instance on a laptop; a primary and a streaming replica everywhere else.
    return 1 if facts["substrate"] == "kind" else 2


def database_cluster(cfg: StackConfig, facts: dict[str, Any]) -> dict[str, Any]:
    """The CloudNativePG Cluster: CloudNativePG generates the owner's password in-cluster."""
    db = cfg.litellm.database
    spec: dict[str, Any] = {
        "instances": _instances(cfg, facts),
        "imageName": POSTGRES_IMAGE,
        "storage": {"size": db.storage, "storageClass": facts["storageClass"]},
        "bootstrap": {"initdb": {"database": DATABASE, "owner": DATABASE}},
        # No superuser Secret: nothing here needs one.
        "enableSuperuserAccess": False,
        "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
    }
    if db.backup is not None:
        spec["backup"] = {"barmanObjectStore": barman_object_store(db.backup), "retentionPolicy": db.backup.retention}
    return {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": _meta(CLUSTER),
        "spec": spec,
    }


def barman_object_store(backup: Any) -> dict[str, Any]:
    """Where WALs and base backups go, with the credentials Secret's keys (never its values)."""
    store: dict[str, Any] = {"destinationPath": backup.destination_path}
    secret = backup.credentials_secret
    if backup.destination_path.startswith("s3://"):
        store["s3Credentials"] = {
            "accessKeyId": {"name": secret, "key": "ACCESS_KEY_ID"},
            "secretAccessKey": {"name": secret, "key": "ACCESS_SECRET_KEY"},
        }
        if backup.endpoint_url:
            store["endpointURL"] = backup.endpoint_url
    else:
        store["googleCredentials"] = {"applicationCredentials": {"name": secret, "key": "APPLICATION_CREDENTIALS"}}
    store["wal"] = {"compression": "gzip"}
    store["data"] = {"compression": "gzip"}
    return store


def scheduled_backup(cfg: StackConfig) -> dict[str, Any]:
    backup = cfg.litellm.database.backup
    assert backup is not None
    return {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "ScheduledBackup",
        "metadata": _meta(f"{CLUSTER}-daily"),
        "spec": {
            "schedule": backup.schedule,
            "cluster": {"name": CLUSTER},
            "method": "barmanObjectStore",
            "backupOwnerReference": "self",
        },
    }


def database_monitor() -> dict[str, Any]:
    """Prometheus scrapes each instance's exporter (CloudNativePG 1.30 deprecates the Cluster's own
    enablePodMonitor in favour of a PodMonitor written beside it)."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": _meta(CLUSTER),
        "spec": {
            "selector": {"matchLabels": {"cnpg.io/cluster": CLUSTER}},
            "podMetricsEndpoints": [{"port": "metrics"}],
        },
    }


def database_policy() -> dict[str, Any]:
    """Only LiteLLM (and its migration Job), the operator and the cluster's own replicas reach
    Postgres; Prometheus reaches the exporter."""
    own = {"podSelector": {"matchLabels": {"cnpg.io/cluster": CLUSTER}}}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(f"{CLUSTER}-ingress"),
        "spec": {
            "podSelector": {"matchLabels": {"cnpg.io/cluster": CLUSTER}},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [{"podSelector": {"matchLabels": dict(LITELLM_POD)}}, own],
                    "ports": [{"protocol": "TCP", "port": POSTGRES_PORT}],
                },
                {
                    "from": [
                        {
                            "namespaceSelector": _namespace_selector(CNPG_OPERATOR["namespace"]),
                            "podSelector": {"matchLabels": dict(CNPG_OPERATOR["pod"])},
                        }
                    ],
                    "ports": [
                        {"protocol": "TCP", "port": INSTANCE_STATUS_PORT},
                        {"protocol": "TCP", "port": POSTGRES_PORT},
                    ],
                },
                {
                    "from": [
                        {
                            "namespaceSelector": _namespace_selector(PROMETHEUS["namespace"]),
                            "podSelector": {"matchLabels": dict(PROMETHEUS["pod"])},
                        }
                    ],
                    "ports": [{"protocol": "TCP", "port": METRICS_PORT}],
                },
            ],
        },
    }


def gateway_ports(cfg: StackConfig, facts: dict[str, Any]) -> list[int]:
    """The ports of the Gateway URLs LiteLLM calls (from names.model_url)."""
    ports = set()
    for model in cfg.models:
        if model.task in ("text", "embedding") and model.engine != "kubeai":
            url = urlsplit(names.model_url(model.name, facts, pki.enabled(cfg)))
            ports.add(url.port or (443 if url.scheme == "https" else 80))
    return sorted(ports)


def kubeai_egress() -> dict[str, Any]:
    """KubeAI's proxy pods, on the port they listen on behind the Service (a policy sees the pod port)."""
    from components.serving import kubeai

    return {
        "to": [
            {
                "namespaceSelector": _namespace_selector(kubeai.namespace()),
                "podSelector": {"matchLabels": dict(kubeai.PROXY_POD)},
            }
        ],
        "ports": [{"protocol": "TCP", "port": kubeai.PROXY_POD_PORT}],
    }


def litellm_policy(cfg: StackConfig, facts: dict[str, Any]) -> dict[str, Any]:
    """Who may call LiteLLM, and what LiteLLM may call: the Gateway, its database, DNS.

    The Gateway is reached by port: on GKE the managed Gateway's address is a load balancer
    outside the pod network, and elsewhere the implementation's proxy pods are the routing
    part's to label, so no pod selector would hold on every substrate.

    With Tyk turned off, clients are LiteLLM's previous hop: the port is open to every source
    and LiteLLM's virtual keys are the edge.
    """
    same_namespace = [
        {"podSelector": {"matchLabels": dict(TYK_POD)}},
        {"podSelector": {"matchLabels": dict(RECONCILER_POD)}},
    ]
    prometheus = {
        "namespaceSelector": _namespace_selector(PROMETHEUS["namespace"]),
        "podSelector": {"matchLabels": dict(PROMETHEUS["pod"])},
    }
    dns = {
        "to": [
            {
                "namespaceSelector": _namespace_selector("kube-system"),
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            }
        ],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }
    database = {
        "to": [{"podSelector": {"matchLabels": {"cnpg.io/cluster": CLUSTER}}}],
        "ports": [{"protocol": "TCP", "port": POSTGRES_PORT}],
    }
    egress = [dns, database]
    # With TLS only the TLS port is open to other pods; LiteLLM's own port answers the TLS proxy
    # in the same pod (loopback) and the kubelet's probes.
    port = names.LITELLM_TLS_PORT if pki.enabled(cfg) else names.LITELLM_PORT
    ports = gateway_ports(cfg, facts)
    if ports:
        egress.append({"ports": [{"protocol": "TCP", "port": p} for p in ports]})
    if any(m.engine == "kubeai" and m.task in ("text", "embedding") for m in cfg.models):
        egress.append(kubeai_egress())
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta("litellm"),
        "spec": {
            "podSelector": {"matchLabels": dict(LITELLM_POD)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {"from": [*same_namespace, prometheus], "ports": [{"protocol": "TCP", "port": port}]}
                if cfg.enabled("tyk")
                else {"ports": [{"protocol": "TCP", "port": port}]}
            ],
            "egress": egress,
        },
    }


def service_monitor(tls: bool = False) -> dict[str, Any]:
    """Prometheus scrapes LiteLLM's /metrics/ (the prometheus callback): on the chart Service's http
    port, or with TLS on the TLS Service's port, verifying the certificate against the layer's CA."""
    endpoint: dict[str, Any] = {"port": "http", "path": "/metrics/", "interval": "30s", "scrapeTimeout": "10s"}
    selector = dict(LITELLM_POD)
    if tls:
        selector = dict(TLS_SERVICE_LABELS)
        endpoint |= {
            "port": "https",
            "scheme": "https",
            "tlsConfig": {
                "ca": {"secret": {"name": pki.CA, "key": pki.CA_KEY}},
                "serverName": f"{names.LITELLM_TLS_SERVICE}.{names.NAMESPACE}.svc",
            },
        }
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": _meta("litellm"),
        "spec": {
            "selector": {"matchLabels": selector},
            "namespaceSelector": {"matchNames": [names.NAMESPACE]},
            "endpoints": [endpoint],
        },
    }


# The TLS Service's own labels, so the ServiceMonitor selects it and not the chart's Service.
TLS_SERVICE_LABELS = {"app.kubernetes.io/name": "litellm", "inference-platform/endpoint": "tls"}


def tls_service() -> dict[str, Any]:
    """litellm-tls:4443, the TLS port of LiteLLM's pods (the chart's Service has the plain port only)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {**_meta(names.LITELLM_TLS_SERVICE), "labels": {**PART_OF, **TLS_SERVICE_LABELS}},
        "spec": {
            "type": "ClusterIP",
            "selector": dict(LITELLM_POD),
            "ports": [
                {"name": "https", "port": names.LITELLM_TLS_PORT, "targetPort": "https", "protocol": "TCP"}
            ],
        },
    }


def tls_proxy() -> dict[str, Any]:
    """The TLS sidecar: TLS on 4443 -> LiteLLM on localhost:4000, certificate from litellm-tls."""
    return {
        "name": "tls",
        "image": TLS_PROXY_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "args": [
            "server",
            f"--listen=0.0.0.0:{names.LITELLM_TLS_PORT}",
            f"--target=127.0.0.1:{names.LITELLM_PORT}",
            f"--cert={TLS_DIR}/tls.crt",
            f"--key={TLS_DIR}/tls.key",
            # Callers authenticate with keys (Tyk's, LiteLLM's), not client certificates.
            "--disable-authentication",
            "--timed-reload=300s",
        ],
        "ports": [{"name": "https", "containerPort": names.LITELLM_TLS_PORT, "protocol": "TCP"}],
        "readinessProbe": {"tcpSocket": {"port": "https"}, "periodSeconds": 10},
        "livenessProbe": {"tcpSocket": {"port": "https"}, "periodSeconds": 20, "failureThreshold": 3},
        "resources": {"requests": {"cpu": "20m", "memory": "32Mi"}, "limits": {"cpu": "500m", "memory": "128Mi"}},
        "securityContext": restricted_container(LITELLM_USER),
        "volumeMounts": [{"name": "litellm-tls", "mountPath": TLS_DIR, "readOnly": True}],
    }


def tls_values(cfg: StackConfig) -> dict[str, Any]:
    """Chart values for TLS on both sides of LiteLLM: the TLS sidecar in the proxy's pod, and the
    layer's CA as the bundle LiteLLM verifies the Gateway's certificate with (SSL_VERIFY: litellm
    1.109.1 get_ssl_configuration reads a CA file path from it for its OpenAI-compatible calls).
    The environment entry is appended to the catalog's by chart_values (lists replace in a merge)."""
    if not pki.enabled(cfg):
        return {}
    return {
        "gateway": {
            "extraContainers": [tls_proxy()],
            "volumes": [pki.ca_volume(), {"name": "litellm-tls", "secret": {"secretName": pki.LITELLM_CERT}}],
            "volumeMounts": [pki.ca_mount()],
        }
    }


def tls_env(cfg: StackConfig) -> list[dict[str, str]]:
    return [{"name": "SSL_VERIFY", "value": pki.CA_FILE}] if pki.enabled(cfg) else []


def security_values() -> dict[str, Any]:
    """The proxy's and the migration Job's security contexts: the image's user, no privilege
    escalation, no capabilities, RuntimeDefault seccomp. The root filesystem stays writable: the
    proxy copies its UI into /var/lib/litellm/ui at start and the migration runs the Prisma CLI
    from the image's directories; neither was verified on a read-only root here."""
    pod = restricted_pod(LITELLM_USER)
    container = restricted_container(LITELLM_USER) | {"readOnlyRootFilesystem": False}
    return {
        # The proxy never calls the Kubernetes API (no service-account token or API use in the
        # 1.109.1 wheel's Python code): no token in its pod.
        "serviceAccounts": {"gateway": {"automount": False}},
        "gateway": {"podSecurityContext": pod, "securityContext": container},
        "migrationJob": {"podSecurityContext": dict(pod), "securityContext": dict(container)},
    }


def master_key_external_secret() -> dict[str, Any]:
    """external-secrets backend: the key lives in the cloud secret manager, read by workload identity."""
    return {
        "apiVersion": "external-secrets.io/v1",
        "kind": "ExternalSecret",
        "metadata": _meta(MASTER_KEY_SECRET),
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": {"kind": "ClusterSecretStore", "name": "cloud-secrets"},
            "target": {"name": MASTER_KEY_SECRET, "creationPolicy": "Owner"},
            "data": [{"secretKey": MASTER_KEY_KEY, "remoteRef": {"key": MASTER_KEY_REMOTE}}],
        },
    }


# Creates the Secret with a random `sk-` key unless it exists (409 leaves it untouched), through
# the API server with the Job's own token: no kubectl image, nothing printed but the outcome.
MASTER_KEY_SCRIPT = textwrap.dedent(
    """\
    import json, os, secrets, ssl, urllib.error, urllib.request
    sa = "/var/run/secrets/tokens"
    token = open(sa + "/token").read().strip()
    ctx = ssl.create_default_context(cafile=sa + "/ca.crt")
    api = "https://%s:%s" % (os.environ["KUBERNETES_SERVICE_HOST"], os.environ["KUBERNETES_SERVICE_PORT"])
    body = {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": os.environ["SECRET_NAME"], "labels": {"app.kubernetes.io/part-of": "inference-platform"}},
        "stringData": {os.environ["DATA_KEY"]: "sk-" + secrets.token_urlsafe(48)},
    }
    request = urllib.request.Request(
        "%s/api/v1/namespaces/%s/secrets" % (api, os.environ["NAMESPACE"]),
        data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"},
    )
    try:
        urllib.request.urlopen(request, context=ctx, timeout=30)
        print("created Secret", os.environ["SECRET_NAME"])
    except urllib.error.HTTPError as error:
        if error.code != 409:
            raise
        print("Secret", os.environ["SECRET_NAME"], "exists; left as it is")
    """
)


def master_key_generator(image: str) -> list[dict[str, Any]]:
    """sops and none backends: a Sync hook Job creates the Secret once, in the cluster.

    RBAC is the least that works: `create` on Secrets in this namespace (Kubernetes cannot
    narrow create by name), no get/list, so the Job can never read a key.
    """
    sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(MASTER_KEY_JOB)}
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _meta(MASTER_KEY_JOB),
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]}],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _meta(MASTER_KEY_JOB),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": MASTER_KEY_JOB},
        "subjects": [{"kind": "ServiceAccount", "name": MASTER_KEY_JOB, "namespace": names.NAMESPACE}],
    }
    for obj in (sa, role, binding):
        # Before the hook Job runs.
        obj["metadata"]["annotations"] = {"argocd.argoproj.io/sync-wave": "-1"}
    # The API token as a projected volume: no automounted token anywhere else in the pod.
    token_volume = {
        "name": "token",
        "projected": {
            "sources": [
                {"serviceAccountToken": {"path": "token", "expirationSeconds": 600}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            ]
        },
    }
    container = {
        "name": "generate",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["python3", "-c", MASTER_KEY_SCRIPT],
        "env": [
            {"name": "SECRET_NAME", "value": MASTER_KEY_SECRET},
            {"name": "DATA_KEY", "value": MASTER_KEY_KEY},
            {"name": "NAMESPACE", "value": names.NAMESPACE},
            {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
        ],
        "volumeMounts": [{"name": "token", "mountPath": "/var/run/secrets/tokens", "readOnly": True}],
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"cpu": "200m", "memory": "128Mi"},
        },
        "securityContext": restricted_container(LITELLM_USER),
    }
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _meta(
            MASTER_KEY_JOB,
            annotations={
                "argocd.argoproj.io/hook": "Sync",
                "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation",
            },
        ),
        "spec": {
            "backoffLimit": 6,
            "ttlSecondsAfterFinished": 3600,
            "template": {
                "metadata": {"labels": {**PART_OF, "app.kubernetes.io/name": MASTER_KEY_JOB}},
                "spec": {
                    "serviceAccountName": MASTER_KEY_JOB,
                    "automountServiceAccountToken": False,
                    "restartPolicy": "OnFailure",
                    "securityContext": restricted_pod(LITELLM_USER),
                    "containers": [container],
                    "volumes": [token_volume],
                },
            },
        },
    }
    # The Job talks to the API server only (its Service address comes from the environment, so
    # no DNS); it is reached by nothing. 443 is the kubernetes Service, 6443 the usual endpoint.
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(MASTER_KEY_JOB),
        "spec": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": MASTER_KEY_JOB}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": [{"ports": [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 6443}]}],
        },
    }
    policy["metadata"]["annotations"] = {"argocd.argoproj.io/sync-wave": "-1"}
    return [sa, role, binding, policy, job]


def master_key(cfg: StackConfig, image: str) -> list[dict[str, Any]]:
    if cfg.secrets.backend == "external-secrets":
        return [master_key_external_secret()]
    return master_key_generator(image)


def database_objects(cfg: StackConfig, facts: dict[str, Any], image: str) -> list[dict[str, Any]]:
    objects = [database_cluster(cfg, facts), database_policy(), database_monitor()]
    if cfg.litellm.database.backup is not None:
        objects.append(scheduled_backup(cfg))
    return objects + master_key(cfg, image)


def chart_values(cfg: StackConfig, facts: dict[str, Any]) -> dict[str, Any]:
    entry = load_catalog()[COMPONENT]
    computed = litellm_values(
        cfg,
        facts,
        database={
            "host": DATABASE_HOST,
            "port": POSTGRES_PORT,
            "database": DATABASE,
            "secret": DATABASE_SECRET,
            "username_key": DATABASE_SECRET_USERNAME,
            "password_key": DATABASE_SECRET_PASSWORD,
        },
        master_key={"name": MASTER_KEY_SECRET, "key": MASTER_KEY_KEY},
    )
    values = deep_merge(entry.values, security_values(), computed, tls_values(cfg))
    env = [*entry.values.get("gateway", {}).get("extraEnv", []), *tls_env(cfg)]
    if env:
        values["gateway"]["extraEnv"] = env
    return deep_merge(values, cfg.overrides(COMPONENT))


def _image(values: dict[str, Any]) -> str:
    return f"{values['image']['repository']}:{values['image']['tag']}"


def policy_objects(cfg: StackConfig, facts: dict[str, Any]) -> list[dict[str, Any]]:
    tls = pki.enabled(cfg)
    return [litellm_policy(cfg, facts), service_monitor(tls), *([tls_service()] if tls else [])]


def children(cfg: StackConfig, facts: dict[str, Any]) -> list[dict[str, Any]]:
    """Child Applications of the llm-gateway root for this part."""
    if not cfg.enabled(COMPONENT):
        return []
    entry = load_catalog()[COMPONENT]
    values = chart_values(cfg, facts)
    common = {
        "project": entry.layer,
        "namespace": names.NAMESPACE,
        "argocd_namespace": cfg.argocd.namespace,
        "labels": {"inference-platform/layer": entry.layer},
    }
    return [
        application(
            "litellm-database",
            source=manifests_source(database_objects(cfg, facts, _image(values)), "litellm-database"),
            wave=DATABASE_WAVE,
            **common,
        ),
        application(
            COMPONENT,
            source=chart_source(entry.chart, values, COMPONENT),
            wave=entry.wave,
            **common,
        ),
        application(
            "litellm-policies",
            source=manifests_source(policy_objects(cfg, facts), "litellm-policies"),
            wave=entry.wave,
            **common,
        ),
    ]
