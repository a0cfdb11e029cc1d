"""Read a stack file (Pulumi.<stack>.yaml) as the Pulumi CLI would: a key given twice in one
mapping and YAML syntax errors are refused with file and line, never resolved silently."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from components.config.loader import ConfigError

MERGE_TAG = "tag:yaml.org,2002:merge"


def _error(line: str) -> ConfigError:
    return ConfigError(f"invalid stack config:\n  {line}")


class _RefuseDuplicates:
    """Safe loading that refuses a duplicated key; PyYAML alone would keep the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:
                continue  # `<<` merges may repeat keys by design; explicit keys may not
            key = self.construct_object(key_node, deep=True)
            mark = key_node.start_mark
            try:
                first = seen.get(key)
            except TypeError:
                continue  # an unhashable key: the constructor below reports it
            if first is not None:
                raise _error(
                    f"{mark.name}:{mark.line + 1}: key {key!r} is given twice (first at line {first}); "
                    "a stack file gives each key once"
                )
            seen[key] = mark.line + 1
        return super().construct_mapping(node, deep)


class StackFileLoader(_RefuseDuplicates, yaml.SafeLoader):
    """Pure-Python parser: slower, but its syntax errors say more (e.g. name a tab)."""


if yaml.__with_libyaml__:

    class FastLoader(_RefuseDuplicates, yaml.CSafeLoader):
        """libyaml parses a large stack file several times faster; a file it refuses is parsed
        again by StackFileLoader for the better message."""

else:  # PyYAML built without libyaml
    FastLoader = StackFileLoader


def _load(path: Path) -> Any:
    with path.open(encoding="utf-8") as stream:  # marks carry the stream's name: the file
        try:
            return yaml.load(stream, Loader=FastLoader)
        except yaml.MarkedYAMLError:
            if FastLoader is StackFileLoader:
                raise
    with path.open(encoding="utf-8") as stream:
        return yaml.load(stream, Loader=StackFileLoader)


def read_stack_file(path: Path) -> dict[str, Any]:
    """The `config` mapping of a stack file; a ConfigError names file and line of what is wrong."""
    try:
        doc = _load(path)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        at = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        context = err.context or ""
        if context and err.context_mark is not None and err.context_mark is not mark:
            context += f" (from line {err.context_mark.line + 1})"
        problem = "; ".join(p for p in (context, err.problem) if p)
        raise _error(f"{at}: YAML syntax error: {problem}") from None
    except yaml.YAMLError as err:
        raise _error(f"{path}: YAML error: {err}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise _error(f"{path}: a stack file is a mapping with a `config` key")
    config = doc.get("config") or {}
    if not isinstance(config, dict):
        raise _error(f"{path}: `config` must map `namespace:key` to values")
    return config
