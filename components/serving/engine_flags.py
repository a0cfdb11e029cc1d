"""`engineArgs` read the way `vllm serve` reads them, against the flags of the pinned release.

The flag table (schemas/engines/vllm-<version>.json) is extracted from the release itself by
tooling/engine_flags.py. Reading an argument follows vLLM's parser: underscores in a flag
name become dashes (up to the first '.'), `--flag=value` and `--flag value` are the same,
`--json-flag.key value` sets one key of a JSON flag, `-O3` is `--optimization-level 3`, and
argparse accepts an unambiguous prefix of a long flag when the parser allows
abbreviations. A list item holding "flag value" is split in two, as a shell would: the
container gets argv items, and vLLM would read "--seed 1" as one unknown word.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENGINES_DIR = Path(__file__).resolve().parent.parent.parent / "schemas" / "engines"

# Arguments the platform sets or derives, by argparse destination (so every spelling,
# alias, negative and abbreviation of them is caught), with the config key to use instead.
MANAGED: dict[str, str] = {
    "model_tag": "use `source` instead",
    "model": "use `source` instead",
    "load_format": "use `source` instead (s3:// sources get the streaming load format)",
    "served_model_name": "use `name` instead",
    "port": "remove it (the Service and probes use the platform's port)",
    "host": "remove it (the platform binds all interfaces inside the pod)",
    "uds": "remove it (the Service and probes use the platform's TCP port)",
    "tensor_parallel_size": "use `gpus` instead (tensor parallelism spans the model's GPUs)",
    "max_model_len": "use `maxModelLen` instead",
    "lora_modules": "use `adapters` instead",
    "enable_prefix_caching": "use `prefixCaching` instead",
    "runner": "use `task` instead",
    "hf_token": "use `hfTokenSecret` instead (a token in args is a secret in plain text)",
    "config": "remove it (a --config file is not in the pod and could override platform flags)",
    # The Gateway, the EPP, Prometheus and the probes speak HTTPS to a model exactly when the
    # platform gives it a certificate: a model serving TLS of its own would be unreachable.
    "ssl_keyfile": "use `gateway.tls.modelServers` instead (the platform serves TLS with its own certificate)",
    "ssl_certfile": "use `gateway.tls.modelServers` instead (the platform serves TLS with its own certificate)",
    "ssl_ca_certs": "remove it (the Gateway and Prometheus present no client certificate)",
    "ssl_cert_reqs": "remove it (the Gateway and Prometheus present no client certificate)",
    "enable_ssl_refresh": "use `gateway.tls.modelServers` instead (renewals are reloaded when it is on)",
}
NEGATIVE_NUMBER = re.compile(r"^-\d+$|^-\d*\.\d+$")


@dataclass(frozen=True)
class Flags:
    version: str
    allow_abbrev: bool
    by_spelling: dict[str, dict[str, Any]]

    @property
    def spellings(self) -> list[str]:
        return sorted(self.by_spelling)


@functools.cache
def load_flags(version: str) -> Flags:
    path = ENGINES_DIR / f"vllm-{version}.json"
    if not path.exists():
        raise FileNotFoundError(
            f"no flag table for vLLM {version} ({path.name}); run `python -m tooling.engine_flags {version}`"
        )
    doc = json.loads(path.read_text())
    table = {s: f for f in doc["flags"] for s in f["options"]}
    return Flags(version=doc["version"], allow_abbrev=doc["allowAbbrev"], by_spelling=table)


def split_items(items: list[str]) -> list[str]:
    """argv items: an item "flag value" becomes two, as a shell would split it."""
    out: list[str] = []
    for item in items:
        head = item.split("=", 1)[0]
        if item.startswith("-") and re.search(r"\s", head):
            flag, value = re.split(r"\s+", item.strip(), maxsplit=1)
            out += [flag, value]
        else:
            out.append(item)
    return out


def _looks_like_value(token: str) -> bool:
    return not token.startswith("-") or bool(NEGATIVE_NUMBER.match(token))


def _normalise(name: str) -> str:
    # vLLM turns underscores into dashes between the leading -- and the first '.'.
    if not name.startswith("--"):
        return name
    head, dot, rest = name[2:].partition(".")
    return "--" + head.replace("_", "-") + dot + rest


def resolve(name: str, flags: Flags) -> tuple[dict[str, Any] | None, str | None]:
    """The flag a spelling means, or why it means none."""
    if name in flags.by_spelling:
        return flags.by_spelling[name], None
    if flags.allow_abbrev and name.startswith("--"):
        # argparse counts matching spellings, not arguments: two spellings are ambiguous.
        matches = sorted(s for s in flags.by_spelling if s.startswith(name))
        if len(matches) == 1:
            return flags.by_spelling[matches[0]], None
        if len(matches) > 1:
            shown = ", ".join(matches[:6]) + (", ..." if len(matches) > 6 else "")
            return None, f"engine arg {name} is ambiguous in vLLM {flags.version}: it could be {shown}"
    close = difflib.get_close_matches(name, flags.spellings, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]}?" if close else ""
    return None, f"engine arg {name} is not a vllm serve flag in vLLM {flags.version}{hint}"


def _consume(kind: str, has_inline: bool, tokens: list[str], i: int) -> tuple[int, bool]:
    """Index after the values a flag of `kind` takes from tokens[i:], and whether one was missing."""
    if kind == "none" or has_inline:
        return i, False
    if kind == "one":
        if i < len(tokens) and _looks_like_value(tokens[i]):
            return i + 1, False
        return i, True
    # optional or many values: take what follows up to the next flag.
    while i < len(tokens) and _looks_like_value(tokens[i]):
        i += 1
        if kind == "optional":
            break
    return i, False


def check(items: list[str], flags: Flags) -> list[str]:
    """Every problem with `items` (engineArgs), in order; empty when vLLM would accept them."""
    tokens = split_items(items)
    problems: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if _looks_like_value(token):
            problems.append(f"engine arg {token!r} is not a flag (vLLM would read it as the model); use `source`")
            continue
        name, eq, _ = token.partition("=")
        if name.startswith("-O") and not name.startswith("--"):
            # vLLM rewrites -O3 / -O=3 / -O 3 to --optimization-level before argparse.
            if name == "-O" and not eq and i < len(tokens) and tokens[i] in {"0", "1", "2", "3"}:
                i += 1
            continue
        name = _normalise(name)
        base, dot, _ = name.partition(".")
        flag, why = resolve(base, flags)
        # An unknown flag is assumed to take one value, so its value is not reported too.
        kind = "one" if dot or flag is None else flag["value"]
        i, missing = _consume(kind, bool(eq), tokens, i)
        if flag is None:
            problems.append(str(why))
        elif flag["dest"] in MANAGED:
            problems.append(f"engine arg {token.split('=', 1)[0]} is set by the platform; {MANAGED[flag['dest']]}")
        elif kind == "none" and eq:
            problems.append(f"engine arg {name} takes no value (write {name} alone, or its negative form)")
        elif missing:
            problems.append(f"engine arg {name} needs a value")
    return problems


def sets_value(items: list[str], dest: str, flags: Flags) -> list[tuple[str, str | None]]:
    """Each (spelling, value) in `items` that sets `dest`; used to read rendered args back."""
    tokens = split_items(items)
    found: list[tuple[str, str | None]] = []
    for idx, token in enumerate(tokens):
        if _looks_like_value(token):
            continue
        name, eq, value = token.partition("=")
        flag, _ = resolve(_normalise(name).partition(".")[0], flags)
        if flag and flag["dest"] == dest:
            nxt = tokens[idx + 1] if idx + 1 < len(tokens) and _looks_like_value(tokens[idx + 1]) else None
            found.append((name, value if eq else (nxt if flag["value"] != "none" else None)))
    return found
