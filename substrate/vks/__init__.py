"""vks: a vSphere Kubernetes Service workload cluster on an existing Supervisor."""

from substrate.vks.cluster import VksCluster, VksClusterArgs, build

__all__ = ["VksCluster", "VksClusterArgs", "build"]
