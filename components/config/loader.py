"""Load StackConfig once from the stack's Pulumi config and explain every error by key path."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from components.config.stack import SECRET_KEYS, StackConfig
from components.config.substrates import SUBSTRATE_KINDS

NAMESPACE = "inference-platform"


class ConfigError(Exception):
    """A stack file that cannot be deployed. The message names every bad key path."""


def _decode(raw: Any) -> Any:
    # Pulumi hands object and list values to the program JSON-encoded.
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _path(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in SUBSTRATE_KINDS and out == "substrate":
            continue  # the discriminator tag, not a key the user wrote
        else:
            out += f".{part}" if out else str(part)
    return out


def format_errors(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        path = _path(e["loc"])
        key = f"{NAMESPACE}:{path}" if path else NAMESPACE
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key (not in the schema; see docs/config.md)"
        elif e["type"] == "union_tag_invalid":
            tag = (e.get("ctx") or {}).get("tag", e["input"])
            msg = f"unknown substrate {tag!r}; allowed: {', '.join(SUBSTRATE_KINDS)}"
        elif e["type"] == "literal_error":
            msg = f"{e['input']!r} is not allowed; {msg[0].lower()}{msg[1:]}"
        lines.append(f"  {key}: {msg}")
    return "invalid stack config:\n" + "\n".join(lines)


def parse_stack_config(values: Mapping[str, Any], secret_keys: Iterable[str] = ()) -> StackConfig:
    """Validate raw config (keys without the namespace) into a StackConfig.

    `secret_keys` are the keys Pulumi holds as secrets; a secret key given in plain text
    is an error, because it would sit unencrypted in the stack file and state.
    """
    secret = set(secret_keys)
    plain = sorted(k for k in SECRET_KEYS if k in values and k not in secret)
    if plain:
        raise ConfigError(
            "invalid stack config:\n"
            + "\n".join(
                f"  {NAMESPACE}:{k}: must be a secret; set it with "
                f"`pulumi config set --secret {NAMESPACE}:{k} ...`"
                for k in plain
            )
        )
    data = {k: _decode(v) if k not in SECRET_KEYS else v for k, v in values.items()}
    try:
        return StackConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_errors(err)) from None


def load_stack_config() -> StackConfig:
    """Read every `inference-platform:*` key the stack sets. Call once, in __main__."""
    from pulumi.runtime import config as runtime_config

    prefix = f"{NAMESPACE}:"
    merged = dict(runtime_config.get_config_env())
    merged.update(runtime_config.CONFIG.get())
    values = {k[len(prefix):]: v for k, v in merged.items() if k.startswith(prefix)}
    secrets = {k for k in values if runtime_config.is_config_secret(prefix + k)}
    secrets |= {k[len(prefix):] for k in runtime_config.get_config_secret_keys_env() if k.startswith(prefix)}
    return parse_stack_config(values, secrets)
