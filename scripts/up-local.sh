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
tenant=$(pulumi --cwd "$workdir" stack output tenants --stack local --json | "$py" -c 'import json,sys; t=json.load(sys.stdin); print(t[0] if t else "")')
cat <<TXT

The local platform is up. Argo CD now syncs the platform, serving and llm-gateway layers;
the model is ready when its Application is Healthy (first start downloads the model):

  kubectl --kubeconfig $kubeconfig -n argocd get applications
TXT
if [ -n "$tenant" ]; then
  # The tenant key is read from its Secret at call time: never printed, never stored here.
  cat <<TXT

Call it as tenant '$tenant', through Tyk (key auth, rate limit) -> LiteLLM (budget) ->
the Gateway and endpoint picker -> vLLM:

  kubectl --kubeconfig $kubeconfig -n llm-gateway port-forward svc/tyk-gateway 8080:8080 &
  key=\$(kubectl --kubeconfig $kubeconfig -n llm-gateway get secret tenant-$tenant-key -o jsonpath='{.data.key}' | base64 -d)
  curl -s http://localhost:8080/v1/chat/completions -H "Authorization: Bearer \$key" \\
    -H 'Content-Type: application/json' \\
    -d '{"model": "$model", "messages": [{"role": "user", "content": "Say hello"}]}'
TXT
else
  cat <<TXT

Call the model's pods directly:

  kubectl --kubeconfig $kubeconfig -n inference port-forward svc/$model 8000:8000 &
  curl -s http://localhost:8000/v1/chat/completions -H 'Content-Type: application/json' \\
    -d '{"model": "$model", "messages": [{"role": "user", "content": "Say hello"}]}'
TXT
fi
cat <<TXT

Tear it down with: make destroy
TXT
