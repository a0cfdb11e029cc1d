"""Outputs of GCP resources that the gke substrate reads: the cluster's endpoints and CA,
and the identifiers of service accounts (computed by GCP from the account id)."""

from __future__ import annotations

from typing import Any

from tooling import fakes

FAKE_ENDPOINT = "203.0.113.10"  # TEST-NET-3: never a real address


def fake_dns_endpoint(location: str) -> str:
    """What GKE returns as a cluster's DNS endpoint: gke-<id>-<project number>.<location>.gke.goog."""
    return f"gke-0123456789abcdef0123456789abcdef-000000000000.{location}.gke.goog"


def _cluster(inputs: dict[str, Any], name: str) -> dict[str, Any]:
    # GKE gives every cluster a DNS endpoint, whatever the inputs say about who may use it.
    endpoints = dict(inputs.get("controlPlaneEndpointsConfig") or {})
    dns = {**(endpoints.get("dnsEndpointConfig") or {}), "endpoint": fake_dns_endpoint(inputs.get("location", ""))}
    return {
        "endpoint": FAKE_ENDPOINT,
        "masterAuth": {"clusterCaCertificate": fakes.FAKE_CA},
        "controlPlaneEndpointsConfig": {**endpoints, "dnsEndpointConfig": dns},
    }


def _service_account(inputs: dict[str, Any], name: str) -> dict[str, Any]:
    project = inputs.get("project", "mock-project")
    email = f"{inputs.get('accountId', name)}@{project}.iam.gserviceaccount.com"
    return {
        "email": email,
        "member": f"serviceAccount:{email}",
        "name": f"projects/{project}/serviceAccounts/{email}",
        "uniqueId": "100000000000000000001",
    }


fakes.register(
    resources={
        "gcp:container/cluster:Cluster": _cluster,
        "gcp:serviceaccount/account:Account": _service_account,
    }
)
