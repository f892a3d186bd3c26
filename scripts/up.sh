#!/usr/bin/env bash
# Brings up a local Berth cluster and applies the example app's manifests
# (examples/seed). Runs in the foreground until Ctrl-C.
# Usage: scripts/up.sh [DATA_DIR]   (default: $BERTH_DATA_DIR or ./tmp/berth)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
data="${1:-${BERTH_DATA_DIR:-$PWD/tmp/berth}}"
listen="${BERTH_LISTEN:-127.0.0.1:6443}"

# As root: the CNI plugins and Docker (installed and started when missing).
if [ "$(id -u)" = 0 ]; then
  source scripts/setup.sh
fi
go build -o bin/berth ./cmd/berth
mkdir -p "$data"

# The seed's Deployment runs image my-web-app: build it from examples/webapp
# (FROM scratch, nothing pulled) when a Docker daemon answers; the agent then
# uses the docker driver.
docker_cli=/usr/bin/docker
[ -x "$docker_cli" ] || docker_cli=docker
if "$docker_cli" version >/dev/null 2>&1; then
  # A process-driver bridge left by an earlier run holds the podCIDR's
  # first address, which the docker driver's network needs: remove it when
  # no pod is attached to it.
  if [ "$(id -u)" = 0 ] && [ -d /sys/class/net/berth0/brif ] && [ -z "$(ls /sys/class/net/berth0/brif)" ]; then
    ip link del berth0 && echo "removed the unused bridge berth0 of an earlier process-driver run"
  fi
  ctx="$PWD/tmp/webapp-image"
  mkdir -p "$ctx"
  CGO_ENABLED=0 go build -o "$ctx/webapp" ./examples/webapp
  cp examples/webapp/Dockerfile "$ctx/"
  DOCKER_BUILDKIT=0 "$docker_cli" build -q -t my-web-app "$ctx" >/dev/null
  echo "built image my-web-app"
else
  echo "no Docker daemon answers: the agent uses the process driver, which cannot run the seed's image (see docs/agent.md)"
fi
bin/berth up --data-dir "$data" --listen "$listen" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' INT TERM EXIT

for _ in $(seq 1 300); do
  if [ -f "$data/admin.kubeconfig" ] &&
     bin/berth kubectl --kubeconfig "$data/admin.kubeconfig" get --raw /readyz >/dev/null 2>&1; then break; fi
  kill -0 $pid 2>/dev/null || { echo "berth up exited"; exit 1; }
  sleep 0.1
done
export KUBECONFIG="$data/admin.kubeconfig"
bin/berth kubectl apply -f examples/seed/
bin/berth kubectl get deploy,svc
echo
echo "Berth is running (pid $pid). In another shell: KUBECONFIG=$KUBECONFIG bin/berth kubectl get all"
wait $pid
