#!/usr/bin/env bash
# Runs Berth's whole test suite on a fresh machine: installs what the tests
# need when it is missing, builds the berth binary once, then runs the tiers
# (unit, integration, end-to-end). Usage: scripts/test.sh [unit|integration|e2e|all]
set -euo pipefail
cd "$(dirname "$0")/.."

tier="${1:-all}"
export PATH="$PATH:/usr/local/go/bin"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

# Debian packages and dockerd (see scripts/setup.sh).
source scripts/setup.sh

echo "== go vet"
go vet ./...

echo "== build"
mkdir -p bin
go build -o bin/berth ./cmd/berth
export BERTH_BIN="$PWD/bin/berth"

run_unit() {
  echo "== unit tier (go test -short)"
  go test -short -count=1 ./...
}
run_integration() {
  echo "== integration tier (embedded etcd + API server in-process, -race)"
  # One package at a time: each starts servers and controllers, and the
  # convergence deadlines in the controller tests assume a machine that is
  # not also running the other packages' servers (2 cores here).
  go test -race -count=1 -p 1 -timeout 30m ./internal/...
}
run_e2e() {
  echo "== end-to-end tier (built binary + real kubectl)"
  go test -count=1 -timeout 20m ./test/e2e/...
}

case "$tier" in
  unit) run_unit ;;
  integration) run_integration ;;
  e2e) run_e2e ;;
  all) run_unit; run_integration; run_e2e ;;
  *) echo "unknown tier $tier (unit|integration|e2e|all)"; exit 2 ;;
esac
echo "== all requested tiers passed"
