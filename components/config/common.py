"""Helpers shared by the substrate config sections."""

from __future__ import annotations

import ipaddress

from pydantic import field_validator, model_validator

from components.config.base import GpuPoolSpec, Strict, dns_label


def is_ip(host: str) -> bool:
    """Whether `host` is an IP address (v4 or v6) rather than a name."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a CIDR range") from exc
    return value


def unique_pool_names(pools: list[GpuPoolSpec]) -> None:
    names = [p.name for p in pools]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"GPU pool names must be unique; repeated: {', '.join(dupes)}")


class SubstrateBase(Strict):
    cluster_name: str = "inference"

    @field_validator("cluster_name")
    @classmethod
    def _cluster_name(cls, value: str) -> str:
        return dns_label(value, 40)




class NodeBounds(Strict):
    """An autoscaled node group; subclasses declare min_nodes and max_nodes with their defaults."""

    min_nodes: int
    max_nodes: int

    @model_validator(mode="after")
    def _node_bounds(self):
        if self.min_nodes > self.max_nodes:
            raise ValueError(f"minNodes ({self.min_nodes}) is greater than maxNodes ({self.max_nodes})")
        return self
