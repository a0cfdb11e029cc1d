"""existing: a cluster made elsewhere, reached through a kubeconfig held as secret config."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.config import StackConfig
from components.config.substrates import ExistingSubstrate
from contract.facts import GPU_TAINT, ClusterFacts, GpuPool


@dataclass(frozen=True)
class ExistingClusterArgs:
    spec: ExistingSubstrate
    kubeconfig: pulumi.Input[str]


class ExistingCluster(pulumi.ComponentResource):
    """Registers no cloud resource: it turns the declared facts into ClusterFacts."""

    kubeconfig: pulumi.Output[str]
    facts: ClusterFacts

    def __init__(self, name: str, args: ExistingClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("inference-platform:substrate:ExistingCluster", name, None, opts)
        spec = args.spec
        self.kubeconfig = pulumi.Output.secret(args.kubeconfig)
        pools = tuple(
            GpuPool(
                name=p.name,
                accelerator=p.accelerator,
                count=p.count,
                # Labels the nodes already carry (config requires them): nothing here labels nodes.
                labels=dict(p.labels),
                taints=(GPU_TAINT,) if p.taints else (),
            )
            for p in spec.gpu_pools
        )
        self.facts = ClusterFacts(
            kubeconfig=self.kubeconfig,
            cluster_name=spec.cluster_name,
            substrate="existing",
            gpu_stack=spec.gpu_stack,
            gpu_pools=pools,
            storage_class=spec.storage_class,
            # No class named: the llm-gateway layer installs Istio and uses its class.
            gateway_class=spec.gateway_class or "istio",
            gateway_address=spec.gateway_address,
            kube_context=spec.context,
        )
        self.register_outputs({"kubeconfig": self.kubeconfig})


def build(cfg: StackConfig) -> ClusterFacts:
    assert cfg.kubeconfig is not None  # guaranteed by StackConfig validation
    cluster = ExistingCluster(
        "existing",
        ExistingClusterArgs(spec=cfg.substrate, kubeconfig=cfg.kubeconfig.get_secret_value()),
    )
    return cluster.facts
