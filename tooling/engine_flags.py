"""`python -m tooling.engine_flags [version]`: the `vllm serve` flags of one vLLM release, as data.

The flags come from the release itself: its wheel is downloaded from PyPI, installed with
a CPU build of torch into a throwaway virtualenv, and the parser `vllm serve` builds is
walked (argparse actions: option strings, whether a value follows, negative spellings).
vLLM generates most flags from its config dataclasses, so reading the source text alone
would miss them; running the parser is the only faithful reading.

The result is written to schemas/engines/vllm-<version>.json with its provenance, and the
difference from the previous file for that engine is printed.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "schemas" / "engines"
# The parser lives in vLLM's common CLI module; `vllm serve` attaches it to a subparser
# of vLLM's FlexibleArgumentParser, which is what is rebuilt here.
PARSER = "vllm.entrypoints.common.cli_args:make_arg_parser"
# The wheel's requirements that only matter when serving (GPU kernels, media decoding,
# JIT); the parser builds without them. Everything else the wheel declares is installed
# (unpinned) so its modules import. torch is the CPU build (CPU platform selected below).
RUNTIME_ONLY = re.compile(
    r"^(torch|torchaudio|torchvision|torchcodec|pynvvideocodec|flashinfer|apache-tvm-ffi|tilelang|nvidia|nvtx|"
    r"fastsafetensors|instanttensor|quack|tokenspeed|humming|numba|opencv)",
    re.IGNORECASE,
)
CPU_TORCH = "torch==2.13.0"

# Runs inside the throwaway venv; prints the flag table as JSON.
DUMP = r"""
import argparse, json, os, sys
os.environ.setdefault("VLLM_TARGET_DEVICE", "cpu")
from vllm.utils.argparse_utils import FlexibleArgumentParser
from vllm.entrypoints.common.cli_args import make_arg_parser
top = FlexibleArgumentParser(prog="vllm")
sub = top.add_subparsers(dest="subparser")
serve = make_arg_parser(sub.add_parser("serve"))
flags = []
for action in serve._actions:
    if isinstance(action, argparse._HelpAction):
        continue
    # Every spelling the parser resolves, hidden ones included (argparse's own table).
    spellings = sorted(s for s, a in serve._option_string_actions.items() if a is action)
    negatives = []
    if isinstance(action, argparse.BooleanOptionalAction):
        negatives = sorted(getattr(action, "negative_option_strings", None)
                           or [s for s in spellings if s.startswith("--no-")])
    nargs = action.nargs
    if nargs == 0:
        takes = "none"
    elif nargs == "?":
        takes = "optional"
    elif nargs in ("*", "+") or isinstance(nargs, int) and nargs > 1:
        takes = "many"
    else:
        takes = "one"
    flags.append({
        "dest": action.dest,
        "options": spellings,
        "positional": not spellings,
        "value": takes,
        "negatives": negatives,
    })
print(json.dumps({"allowAbbrev": serve.allow_abbrev, "prefixChars": serve.prefix_chars,
                  "python": sys.version.split()[0], "flags": flags}))
"""


def _run(cmd: list[str], **kw: Any) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, **kw)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed:\n{done.stderr[-3000:]}")
    return done.stdout


def download(version: str, into: Path) -> Path:
    _run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
          f"vllm=={version}", "-d", str(into)])
    (wheel,) = into.glob(f"vllm-{version}-*.whl")
    return wheel


def requirements(wheel: Path) -> list[str]:
    """The wheel's unconditional requirements by name, minus those only serving needs."""
    import zipfile

    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        text = zf.read(meta).decode()
    names = set()
    for line in text.splitlines():
        if line.startswith("Requires-Dist:") and "extra ==" not in line:
            # name and its extras (fastapi[standard] brings uvloop, which vLLM imports).
            match = re.match(r"[A-Za-z0-9._-]+(\[[^\]]*\])?", line.split(":", 1)[1].strip())
            if match and not RUNTIME_ONLY.match(match.group(0)):
                names.add(match.group(0))
    return sorted(names)


def dump_flags(wheel: Path, venv: Path) -> dict[str, Any]:
    python = venv / "bin" / "python"
    if not python.exists():
        _run([sys.executable, "-m", "venv", str(venv)])
        _run([str(python), "-m", "pip", "install", "--quiet", CPU_TORCH])
        _run([str(python), "-m", "pip", "install", "--quiet", *requirements(wheel)])
    _run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall", str(wheel)])
    return json.loads(_run([str(python), "-c", DUMP]).splitlines()[-1])


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def document(version: str, wheel: Path, parsed: dict[str, Any], today: str) -> dict[str, Any]:
    return {
        "engine": "vllm",
        "version": version,
        "provenance": {
            "package": f"vllm=={version}",
            "file": wheel.name,
            "sha256": sha256(wheel),
            "parser": PARSER,
            "command": "vllm serve",
            "python": parsed["python"],
            "extracted": today,
            "tool": "python -m tooling.engine_flags",
        },
        "allowAbbrev": parsed["allowAbbrev"],
        "flags": sorted(parsed["flags"], key=lambda f: (f["positional"], f["dest"])),
    }


def spellings(doc: dict[str, Any] | None) -> set[str]:
    if not doc:
        return set()
    return {s for f in doc["flags"] for s in f["options"]}


def diff(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    before, after = spellings(old), spellings(new)
    lines = [f"+ {s}" for s in sorted(after - before)] + [f"- {s}" for s in sorted(before - after)]
    if old:
        kinds = {f["dest"]: f["value"] for f in old["flags"]}
        for f in new["flags"]:
            if f["dest"] in kinds and kinds[f["dest"]] != f["value"]:
                lines.append(f"~ {f['dest']}: value {kinds[f['dest']]} -> {f['value']}")
    return lines


def previous(version: str) -> dict[str, Any] | None:
    files = sorted(OUT_DIR.glob("vllm-*.json"))
    same = OUT_DIR / f"vllm-{version}.json"
    chosen = same if same.exists() else (files[-1] if files else None)
    return json.loads(chosen.read_text()) if chosen else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("version", nargs="?", help="vLLM release (default: the pin in platform/serving/vllm.yaml)")
    ap.add_argument("--wheel", type=Path, help="an already downloaded vllm wheel (skips the download)")
    ap.add_argument("--venv", type=Path, help="reuse this virtualenv (created if missing)")
    args = ap.parse_args(argv)
    if not args.version:
        from components.config.modelspec import pinned_vllm_version

        args.version = pinned_vllm_version()
    with tempfile.TemporaryDirectory(prefix="engine-flags-") as tmp:
        wheel = args.wheel or download(args.version, Path(tmp))
        parsed = dump_flags(wheel, args.venv or Path(tmp) / "venv")
        doc = document(args.version, wheel, parsed, datetime.date.today().isoformat())
    old = previous(args.version)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / f"vllm-{args.version}.json"
    out.write_text(json.dumps(doc, indent=1) + "\n")
    changes = diff(old, doc)
    base = f"{old['version']}" if old else "nothing"
    print(f"{out.relative_to(ROOT)}: {len(spellings(doc))} spellings of {len(doc['flags'])} arguments")
    print(f"changes against {base}: {len(changes)}")
    for line in changes:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
