#!/usr/bin/env bash
# Brings up a local Berth cluster and applies the example app's manifests
# (examples/seed). Runs in the foreground until Ctrl-C.
# Usage: scripts/up.sh [DATA_DIR]   (default: $BERTH_DATA_DIR or ./tmp/berth)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
data="${1:-${BERTH_DATA_DIR:-$PWD/tmp/berth}}"
listen="${BERTH_LISTEN:-127.0.0.1:6443}"

go build -o bin/berth ./cmd/berth
mkdir -p "$data"
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
