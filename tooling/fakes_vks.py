"""Mock outputs for the vks substrate: the kubeconfig Secret Cluster API writes for a workload cluster."""

from __future__ import annotations

import base64
from typing import Any

from tooling import fakes

SECRET = "kubernetes:core/v1:Secret"
# The resource name substrate/vks.py reads the Secret under.
KUBECONFIG_READ = "workload-kubeconfig"
WORKLOAD_KUBECONFIG = (
    "apiVersion: v1\nkind: Config\n"
    "clusters:\n- name: inference\n  cluster:\n    server: https://192.0.2.10:6443\n"
    f"    certificate-authority-data: {fakes.FAKE_CA}\n"
    "contexts:\n- name: inference-admin@inference\n  context:\n    cluster: inference\n    user: inference-admin\n"
    "current-context: inference-admin@inference\n"
    "users:\n- name: inference-admin\n  user:\n    token: mock-token\n"
)

_previous = fakes.RESOURCE_OUTPUTS.get(SECRET)


def _secret(inputs: dict[str, Any], name: str) -> dict[str, Any]:
    if name == KUBECONFIG_READ:
        return {"data": {"value": base64.b64encode(WORKLOAD_KUBECONFIG.encode()).decode()}}
    # Other Secrets (created, not read) keep whatever another fake module answers for them.
    return _previous(inputs, name) if _previous else {}


fakes.register(resources={SECRET: _secret})
