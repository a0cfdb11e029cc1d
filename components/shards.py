"""How big the Applications the platform writes may grow, and how a layer's children are
split across roots so that none passes etcd's object size limit.

Pure functions: plain data in, plain data out.

An Application in etcd is more than what Pulumi or a root applies. Argo CD 3.2 writes copies
of `spec.source` (for a root: every child, carried as values) into the same object:
`status.sync.comparedTo`, `operation.sync` while a sync runs, `status.operationState`
(`operation.sync` and `syncResult`) and one per `status.history` entry. A child applied by
its root with client-side apply also carries itself once more in the
`kubectl.kubernetes.io/last-applied-configuration` annotation. The bounds below count all
of these, so an object stays under OBJECT_LIMIT after Argo CD has written to it, not only
when it is applied.
"""

from __future__ import annotations

import json
import math
from typing import Any

from components.applications import CHILD_HISTORY, ROOT_HISTORY

KIB = 1024
# etcd refuses requests above 1.5 MiB by default; every object stays under 1 MiB.
OBJECT_LIMIT = 1024 * KIB
# comparedTo, operation, operationState.operation, operationState.syncResult.
SOURCE_COPIES = 4
# A root's own JSON: (1 + 4 copies + ROOT_HISTORY) x 192 KiB = 960 KiB with room for status.
ROOT_BUDGET = 192 * KIB
# Children are packed into roots in slots, not bytes: a child takes ceil(size / SLOT) slots.
# A model's child is about 8 KiB, one slot; editing a model moves no other model to another
# root unless its own size crosses a slot boundary.
SLOT = 10 * KIB
# What a root carries besides its children (metadata, sync policy, chart pin).
ROOT_ENVELOPE = 2 * KIB
SLOTS_PER_ROOT = (ROOT_BUDGET - ROOT_ENVELOPE) // SLOT
# One child: (1 + 4 copies + CHILD_HISTORY + last-applied) x 128 KiB = 896 KiB.
CHILD_LIMIT = 128 * KIB


class ScaleError(ValueError):
    """A config whose objects would not fit etcd; names the object and the way out."""


def json_size(obj: Any) -> int:
    """Bytes of the object as the API server stores it (compact JSON, UTF-8)."""
    return len(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode())


def _source_size(app: dict[str, Any]) -> int:
    return json_size(app.get("spec", {}).get("source", {}))


def stored_bound(app: dict[str, Any], *, root: bool) -> int:
    """Upper bound of the Application's size in etcd once Argo CD has written its status.

    Status fields other than the copies of the source (resource list, conditions) are
    left to the margin between ROOT_BUDGET/CHILD_LIMIT and OBJECT_LIMIT.
    """
    history = ROOT_HISTORY if root else CHILD_HISTORY
    size = json_size(app) + (SOURCE_COPIES + history) * _source_size(app)
    if not root:
        size += json_size(app)  # last-applied-configuration, written by the root's apply
    return size


def slots(child: dict[str, Any]) -> int:
    return max(1, math.ceil(json_size(child) / SLOT))


def root_names(layer: str, count: int) -> list[str]:
    """`root-<layer>`, then `root-<layer>-2`...: the first keeps the name of an unsharded root."""
    return [f"root-{layer}" if i == 1 else f"root-{layer}-{i}" for i in range(1, count + 1)]


def _child_label(child: dict[str, Any]) -> str:
    return f"Application {child['metadata']['name']}"


def check_children(layer: str, children: list[dict[str, Any]], margin: int = 0) -> None:
    """Refuse a child that alone would pass the limit: no split of the roots can help it.

    `margin`: bytes the caller's rendering may be short of the real one.
    """
    for child in children:
        size = json_size(child) + margin
        if size > CHILD_LIMIT:
            raise ScaleError(
                f"layer {layer!r}: {_child_label(child)} renders to {'about ' if margin else ''}{size // KIB} KiB; "
                f"one child may be at most {CHILD_LIMIT // KIB} KiB, because Argo CD keeps up to "
                f"{SOURCE_COPIES + CHILD_HISTORY + 2} copies of it in one etcd object, which must stay under "
                f"{OBJECT_LIMIT // KIB} KiB. Shrink it: fewer engineArgs or adapters, smaller component values"
            )


def wave(child: dict[str, Any]) -> int:
    return int(child["metadata"].get("annotations", {}).get("argocd.argoproj.io/sync-wave", "0"))


def sequential(children: list[dict[str, Any]]) -> bool:
    """Whether the children span several sync waves: then, split across roots, each root must
    wait for the one before it, because sync waves order children only inside one root."""
    return len({wave(c) for c in children}) > 1


def shard(layer: str, children: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Split a layer's children into groups that each fit one root.

    A layer of one sync wave keeps its order (appending a model never moves another one). A
    layer of several waves is ordered by wave first, so that its roots, applied one after the
    other (see `stages`), sync the waves in order even when a split falls inside a wave.
    """
    check_children(layer, children)
    ordered = sorted(children, key=wave) if sequential(children) else children
    groups: list[list[dict[str, Any]]] = [[]]
    used = 0
    for child in ordered:
        need = slots(child)
        if groups[-1] and used + need > SLOTS_PER_ROOT:
            groups.append([])
            used = 0
        groups[-1].append(child)
        used += need
    return groups


def stages(children: list[dict[str, Any]], groups: list[list[Any]]) -> list[list[Any]]:
    """The groups as stages: roots in one stage sync side by side; a stage starts once the
    stage before it is Healthy. One stage for a one-wave layer, one root per stage otherwise."""
    return [[group] for group in groups] if sequential(children) else [groups]
