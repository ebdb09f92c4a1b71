# kubectl-mlflow build, test and release entry points. Every target runs on a fresh machine that has
# only Go, gcc, git, python3 and kubectl; the scripts under hack/ install the rest from the Go module proxy.

SHELL := /bin/bash
GO ?= go
BIN_DIR := $(CURDIR)/bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GIT_COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
# The build date is the commit date so that the same commit always builds the same bytes.
BUILD_DATE ?= $(shell git log -1 --format=%cI 2>/dev/null || echo unknown)
PKG := github.com/kubectl-mlflow/kubectl-mlflow
LDFLAGS := -s -w -X $(PKG)/pkg/version.Version=$(VERSION) -X $(PKG)/pkg/version.GitCommit=$(GIT_COMMIT) -X $(PKG)/pkg/version.BuildDate=$(BUILD_DATE)

.PHONY: build demo test unit conformance e2e krew-test bench bench-e2e release testcluster tools clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN_DIR)/kubectl-mlflow ./cmd/kubectl-mlflow

demo: build
	@hack/demo.sh

unit:
	$(GO) vet ./...
	$(GO) test -count=1 ./pkg/... ./cmd/... ./hack/...

# Prints the per-file case counts and every failure, without the passing subtests.
conformance:
	set -o pipefail; $(GO) test -count=1 -v ./test/conformance/... 2>&1 | grep -vE '^\s*(=== RUN|--- PASS)'


testcluster:
	@hack/build-testcluster.sh

tools:
	@hack/tools.sh

e2e: build testcluster
	@hack/e2e.sh

krew-test: build
	@hack/krew-test.sh

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./pkg/...

bench-e2e: build
	@hack/bench-e2e.sh

release:
	@VERSION=$(VERSION) GIT_COMMIT=$(GIT_COMMIT) BUILD_DATE=$(BUILD_DATE) hack/release.sh

test: unit conformance e2e krew-test

clean:
	rm -rf $(BIN_DIR) dist
