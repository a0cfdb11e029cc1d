"""A stand-in for the `pulumi` CLI with the real one's effects on files, for offline tests.

It does what the CLI does to the directory it runs in (read from pulumi's own source):
`stack init`/`stack select --create` on a local backend rewrites `Pulumi.<stack>.yaml` with an
`encryptionsalt` (the passphrase secrets provider), and `stack rm` deletes that file unless
`--preserve-config` is given. `up` streams what a command resource prints (here a kubeconfig,
as pulumi-command does unless its logging is off) and ends with the outputs, secrets masked.
Stacks live in the folder named by PULUMI_BACKEND_URL (file://...); every call is appended to
calls.jsonl there. FAKE_PULUMI_FAIL=up makes `up` fail after streaming.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

VERSION = "3.272.0"
# What `kind get kubeconfig` prints, shortened; the values stand for real credentials.
KUBECONFIG = """apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: RkFLRS1DQS1EQVRBLVNIT1VMRC1ORVZFUi1CRS1MT0dHRUQ=
    server: https://127.0.0.1:40000
  name: kind-inference-local
users:
- name: kind-inference-local
  user:
    client-certificate-data: RkFLRS1DTElFTlQtQ0VSVC1TSE9VTEQtTkVWRVItQkUtTE9HR0VE
    client-key-data: RkFLRS1DTElFTlQtS0VZLVNIT1VMRC1ORVZFUi1CRS1MT0dHRUQ=
"""
OUTPUTS = {"kubeconfig": KUBECONFIG, "models": ["qwen25-05b"], "tenants": ["local"], "substrate": "kind"}
SECRET_OUTPUTS = {"kubeconfig"}


def parse(argv: list[str]) -> tuple[list[str], dict[str, str], set[str]]:
    words, values, flags = [], {}, set()
    it = iter(argv)
    for arg in it:
        if arg in ("--cwd", "-C", "--stack", "-s", "--exec-kind", "--event-log", "--color", "--page-size", "--page"):
            values[arg.lstrip("-")] = next(it)
        elif arg.startswith("-"):
            flags.add(arg.split("=", 1)[0])
        else:
            words.append(arg)
    return words, values, flags


def main(argv: list[str]) -> int:
    words, values, flags = parse(argv)
    cwd = Path(values.get("cwd") or values.get("C") or os.getcwd())
    if words == ["version"]:
        print(f"v{VERSION}")
        return 0
    state = Path(os.environ["PULUMI_BACKEND_URL"].removeprefix("file://"))
    state.mkdir(parents=True, exist_ok=True)
    with (state / "calls.jsonl").open("a") as log:
        log.write(json.dumps({"argv": argv, "cwd": str(cwd)}) + "\n")
    by_name = words[:2] in (["stack", "select"], ["stack", "init"], ["stack", "rm"]) and len(words) > 2
    named = words[2] if by_name else ""
    stack = values.get("stack") or values.get("s") or named
    record = state / f"{stack}.json"
    config = cwd / f"Pulumi.{stack}.yaml"

    def init() -> None:
        import yaml

        record.write_text(json.dumps({"outputs": {}}))
        settings = yaml.safe_load(config.read_text()) if config.exists() else {}
        settings = settings or {}
        settings.setdefault("encryptionsalt", "v1:ZmFrZXNhbHQ=:v1:ZmFrZQ==:ZmFrZQ==")
        config.write_text(yaml.safe_dump(settings))

    match words[:2]:
        case ["stack", "select"]:
            if not record.exists():
                if "--create" not in flags:
                    print(f"error: no stack named '{stack}' found", file=sys.stderr)
                    return 255
                init()
        case ["stack", "init"]:
            init()
        case ["stack", "rm"]:
            record.unlink()
            if "--preserve-config" not in flags:
                config.unlink(missing_ok=True)
        case ["up", *_]:
            print("Updating (local):")
            print(" +  command:local:Command kubeconfig creating (0s)")
            for line in KUBECONFIG.splitlines():
                print(f" +  command:local:Command kubeconfig creating (1s) {line}")
            if os.environ.get("FAKE_PULUMI_FAIL") == "up":
                print("error: update failed", file=sys.stderr)
                return 255
            print("Outputs:")
            for key, value in OUTPUTS.items():
                print(f"    {key}: {'[secret]' if key in SECRET_OUTPUTS else json.dumps(value)}")
            record.write_text(json.dumps({"outputs": OUTPUTS}))
        case ["destroy", *_]:
            print("Destroying (local):")
            record.write_text(json.dumps({"outputs": {}}))
        case ["preview", *_]:
            print("Previewing update (local):")
        case ["stack", "output"]:
            outputs = json.loads(record.read_text())["outputs"]
            shown = {
                k: v if "--show-secrets" in flags or k not in SECRET_OUTPUTS else "[secret]" for k, v in outputs.items()
            }
            name = words[2] if len(words) > 2 else None
            value = shown if name is None else shown[name]
            print(json.dumps(value) if "--json" in flags or not isinstance(value, str) else value)
        case ["stack", "history"]:
            print(
                json.dumps(
                    [
                        {
                            "kind": "update",
                            "startTime": "2026-01-01T00:00:00.000Z",
                            "message": "",
                            "environment": {},
                            "config": {},
                            "result": "succeeded",
                            "endTime": "2026-01-01T00:00:01.000Z",
                        }
                    ]
                )
            )
        case _:
            print(f"fake pulumi: unsupported command {argv}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
