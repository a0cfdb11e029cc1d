"""Find values that look like keys, passwords or tokens in rendered objects and Pulumi inputs.

What counts as a finding (a path and a reason, never the value):
- an OpenAI-style key (`sk-` and 16+ key characters), an age identity (AGE-SECRET-KEY-1...),
  a PEM block;
- a long random-looking string (16+ characters, letters and digits, high entropy) in a field
  whose name says key, password, token or secret;
- any value in a Secret's `data` or `stringData` other than REDACTED (the recording mock writes
  that for values Pulumi holds as secrets: Argo CD's admin Secret, Grafana's, the age key).

ALLOWED lists the exceptions by (kind or input type, path pattern) with the reason; values
Pulumi holds as secrets (its `secret_inputs`) are ciphertext in state and are skipped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from fnmatch import fnmatch
from typing import Any

OPENAI_KEY = re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}")
AGE_KEY = re.compile(r"AGE-SECRET-KEY-1[0-9A-Z]{20,}")
PEM = re.compile(r"-----BEGIN [A-Z ]+-----")
SECRET_FIELD = re.compile(r"(key|password|passwd|token|secret)", re.IGNORECASE)
RANDOM = re.compile(r"^[A-Za-z0-9+/=_\-]{16,}$")

REDACTED = "<redacted>"

# (object kind or resource type, dotted path glob, why a finding there is not a secret).
# Empty: beyond REDACTED and Pulumi's secret inputs, nothing is let through. An entry needs
# its reason here and in docs/verification.md.
ALLOWED: list[tuple[str, str, str]] = []


def entropy(value: str) -> float:
    counts = {c: value.count(c) for c in set(value)}
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def looks_random(value: str) -> bool:
    """Letters and digits mixed, no word structure: a generated credential, not a name."""
    if not RANDOM.match(value) or not re.search(r"\d", value) or not re.search(r"[A-Za-z]", value):
        return False
    # Names and references (tyk-gateway-secret, tenant-a-litellm-key) are words joined by '-'.
    if re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", value) and max(map(len, value.split("-"))) < 16:
        return False
    return entropy(value) >= 3.5


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]")
    else:
        yield path, value


def _reason(path: str, value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    if OPENAI_KEY.search(value):
        return "an sk- key"
    if AGE_KEY.search(value):
        return "an age identity"
    if PEM.search(value):
        return "a PEM block"
    field = path.rsplit(".", 1)[-1].split("[")[0]
    if SECRET_FIELD.search(field) and looks_random(value):
        return f"a random-looking value in field {field!r}"
    return None


def _allowed(owner: str, path: str) -> bool:
    return any(owner == kind and fnmatch(path, pattern) for kind, pattern, _ in ALLOWED)


def scan(value: Any, owner: str, skip: tuple[str, ...] = ()) -> list[str]:
    """Findings in one object (owner: its kind or resource type); paths under `skip` are not read."""
    found = []
    for path, leaf in _walk(value, ""):
        if any(path == s or path.startswith(s + ".") or path.startswith(s + "[") for s in skip):
            continue
        reason = _reason(path, leaf)
        if reason is None and owner == "Secret" and re.match(r"^(data|stringData)\.", path) and leaf != REDACTED:
            reason = "a Secret value"
        if reason and not _allowed(owner, path):
            found.append(f"{owner} {path}: {reason}")
    return found


def scan_object(obj: dict[str, Any]) -> list[str]:
    name = (obj.get("metadata") or {}).get("name", "?")
    return [f"{name}: {f}" for f in scan(obj, str(obj.get("kind", "?")))]
