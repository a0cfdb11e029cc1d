"""The runner's cluster calls, against a stand-in for kubectl: create, wait, read the log,
delete; a Job that fails or whose log is cut short is reported with the log's tail."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime

import pytest

from bench.cluster import ClusterError, Kubectl, json_documents
from bench.job import render_objects
from bench.results import BenchError, load_run
from bench.runner import plan, run_in_cluster
from bench.spec import BenchSpec
from tests.unit.test_bench_results import driver_output, export

STARTED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


class FakeKubectl:
    """Answers kubectl command lines the way the API server and kubelet would."""

    def __init__(self, conditions: list[dict], log: str):
        self.calls: list[list[str]] = []
        self.created: list[dict] = []
        self.conditions = conditions
        self.log = log

    def __call__(self, argv, input=None, **_):
        self.calls.append(argv)
        verb = next(a for a in argv if a in ("create", "get", "logs", "delete", "patch"))
        out = ""
        if verb == "create":
            items = [{**o, "metadata": {**o["metadata"], "uid": f"uid-{len(self.created) + i}"}}
                     for i, o in enumerate(json.loads(input)["items"])]  # fmt: skip
            self.created += items
            # kubectl create prints every created object as a document of its own (its RunCreate
            # calls PrintObj once per object), indented, never one List.
            out = "".join(json.dumps(item, indent=4) + "\n" for item in items)
        elif verb == "get":
            out = json.dumps({"status": {"conditions": self.conditions}})
        elif verb == "logs":
            out = self.log
        return subprocess.CompletedProcess(argv, 0, out, "")


def test_a_finished_job_becomes_a_run_folder_and_is_deleted(tmp_path):
    job = plan("local", None, BenchSpec(steps=(1, 2)), STARTED)
    fake = FakeKubectl([{"type": "Complete", "status": "True"}], driver_output(export(2), export(1)))
    folder = run_in_cluster(job, Kubectl(kubeconfig="/k", run=fake), tmp_path, STARTED)
    policy, _to_model, suspended = render_objects(job)
    # The Job first (suspended), then its policy owned by it, then the Job resumed.
    assert fake.created[0]["spec"] == suspended["spec"] and suspended["spec"]["suspend"] is True
    assert fake.created[1]["metadata"]["ownerReferences"][0]["uid"] == "uid-0"
    assert fake.created[1]["spec"] == policy["spec"]
    assert all(call[:3] == ["kubectl", "--kubeconfig", "/k"] for call in fake.calls)
    assert fake.calls[2][3:] == ["-n", "inference", "patch", "job", job.name, "--type", "merge", "-p",
                                 '{"spec":{"suspend":false}}']  # fmt: skip
    assert ["-n", "inference", "logs", f"job/{job.name}", "-c", "bench"] == fake.calls[4][3:]
    assert fake.calls[-1][3:8] == ["-n", "inference", "delete", f"job/{job.name}", f"networkpolicy/{job.name}"]
    assert folder.name == "local-qwen25-05b-pods-20260102T030405Z"
    assert [s["load"] for s in load_run(folder)["steps"]] == [1, 2]


def test_a_gateway_hop_creates_and_deletes_its_temporary_policy(tmp_path):
    job = plan("local", None, BenchSpec(hop="pool", steps=(1,)), STARTED)
    fake = FakeKubectl([{"type": "Complete", "status": "True"}], driver_output(export(1)))
    run_in_cluster(job, Kubectl(run=fake), tmp_path, STARTED)
    names = [o["metadata"]["name"] for o in fake.created]
    assert names == [job.name, job.name, f"{job.name}-to-gateway"]
    assert all(o["metadata"]["ownerReferences"][0]["name"] == job.name for o in fake.created[1:])
    deleted = [f"job/{job.name}", f"networkpolicy/{job.name}", f"networkpolicy/{job.name}-to-gateway"]
    assert fake.calls[-1][1:] == ["-n", "llm-gateway", "delete", *deleted, "--ignore-not-found", "--wait=false"]


def test_a_failed_job_is_reported_with_its_log(tmp_path):
    job = plan("local", None, BenchSpec(steps=(1,)), STARTED)
    fake = FakeKubectl([{"type": "Failed", "status": "True"}], "pulling tokenizer\nOSError: no route to host\n")
    with pytest.raises(BenchError, match=r"failed: .*no completion line(.|\n)*no route to host"):
        run_in_cluster(job, Kubectl(run=fake), tmp_path, STARTED)
    assert fake.calls[-1][1:4] == ["-n", "inference", "delete"]  # deleted all the same


def test_kubectl_errors_carry_its_message():
    def refuse(argv, **_):
        return subprocess.CompletedProcess(argv, 1, "", 'jobs.batch "x" is forbidden')

    with pytest.raises(ClusterError, match="forbidden"):
        Kubectl(run=refuse).create([{"kind": "Job"}])


def test_several_created_objects_are_read_from_kubectls_separate_documents():
    printed = json.dumps({"kind": "NetworkPolicy", "metadata": {"name": "a"}}, indent=4) + "\n"
    printed += json.dumps({"kind": "NetworkPolicy", "metadata": {"name": "b"}}, indent=4) + "\n"
    assert [o["metadata"]["name"] for o in json_documents(printed)] == ["a", "b"]
    fake = FakeKubectl([], "")
    created = Kubectl(run=fake).create([{"kind": "NetworkPolicy", "metadata": {"name": n}} for n in "ab"])
    assert [o["metadata"]["uid"] for o in created] == ["uid-0", "uid-1"]
    assert json_documents("") == []
