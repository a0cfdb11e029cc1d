"""hetzner: k3s on hcloud servers; dedicated GPU servers join through a Robot vSwitch."""

from substrate.hetzner.cluster import HetznerCluster, HetznerClusterArgs, build

__all__ = ["HetznerCluster", "HetznerClusterArgs", "build"]
