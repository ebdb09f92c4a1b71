#!/usr/bin/env bash
# Runs the control-plane benchmarks of test/e2e: explain-hpa against kubectl describe hpa on
# the real test control plane, wall time and API requests. Builds or reuses the control plane
# like hack/e2e.sh. Extra arguments are passed to 'go test'.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

KUBE_TESTCLUSTER_BIN=$(hack/build-testcluster.sh)
export KUBE_TESTCLUSTER_BIN
export PATH="$repo_root/bin:$PATH"

exec "${GO:-go}" test -count=1 -timeout 30m -run '^$' -bench . -benchtime 10x ./test/e2e/... "$@"
