"""The benchmark Job and its NetworkPolicies: plain data in, Kubernetes objects out. No cluster
calls here.

The Job runs where its hop lets it (bench/hops.py): for `pods` in the model's namespace, whose
NetworkPolicy admits pods of its own namespace, so the benchmark reaches the pods the way a
router there would; for the gateway hops in llm-gateway, beside the Secrets it mounts. It runs
once (no retries: a retried benchmark mixes two runs) and is deleted an hour after it finishes,
when its log has been read. A NetworkPolicy of its own admits nothing to it: the benchmark only
calls out. Where a hop's own NetworkPolicy admits only the previous hop (the Gateway's pods,
LiteLLM's), one more NetworkPolicy admits the benchmark pod alone, on the hop's port, for the
run: NetworkPolicies add up, so nothing else is opened. The Job is created suspended; the
runner creates the NetworkPolicies owned by it (ownerReferences, so they go when it goes, also
when it outlives the run with --keep) and then resumes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import driver, tool
from bench.hops import Admission
from bench.spec import BenchSpec, Target
from bench.workloads import Workload
from components.security import restricted_container, restricted_pod

DRIVER = Path(__file__).with_name("driver.py")
RESULTS_DIR = "/results"
CACHE_DIR = "/cache"
HF_TOKEN_DIR = "/var/run/secrets/huggingface"
# The tenant's key, one file (the Secret's one item); the driver hands it to the tool.
API_KEY_DIR = "/var/run/secrets/bench"
API_KEY_FILE = f"{API_KEY_DIR}/api-key"
# Where every consumer of the llm-gateway layer's CA mounts it (components/gateway/pki.py CA_DIR).
CA_DIR = "/etc/inference-platform/ca"
# A high UID no host account holds, as the model servers use; the tool runs from its
# image's virtualenv and needs no account of its own.
UID = 10001
# Image pull and tokenizer download before the first step.
STARTUP_SECONDS = 600
FINISHED_TTL_SECONDS = 3600


@dataclass(frozen=True)
class BenchJob:
    """Everything the Job needs, as plain values."""

    name: str
    namespace: str
    stack: str
    model: str
    target: Target
    workload: Workload
    spec: BenchSpec
    tokenizer: str
    hf_token_secret: str | None = None
    image: str = tool.IMAGE
    # The layer's CA (Secret, item) for a hop that serves TLS; only that item is mounted.
    ca: tuple[str, str] | None = None
    # The key the tool sends (Secret, item), and whose it is.
    api_key: tuple[str, str] | None = None
    tenant: str | None = None
    # Pods of the hop whose NetworkPolicy does not admit the benchmark: one more policy each.
    admissions: tuple[Admission, ...] = ()


def labels(job: BenchJob) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "bench",
        "app.kubernetes.io/instance": job.name,
        "app.kubernetes.io/component": "benchmark",
        "app.kubernetes.io/part-of": "inference-platform",
        "inference-platform/model": job.model,
        "inference-platform/hop": job.target.hop,
        "inference-platform/workload": job.workload.name,
    }


def deadline_seconds(spec: BenchSpec) -> int:
    per_step = spec.step_seconds + spec.grace_seconds + 30  # warm-up and the step's own start
    return STARTUP_SECONDS + len(spec.steps) * per_step


def _env(job: BenchJob) -> list[dict[str, str]]:
    env = [
        # Read-only root: everything the tool writes goes to the emptyDirs below.
        {"name": "HOME", "value": "/tmp"},
        {"name": "XDG_CACHE_HOME", "value": "/tmp/.cache"},
        {"name": "MPLCONFIGDIR", "value": "/tmp/matplotlib"},
        {"name": "HF_HOME", "value": f"{CACHE_DIR}/hf"},
        {"name": "TIKTOKEN_CACHE_DIR", "value": f"{CACHE_DIR}/tiktoken"},
        {"name": "HF_HUB_DISABLE_TELEMETRY", "value": "1"},
        {"name": "PYTHONUNBUFFERED", "value": "1"},
    ]
    if job.hf_token_secret:
        # A file, not an env var, as for the model server: gated tokenizers need the same token.
        env.append({"name": "HF_TOKEN_PATH", "value": f"{HF_TOKEN_DIR}/HF_TOKEN"})
    if job.ca:
        # The driver adds it to the roots the tool's TLS client trusts (SSL_CERT_FILE).
        env.append({"name": driver.CA_FILE_ENV, "value": f"{CA_DIR}/{job.ca[1]}"})
    if job.api_key:
        # A file path, never the key: the driver reads it and hands it to the tool alone.
        env.append({"name": driver.API_KEY_FILE_ENV, "value": API_KEY_FILE})
    return env


def render_job(job: BenchJob) -> dict[str, Any]:
    args = tool.profile_args(job.target, job.workload, job.spec, job.tokenizer, RESULTS_DIR)
    mounts = [
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "results", "mountPath": RESULTS_DIR},
        {"name": "cache", "mountPath": CACHE_DIR},
    ]
    volumes: list[dict[str, Any]] = [
        {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
        {"name": "results", "emptyDir": {"sizeLimit": "1Gi"}},
        {"name": "cache", "emptyDir": {"sizeLimit": "2Gi"}},
    ]
    if job.hf_token_secret:
        mounts.append({"name": "hf-token", "mountPath": HF_TOKEN_DIR, "readOnly": True})
        volumes.append({"name": "hf-token", "secret": {"secretName": job.hf_token_secret, "defaultMode": 0o400}})
    if job.ca:
        secret, item = job.ca
        mounts.append({"name": "ca", "mountPath": CA_DIR, "readOnly": True})
        ca_items = [{"key": item, "path": item}]
        volumes.append({"name": "ca", "secret": {"secretName": secret, "items": ca_items}})
    if job.api_key:
        secret, item = job.api_key
        mounts.append({"name": "api-key", "mountPath": API_KEY_DIR, "readOnly": True})
        volumes.append(
            {
                "name": "api-key",
                "secret": {"secretName": secret, "items": [{"key": item, "path": "api-key"}], "defaultMode": 0o400},
            }
        )
    container = {
        "name": "bench",
        "image": job.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["python", "-c", DRIVER.read_text()],
        "args": [RESULTS_DIR, "--", tool.NAME, *args],
        "env": _env(job),
        "resources": {
            "requests": {"cpu": "1", "memory": "2Gi"},
            "limits": {"cpu": "4", "memory": "4Gi"},
        },
        "volumeMounts": mounts,
        "securityContext": restricted_container(UID),
    }
    pod_labels = labels(job)
    annotations = {"inference-platform/stack": job.stack, "inference-platform/target": job.target.url}
    if job.tenant:
        annotations["inference-platform/tenant"] = job.tenant
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": job.name, "namespace": job.namespace, "labels": pod_labels, "annotations": annotations},
        "spec": {
            # Resumed by the runner once the NetworkPolicies it owns exist (module docstring).
            "suspend": True,
            "backoffLimit": 0,
            "activeDeadlineSeconds": deadline_seconds(job.spec),
            "ttlSecondsAfterFinished": FINISHED_TTL_SECONDS,
            "template": {
                "metadata": {"labels": dict(pod_labels)},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": restricted_pod(UID),
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    }


def network_policy(job: BenchJob) -> dict[str, Any]:
    """No ingress to the benchmark pod; its egress (the target, the tokenizer hub) is left open."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": job.name, "namespace": job.namespace, "labels": labels(job)},
        "spec": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/instance": job.name}},
            "policyTypes": ["Ingress"],
        },
    }


def admission_policy(job: BenchJob, admission: Admission) -> dict[str, Any]:
    """The hop's pods admit the benchmark pod, and nothing else, on the hop's port, for the run."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": f"{job.name}-to-{admission.what}", "namespace": job.namespace, "labels": labels(job)},
        "spec": {
            "podSelector": {"matchLabels": admission.labels},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/instance": job.name}}}],
                    "ports": [{"port": admission.port, "protocol": "TCP"}],
                }
            ],
        },
    }


def render_objects(job: BenchJob) -> list[dict[str, Any]]:
    """What the runner creates (the Job last) and deletes when the results are read."""
    return [network_policy(job), *(admission_policy(job, a) for a in job.admissions), render_job(job)]


def owned_by(objects: list[dict[str, Any]], job: dict[str, Any]) -> list[dict[str, Any]]:
    """`objects` owned by the created Job `job` (its uid from the API server): deleted with it."""
    owner = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": job["metadata"]["name"],
        "uid": job["metadata"]["uid"],
    }
    return [{**obj, "metadata": {**obj["metadata"], "ownerReferences": [owner]}} for obj in objects]
