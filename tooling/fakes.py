"""Outputs the mock gives for resource types and invokes whose outputs the program reads.

Every invoke the program makes must be answered here: an unanswered invoke is an error,
so a new data-source call cannot slip through tests unanswered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

FAKE_CA = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJmYWtlCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K"

# type token -> function(inputs, name) -> extra outputs merged over the inputs.
RESOURCE_OUTPUTS: dict[str, Callable[[dict[str, Any], str], dict[str, Any]]] = {
    "command:local:Command": lambda inputs, name: {
        "stdout": _kubeconfig("kind-" + name) if "kubeconfig" in inputs.get("create", "") else "",
        "stderr": "",
    },
    "command:remote:Command": lambda inputs, name: {
        "stdout": _kubeconfig(name) if "k3s.yaml" in inputs.get("create", "") else "mock-output",
        "stderr": "",
    },
}

# invoke token -> function(args) -> result.
INVOKES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}

# Type-token prefixes whose ids the program parses as integers (e.g. hcloud references).
NUMERIC_IDS: set[str] = set()


def _kubeconfig(cluster: str) -> str:
    return (
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: {cluster}\n  cluster:\n    server: https://127.0.0.1:6443\n"
        f"    certificate-authority-data: {FAKE_CA}\n"
        f"contexts:\n- name: {cluster}\n  context:\n    cluster: {cluster}\n    user: {cluster}\n"
        f"current-context: {cluster}\n"
        f"users:\n- name: {cluster}\n  user:\n    token: mock-token\n"
    )


def register(resources: dict | None = None, invokes: dict | None = None, numeric_ids: tuple[str, ...] = ()) -> None:
    """Substrate fake modules (tooling/fakes_<substrate>.py) add their entries here."""
    RESOURCE_OUTPUTS.update(resources or {})
    INVOKES.update(invokes or {})
    NUMERIC_IDS.update(numeric_ids)
