"""The llm-gateway layer's certificates: a CA of the layer's own, issued in the cluster by
cert-manager (platform layer), and one leaf certificate per TLS hop of the request path.

    Issuer llm-gateway-selfsigned -> Certificate llm-gateway-ca (isCA; Secret llm-gateway-ca)
    -> Issuer llm-gateway-ca -> Certificates tyk-gateway-tls, litellm-tls, inference-gateway-tls

Child `gateway-pki` (wave -5) of the llm-gateway root: before the Gateway (0), LiteLLM (10) and
Tyk (20), whose pods mount the Secrets. Consumers trust the CA by mounting only the `ca.crt`
item of Secret `llm-gateway-ca` (never its `tls.key`).
"""

from __future__ import annotations

from typing import Any

from components import certificates as certs
from components.applications import application, manifests_source
from components.config import StackConfig
from components.gateway import names
from components.serving import serving_tls

# Cluster-scoped kinds this part creates: none (the Issuers are namespaced).
CLUSTER_KINDS: list[dict[str, str]] = []

WAVE = -5
SELF_SIGNED = "llm-gateway-selfsigned"
CA = "llm-gateway-ca"
CA_KEY = certs.CA_KEY
# Where consumers mount the CA (the single item ca.crt of Secret llm-gateway-ca).
CA_DIR = "/etc/inference-platform/ca"
CA_FILE = f"{CA_DIR}/{CA_KEY}"
TYK_CERT = "tyk-gateway-tls"
LITELLM_CERT = "litellm-tls"
GATEWAY_CERT = "inference-gateway-tls"
LABELS = {"app.kubernetes.io/part-of": "inference-platform", "app.kubernetes.io/component": "gateway-pki"}


def enabled(cfg: StackConfig) -> bool:
    return cfg.gateway.tls.enabled


def _meta(name: str) -> dict[str, Any]:
    return {"name": name, "namespace": names.NAMESPACE, "labels": dict(LABELS)}


def service_names(service: str) -> list[str]:
    """Every name a pod may call a Service of the layer's namespace by."""
    base = f"{service}.{names.NAMESPACE}"
    return [service, base, f"{base}.svc", f"{base}.svc.cluster.local"]


def issuers(cfg: StackConfig) -> list[dict[str, Any]]:
    # Consumers pick a renewed CA certificate up at their next start (docs/gateway.md).
    return [
        certs.self_signed_issuer("Issuer", _meta(SELF_SIGNED)),
        certs.ca_certificate(
            _meta(CA),
            "inference-platform llm-gateway CA",
            cfg.gateway.tls.ca_duration,
            certs.issuer_ref("Issuer", SELF_SIGNED),
        ),
        certs.ca_issuer("Issuer", _meta(CA), CA),
    ]


def leaf(cfg: StackConfig, name: str, hosts: list[str]) -> dict[str, Any]:
    """A server certificate from the layer's CA for `hosts` (DNS names or IP addresses)."""
    tls = cfg.gateway.tls
    return certs.leaf_certificate(
        _meta(name), certs.issuer_ref("Issuer", CA), tls.certificate_duration, tls.renew_before, hosts
    )


def certificates(cfg: StackConfig, facts: dict[str, Any]) -> list[dict[str, Any]]:
    """The leaf certificate of every hop this stack runs."""
    out = []
    if cfg.enabled("tyk"):
        out.append(leaf(cfg, TYK_CERT, [*service_names(names.TYK_SERVICE), *cfg.gateway.tls.tyk_dns_names]))
    if cfg.enabled("litellm"):
        out.append(leaf(cfg, LITELLM_CERT, service_names(names.LITELLM_TLS_SERVICE)))
    out.append(leaf(cfg, GATEWAY_CERT, [names.gateway_tls_host(facts)]))
    return out


def objects(cfg: StackConfig, facts: dict[str, Any]) -> list[dict[str, Any]]:
    out = [*issuers(cfg), *certificates(cfg, facts)]
    model_tls = serving_tls.settings(cfg, facts)
    if model_tls is not None:
        # The model-serving CA for the Gateway, which verifies the model servers with it.
        out.append(serving_tls.trust_certificate(names.NAMESPACE, model_tls, LABELS))
    return out


def ca_volume(name: str = "llm-gateway-ca") -> dict[str, Any]:
    """The CA certificate alone (item ca.crt), for a pod that verifies a hop of the layer."""
    return {"name": name, "secret": {"secretName": CA, "items": [{"key": CA_KEY, "path": CA_KEY}]}}


def ca_mount(name: str = "llm-gateway-ca") -> dict[str, Any]:
    return {"name": name, "mountPath": CA_DIR, "readOnly": True}


def children(cfg: StackConfig, facts: dict[str, Any]) -> list[dict[str, Any]]:
    """Child Applications of the llm-gateway root for this part: the issuers and certificates."""
    if not enabled(cfg):
        return []
    return [
        application(
            "gateway-pki",
            project="llm-gateway",
            namespace=names.NAMESPACE,
            source=manifests_source(objects(cfg, facts), "gateway-pki"),
            argocd_namespace=cfg.argocd.namespace,
            wave=WAVE,
            labels={"inference-platform/layer": "llm-gateway"},
        )
    ]
