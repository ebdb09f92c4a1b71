#!/usr/bin/env bash
# Builds the krew and validate-krew-manifest binaries pinned in hack/tools/go.mod (krew v0.4.3) and
# prints the folder that contains them. hack/tools is its own Go module so that krew's old
# dependencies stay out of the root go.mod.
#
# The binaries are cached in ${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-mlflow/tools/<key>/, where the
# key is the sha256 of hack/tools/go.mod and go.sum, so a version change builds them anew.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

sha256_of_stdin() {
  if command -v sha256sum >/dev/null; then
    sha256sum | cut -d' ' -f1
  else
    shasum -a 256 | cut -d' ' -f1
  fi
}

key="$(cat hack/tools/go.mod hack/tools/go.sum | sha256_of_stdin)"
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-mlflow/tools"
tools_dir="$cache_root/$key"

if [[ -x "$tools_dir/krew" && -x "$tools_dir/validate-krew-manifest" ]]; then
  echo "$tools_dir"
  exit 0
fi

mkdir -p "$cache_root"
build_dir="$(mktemp -d "$cache_root/.build.XXXXXX")"
trap 'rm -rf "$build_dir"' EXIT

echo "tools: building krew and validate-krew-manifest into $tools_dir" >&2
(
  cd hack/tools
  CGO_ENABLED=0 go build -trimpath -o "$build_dir/" sigs.k8s.io/krew/cmd/krew sigs.k8s.io/krew/cmd/validate-krew-manifest
) >&2

# Another run may have filled the cache meanwhile. Its binaries come from the same go.sum, so keep them.
if [[ ! -e "$tools_dir" ]]; then
  mv "$build_dir" "$tools_dir"
fi
echo "$tools_dir"
