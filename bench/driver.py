"""Runs the load generator, then prints every step's export on stdout, one marked line each.

The benchmark Job runs this file's source with the tool image's python (`python -c`), and
local runs run it as a script: the standard library only, and nothing from this project.
The runner reads the marked lines back from the pod's log (bench/results.py).

Two settings come from the environment, both as file paths:
- BENCH_API_KEY_FILE: the key the tool sends (`--api-key`, i.e. `Authorization: Bearer`). It
  is read here and given to the tool's process alone; every line this driver prints (the
  tool's console and the exports) has it replaced, so it reaches neither the log nor results.
- BENCH_CA_FILE: a CA certificate the target's TLS certificate chains to. The tool's HTTP
  client verifies with Python's default context, which reads SSL_CERT_FILE; that variable
  replaces the default roots for every client that honours it (the tokenizer download too),
  so it points at a bundle of the usual roots plus this CA. Verification is never turned off.

usage: python driver.py RESULTS_DIR -- COMMAND...
"""

import json
import os
import ssl
import subprocess
import sys
import tempfile
from pathlib import Path

STEP_MARK = "@@bench-step "
DONE_MARK = "@@bench-done "
EXPORT_FILE = "profile_export_aiperf.json"
PHASES_DIR = "phases"
API_KEY_FILE_ENV = "BENCH_API_KEY_FILE"
CA_FILE_ENV = "BENCH_CA_FILE"
REDACTED = "<redacted>"


def default_roots():
    """The PEM roots the tool would trust without SSL_CERT_FILE: certifi's bundle (what its
    Python HTTP clients fall back to), else OpenSSL's default file."""
    try:
        import certifi

        return Path(certifi.where()).read_text()
    except (ImportError, OSError):
        pass
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and Path(candidate).is_file():
            return Path(candidate).read_text()
    return ""


def trust(env, ca_file, work_dir):
    """Point SSL_CERT_FILE at the default roots plus `ca_file`."""
    bundle = Path(work_dir) / "ca-bundle.pem"
    bundle.write_text(default_roots().rstrip("\n") + "\n" + Path(ca_file).read_text())
    env["SSL_CERT_FILE"] = str(bundle)


def scrub(text, secret):
    return text.replace(secret, REDACTED) if secret else text


def main(argv, environ=None):
    environ = dict(os.environ if environ is None else environ)
    results, command = Path(argv[0]), list(argv[1:])
    if command[:1] == ["--"]:
        command = command[1:]
    secret = None
    key_file = environ.pop(API_KEY_FILE_ENV, None)
    if key_file:
        secret = Path(key_file).read_text().strip()
        if not secret:
            raise SystemExit(f"{API_KEY_FILE_ENV}: the key file is empty")
        command += ["--api-key", secret]
    ca_file = environ.pop(CA_FILE_ENV, None)
    if ca_file:
        trust(environ, ca_file, tempfile.mkdtemp(prefix="bench-"))
    # The tool's console goes to stderr, scrubbed, so stdout carries the marked lines alone.
    with subprocess.Popen(
        command, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    ) as tool:
        for line in tool.stdout:
            sys.stderr.write(scrub(line, secret))
        code = tool.wait()
    sys.stderr.flush()
    for export in sorted(results.rglob(EXPORT_FILE)):
        step = export.parent.relative_to(results)
        if PHASES_DIR in step.parts:
            continue  # per-phase copies (warm-up, profiling): the step's own export is the profiling one
        data = json.loads(export.read_text())
        line = json.dumps({"step": step.as_posix(), "export": data}, separators=(",", ":"))
        print(STEP_MARK + scrub(line, secret), flush=True)
    print(DONE_MARK + json.dumps({"exit_code": code}), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
