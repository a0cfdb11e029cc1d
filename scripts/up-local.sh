#!/usr/bin/env bash
# `make up`: the local stack on kind in one command, then how to call the model.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .state
pulumi stack select local --create --non-interactive >/dev/null
pulumi up --stack local --yes --non-interactive
model=$(pulumi stack output models --stack local --json | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)[0])')
kubeconfig=.state/local.kubeconfig
pulumi stack output kubeconfig --stack local --show-secrets > "$kubeconfig"
chmod 600 "$kubeconfig"
cat <<TXT

The local platform is up. Argo CD now syncs the platform and serving layers; the model
is ready when its Application is Healthy (first start downloads the model):

  kubectl --kubeconfig $kubeconfig -n argocd get applications
  kubectl --kubeconfig $kubeconfig -n inference port-forward svc/$model 8000:8000 &
  curl -s http://localhost:8000/v1/chat/completions -H 'Content-Type: application/json' \\
    -d '{"model": "$model", "messages": [{"role": "user", "content": "Say hello"}]}'

Tear it down with: make destroy
TXT
