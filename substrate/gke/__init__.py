"""gke: a regional, private GKE cluster with managed GPU pools, workload identity and Secret Manager."""

from substrate.gke.cluster import GkeCluster, GkeClusterArgs, build

__all__ = ["GkeCluster", "GkeClusterArgs", "build"]
