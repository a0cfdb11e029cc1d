"""The local stack's lifecycle through the Automation API, apart from the e2e assertions so it
can run offline against a stand-in CLI (tests/e2e/fake_pulumi.py).

Two promises: the working tree is left as it was found (Pulumi runs from a scratch copy, see
scripts/workdir.py), and nothing secret reaches the log (every line Pulumi prints passes
through `Redactor`; stack outputs are printed only when they are not secret).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from scripts.redact import Redactor
from scripts.workdir import project_copy

STACK = "local"
TOOLS = ("docker", "kind", "kubectl", "pulumi")


class PulumiCommandError(Exception):
    """A failed Pulumi command, its output redacted."""


@contextmanager
def redacted_errors(log: Redactor) -> Iterator[None]:
    """The Automation API's CommandError carries the command's whole stdout and stderr (what a
    command resource streamed included): re-raise it redacted, without the original attached."""
    from pulumi.automation import CommandError

    try:
        yield
    except CommandError as err:
        raise PulumiCommandError(log.redact_text(str(err))) from None


def why_not_runnable(environ: Mapping[str, str] = os.environ, which: Callable[[str], str | None] = shutil.which):
    """Why the e2e test cannot run here, or None when it can."""
    if environ.get("E2E") != "1":
        return "opt-in: set E2E=1 (make e2e) to bring the local stack up on kind"
    missing = [t for t in TOOLS if which(t) is None]
    if missing:
        return f"missing prerequisite(s): {', '.join(missing)} (needs Docker, kind, kubectl and the Pulumi CLI)"
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        return "docker is installed but its engine is not reachable: start the Docker daemon"
    return None


def open_stack(root: Path, scratch: Path, pulumi_command=None):
    """Create the local stack on a throwaway local backend under `scratch`, run from a copy of
    the project under `scratch`: Pulumi's writes to the stack file land in the copy."""
    from pulumi import automation as auto

    state = scratch / "state"
    state.mkdir(parents=True, exist_ok=True)
    work_dir = project_copy(root, scratch / "project", STACK)
    env = {"PULUMI_BACKEND_URL": f"file://{state}", "PULUMI_CONFIG_PASSPHRASE": ""}
    opts = auto.LocalWorkspaceOptions(env_vars=env, pulumi_command=pulumi_command)
    with redacted_errors(Redactor()):
        return auto.create_or_select_stack(stack_name=STACK, work_dir=str(work_dir), opts=opts)


def public_outputs(outputs: Mapping[str, object]) -> dict[str, object]:
    """Stack outputs fit to print: secret ones shown as [secret]."""
    return {k: "[secret]" if getattr(v, "secret", True) else v.value for k, v in outputs.items()}


def secret_values(outputs: Mapping[str, object]) -> Iterable[str]:
    for value in outputs.values():
        if value.secret:
            yield value.value if isinstance(value.value, str) else repr(value.value)


def bring_up(stack, kubeconfig: Path, log: Redactor) -> dict[str, object]:
    """`pulumi up`, every line redacted; writes the kubeconfig (mode 0600) for kubectl."""
    with redacted_errors(log):
        result = stack.up(on_output=log, on_error=log, color="never", suppress_outputs=True)
    for value in secret_values(result.outputs):
        log.add(value)
    kubeconfig.touch(mode=0o600)
    kubeconfig.write_text(result.outputs["kubeconfig"].value)
    log(f"stack outputs: {public_outputs(result.outputs)}")
    return result.outputs


def tear_down(stack, scratch: Path, log: Redactor) -> None:
    """Destroy the stack (deleting the kind cluster), forget it, and drop the scratch folder."""
    try:
        with redacted_errors(log):
            stack.destroy(on_output=log, on_error=log, color="never")
            # The stack file lives in the scratch copy; kept anyway, should the work dir ever be the tree.
            stack.workspace.remove_stack(STACK, preserve_config=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
