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
# gateway.tls (on unless the stack file turns it off): Tyk serves HTTPS with the layer's CA.
tls=$("$py" -c 'import yaml
config = (yaml.safe_load(open("Pulumi.local.yaml")) or {}).get("config") or {}
tls = (config.get("inference-platform:gateway") or {}).get("tls") or {}
print("off" if tls.get("enabled", True) is False else "on")')
cat <<TXT

The local platform is up. Argo CD now syncs the platform, serving and llm-gateway layers;
the model is ready when its Application is Healthy (first start downloads the model):

  kubectl --kubeconfig $kubeconfig -n argocd get applications
TXT
if [ -n "$tenant" ] && [ "$tls" = on ]; then
  # Tyk's certificate names its Service; curl verifies it against the layer's CA (read from
  # its Secret's ca.crt at call time) and connects to the port-forward.
  cat <<TXT

Call it as tenant '$tenant', through Tyk (key auth, rate limit) -> LiteLLM (budget) ->
the Gateway and endpoint picker -> vLLM, TLS on every hop:

  kubectl --kubeconfig $kubeconfig -n llm-gateway port-forward svc/tyk-gateway 8080:8080 &
  kubectl --kubeconfig $kubeconfig -n llm-gateway get secret llm-gateway-ca -o jsonpath='{.data.ca\.crt}' | base64 -d > .state/llm-gateway-ca.crt
  key=\$(kubectl --kubeconfig $kubeconfig -n llm-gateway get secret tenant-$tenant-key -o jsonpath='{.data.key}' | base64 -d)
  curl -s --cacert .state/llm-gateway-ca.crt --connect-to tyk-gateway.llm-gateway.svc:8080:127.0.0.1:8080 \\
    https://tyk-gateway.llm-gateway.svc:8080/v1/chat/completions -H "Authorization: Bearer \$key" \\
    -H 'Content-Type: application/json' \\
    -d '{"model": "$model", "messages": [{"role": "user", "content": "Say hello"}]}'
TXT
elif [ -n "$tenant" ]; then
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
