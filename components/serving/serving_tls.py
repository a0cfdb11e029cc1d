"""TLS on the request path's last hop, the Gateway -> a model's pods (vLLM, or on llm-d's
disaggregated decode pods its routing sidecar).

cert-manager (platform layer) issues every model one server certificate from a CA of the
platform's own:

    ClusterIssuer model-serving-selfsigned -> Certificate model-serving-ca (isCA, Secret in
    cert-manager's namespace) -> ClusterIssuer model-serving-ca -> Certificate <model>-tls
    (serving namespace, DNS names of the model's Service)

A ClusterIssuer, because two namespaces need the CA: the models' (their certificates) and the
Gateway's (Istio reads the CA to verify the pods from a Secret in the Gateway's namespace).

The Gateway reaches a pool's pods by pod IP, so the certificate cannot name the address it is
called on; the Gateway checks the certificate's DNS name instead (the DestinationRule's
`subjectAltNames`, components/gateway/routing.py), which every pod of the model carries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components import certificates as certs
from components.config import StackConfig
from components.config.modelspec import ModelSpec
from components.gateway.names import ISTIO_CLASS

SELF_SIGNED = "model-serving-selfsigned"
CA = "model-serving-ca"
# The Secret in the Gateway's namespace whose ca.crt is this CA (a leaf cert-manager issues
# there from the same ClusterIssuer; only its ca.crt is read).
TRUST = "model-serving-trust"
CA_KEY = certs.CA_KEY
# Where vLLM (and llm-d's routing sidecar, --cert-path) reads its certificate and key.
TLS_DIR = "/etc/vllm/tls"
PORT_NAME = "https"
LABELS = {"app.kubernetes.io/part-of": "inference-platform", "app.kubernetes.io/component": "model-serving-pki"}
# Engines whose pods the platform renders itself, with vLLM's TLS flags (and on llm-d's decode
# pods the routing sidecar's); KServe's and KubeAI's pods are their controllers'.
ENGINES = ("vllm", "llm-d")


@dataclass(frozen=True)
class ServingTls:
    """Lifetimes of the models' certificates (gateway.tls)."""

    ca_duration: str
    duration: str
    renew_before: str


def behind_pool(cfg: StackConfig, model: ModelSpec) -> bool:
    """Whether the Gateway is a model's one way in: the llm-gateway layer pools it. Always so for
    llm-d, which the config refuses without the layer and its pools (StackConfig)."""
    return "llm-gateway" in cfg.layers and cfg.enabled("inferencepool") and applies(model)


def enabled(cfg: StackConfig, facts: dict[str, Any]) -> bool:
    """Whether the stack's Gateway reaches model servers over TLS: the llm-gateway layer with its
    pools and TLS on, `gateway.tls.modelServers`, and a Gateway the platform configures (Istio)."""
    tls = cfg.gateway.tls
    return (
        "llm-gateway" in cfg.layers
        and cfg.enabled("inferencepool")
        and tls.enabled
        and tls.model_servers
        # The only Gateway implementation whose TLS origination to a pool the platform configures.
        and facts.get("gatewayClass") == ISTIO_CLASS
    )


def applies(model: ModelSpec) -> bool:
    """Whether a model's pods serve TLS once the stack has it: pooled text models of raw vLLM
    and llm-d (llm-d serves text only)."""
    return model.engine in ENGINES and model.task == "text"


def settings(cfg: StackConfig, facts: dict[str, Any]) -> ServingTls | None:
    if not enabled(cfg, facts):
        return None
    tls = cfg.gateway.tls
    return ServingTls(tls.ca_duration, tls.certificate_duration, tls.renew_before)


def for_model(cfg: StackConfig, facts: dict[str, Any], model: ModelSpec) -> ServingTls | None:
    return settings(cfg, facts) if applies(model) else None


def secret_name(model_name: str) -> str:
    return f"{model_name}-tls"


def server_name(model_name: str, namespace: str) -> str:
    """The name the model's certificate is checked against (its Service's)."""
    return f"{model_name}.{namespace}.svc"


def metrics_source(tls: bool) -> dict[str, Any]:
    """How a pool's endpoint picker (the Inference Extension's, or llm-d's scheduler built on it)
    scrapes each pod's /metrics: queue depth, KV-cache usage, adapters."""
    if not tls:
        return {"scheme": "http", "path": "/metrics"}
    # Encrypted but not authenticated: the v1.5.0 data source dials the pod's IP and takes no CA
    # and no server name, so it could only verify an IP SAN from the system roots.
    return {"scheme": "https", "path": "/metrics", "insecureSkipVerify": True}


def _meta(name: str, namespace: str | None, labels: dict[str, str]) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(labels)}
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def certificate(model_name: str, namespace: str, tls: ServingTls, labels: dict[str, str]) -> dict[str, Any]:
    """The model's server certificate; every pod of the model mounts the same Secret."""
    service = f"{model_name}.{namespace}"
    hosts = [server_name(model_name, namespace), f"{service}.svc.cluster.local", service, model_name]
    return certs.leaf_certificate(
        _meta(secret_name(model_name), namespace, labels),
        certs.issuer_ref("ClusterIssuer", CA),
        tls.duration,
        tls.renew_before,
        hosts,
    )


def trust_certificate(namespace: str, tls: ServingTls, labels: dict[str, str]) -> dict[str, Any]:
    """A certificate in `namespace` whose Secret carries the CA (ca.crt) for clients there."""
    return certs.leaf_certificate(
        _meta(TRUST, namespace, labels),
        certs.issuer_ref("ClusterIssuer", CA),
        tls.duration,
        tls.renew_before,
        usages=("client auth", "digital signature"),
        common_name=f"{TRUST}.{namespace}",
    )


def pki_objects(tls: ServingTls, ca_namespace: str) -> list[dict[str, Any]]:
    """The CA and its issuers. `ca_namespace`: cert-manager's own, where a ClusterIssuer's
    CA Secret must live (cert-manager's cluster resource namespace)."""
    return [
        certs.self_signed_issuer("ClusterIssuer", _meta(SELF_SIGNED, None, LABELS)),
        certs.ca_certificate(
            _meta(CA, ca_namespace, LABELS),
            "inference-platform model serving CA",
            tls.ca_duration,
            certs.issuer_ref("ClusterIssuer", SELF_SIGNED),
        ),
        certs.ca_issuer("ClusterIssuer", _meta(CA, None, LABELS), CA),
    ]
