"""Outputs the Hetzner substrate reads, and the numeric ids hcloud references need."""

from __future__ import annotations

import zlib

from tooling.fakes import register

FAKE_ED25519_PUBLIC = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeFakeFakeFakeFakeFakeFakeFakeFakeFakeFake"
FAKE_ED25519_PRIVATE = "-----BEGIN OPENSSH PRIVATE KEY-----\nbW9jaw==\n-----END OPENSSH PRIVATE KEY-----\n"
# Letters and digits only, like the RandomPassword the substrate asks for.
FAKE_K3S_TOKEN = "MockK3sToken" + "0" * 36


def _ip(name: str, prefix: str) -> str:
    # Distinct, stable documentation addresses (RFC 5737) per resource name.
    return f"{prefix}.{zlib.crc32(name.encode()) % 250 + 1}"


register(
    resources={
        "tls:index/privateKey:PrivateKey": lambda inputs, name: {
            "publicKeyOpenssh": FAKE_ED25519_PUBLIC,
            "privateKeyOpenssh": FAKE_ED25519_PRIVATE,
        },
        "random:index/randomPassword:RandomPassword": lambda inputs, name: {"result": FAKE_K3S_TOKEN},
        "hcloud:index/loadBalancer:LoadBalancer": lambda inputs, name: {"ipv4": _ip(name, "203.0.113")},
        "hcloud:index/server:Server": lambda inputs, name: {"ipv4Address": _ip(name, "198.51.100")},
    },
    # hcloud references (network_id, server_id, ...) are integers: the substrate parses ids.
    numeric_ids=("hcloud:",),
)
