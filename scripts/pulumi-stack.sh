#!/usr/bin/env bash
# pulumi-stack.sh STACK ARGS...: `pulumi ARGS... --stack STACK`, its output redacted
# (scripts/redact.py). The local stack runs from a copy of the project in .state/workdir
# (scripts/workdir.py): creating it writes an encryption salt into its stack file, and the
# tracked Pulumi.local.yaml must stay as it is. Other stacks run in the tree.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${VENV:-.venv}/bin/python
stack=$1
shift
if [[ $stack == local ]]; then
  umask 077
  mkdir -p .state
  export PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-file://$PWD/.state}
  export PULUMI_CONFIG_PASSPHRASE=${PULUMI_CONFIG_PASSPHRASE-}
  workdir=$("$py" scripts/workdir.py local .state/workdir)
  pulumi --cwd "$workdir" stack select local --create --non-interactive >/dev/null
  set -- --cwd "$workdir" "$@"
fi
pulumi "$@" --stack "$stack" 2>&1 | "$py" scripts/redact.py
