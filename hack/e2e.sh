#!/usr/bin/env bash
# Runs the end-to-end tests under test/e2e against a real control plane (etcd, kube-apiserver and
# kube-controller-manager v1.37.2, started by package test/harness) on 127.0.0.1.
#
# Builds or reuses the kube-testcluster binary (hack/build-testcluster.sh), puts bin/ first on
# PATH so that tests find the plugin binary bin/kubectl-mlflow ('make build' makes it) and uses
# the kubectl already on PATH. Extra arguments are passed to 'go test', for example
# hack/e2e.sh -run TestHPAControllerScalesUpOnCPU.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

if ! command -v kubectl >/dev/null; then
	echo "e2e: kubectl is not on PATH: install kubectl, which the tests run against the test cluster" >&2
	exit 1
fi
if [[ ! -x bin/kubectl-mlflow ]]; then
	echo "e2e: bin/kubectl-mlflow is missing: run 'make build' first (or 'make e2e', which does)" >&2
	exit 1
fi

KUBE_TESTCLUSTER_BIN=$(hack/build-testcluster.sh)
export KUBE_TESTCLUSTER_BIN
export PATH="$repo_root/bin:$PATH"
echo "e2e: using $KUBE_TESTCLUSTER_BIN" >&2

exec "${GO:-go}" test -count=1 -timeout 30m -v ./test/e2e/... "$@"
