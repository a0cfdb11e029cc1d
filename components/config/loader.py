"""Load StackConfig once from the stack's Pulumi config and explain every error by key path."""

from __future__ import annotations

import difflib
import json
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.alias_generators import to_camel

from components.config.stack import SECRET_KEYS, StackConfig
from components.config.substrates import SUBSTRATE_KINDS

NAMESPACE = "inference-platform"
# Config namespaces of the providers and the engine; a stack may set keys in these.
PROVIDER_NAMESPACES = ("pulumi", "gcp", "hcloud", "vsphere", "kubernetes", "command", "random", "tls")
MAPPING_ERRORS = ("model_type", "model_attributes_type", "dict_type")


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


def _join(path: str, at: str) -> str:
    if not path:
        return at
    return path + at if at.startswith("[") else f"{path}.{at}"


def _strip(annotation: Any) -> Any:
    """The type under Annotated[...] and `| None`."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _strip(args[0])
    return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _step(annotation: Any, part: Any) -> Any:
    node = _strip(annotation)
    if _is_model(node):
        for name, field in node.model_fields.items():
            if (field.alias or name) == part:
                return field.annotation
        return None
    origin, args = typing.get_origin(node), typing.get_args(node)
    if origin is list and isinstance(part, int):
        return args[0]
    if origin is dict and isinstance(part, str):
        return args[1]
    if origin in (typing.Union, types.UnionType):
        # A discriminated union (the substrate): the error location carries the tag.
        for arg in args:
            kind = arg.model_fields.get("kind") if _is_model(arg) else None
            if kind is not None and part in typing.get_args(kind.annotation):
                return arg
    return None


def keys_at(loc: Iterable[Any]) -> list[str]:
    """The keys the schema allows in the mapping at `loc` (a pydantic error location)."""
    node: Any = StackConfig
    for part in loc:
        node = _step(node, part)
        if node is None:
            return []
    node = _strip(node)
    return [field.alias or name for name, field in node.model_fields.items()] if _is_model(node) else []


def closest(key: str, allowed: Iterable[str]) -> str | None:
    """The allowed key `key` most likely meant: its camelCase spelling, else the nearest one."""
    allowed = list(allowed)
    camel = to_camel(key)
    if camel != key and camel in allowed:
        return camel
    by_lower = {a.lower(): a for a in allowed}
    if key.lower() in by_lower:
        return by_lower[key.lower()]
    match = difflib.get_close_matches(key.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[match[0]] if match else None


def _unknown_key(loc: tuple[Any, ...]) -> str:
    allowed = keys_at(loc[:-1])
    guess = closest(str(loc[-1]), allowed)
    if guess:
        return f"unknown key; did you mean {guess}? (keys are spelled as in docs/config.md)"
    if allowed:
        return f"unknown key; allowed here: {', '.join(allowed)}"
    return "unknown key (not in the schema; see docs/config.md)"


def _not_a_mapping(loc: tuple[Any, ...], given: Any) -> str:
    allowed = keys_at(loc)
    if allowed:
        shape = f"a mapping with the keys {', '.join(allowed)}"
    elif _path(loc) == "substrate":
        shape = f"a mapping with kind ({', '.join(SUBSTRATE_KINDS)}) and that substrate's keys"
    else:
        shape = "a mapping"
    return f"must be {shape}, not {given!r} (see docs/config.md)"


def format_errors(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        path = _path(e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "config_key":
            path = _join(path, e["ctx"]["at"])
            msg = e["ctx"]["message"]
        elif e["type"] == "extra_forbidden":
            msg = _unknown_key(e["loc"])
        elif e["type"] in MAPPING_ERRORS:
            msg = _not_a_mapping(e["loc"], e["input"])
        elif e["type"] == "union_tag_invalid":
            tag = (e.get("ctx") or {}).get("tag", e["input"])
            msg = f"unknown substrate {tag!r}; allowed: {', '.join(SUBSTRATE_KINDS)}"
        elif e["type"] == "literal_error":
            msg = f"{e['input']!r} is not allowed; {msg[0].lower()}{msg[1:]}"
        key = f"{NAMESPACE}:{path}" if path else NAMESPACE
        lines.append(f"  {key}: {msg}")
    return "invalid stack config:\n" + "\n".join(lines)


def _refuse(lines: list[str]) -> None:
    if lines:
        raise ConfigError("invalid stack config:\n" + "\n".join(f"  {line}" for line in lines))


def check_namespaces(keys: Iterable[str]) -> None:
    """Refuse keys in a namespace that is a near miss of ours: the program would never read them."""
    lines = []
    for key in sorted(keys):
        namespace, sep, name = key.partition(":")
        if not sep or namespace in (NAMESPACE, *PROVIDER_NAMESPACES):
            continue
        if difflib.get_close_matches(namespace.lower(), [NAMESPACE], n=1, cutoff=0.8):
            lines.append(
                f"{key}: config namespace {namespace!r} is not read by this program; did you mean "
                f"{NAMESPACE}:{name}? (namespaces: {NAMESPACE} and the providers' {', '.join(PROVIDER_NAMESPACES)})"
            )
    _refuse(lines)


def parse_stack_config(values: Mapping[str, Any], secret_keys: Iterable[str] = ()) -> StackConfig:
    """Validate raw config (keys without the namespace) into a StackConfig.

    `secret_keys` are the keys Pulumi holds as secrets; a secret key given in plain text
    is an error, because it would sit unencrypted in the stack file and state; a secret
    value on any other key is an error too, because nothing reads it as one.
    """
    secret = set(secret_keys)
    lines = [
        f"{NAMESPACE}:{k}: must be a secret; set it with `pulumi config set --secret {NAMESPACE}:{k} ...`"
        for k in sorted(k for k in SECRET_KEYS if k in values and k not in secret)
    ]
    lines += [
        f"{NAMESPACE}:{k}: {k} is not a secret key; give it in plain text (the secret keys are "
        f"{', '.join(SECRET_KEYS)}; other secrets come through secrets.backend)"
        for k in sorted(k for k in secret if k in values and k not in SECRET_KEYS)
    ]
    _refuse(lines)
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
    check_namespaces(merged)
    values = {k[len(prefix):]: v for k, v in merged.items() if k.startswith(prefix)}
    secrets = {k for k in values if runtime_config.is_config_secret(prefix + k)}
    secrets |= {k[len(prefix):] for k in runtime_config.get_config_secret_keys_env() if k.startswith(prefix)}
    return parse_stack_config(values, secrets)
