#!/usr/bin/env bash
# Builds the kube-testcluster binary (etcd, kube-apiserver and kube-controller-manager from
# k8s.io/kubernetes, one multi-call binary) that the end-to-end tests run, and prints its path.
#
# The binary is cached outside the repository under a key made from test/cluster/go.mod, go.sum,
# *.go and the Go version, so a second run with the same sources prints the cached path at once.
# A cold build downloads about 600 MB of modules and takes about 8.5 minutes on 2 cores.
#
# Environment:
#   KUBE_TESTCLUSTER_CACHE  cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-mlflow/testcluster)
#   GO                      go command to use (default: go)
#
# Usage: KUBE_TESTCLUSTER_BIN=$(hack/build-testcluster.sh)
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source_dir=$repo_root/test/cluster
go_command=${GO:-go}
cache_root=${KUBE_TESTCLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-mlflow/testcluster}

if [[ ! -f $source_dir/go.sum ]]; then
	echo "build-testcluster: $source_dir/go.sum is missing: run 'go mod tidy' in test/cluster" >&2
	exit 1
fi

# sha256sum prints each file's name next to its hash, so a renamed file changes the key too.
key=$(
	cd "$source_dir"
	{
		sha256sum go.mod go.sum *.go
		"$go_command" version
	} | sha256sum | cut -c1-16
)
output_dir=$cache_root/$key
binary=$output_dir/kube-testcluster

if [[ -x $binary ]]; then
	echo "$binary"
	exit 0
fi

mkdir -p "$output_dir"
# Build to a temporary name and rename, so that an interrupted or concurrent build never leaves a
# partial file at the path that later runs reuse.
partial=$(mktemp "$output_dir/kube-testcluster.partial.XXXXXX")
trap 'rm -f "$partial"' EXIT

echo "build-testcluster: building $binary (a cold build takes about 8.5 minutes on 2 cores)" >&2
start=$SECONDS
(
	cd "$source_dir"
	GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=0 \
		"$go_command" build -trimpath -ldflags "-s -w" -o "$partial" .
)
mv -f "$partial" "$binary"
echo "build-testcluster: built in $((SECONDS - start)) s" >&2
echo "$binary"
