"""Every cluster call the benchmark makes, through kubectl: create the Job (suspended) and the
NetworkPolicies it owns, resume it, wait, read its log, delete them. kubectl's own configuration decides the
cluster (KUBECONFIG, current context), unless a kubeconfig or context is given.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from typing import Any

CONTAINER = "bench"


class ClusterError(Exception):
    pass


def json_documents(text: str) -> list[dict[str, Any]]:
    """The objects `kubectl create -o json` printed: it prints each created object as a JSON
    document of its own, one after the other (never one List), so two objects are two documents."""
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            return found
        document, position = decoder.raw_decode(text, position)
        found += document.get("items", []) if document.get("kind") == "List" else [document]


class Kubectl:
    def __init__(self, kubeconfig: str | None = None, context: str | None = None, run: Callable = subprocess.run):
        self.base = ["kubectl"]
        if kubeconfig:
            self.base += ["--kubeconfig", kubeconfig]
        if context:
            self.base += ["--context", context]
        self._run = run

    def _call(self, *args: str, stdin: str | None = None) -> str:
        done = self._run([*self.base, *args], input=stdin, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ClusterError(f"kubectl {' '.join(args[:3])}: {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout

    def create(self, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The objects as the API server created them (with their uids)."""
        out = self._call(
            "create", "-f", "-", "-o", "json", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
        )
        return json_documents(out)

    def resume(self, name: str, namespace: str) -> None:
        self._call("-n", namespace, "patch", "job", name, "--type", "merge", "-p", '{"spec":{"suspend":false}}')

    def job_state(self, name: str, namespace: str) -> str:
        """running, succeeded or failed."""
        job = json.loads(self._call("-n", namespace, "get", "job", name, "-o", "json"))
        for condition in job.get("status", {}).get("conditions") or []:
            if condition.get("status") != "True":
                continue
            if condition.get("type") == "Complete":
                return "succeeded"
            if condition.get("type") == "Failed":
                return "failed"
        return "running"

    def wait(self, name: str, namespace: str, timeout_s: float, poll_s: float = 10) -> str:
        deadline = time.monotonic() + timeout_s
        while True:
            state = self.job_state(name, namespace)
            if state != "running" or time.monotonic() > deadline:
                return state
            time.sleep(poll_s)

    def logs(self, name: str, namespace: str) -> str:
        return self._call("-n", namespace, "logs", f"job/{name}", "-c", CONTAINER)

    def delete(self, name: str, namespace: str, policies: list[str]) -> None:
        """The Job (its pod with it) and its NetworkPolicies (owned by it: named too, so they go at
        once rather than when the garbage collector gets to them)."""
        objects = (f"job/{name}", *(f"networkpolicy/{p}" for p in policies))
        self._call("-n", namespace, "delete", *objects, "--ignore-not-found", "--wait=false")
