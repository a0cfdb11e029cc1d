"""Runs the load generator, then prints every step's export on stdout, one marked line each.

The benchmark Job runs this file's source with the tool image's python (`python -c`), and
local runs run it as a script: the standard library only, and nothing from this project.
The runner reads the marked lines back from the pod's log (bench/results.py).

usage: python driver.py RESULTS_DIR -- COMMAND...
"""

import json
import subprocess
import sys
from pathlib import Path

STEP_MARK = "@@bench-step "
DONE_MARK = "@@bench-done "
EXPORT_FILE = "profile_export_aiperf.json"
PHASES_DIR = "phases"


def main(argv):
    results, command = Path(argv[0]), argv[1:]
    if command[:1] == ["--"]:
        command = command[1:]
    # The tool's console goes to stderr, so stdout carries the marked lines alone.
    code = subprocess.run(command, stdout=sys.stderr, check=False).returncode
    for export in sorted(results.rglob(EXPORT_FILE)):
        step = export.parent.relative_to(results)
        if PHASES_DIR in step.parts:
            continue  # per-phase copies (warm-up, profiling): the step's own export is the profiling one
        data = json.loads(export.read_text())
        print(STEP_MARK + json.dumps({"step": step.as_posix(), "export": data}, separators=(",", ":")), flush=True)
    print(DONE_MARK + json.dumps({"exit_code": code}), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
