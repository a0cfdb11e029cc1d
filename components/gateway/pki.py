"""The llm-gateway layer's certificates: a CA of the layer's own, issued in the cluster by
cert-manager (platform layer), and one leaf certificate per TLS hop of the request path.

    Issuer llm-gateway-selfsigned -> Certificate llm-gateway-ca (isCA; Secret llm-gateway-ca)
    -> Issuer llm-gateway-ca -> Certificates tyk-gateway-tls, litellm-tls, inference-gateway-tls

Child `gateway-pki` (wave -5) of the llm-gateway root: before the Gateway (0), LiteLLM (10) and
Tyk (20), whose pods mount the Secrets. Consumers trust the CA by mounting only the `ca.crt`
item of Secret `llm-gateway-ca` (never its `tls.key`).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from components.applications import application, manifests_source
from components.config import StackConfig
from components.gateway import names
from components.serving import serving_tls

# Cluster-scoped kinds this part creates: none (the Issuers are namespaced).
CLUSTER_KINDS: list[dict[str, str]] = []

WAVE = -5
SELF_SIGNED = "llm-gateway-selfsigned"
CA = "llm-gateway-ca"
# The key of the CA certificate in every Secret cert-manager writes for this CA.
CA_KEY = "ca.crt"
# Where consumers mount the CA (the single item ca.crt of Secret llm-gateway-ca).
CA_DIR = "/etc/inference-platform/ca"
CA_FILE = f"{CA_DIR}/{CA_KEY}"
TYK_CERT = "tyk-gateway-tls"
LITELLM_CERT = "litellm-tls"
GATEWAY_CERT = "inference-gateway-tls"
LABELS = {"app.kubernetes.io/part-of": "inference-platform", "app.kubernetes.io/component": "gateway-pki"}
# ECDSA P-256: small handshakes, supported by Go (Tyk, ghostunnel), Envoy and Python's ssl.
PRIVATE_KEY = {"algorithm": "ECDSA", "size": 256}


def enabled(cfg: StackConfig) -> bool:
    return cfg.gateway.tls.enabled


def _meta(name: str) -> dict[str, Any]:
    return {"name": name, "namespace": names.NAMESPACE, "labels": dict(LABELS)}


def service_names(service: str) -> list[str]:
    """Every name a pod may call a Service of the layer's namespace by."""
    base = f"{service}.{names.NAMESPACE}"
    return [service, base, f"{base}.svc", f"{base}.svc.cluster.local"]


def issuers(cfg: StackConfig) -> list[dict[str, Any]]:
    tls = cfg.gateway.tls
    self_signed = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Issuer",
        "metadata": _meta(SELF_SIGNED),
        "spec": {"selfSigned": {}},
    }
    ca_cert = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": _meta(CA),
        "spec": {
            "isCA": True,
            "commonName": "inference-platform llm-gateway CA",
            "secretName": CA,
            "duration": tls.ca_duration,
            # The CA keeps its key when renewed: certificates it signed before still verify
            # against the renewed CA certificate (same subject and key), so a CA renewal breaks
            # no hop; consumers pick the new CA certificate up at their next start.
            "privateKey": {**PRIVATE_KEY, "rotationPolicy": "Never"},
            "issuerRef": {"group": "cert-manager.io", "kind": "Issuer", "name": SELF_SIGNED},
        },
    }
    ca_issuer = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Issuer",
        "metadata": _meta(CA),
        "spec": {"ca": {"secretName": CA}},
    }
    return [self_signed, ca_cert, ca_issuer]


def leaf(cfg: StackConfig, name: str, hosts: list[str]) -> dict[str, Any]:
    """A server certificate from the layer's CA for `hosts` (DNS names or IP addresses)."""
    tls = cfg.gateway.tls
    ips = [h for h in hosts if _is_ip(h)]
    dns = [h for h in hosts if not _is_ip(h)]
    spec: dict[str, Any] = {
        "secretName": name,
        "duration": tls.certificate_duration,
        "renewBefore": tls.renew_before,
        # A new key with every renewal: a leaked key stops working with the certificate.
        "privateKey": {**PRIVATE_KEY, "rotationPolicy": "Always"},
        "usages": ["server auth", "digital signature"],
        "issuerRef": {"group": "cert-manager.io", "kind": "Issuer", "name": CA},
    }
    if dns:
        spec["dnsNames"] = dns
    if ips:
        spec["ipAddresses"] = ips
    return {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": _meta(name), "spec": spec}


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


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
