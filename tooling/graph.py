"""The order the engine creates and destroys a run's resources in, from what it registered.

The engine's dependency graph (pkg/resource/graph) makes a resource depend on its provider,
its parent, its `dependsOn` and property dependencies, and the resources it is
`deletedWith` or `replaceWith`; a dependency on a component stands for the component's
children. A resource is created after everything it depends on, and deleted before it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tooling.mocks import Recorded
from tooling.program import Run


def direct_dependencies(r: Recorded, by_urn: dict[str, Recorded], children: dict[str, list[str]]) -> set[str]:
    urns = set(r.dependencies)
    for deps in r.property_dependencies.values():
        urns.update(deps)
    urns.update(u for u in (r.provider_urn, r.parent, r.deleted_with, *r.replace_with) if u)
    expanded = set()
    for urn in urns:
        expanded.add(urn)
        if urn in by_urn and not by_urn[urn].custom:
            expanded.update(_descendants(urn, children))
    expanded.discard(r.urn)
    return {u for u in expanded if u in by_urn}


def _descendants(urn: str, children: dict[str, list[str]]) -> set[str]:
    found: set[str] = set()
    stack = list(children.get(urn, ()))
    while stack:
        child = stack.pop()
        if child not in found:
            found.add(child)
            stack.extend(children.get(child, ()))
    return found


@dataclass(frozen=True)
class Ordering:
    """`(earlier, later)` pairs of `<type>::<name>` keys, transitively closed.

    `create` holds (a, b) when b is created only after a exists; `destroy` holds (a, b)
    when a is deleted before b is (the reverse of create).
    """

    create: frozenset[tuple[str, str]]
    keys: frozenset[str]

    @property
    def destroy(self) -> frozenset[tuple[str, str]]:
        return frozenset((later, earlier) for earlier, later in self.create)

    def resolve(self, name: str) -> str:
        """A key, or a bare name that is unique in the run."""
        if name in self.keys:
            return name
        matches = [k for k in self.keys if k.rsplit("::", 1)[-1] == name]
        if len(matches) != 1:
            raise KeyError(f"{name!r} names {len(matches)} resources: {sorted(matches)}")
        return matches[0]

    def created_after(self, later: str, earlier: str) -> bool:
        return (self.resolve(earlier), self.resolve(later)) in self.create

    def destroyed_before(self, first: str, then: str) -> bool:
        return (self.resolve(first), self.resolve(then)) in self.destroy


def ordering(run: Run) -> Ordering:
    by_urn = run.by_urn()
    children: dict[str, list[str]] = {}
    for r in run.resources:
        children.setdefault(r.parent, []).append(r.urn)
    direct = {r.urn: direct_dependencies(r, by_urn, children) for r in run.resources}
    pairs: set[tuple[str, str]] = set()
    for urn in direct:
        for dep in _closure(urn, direct) - {urn}:
            pairs.add((by_urn[dep].key, by_urn[urn].key))
    return Ordering(create=frozenset(pairs), keys=frozenset(r.key for r in run.resources))


def _closure(urn: str, direct: dict[str, Iterable[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(direct[urn])
    while stack:
        dep = stack.pop()
        if dep not in seen:
            seen.add(dep)
            stack.extend(direct.get(dep, ()))
    return seen
