"""What the Tyk part's objects share: names, pod labels, metadata, NetworkPolicy builders."""

from __future__ import annotations

from typing import Any

from components.gateway import names

# The one key-authenticated API definition, and the organisation every key and policy is in.
API_ID = "llm"
ORG_ID = "inference-platform"
GATEWAY_SECRET = "tyk-gateway-secret"
STORE_SECRET = "tyk-redis-auth"
LITELLM_POD = names.LITELLM_POD
TYK_POD = names.TYK_POD
STORE_POD = {"app.kubernetes.io/name": "valkey", "app.kubernetes.io/instance": "tyk-redis"}
RECONCILER_POD = names.RECONCILER_POD
SECRETS_POD = {"app.kubernetes.io/name": "tyk-secrets"}
RELOAD_POD = {"app.kubernetes.io/name": "tyk-certificate-reload"}
# The chart names its Deployment `gateway-<fullname>` (templates/deployment-gw-repset.yaml);
# the catalog sets fullnameOverride: tyk.
TYK_DEPLOYMENT = "gateway-tyk"
LABELS = {"app.kubernetes.io/part-of": "inference-platform", "app.kubernetes.io/component": "tyk"}


def tyk_url(tls: bool = False) -> str:
    return f"{'https' if tls else 'http'}://{names.TYK_SERVICE}.{names.NAMESPACE}.svc.cluster.local:{names.TYK_PORT}"


def meta(name: str, labels: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": names.NAMESPACE, "labels": {**LABELS, **(labels or {})}, **extra}


DNS = {
    "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
    "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
}
# The API server's address differs per substrate (and is no pod): its ports, anywhere.
KUBE_API = {"ports": [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}]}


def egress_to(pods: dict[str, str], port: int) -> dict[str, Any]:
    return {"to": [{"podSelector": {"matchLabels": pods}}], "ports": [{"port": port, "protocol": "TCP"}]}


def network_policy(name: str, pods: dict[str, str], ingress: list[Any], egress: list[Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": meta(name),
        "spec": {
            "podSelector": {"matchLabels": pods},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": egress,
        },
    }
