"""Outputs of GCP resources that the gke substrate reads: the cluster's endpoint and CA,
and the identifiers of service accounts (computed by GCP from the account id)."""

from __future__ import annotations

from typing import Any

from tooling import fakes

FAKE_ENDPOINT = "203.0.113.10"  # TEST-NET-3: never a real address


def _cluster(inputs: dict[str, Any], name: str) -> dict[str, Any]:
    return {
        "endpoint": FAKE_ENDPOINT,
        "masterAuth": {"clusterCaCertificate": fakes.FAKE_CA},
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
