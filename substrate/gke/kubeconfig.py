"""The kubeconfig of a GKE cluster, for its DNS-based control plane endpoint: credentials come
from gcloud at use, none are stored."""

from __future__ import annotations

from typing import Any

import yaml

from components.config.common import is_ip

AUTH_PLUGIN = "gke-gcloud-auth-plugin"
INSTALL_HINT = (
    "Install gke-gcloud-auth-plugin for use with kubectl by following "
    "https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-access-for-kubectl#install_plugin"
)


def dns_endpoint_of(endpoints: Any) -> str:
    """The DNS endpoint in a cluster's `control_plane_endpoints_config` output ('' if absent)."""
    dns = getattr(endpoints, "dns_endpoint_config", None) if endpoints is not None else None
    return (getattr(dns, "endpoint", None) or "") if dns is not None else ""


def gke_kubeconfig(name: str, dns_endpoint: str) -> str:
    """kubeconfig text for the cluster whose DNS endpoint is `dns_endpoint` (host or https URL).

    The DNS endpoint serves a publicly trusted certificate, so the kubeconfig carries no CA:
    the cluster's own CA would not verify it (gcloud writes none for this endpoint either).
    """
    host = dns_endpoint.removeprefix("https://").rstrip("/")
    if not host:
        raise ValueError(f"cluster {name!r} has no DNS endpoint yet; cannot write its kubeconfig")
    if is_ip(host):
        raise ValueError(
            f"cluster {name!r}: {host} is an IP endpoint; the kubeconfig uses the DNS endpoint, "
            "which any network can reach and IAM guards"
        )
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": f"https://{host}"}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
        "users": [
            {
                "name": name,
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": AUTH_PLUGIN,
                        "installHint": INSTALL_HINT,
                        "provideClusterInfo": True,
                    }
                },
            }
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False, width=1000)
