"""kind: a local cluster created and deleted by `pulumi up`/`destroy` on the local stack."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

import pulumi
import pulumi_command as command
import yaml
from pulumi_command import local

from components.config import StackConfig
from components.config.substrates import KindSubstrate
from contract.facts import ClusterFacts


def kind_cluster_config(spec: KindSubstrate) -> str:
    """kind's own cluster file: one control plane, `workers` CPU workers, same node image."""
    nodes = [{"role": "control-plane", "image": spec.node_image}]
    nodes += [{"role": "worker", "image": spec.node_image} for _ in range(spec.workers)]
    return yaml.safe_dump(
        {"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4", "name": spec.cluster_name, "nodes": nodes},
        sort_keys=False,
    )


@dataclass(frozen=True)
class KindClusterArgs:
    spec: KindSubstrate


class KindCluster(pulumi.ComponentResource):
    kubeconfig: pulumi.Output[str]
    facts: ClusterFacts

    def __init__(self, name: str, args: KindClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("inference-platform:substrate:KindCluster", name, None, opts)
        spec = args.spec
        cluster = shlex.quote(spec.cluster_name)
        # Default providers are disabled for the project: even local commands name theirs.
        self.provider = command.Provider("command", opts=pulumi.ResourceOptions(parent=self))
        child = pulumi.ResourceOptions(parent=self, provider=self.provider)
        # `kind create` is idempotent only by name: delete first if a stale cluster remains.
        # Any change of name, image or workers replaces the cluster. The name is fixed, so the
        # old cluster must go first: created before the delete, the new one would be the one
        # `kind delete --name` removes.
        self.cluster = local.Command(
            "cluster",
            local.CommandArgs(
                create=f"kind delete cluster --name {cluster} >/dev/null 2>&1; "
                f"kind create cluster --name {cluster} --config - --wait 120s",
                delete=f"kind delete cluster --name {cluster}",
                stdin=kind_cluster_config(spec),
                triggers=[spec.cluster_name, spec.node_image, spec.workers],
            ),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(delete_before_replace=True)),
        )
        # The kubeconfig holds the admin client key: it is a secret output and never reaches
        # the Pulumi log (pulumi-command logs stdout unless told not to; errors still show).
        # A new cluster has a new CA and port, so the read is replaced with the cluster.
        read = local.Command(
            "kubeconfig",
            local.CommandArgs(create=f"kind get kubeconfig --name {cluster}", logging=local.Logging.STDERR),
            opts=pulumi.ResourceOptions.merge(
                child,
                pulumi.ResourceOptions(
                    depends_on=[self.cluster], replace_with=[self.cluster], additional_secret_outputs=["stdout"]
                ),
            ),
        )
        self.kubeconfig = pulumi.Output.secret(read.stdout)
        self.facts = ClusterFacts(
            kubeconfig=self.kubeconfig,
            cluster_name=spec.cluster_name,
            substrate="kind",
            gpu_stack="none",
            storage_class="standard",
            # Istio in gateway mode, installed by the llm-gateway layer.
            gateway_class="istio",
            ready=(self.cluster,),
            # Deleting the cluster deletes everything in it; nothing inside needs its own delete.
            deleted_with=self.cluster,
        )
        self.register_outputs({"kubeconfig": self.kubeconfig})


def build(cfg: StackConfig) -> ClusterFacts:
    return KindCluster("kind", KindClusterArgs(spec=cfg.substrate)).facts
