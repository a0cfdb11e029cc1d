"""Google service accounts of the cluster: one for nodes, one for External Secrets."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from pulumi_gcp import projects, serviceaccount

from components.config.gke import GkeSubstrate
from contract.facts import SecretStore
from substrate.gke.values import (
    ESO_NAMESPACE,
    ESO_SERVICE_ACCOUNT,
    service_account_email,
    service_account_id,
    workload_identity_member,
)

# What a node needs and no more: write logs and metrics, read its image registry.
# (The Compute Engine default account nodes would otherwise run as is a project Editor.)
NODE_ROLES = (
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
    "roles/artifactregistry.reader",
)
SECRET_READER_ROLE = "roles/secretmanager.secretAccessor"


@dataclass(frozen=True)
class NodeIdentity:
    account: serviceaccount.Account
    grants: tuple[projects.IAMMember, ...]


def create_node_identity(spec: GkeSubstrate, opts: pulumi.ResourceOptions) -> NodeIdentity:
    account = serviceaccount.Account(
        "node-sa",
        serviceaccount.AccountArgs(
            account_id=service_account_id(spec.cluster_name, "nodes"),
            project=spec.project,
            display_name=f"GKE nodes of {spec.cluster_name}",
        ),
        opts=opts,
    )
    member = pulumi.Output.concat("serviceAccount:", account.email)
    grants = tuple(
        projects.IAMMember(
            f"node-sa-{role.removeprefix('roles/')}",
            projects.IAMMemberArgs(project=spec.project, role=role, member=member),
            opts=opts,
        )
        for role in NODE_ROLES
    )
    return NodeIdentity(account=account, grants=grants)


def create_secret_store_identity(
    spec: GkeSubstrate, cluster: pulumi.Resource, opts: pulumi.ResourceOptions
) -> SecretStore:
    """A Google account External Secrets acts as, through workload identity; its email is
    computed from config so the in-cluster side can annotate its service account without Outputs."""
    account_id = service_account_id(spec.cluster_name, "eso")
    account = serviceaccount.Account(
        "eso-sa",
        serviceaccount.AccountArgs(
            account_id=account_id,
            project=spec.project,
            display_name=f"External Secrets of {spec.cluster_name}",
        ),
        opts=opts,
    )
    projects.IAMMember(
        "eso-sa-secret-accessor",
        projects.IAMMemberArgs(
            project=spec.project,
            role=SECRET_READER_ROLE,
            member=pulumi.Output.concat("serviceAccount:", account.email),
        ),
        opts=opts,
    )
    # The project's workload identity pool exists only once a cluster uses it: bind after the cluster.
    serviceaccount.IAMMember(
        "eso-sa-workload-identity",
        serviceaccount.IAMMemberArgs(
            service_account_id=account.name,
            role="roles/iam.workloadIdentityUser",
            member=workload_identity_member(spec.project, ESO_NAMESPACE, ESO_SERVICE_ACCOUNT),
        ),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[cluster])),
    )
    return SecretStore(
        backend="gcp-secret-manager",
        project=spec.project,
        identity=service_account_email(account_id, spec.project),
    )
