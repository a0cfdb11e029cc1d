"""Helm values that depend on ClusterFacts or config rather than on the catalog alone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Facts = dict[str, Any]


def _external_secrets(facts: Facts) -> dict[str, Any]:
    identity = facts["secretStore"]["identity"]
    if facts["secretStore"]["backend"] == "gcp-secret-manager" and identity:
        # Workload identity: the controller's KSA impersonates the substrate's GSA; no key file.
        return {"serviceAccount": {"annotations": {"iam.gke.io/gcp-service-account": identity}}}
    return {}


def _kube_prometheus_stack(facts: Facts) -> dict[str, Any]:
    claim = {
        "spec": {
            "storageClassName": facts["storageClass"],
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "50Gi"}},
        }
    }
    return {"prometheus": {"prometheusSpec": {"storageSpec": {"volumeClaimTemplate": claim}}}}


# k3s runs its own containerd: the toolkit must edit k3s' config and talk to k3s' socket.
K3S_TOOLKIT_ENV = [
    {"name": "CONTAINERD_CONFIG", "value": "/var/lib/rancher/k3s/agent/etc/containerd/config.toml"},
    {"name": "CONTAINERD_SOCKET", "value": "/run/k3s/containerd/containerd.sock"},
]


def _gpu_operator(facts: Facts) -> dict[str, Any]:
    values: dict[str, Any] = {}
    # Operand daemonsets must tolerate the GPU pools' taints to land on GPU nodes.
    pools = facts["gpuPools"]
    tolerations = [
        {"key": t["key"], "operator": "Exists", "effect": t["effect"]}
        for t in {(t["key"], t["effect"]): t for p in pools for t in p["taints"]}.values()
    ]
    if tolerations:
        values["daemonsets"] = {"tolerations": tolerations}
    if facts.get("substrate") == "hetzner":
        values["toolkit"] = {"env": K3S_TOOLKIT_ENV}
    vgpu = facts.get("vgpuDriver")
    if vgpu:
        values["driver"] = _vgpu_driver(vgpu)
    return values


def _vgpu_driver(vgpu: dict[str, Any]) -> dict[str, Any]:
    """vGPU VMs run NVIDIA's licensed vGPU guest driver, pulled from a private registry with a pull
    secret and licensed through NLS with a Secret holding gridd.conf and the client token. Both
    Secrets come from the secrets backend; only their names are here."""
    return {
        "repository": vgpu["repository"],
        "image": vgpu["image"],
        "version": vgpu["version"],
        "imagePullSecrets": [vgpu["pullSecret"]],
        # secretName supersedes the deprecated configMapName in the pinned operator.
        "licensingConfig": {"secretName": vgpu["licensingSecret"], "nlsEnabled": True},
    }


def _hcloud_ccm(facts: Facts) -> dict[str, Any]:
    # The hcloud network is named after the cluster; load balancers go where the servers are.
    env = {"HCLOUD_NETWORK": {"value": facts.get("clusterName")}}
    if facts.get("cloudLocation"):
        env["HCLOUD_LOAD_BALANCERS_LOCATION"] = {"value": facts["cloudLocation"]}
    return {"env": env}


COMPUTED: dict[str, Callable[[Facts], dict[str, Any]]] = {
    "external-secrets": _external_secrets,
    "kube-prometheus-stack": _kube_prometheus_stack,
    "gpu-operator": _gpu_operator,
    "hcloud-ccm": _hcloud_ccm,
}


def computed_values(component: str, facts: Facts) -> dict[str, Any]:
    fn = COMPUTED.get(component)
    return fn(facts) if fn else {}
