#!/usr/bin/env bash
# Runs the krew integration tests in test/krew. They build a release archive for the host platform
# and install it with the real krew (v0.4.3, built by hack/tools.sh) into a temporary KREW_ROOT and
# HOME. Then they run the plugin through the real kubectl, validate the manifests with
# validate-krew-manifest, and check that two release runs give identical bytes. Nothing is
# downloaded, because the archives are served on 127.0.0.1.
#
# Environment:
#   KUBECTL            kubectl binary (default: kubectl on PATH)
#   RELEASE_PLATFORMS  platforms of the reproducibility check (default: the host platform and
#                      windows on the host architecture, which covers both archive formats)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! KUBECTL="${KUBECTL:-$(command -v kubectl)}"; then
  echo "krew-test: kubectl not found on PATH; install kubectl or set KUBECTL" >&2
  exit 1
fi

tools_dir="$(hack/tools.sh)"
host_platform="$(go env GOOS)/$(go env GOARCH)"

export KUBECTL
export KREW_BIN="$tools_dir/krew"
export VALIDATE_KREW_MANIFEST_BIN="$tools_dir/validate-krew-manifest"
export RELEASE_REPRODUCIBLE_TEST=1
export RELEASE_PLATFORMS="${RELEASE_PLATFORMS:-$host_platform windows/$(go env GOARCH)}"

echo "krew-test: $("$KUBECTL" version --client 2>/dev/null | head -n 1), krew from $tools_dir" >&2
go test -count=1 -timeout 60m -v ./test/krew/
