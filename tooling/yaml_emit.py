"""A small block-style YAML writer for plain data (dict, list, str, int, float, bool, None).

Render writes thousands of nested objects; PyYAML's Python representer made render time
grow by ~20 ms per model. Strings that could read as anything but themselves are written
as JSON strings, which YAML parses as double-quoted scalars, so output round-trips exactly.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./-]*$")
# Words YAML 1.1 (PyYAML) or 1.2 would read as booleans or null.
RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


def scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        return _string(value)
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


@functools.lru_cache(maxsize=1 << 16)
def _string(value: str) -> str:
    # Keys and many values (names, labels, images) repeat across objects: decide each once.
    if PLAIN.match(value) and value.lower() not in RESERVED:
        return value
    return json.dumps(value)


NESTED = (dict, list)


def _lines(value: Any, indent: str) -> list[str]:
    out: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            head = f"{indent}{_string(str(key))}:"
            if isinstance(item, NESTED) and item:
                out.append(head)
                out.extend(_lines(item, indent + ("  " if isinstance(item, dict) else "")))
            else:
                out.append(f"{head} {_empty_or_scalar(item)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, NESTED) and item:
                nested = _lines(item, indent + "  ")
                out.append(f"{indent}- {nested[0][len(indent) + 2:]}")
                out.extend(nested[1:])
            else:
                out.append(f"{indent}- {_empty_or_scalar(item)}")
    else:
        out.append(indent + scalar(value))
    return out


def _empty_or_scalar(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return scalar(value)


def dump(value: Any) -> str:
    if isinstance(value, dict | list) and not value:
        return _empty_or_scalar(value) + "\n"
    return "\n".join(_lines(value, "")) + "\n"
