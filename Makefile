# The two commands a newcomer needs: `make cluster` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
# Profile of the binaries `make cluster` runs.
PROFILE ?= release

.PHONY: all deps build build-release test unit integration lint fmt cluster down bench clean

all: build

deps:
	@bash hack/install-deps.sh

build: deps
	$(CARGO) build --workspace --all-targets

build-release: deps
	$(CARGO) build --workspace --release --bins

## Everything CI checks: lint, unit tests, integration tests (which start
## and stop their own etcd and containerd), the compatibility suite and the
## end-to-end tutorial (each against a cluster of its own).
test: deps lint unit integration compat kubectl-compare e2e

unit: deps
	$(CARGO) test --workspace --lib --bins

integration: deps
	$(CARGO) test --workspace --test '*'

## Compatibility: upstream kubectl (1.27, 1.30, 1.33) and the official Python
## client against a cluster of its own (tests/compat/run.sh).
.PHONY: compat
compat: deps
	@bash tests/compat/run.sh

## Our kubectl against upstream kubectl 1.33, command by command (stdout,
## stderr, exit code), on a cluster of its own.
.PHONY: kubectl-compare
kubectl-compare: deps
	@bash tests/kubectl-compare/run.sh

## The seed tutorial with upstream kubectl against `make cluster`'s cluster
## (started and stopped by the suite when none runs).
.PHONY: e2e
e2e: deps
	@bash tests/e2e/run.sh

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## The whole local cluster in the background: etcd, registry, containerd,
## the control plane, kubelet, kube-proxy and DNS (hack/local-up.sh).
cluster: deps
	@PROFILE=$(PROFILE) bash hack/local-up.sh

down:
	@bash hack/local-down.sh

## Benchmarks; results go to docs/bench/.
bench: deps
	@bash hack/bench.sh $(TARGET)

clean: down
	$(CARGO) clean
