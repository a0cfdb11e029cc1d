"""The GitHub Actions workflows: no credential offered to a fork's code, short-lived identities
(OIDC) instead of stored tokens, the Pulumi CLI pinned to the SDK's version, and actions pinned
to a commit on a Node 24 major."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
SAME_REPO = "github.event.pull_request.head.repo.full_name == github.repository"
FORK = "github.event.pull_request.head.repo.full_name != github.repository"
OIDC_ACTIONS = ("pulumi/auth-actions", "google-github-actions/auth")
# The first major of each action whose action.yml runs on node24 (read in each repository at
# its major tags); older majors run on node20 or earlier, which GitHub is retiring.
FIRST_NODE24_MAJOR = {
    "actions/checkout": 5,
    "actions/setup-python": 6,
    "actions/upload-artifact": 6,
    "pulumi/actions": 7,
    "pulumi/auth-actions": 2,
    "google-github-actions/auth": 3,
    "google-github-actions/setup-gcloud": 3,
    "helm/kind-action": 1,
}
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<action>[^@\s]+)@(?P<ref>\S+)(?:\s+#\s*(?P<comment>\S+))?\s*$")


def load(path: Path) -> dict:
    workflow = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the bare key `on` as True.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def triggers(workflow: dict) -> set[str]:
    on = workflow["on"]
    return {on} if isinstance(on, str) else set(on)


def steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def uses(job: dict, action: str) -> list[dict]:
    return [s for s in steps(job) if s.get("uses", "").split("@")[0] == action]


def permissions(workflow: dict, job: dict) -> dict:
    return job.get("permissions", workflow.get("permissions", {}))


def credentialed(workflow: dict, job: dict) -> bool:
    """A job that holds a credential a fork's pull request must not get: a secret other than
    the automatic GITHUB_TOKEN, or an OIDC identity."""
    text = yaml.safe_dump(job)
    secrets = set(re.findall(r"secrets\.([A-Za-z0-9_]+)", text)) - {"GITHUB_TOKEN"}
    oidc = permissions(workflow, job).get("id-token") == "write" or any(uses(job, a) for a in OIDC_ACTIONS)
    return bool(secrets) or oidc


def every_job():
    for path in WORKFLOWS:
        workflow = load(path)
        for name, job in workflow["jobs"].items():
            yield pytest.param(workflow, name, job, id=f"{path.name}:{name}")


def pinned_pulumi_sdk() -> str:
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.startswith("pulumi=="):
            return line.split("==", 1)[1].strip()
    raise AssertionError("requirements.txt pins no pulumi SDK")


def test_there_are_workflows():
    assert {p.name for p in WORKFLOWS} >= {"test.yml", "preview.yml", "e2e.yml"}


@pytest.mark.parametrize(("workflow", "name", "job"), list(every_job()))
def test_credentialed_jobs_are_skipped_for_forks(workflow, name, job):
    # pull_request_target would run with the base repository's secrets: never used here.
    assert "pull_request_target" not in triggers(workflow)
    if "pull_request" in triggers(workflow) and credentialed(workflow, job):
        assert SAME_REPO in job.get("if", ""), f"{name} holds credentials but runs for pull requests from forks"


def test_a_skipped_fork_preview_says_so():
    workflow = load(ROOT / ".github" / "workflows" / "preview.yml")
    notices = [j for j in workflow["jobs"].values() if j.get("if", "").strip() == FORK]
    assert notices, "no job tells a fork's pull request that the preview was skipped"
    script = "\n".join(s.get("run", "") for j in notices for s in steps(j))
    assert "::notice" in script and "GITHUB_STEP_SUMMARY" in script


@pytest.mark.parametrize(("workflow", "name", "job"), list(every_job()))
def test_oidc_jobs_request_an_id_token_and_use_no_stored_token(workflow, name, job):
    granted = permissions(workflow, job).get("id-token") == "write"
    oidc = any(uses(job, a) for a in OIDC_ACTIONS)
    assert granted == oidc, f"{name}: id-token: write exactly where an OIDC login runs"
    if oidc:
        assert "PULUMI_ACCESS_TOKEN" not in yaml.safe_dump(job)
        assert "credentials_json" not in yaml.safe_dump(job), "GCP by workload identity federation, not a key"
    for step in uses(job, "pulumi/auth-actions"):
        assert step["with"]["organization"]
        assert step["with"]["requested-token-type"] == "urn:pulumi:token-type:access_token:organization"
    for step in uses(job, "google-github-actions/auth"):
        assert {"workload_identity_provider", "service_account"} <= set(step["with"])


def test_id_token_is_granted_per_job_not_per_workflow():
    for path in WORKFLOWS:
        assert "id-token" not in load(path).get("permissions", {}), path.name


@pytest.mark.parametrize(("workflow", "name", "job"), list(every_job()))
def test_pulumi_commands_log_in_with_oidc(workflow, name, job):
    """A step that runs a Pulumi command against Pulumi Cloud gets its token from the OIDC login
    earlier in the same job."""
    names = [s.get("uses", "").split("@")[0] for s in steps(job)]
    for i, step in enumerate(steps(job)):
        if names[i] == "pulumi/actions" and "command" in step.get("with", {}):
            assert "pulumi/auth-actions" in names[:i], f"{name}: pulumi {step['with']['command']} without OIDC login"


@pytest.mark.parametrize(("workflow", "name", "job"), list(every_job()))
def test_pulumi_cli_matches_the_sdk(workflow, name, job):
    for step in uses(job, "pulumi/actions"):
        assert str(step.get("with", {}).get("pulumi-version")) == pinned_pulumi_sdk(), name


def test_the_e2e_workflow_runs_make_e2e_with_every_tool():
    job = load(ROOT / ".github" / "workflows" / "e2e.yml")["jobs"]["e2e"]
    assert any(s.get("run", "").strip() == "make e2e" for s in steps(job))
    assert uses(job, "pulumi/actions") and uses(job, "helm/kind-action")
    assert uses(job, "helm/kind-action")[0]["with"]["kubectl_version"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_to_a_commit_on_a_node24_major(path):
    refs = [m for line in path.read_text().splitlines() if (m := USES.match(line))]
    assert refs
    for ref in refs:
        action, commit, tag = ref["action"], ref["ref"], ref["comment"]
        assert commit not in ("main", "master"), f"{action} follows a branch"
        assert re.fullmatch(r"[0-9a-f]{40}", commit), f"{action}@{commit}: pin a full commit SHA"
        assert tag and re.fullmatch(r"v\d+(\.\d+){0,2}", tag), f"{action}: say which release the SHA is (# vX.Y.Z)"
        assert action in FIRST_NODE24_MAJOR, f"{action}: record its first node24 major here"
        assert int(tag[1:].split(".")[0]) >= FIRST_NODE24_MAJOR[action], f"{action} {tag} predates node24"


def test_checkouts_keep_no_token():
    for path in WORKFLOWS:
        for job in load(path)["jobs"].values():
            for step in uses(job, "actions/checkout"):
                assert step.get("with", {}).get("persist-credentials") is False, path.name
