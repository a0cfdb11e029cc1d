"""The kubeconfig of a GKE cluster: credentials come from gcloud at use, none are stored."""

from __future__ import annotations

import yaml

AUTH_PLUGIN = "gke-gcloud-auth-plugin"
INSTALL_HINT = (
    "Install gke-gcloud-auth-plugin for use with kubectl by following "
    "https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-access-for-kubectl#install_plugin"
)


def gke_kubeconfig(name: str, endpoint: str, ca_data: str) -> str:
    """kubeconfig text for the cluster at `endpoint` (host or URL) whose CA is `ca_data` (base64 PEM)."""
    if not endpoint:
        raise ValueError(f"cluster {name!r} has no endpoint yet; cannot write its kubeconfig")
    if not ca_data:
        raise ValueError(f"cluster {name!r} has no CA certificate; cannot write its kubeconfig")
    server = endpoint if endpoint.startswith("https://") else f"https://{endpoint}"
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server, "certificate-authority-data": ca_data}}],
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
