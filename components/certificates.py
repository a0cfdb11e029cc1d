"""cert-manager objects the platform issues its in-cluster certificates with: a self-signed
issuer, a CA certificate, a CA issuer and leaf certificates, for the llm-gateway layer's CA
(components/gateway/pki.py) and the model-serving CA (components/serving/serving_tls.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from components.config.common import is_ip

API = "cert-manager.io/v1"
# ECDSA P-256: small handshakes, supported by Go (Tyk, ghostunnel, Prometheus), Envoy and
# Python's ssl (vLLM, the reconciler).
PRIVATE_KEY = {"algorithm": "ECDSA", "size": 256}
# The key of the CA certificate in every Secret cert-manager writes for a CA issuer's leaf.
CA_KEY = "ca.crt"
SERVER_USAGES = ("server auth", "digital signature")


def issuer_ref(kind: str, name: str) -> dict[str, str]:
    return {"group": "cert-manager.io", "kind": kind, "name": name}


def self_signed_issuer(kind: str, metadata: dict[str, Any]) -> dict[str, Any]:
    """Signs the CA certificate only."""
    return {"apiVersion": API, "kind": kind, "metadata": metadata, "spec": {"selfSigned": {}}}


def ca_issuer(kind: str, metadata: dict[str, Any], secret: str) -> dict[str, Any]:
    return {"apiVersion": API, "kind": kind, "metadata": metadata, "spec": {"ca": {"secretName": secret}}}


def ca_certificate(metadata: dict[str, Any], common_name: str, duration: str, issuer: dict[str, str]) -> dict[str, Any]:
    """A CA whose Secret is named like the certificate. It keeps its key when renewed:
    certificates it signed before still verify against the renewed CA certificate (same
    subject and key), so a CA renewal breaks no hop."""
    return {
        "apiVersion": API,
        "kind": "Certificate",
        "metadata": metadata,
        "spec": {
            "isCA": True,
            "commonName": common_name,
            "secretName": metadata["name"],
            "duration": duration,
            "privateKey": {**PRIVATE_KEY, "rotationPolicy": "Never"},
            "issuerRef": issuer,
        },
    }


def leaf_certificate(
    metadata: dict[str, Any],
    issuer: dict[str, str],
    duration: str,
    renew_before: str,
    hosts: Sequence[str] = (),
    usages: Sequence[str] = SERVER_USAGES,
    common_name: str | None = None,
) -> dict[str, Any]:
    """A certificate whose Secret is named like it, for `hosts` (DNS names or IP addresses),
    with a new key at every renewal: a leaked key stops working with the certificate."""
    spec: dict[str, Any] = {"secretName": metadata["name"]}
    if common_name:
        spec["commonName"] = common_name
    spec |= {
        "duration": duration,
        "renewBefore": renew_before,
        "privateKey": {**PRIVATE_KEY, "rotationPolicy": "Always"},
        "usages": list(usages),
        "issuerRef": issuer,
    }
    dns = [h for h in hosts if not is_ip(h)]
    ips = [h for h in hosts if is_ip(h)]
    if dns:
        spec["dnsNames"] = dns
    if ips:
        spec["ipAddresses"] = ips
    return {"apiVersion": API, "kind": "Certificate", "metadata": metadata, "spec": spec}
