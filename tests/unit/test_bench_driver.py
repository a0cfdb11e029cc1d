"""The Job's driver with a stand-in for the load generator: the tenant's key goes to the tool's
process alone and is scrubbed from everything the driver prints (the pod log the runner reads,
and through it the results); a CA file joins, never replaces, the roots the tool trusts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench import driver
from bench.results import parse_driver_output

KEY = "sk-Zq3vUe0-tenant-key-never-printed"
CA = "-----BEGIN CERTIFICATE-----\nbGF5ZXIncyBDQQ==\n-----END CERTIFICATE-----\n"

# Echoes what it was given, as a careless tool might: argv and environment on its console, and
# the key inside its export.
FAKE_TOOL = """
import json, os, sys
from pathlib import Path
out = Path(sys.argv[1])
args = sys.argv[2:]
print("argv:", " ".join(args))
print("env:", json.dumps({k: v for k, v in os.environ.items() if k.startswith(("BENCH_", "SSL_CERT"))}))
key = args[args.index("--api-key") + 1] if "--api-key" in args else None
bundle = os.environ.get("SSL_CERT_FILE")
(out / "c1").mkdir(parents=True)
(out / "c1" / "profile_export_aiperf.json").write_text(json.dumps({
    "input_config": {"endpoint": {"api_key": key}},
    "bundle": Path(bundle).read_text() if bundle else None,
    "request_count": {"avg": 3},
}))
"""


def run_driver(tmp_path: Path, environ: dict[str, str], capfd) -> tuple[int, str, str]:
    tool = tmp_path / "tool.py"
    tool.write_text(FAKE_TOOL)
    results = tmp_path / "results"
    code = driver.main([str(results), "--", sys.executable, str(tool), str(results)], environ)
    out, err = capfd.readouterr()
    return code, out, err


def test_the_key_reaches_the_tool_and_nothing_the_driver_prints(tmp_path, capfd):
    key_file = tmp_path / "api-key"
    key_file.write_text(KEY + "\n")
    code, out, err = run_driver(tmp_path, {"PATH": "/usr/bin:/bin", driver.API_KEY_FILE_ENV: str(key_file)}, capfd)
    assert code == 0
    # The tool was handed the key (its console line shows the flag, scrubbed) ...
    assert f"--api-key {driver.REDACTED}" in err
    # ... and it never leaves: not the tool's console, not the exports on stdout.
    assert KEY not in out and KEY not in err
    steps, exit_code = parse_driver_output(out, [1])
    assert exit_code == 0 and steps[0]["requests"] == 3
    step = json.loads(out.splitlines()[0].removeprefix(driver.STEP_MARK))
    assert step["export"]["input_config"]["endpoint"]["api_key"] == driver.REDACTED
    # The file's path is not passed on either: the tool's environment has no BENCH_ variable.
    assert '"BENCH_API_KEY_FILE"' not in err


def test_the_ca_joins_the_default_roots_in_the_tools_ssl_cert_file(tmp_path, capfd):
    ca_file = tmp_path / "ca.crt"
    ca_file.write_text(CA)
    code, out, _ = run_driver(tmp_path, {"PATH": "/usr/bin:/bin", driver.CA_FILE_ENV: str(ca_file)}, capfd)
    assert code == 0
    bundle = json.loads(out.splitlines()[0].removeprefix(driver.STEP_MARK))["export"]["bundle"]
    roots = driver.default_roots()
    assert roots.count("BEGIN CERTIFICATE") > 10  # the public roots are still there
    assert bundle.startswith(roots.rstrip("\n")) and bundle.endswith(CA)


def test_without_key_or_ca_the_tool_runs_as_given(tmp_path, capfd):
    code, out, err = run_driver(tmp_path, {"PATH": "/usr/bin:/bin"}, capfd)
    assert code == 0 and "--api-key" not in err and '"SSL_CERT_FILE"' not in err
    assert json.loads(out.splitlines()[0].removeprefix(driver.STEP_MARK))["export"]["bundle"] is None


def test_the_job_runs_the_driver_source_as_a_standalone_script(tmp_path):
    # The Job passes the file's source to `python -c`: it must import nothing of this project.
    done = subprocess.run(
        [sys.executable, "-I", "-c", driver.__loader__.get_source(driver.__name__), str(tmp_path), "--", "true"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == driver.DONE_MARK + '{"exit_code": 0}'
