"""A scratch copy of the project for running Pulumi, so the working tree stays as it was.

Pulumi writes into the stack file of the directory it runs in: creating a stack with the
passphrase secrets provider (the default on a local backend) rewrites `Pulumi.<stack>.yaml`
with an `encryptionsalt` (dropping its comments), and `pulumi stack rm` without
`--preserve-config` deletes the file. The local stack's file is tracked, so `make up` and
`make e2e` run Pulumi from a copy instead. The copy keeps what Pulumi added to its stack
file (the secrets-provider keys) from one run to the next, so a stack's state stays
readable; everything else is refreshed from the tree on every run.

    python scripts/workdir.py STACK DEST   # prints DEST once it is ready
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import yaml

# Never copied: version control, virtualenvs (linked instead), local state, output, caches.
SKIPPED = frozenset({".git", ".venv", ".venv-checkov", ".state", "out", "__pycache__", ".pytest_cache", ".ruff_cache"})
# Top-level keys Pulumi itself writes into a stack file to find the stack's secrets provider.
SECRETS_PROVIDER_KEYS = ("secretsprovider", "encryptedkey", "encryptionsalt")


def stack_file(directory: Path, stack: str) -> Path:
    return directory / f"Pulumi.{stack}.yaml"


def secrets_provider_settings(path: Path) -> dict[str, str]:
    """The secrets-provider keys Pulumi wrote into a stack file (none if there is no file)."""
    if not path.is_file():
        return {}
    settings = yaml.safe_load(path.read_text()) or {}
    return {k: settings[k] for k in SECRETS_PROVIDER_KEYS if settings.get(k)}


def merged_stack_file(tracked: str, kept: dict[str, str]) -> str:
    """The tracked stack file as written (comments kept), plus kept keys it does not set itself."""
    own = yaml.safe_load(tracked) or {}
    extra = {k: v for k, v in kept.items() if k not in own}
    if not extra:
        return tracked
    return tracked.rstrip("\n") + "\n" + yaml.safe_dump(extra, sort_keys=False)


def _ignored(directory: str, names: list[str]) -> set[str]:
    return {n for n in names if n in SKIPPED or n.endswith(".pyc")}


def project_copy(root: Path, dest: Path, stack: str) -> Path:
    """Make `dest` a fresh copy of the project at `root` to run `stack` from, and return it.

    The virtualenv is linked, not copied (Pulumi.yaml names `.venv` relative to the project).
    `dest` may lie inside `root/.state`: that folder is never copied.
    """
    root, dest = root.resolve(), dest.resolve()
    if dest == root or (root in dest.parents and dest.relative_to(root).parts[0] not in SKIPPED):
        raise ValueError(f"{dest} would overwrite the project itself: use a folder under .state/ or outside {root}")
    kept = secrets_provider_settings(stack_file(dest, stack))
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(root, dest, symlinks=True, ignore=_ignored)
    venv = root / ".venv"
    if venv.exists():
        (dest / ".venv").symlink_to(venv.resolve(), target_is_directory=True)
    tracked = stack_file(root, stack)
    if tracked.is_file():
        stack_file(dest, stack).write_text(merged_stack_file(tracked.read_text(), kept))
    elif kept:
        stack_file(dest, stack).write_text(yaml.safe_dump(kept, sort_keys=False))
    return dest


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: workdir.py STACK DEST", file=sys.stderr)
        return 2
    stack, dest = argv
    print(project_copy(Path(__file__).resolve().parent.parent, Path(dest), stack))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
