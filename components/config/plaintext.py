"""Secrets given in plain text inside chart values: found by key name, refused by StackConfig."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

# How the names of keys holding a secret end, compared lower-cased without separators
# (adminPassword, api_key, GF_SECURITY_ADMIN_PASSWORD); tokenTTL or secretName do not.
SECRET_ENDINGS = (
    "password", "passwd", "passphrase", "token", "secret", "secretkey", "apikey", "privatekey",
    "credential", "credentials",
)
# Keys that name where a secret is (an existing Secret, env loaded from one), not what it is.
REFERENCE_PREFIXES = ("existing",)
REFERENCE_ENDINGS = ("fromsecret",)
HELP = (
    "looks like a secret given in plain text, where it would sit in the stack file, the Pulumi "
    "state and the Application; secrets come through the secrets backend only (secrets.backend): "
    "store it there and give the chart the Secret's name (e.g. existingSecret, secretName, secretKeyRef)"
)


def secret_like(key: str) -> bool:
    word = re.sub(r"[^a-z0-9]", "", key.lower())
    if word.startswith(REFERENCE_PREFIXES) or word.endswith(REFERENCE_ENDINGS):
        return False
    return word.endswith(SECRET_ENDINGS)


def _names_a_key_of(key: str, siblings: Mapping[str, Any]) -> bool:
    """`fooSecretKey` beside `fooSecretName` (or `secretKey` beside `secretName`, as in the LiteLLM
    chart's masterKey block) names a key inside that Secret, not a secret key."""
    if not key.lower().endswith("secretkey"):
        return False
    name = f"{key[: -len('Key')]}Name"
    return any(str(k).lower() == name.lower() for k in siblings)


def _key(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def plain_secrets(values: Any, path: str = "") -> Iterator[str]:
    """Paths in chart values where a secret sits in plain text: a secret-named key with a
    literal non-empty string, or an env-style {name: SECRET_NAME, value: literal} entry."""
    if isinstance(values, Mapping):
        name = values.get("name")
        literal = values.get("value")
        if isinstance(name, str) and secret_like(name) and isinstance(literal, str) and literal:
            yield _key(path, "value")
        for key, value in values.items():
            key = str(key)
            if _names_a_key_of(key, values):
                continue
            if isinstance(value, str) and value and secret_like(key):
                yield _key(path, key)
            else:
                yield from plain_secrets(value, _key(path, key))
    elif isinstance(values, list):
        for i, value in enumerate(values):
            yield from plain_secrets(value, f"{path}[{i}]")
