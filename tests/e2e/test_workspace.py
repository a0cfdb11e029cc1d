"""Offline: the e2e lifecycle and `make up` leave the project as they found it and print no
secret. Runs in `make test` against a stand-in for the Pulumi CLI (fake_pulumi.py) that makes
the same writes to the stack file as the real one."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from scripts.redact import MASK, Redactor
from scripts.workdir import project_copy
from tests.e2e import fake_pulumi
from tests.e2e.local_stack import (
    STACK,
    PulumiCommandError,
    bring_up,
    open_stack,
    public_outputs,
    tear_down,
    why_not_runnable,
)

ROOT = Path(__file__).resolve().parents[2]
STACK_FILE = """# Local stack: comments are part of the tracked file and must survive.
config:
  inference-platform:profile: serving
"""
CREDENTIALS = [line.split(": ", 1)[1] for line in fake_pulumi.KUBECONFIG.splitlines() if "-data: " in line]


def snapshot(root: Path) -> dict[str, str]:
    """Every file of the project (what git would see, ignored folders aside) with its hash."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not {".venv", ".state", "__pycache__"} & set(p.relative_to(root).parts)
    }


@pytest.fixture
def fake_cli(tmp_path: Path) -> Path:
    """A folder with bin/pulumi running the stand-in."""
    bin_dir = tmp_path / "fake-cli" / "bin"
    bin_dir.mkdir(parents=True)
    exe = bin_dir / "pulumi"
    exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{Path(fake_pulumi.__file__)}" "$@"\n')
    exe.chmod(0o755)
    return bin_dir.parent


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A small project shaped like this one: Pulumi.yaml, a tracked local stack file, scripts/."""
    root = tmp_path / "project"
    (root / "scripts").mkdir(parents=True)
    (root / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (root / f"Pulumi.{STACK}.yaml").write_text(STACK_FILE)
    (root / "__main__.py").write_text("import pulumi\n")
    for script in ("workdir.py", "redact.py", "pulumi-stack.sh", "up-local.sh"):
        shutil.copy2(ROOT / "scripts" / script, root / "scripts" / script)
    (root / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    return root


def pulumi_command(fake_cli: Path):
    from pulumi.automation import PulumiCommand

    return PulumiCommand(root=str(fake_cli))


def calls(state: Path) -> list[dict]:
    return [json.loads(line) for line in (state / "calls.jsonl").read_text().splitlines()]


def test_e2e_lifecycle_leaves_the_project_as_it_found_it_and_logs_no_secret(project, fake_cli, tmp_path):
    before = snapshot(project)
    scratch = tmp_path / "scratch"
    lines: list[str] = []
    log = Redactor(lines.append)

    stack = open_stack(project, scratch, pulumi_command(fake_cli))
    copy = scratch / "project" / f"Pulumi.{STACK}.yaml"
    # The stand-in wrote its salt where it ran: into the copy, not the project.
    assert "encryptionsalt" in yaml.safe_load(copy.read_text())
    outputs = bring_up(stack, scratch / "kubeconfig", log)
    assert (scratch / "kubeconfig").stat().st_mode & 0o777 == 0o600
    assert (scratch / "kubeconfig").read_text() == fake_pulumi.KUBECONFIG
    ran = calls(scratch / "state")
    tear_down(stack, scratch, log)

    assert snapshot(project) == before
    assert {c["cwd"] for c in ran} == {str(scratch / "project")}
    assert not scratch.exists()
    printed = "\n".join(lines)
    # The stand-in streamed the kubeconfig as a command resource does: it was there to leak.
    assert printed.count("command:local:Command kubeconfig") >= len(CREDENTIALS)
    assert not [c for c in CREDENTIALS if c in printed]
    assert outputs["kubeconfig"].secret
    shown = "{'kubeconfig': '[secret]', 'models': ['qwen25-05b'], 'tenants': ['local'], 'substrate': 'kind'}"
    assert f"stack outputs: {shown}" in lines


def test_running_in_the_tree_would_have_changed_it(project, fake_cli, tmp_path):
    # What the e2e test did before: work_dir is the project, stack rm without preserve_config.
    # This is the stand-in's teeth: the check above fails on that behaviour.
    from pulumi import automation as auto

    before = snapshot(project)
    env = {"PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}", "PULUMI_CONFIG_PASSPHRASE": ""}
    opts = auto.LocalWorkspaceOptions(env_vars=env, pulumi_command=pulumi_command(fake_cli))
    stack = auto.create_or_select_stack(stack_name=STACK, work_dir=str(project), opts=opts)
    assert "encryptionsalt" in (project / f"Pulumi.{STACK}.yaml").read_text()
    stack.workspace.remove_stack(STACK)
    assert snapshot(project) != before
    assert not (project / f"Pulumi.{STACK}.yaml").exists()


def test_a_failed_up_raises_without_the_secrets_it_streamed(project, fake_cli, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_PULUMI_FAIL", "up")
    scratch = tmp_path / "scratch"
    log = Redactor(lambda line: None)
    stack = open_stack(project, scratch, pulumi_command(fake_cli))
    try:
        with pytest.raises(PulumiCommandError) as failed:
            bring_up(stack, scratch / "kubeconfig", log)
    finally:
        tear_down(stack, scratch, log)
    message = str(failed.value)
    assert "command:local:Command kubeconfig" in message
    assert not [c for c in CREDENTIALS if c in message]
    assert failed.value.__suppress_context__


def test_public_outputs_hide_secret_values():
    from pulumi.automation import OutputValue

    outputs = {"kubeconfig": OutputValue("apiVersion: v1", True), "models": OutputValue(["m"], False)}
    assert public_outputs(outputs) == {"kubeconfig": "[secret]", "models": ["m"]}


def test_make_up_and_destroy_leave_the_project_as_they_found_it(project, fake_cli):
    before = snapshot(project)
    # As the Makefile sets them for the local stack.
    env = {
        **os.environ,
        "PATH": f"{fake_cli / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "PULUMI_BACKEND_URL": f"file://{project / '.state'}",
        "PULUMI_CONFIG_PASSPHRASE": "",
    }

    def run(*cmd: str) -> str:
        done = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout + done.stderr

    first = run("bash", "scripts/up-local.sh")
    assert snapshot(project) == before
    workdir_file = project / ".state" / "workdir" / f"Pulumi.{STACK}.yaml"
    salt = yaml.safe_load(workdir_file.read_text())["encryptionsalt"]
    # Edit the tracked file between runs: the copy takes the edit and keeps the stack's salt.
    (project / f"Pulumi.{STACK}.yaml").write_text(STACK_FILE + "  inference-platform:protect: false\n")
    before = snapshot(project)
    second = run("bash", "scripts/up-local.sh")
    destroyed = run("bash", "scripts/pulumi-stack.sh", STACK, "destroy", "--yes")

    assert snapshot(project) == before
    kept = yaml.safe_load(workdir_file.read_text())
    assert kept["encryptionsalt"] == salt
    assert kept["config"]["inference-platform:protect"] is False
    assert (project / ".state" / "local.kubeconfig").stat().st_mode & 0o777 == 0o600
    for printed in (first, second, destroyed):
        assert not [c for c in CREDENTIALS if c in printed]
    assert "port-forward svc/tyk-gateway" in second and "tenant-local-key" in second
    # TLS on (the default): the printed call verifies Tyk against the layer's CA, never -k.
    assert "--cacert .state/llm-gateway-ca.crt" in second and "https://tyk-gateway" in second
    assert " -k " not in second and "--insecure" not in second


def test_workdir_copy_keeps_the_salt_and_takes_edits(project, tmp_path):
    dest = tmp_path / "run"
    project_copy(project, dest, STACK)
    assert (dest / f"Pulumi.{STACK}.yaml").read_text() == STACK_FILE
    assert (dest / ".venv").resolve() == Path(sys.prefix).resolve()
    # What `pulumi stack init` does to the copy.
    settings = yaml.safe_load((dest / f"Pulumi.{STACK}.yaml").read_text())
    (dest / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump({**settings, "encryptionsalt": "v1:abc"}))
    (project / "__main__.py").write_text("import pulumi  # edited\n")
    project_copy(project, dest, STACK)
    copied = (dest / f"Pulumi.{STACK}.yaml").read_text()
    assert copied.startswith(STACK_FILE)
    assert yaml.safe_load(copied)["encryptionsalt"] == "v1:abc"
    assert (dest / "__main__.py").read_text().endswith("# edited\n")


def test_workdir_copy_never_overwrites_the_project(project):
    for dest in (project, project / "run"):
        with pytest.raises(ValueError, match="overwrite the project"):
            project_copy(project, dest, STACK)
    assert project_copy(project, project / ".state" / "workdir", STACK).is_dir()
    assert not (project / ".state" / "workdir" / ".state").exists()


@pytest.mark.parametrize(
    ("line", "hidden"),
    [
        ("    client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQo=", "LS0tLS1CRUdJTiBSU0E"),
        ("    token: abc.def.ghi", "abc.def.ghi"),
        ('{"password": "hunter2-hunter2"}', "hunter2"),
        ("Authorization: Bearer eyJhbGciOi.payload.sig", "eyJhbGciOi"),
        ("-----BEGIN RSA PRIVATE KEY-----", "PRIVATE KEY"),
        ("blob " + "QUJD" * 12, "QUJD" * 12),
    ],
)
def test_redactor_masks_credentials(line, hidden):
    redacted = Redactor().redact(line)
    assert hidden not in redacted
    assert MASK in redacted


@pytest.mark.parametrize(
    "line",
    [
        " +  kubernetes:helm.sh/v3:Release argocd created (12s)",
        "image: vllm/vllm-openai@sha256:" + "a" * 64,
        "urn:pulumi:local::inference-platform::inference-platform:bootstrap:PlatformBootstrap::platform",
        "Resources: 42 created, 0 unchanged",
    ],
)
def test_redactor_leaves_ordinary_lines(line):
    assert Redactor().redact(line) == line


def test_redactor_masks_known_secret_values():
    log = Redactor()
    log.add(fake_pulumi.KUBECONFIG)
    assert log.redact("server said " + CREDENTIALS[0][:-1] + "=") == f"server said {MASK}"
    assert "127.0.0.1:40000" in log.redact("server: https://127.0.0.1:40000")


def test_e2e_skips_with_a_reason():
    assert "E2E=1" in why_not_runnable({}, lambda tool: "/usr/bin/" + tool)
    reason = why_not_runnable({"E2E": "1"}, lambda tool: None if tool in ("kind", "pulumi") else "/bin/" + tool)
    assert reason.startswith("missing prerequisite(s): kind, pulumi")
