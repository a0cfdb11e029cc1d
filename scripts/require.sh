#!/usr/bin/env bash
# Fails with one clear line per missing prerequisite.
set -u
missing=0
declare -A hint=(
  [docker]="Docker engine: https://docs.docker.com/engine/install/ (and a running daemon)"
  [kind]="kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation"
  [kubectl]="kubectl: https://kubernetes.io/docs/tasks/tools/"
  [pulumi]="Pulumi CLI: https://www.pulumi.com/docs/iac/download-install/"
)
for tool in "$@"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "missing prerequisite: $tool -- install ${hint[$tool]:-$tool}" >&2
    missing=1
  fi
done
if [[ " $* " == *" docker "* ]] && command -v docker >/dev/null 2>&1 && ! docker info >/dev/null 2>&1; then
  echo "docker is installed but its engine is not reachable: start the Docker daemon" >&2
  missing=1
fi
exit $missing
