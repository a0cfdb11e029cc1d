"""Security contexts every first-party workload uses: Pod Security `restricted`, a fixed
non-root user, read-only root filesystem, no capabilities, the runtime's seccomp profile."""

from __future__ import annotations

from typing import Any

SECCOMP = {"type": "RuntimeDefault"}


def restricted_container(uid: int) -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": dict(SECCOMP),
    }


def restricted_pod(uid: int, fs_group: bool = True) -> dict[str, Any]:
    pod = {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": uid, "seccompProfile": dict(SECCOMP)}
    if fs_group:
        pod["fsGroup"] = uid
    return pod
