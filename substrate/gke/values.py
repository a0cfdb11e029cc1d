"""Values the GKE resources and ClusterFacts derive from config alone (pure: no Pulumi, no SDK)."""

from __future__ import annotations

import ipaddress
import re

from components.config.gke import GkeGpuPool
from contract.facts import GPU_TAINT, GpuPool, Taint

GPU_POOL_LABEL = "inference-platform/gpu-pool"
# GKE labels every GPU node with its accelerator type; models select pools by it.
ACCELERATOR_LABEL = "cloud.google.com/gke-accelerator"
# External Secrets' controller: namespace and Kubernetes service account the in-cluster
# side must install it under, for the workload identity binding to apply.
ESO_NAMESPACE = "external-secrets"
ESO_SERVICE_ACCOUNT = "external-secrets"

SERVICE_ACCOUNT_ID = re.compile(r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$")
TAINT_EFFECTS = {"NoSchedule": "NO_SCHEDULE", "PreferNoSchedule": "PREFER_NO_SCHEDULE", "NoExecute": "NO_EXECUTE"}


def service_account_id(cluster: str, purpose: str) -> str:
    """`<cluster>-<purpose>`, shortened to the 6-30 characters an account id allows."""
    suffix = f"-{purpose}"
    account = cluster[: 30 - len(suffix)].rstrip("-") + suffix
    if len(account) < 6:
        account += "-sa"
    if not SERVICE_ACCOUNT_ID.match(account):
        raise ValueError(
            f"cannot derive a service account id from cluster {cluster!r} and purpose {purpose!r} (got {account!r})"
        )
    return account


def service_account_email(account_id: str, project: str) -> str:
    return f"{account_id}@{project}.iam.gserviceaccount.com"


def node_network_tag(cluster: str) -> str:
    """Network tag on every node, so firewall rules can target this cluster's nodes only."""
    return f"{cluster}-node"


def kube_context_name(project: str, region: str, cluster: str) -> str:
    """The context name gcloud would give the cluster, so merged kubeconfigs agree."""
    return f"gke_{project}_{region}_{cluster}"


def workload_pool(project: str) -> str:
    return f"{project}.svc.id.goog"


def workload_identity_member(project: str, namespace: str, service_account: str) -> str:
    """The IAM principal of a Kubernetes service account under workload identity."""
    return f"serviceAccount:{workload_pool(project)}[{namespace}/{service_account}]"


def gke_taint_effect(taint: Taint) -> str:
    """Kubernetes' taint effect spelled the way the GKE API wants it."""
    try:
        return TAINT_EFFECTS[taint.effect]
    except KeyError:
        allowed = ", ".join(TAINT_EFFECTS)
        raise ValueError(f"taint {taint.key} has effect {taint.effect!r}, not one of {allowed}") from None


def gpu_node_labels(pool: GkeGpuPool) -> dict[str, str]:
    """Labels Pulumi puts on the pool's nodes (the pool's own, plus its name)."""
    return {**pool.labels, GPU_POOL_LABEL: pool.name}


def gpu_pool_facts(pool: GkeGpuPool) -> GpuPool:
    """The pool as the in-cluster side sees it: the labels its nodes carry, GKE's included."""
    return GpuPool(
        name=pool.name,
        accelerator=pool.accelerator,
        count=pool.count,
        labels={**gpu_node_labels(pool), ACCELERATOR_LABEL: pool.accelerator},
        taints=(GPU_TAINT,),
    )


def gateway_address(node_cidr: str) -> str:
    """The internal address reserved for the llm-gateway layer's Gateway: the last one of the node
    subnet Google lets a user take (it keeps the last two), so node IPs, handed out from the
    bottom, never reach it, and the URL is known before anything exists."""
    return str(ipaddress.ip_network(node_cidr).broadcast_address - 2)


def gateway_address_name(cluster: str) -> str:
    return f"{cluster}-inference-gateway"
