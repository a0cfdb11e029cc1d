#!/usr/bin/env bash
# `make up`: the local stack on kind in one command, then how to call the model.
# Pulumi runs from .state/workdir, a copy of the project (scripts/pulumi-stack.sh), so the
# working tree is left as it was; what it prints is redacted.
set -euo pipefail
cd "$(dirname "$0")/.."
umask 077
py=${VENV:-.venv}/bin/python
export PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-file://$PWD/.state}
export PULUMI_CONFIG_PASSPHRASE=${PULUMI_CONFIG_PASSPHRASE-}
scripts/pulumi-stack.sh local up --yes --non-interactive --suppress-outputs
workdir=.state/workdir
model=$(pulumi --cwd "$workdir" stack output models --stack local --json | "$py" -c 'import json,sys; print(json.load(sys.stdin)[0])')
kubeconfig=.state/local.kubeconfig
# umask 077: the admin kubeconfig is readable by this user only.
pulumi --cwd "$workdir" stack output kubeconfig --stack local --show-secrets > "$kubeconfig"
cat <<TXT

The local platform is up. Argo CD now syncs the platform and serving layers; the model
is ready when its Application is Healthy (first start downloads the model):

  kubectl --kubeconfig $kubeconfig -n argocd get applications
  kubectl --kubeconfig $kubeconfig -n inference port-forward svc/$model 8000:8000 &
  curl -s http://localhost:8000/v1/chat/completions -H 'Content-Type: application/json' \\
    -d '{"model": "$model", "messages": [{"role": "user", "content": "Say hello"}]}'

Tear it down with: make destroy
TXT
