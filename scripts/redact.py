"""Masks credentials in what Pulumi prints before it reaches a terminal or a CI log.

The engine masks secret outputs as [secret], but a command resource streams its stdout into
the update log unless its logging is off, and the Automation API's CommandError carries the
command's whole output. This filter is the last line: known secret values, credential keys
(kubeconfig data, tokens, passwords), PEM blocks and long base64 runs are replaced.

    pulumi up ... 2>&1 | python scripts/redact.py
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable

MASK = "[redacted]"
# Keys whose values are credentials in kubeconfigs, Secrets and chart values.
_CREDENTIAL_KEY = re.compile(
    r"(?i)\b((?:certificate-authority|client-certificate|client-key)-data|token|id-token|refresh-token"
    r"|password|passwd|client-secret|secret-key|api-key|apikey|private-key)(\"?\s*[:=]\s*)(\S+)"
)
_BEARER = re.compile(r"(?i)\b(bearer\s+)(\S+)")
_PEM = re.compile(r"-----(BEGIN|END) [A-Z0-9 ]+-----")
# A long base64/base64url run is a key, a certificate or a token more often than not; image
# digests (sha256:<hex>) are the one long run a log needs, and are left alone.
_BLOB = re.compile(r"(?<!sha256:)(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{40,}={0,2}")
# Shorter pieces of a known secret (a kubeconfig's server URL, its user name) are not masked
# on their own: they are not secret and would blank out ordinary lines.
_SPECIFIC = 32


class Redactor:
    """Masks credentials in each line before handing it to `sink`. Secret values known only
    later (stack outputs after `up`) are added with `add`."""

    def __init__(self, sink: Callable[[str], object] = print) -> None:
        self._sink = sink
        self._known: set[str] = set()

    def add(self, value: str) -> None:
        """Treat `value`, and each long enough value inside it (`key: value` lines), as secret."""
        parts = [value]
        for line in value.splitlines():
            parts += [line, line.split(": ", 1)[-1]]
        self._known.update(p.strip() for p in parts if len(p.strip()) >= _SPECIFIC)

    def redact(self, line: str) -> str:
        for value in sorted(self._known, key=len, reverse=True):
            line = line.replace(value, MASK)
        if _PEM.search(line):
            return MASK
        line = _CREDENTIAL_KEY.sub(lambda m: m.group(1) + m.group(2) + MASK, line)
        line = _BEARER.sub(lambda m: m.group(1) + MASK, line)
        return _BLOB.sub(MASK, line)

    def redact_text(self, text: str) -> str:
        return "\n".join(self.redact(line) for line in text.splitlines())

    def __call__(self, line: str) -> None:
        self._sink(self.redact(line))


def main() -> int:
    log = Redactor(lambda line: print(line, flush=True))
    for line in sys.stdin:
        log(line.rstrip("\n"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
