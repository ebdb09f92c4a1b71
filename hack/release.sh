#!/usr/bin/env bash
# Builds the release artifacts of kubectl-mlflow into DIST_DIR (default dist/):
#   kubectl-mlflow_<version>_<os>_<arch>.tar.gz (.zip on windows) for every platform in PLATFORMS,
#   checksums.txt (sha256 of each archive) and mlflow.yaml (the krew manifest for these archives).
#
# The output is reproducible: the same commit, VERSION and Go toolchain give the same bytes, because
# the binaries are built with CGO_ENABLED=0, -trimpath and -buildvcs=false, and the archives are
# written with sorted entries, owner 0:0, every mtime set to BUILD_DATE and a gzip header without
# name or time. The Go toolchain matters because compress/flate output may change between Go releases.
#
# Environment:
#   VERSION     release version, a semantic version with a leading v (required)
#   GIT_COMMIT  commit stamped into the binary (default: HEAD)
#   BUILD_DATE  RFC 3339 build date stamped into the binary and used as every archive mtime
#               (default: the committer date of HEAD)
#   PLATFORMS   space-separated GOOS/GOARCH list (default: linux, darwin and windows on amd64 and arm64)
#   DIST_DIR    output folder, emptied first (default: dist)
#   BASE_URL    URL of the folder that serves the archives, written into mlflow.yaml
#               (default: the GitHub release of VERSION)
#   BUILT_PLATFORMS_ONLY  when 1, mlflow.yaml lists only the platforms in PLATFORMS instead of
#               failing when the template has others (for tests that build the host platform only)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly module=github.com/kubectl-mlflow/kubectl-mlflow
readonly all_platforms="linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64"

: "${VERSION:?VERSION is required, for example: make release VERSION=v0.1.0}"
GIT_COMMIT="${GIT_COMMIT:-$(git rev-parse HEAD)}"
BUILD_DATE="${BUILD_DATE:-$(git log -1 --format=%cI)}"
PLATFORMS="${PLATFORMS:-$all_platforms}"
DIST_DIR="${DIST_DIR:-dist}"
BASE_URL="${BASE_URL:-}"
BUILT_PLATFORMS_ONLY="${BUILT_PLATFORMS_ONLY:-0}"

if [[ ! "$VERSION" =~ ^v[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$ ]]; then
  echo "release: invalid VERSION \"$VERSION\": krew needs a semantic version with a leading v, such as v0.1.0" >&2
  exit 1
fi
for file in LICENSE README.md hack/completion/kubectl_complete-mlflow hack/completion/kubectl_complete-mlflow.cmd krew-manifest.yaml; do
  if [[ ! -f "$file" ]]; then
    echo "release: $file is missing: every archive ships it or the manifest is rendered from it" >&2
    exit 1
  fi
done

# Build the helper program once instead of paying `go run` for every archive.
work_dir="$(mktemp -d)"
trap 'rm -rf "$work_dir"' EXIT
go build -o "$work_dir/release-tool" ./hack/release
release_tool="$work_dir/release-tool"

rm -rf "$DIST_DIR"
mkdir -p "$DIST_DIR"

ldflags="-s -w -X $module/pkg/version.Version=$VERSION -X $module/pkg/version.GitCommit=$GIT_COMMIT -X $module/pkg/version.BuildDate=$BUILD_DATE"
archives=()
for platform in $PLATFORMS; do
  goos="${platform%/*}"
  goarch="${platform#*/}"
  stage="$work_dir/$goos-$goarch"
  mkdir -p "$stage"

  binary=kubectl-mlflow
  helper=kubectl_complete-mlflow
  archive="$DIST_DIR/kubectl-mlflow_${VERSION}_${goos}_${goarch}.tar.gz"
  if [[ "$goos" == windows ]]; then
    binary=kubectl-mlflow.exe
    helper=kubectl_complete-mlflow.cmd
    archive="$DIST_DIR/kubectl-mlflow_${VERSION}_${goos}_${goarch}.zip"
  fi

  echo "release: building $goos/$goarch" >&2
  CGO_ENABLED=0 GOOS="$goos" GOARCH="$goarch" \
    go build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$stage/$binary" ./cmd/kubectl-mlflow
  cp LICENSE README.md "hack/completion/$helper" "$stage/"
  chmod 0644 "$stage/LICENSE" "$stage/README.md"
  chmod 0755 "$stage/$binary" "$stage/$helper"

  "$release_tool" archive -mtime "$BUILD_DATE" -out "$archive" \
    "$stage/$binary" "$stage/$helper" "$stage/LICENSE" "$stage/README.md"
  archives+=("$archive")
done

"$release_tool" checksums -out "$DIST_DIR/checksums.txt" "${archives[@]}"

manifest_flags=()
if [[ "$BUILT_PLATFORMS_ONLY" == 1 ]]; then
  manifest_flags+=(-built-platforms-only)
fi
"$release_tool" manifest -template krew-manifest.yaml -version "$VERSION" \
  -checksums "$DIST_DIR/checksums.txt" -base-url "$BASE_URL" -out "$DIST_DIR/mlflow.yaml" \
  ${manifest_flags[@]+"${manifest_flags[@]}"}

echo "release: wrote $DIST_DIR/checksums.txt and $DIST_DIR/mlflow.yaml for $VERSION" >&2
cat "$DIST_DIR/checksums.txt"
