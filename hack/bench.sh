#!/usr/bin/env bash
# Benchmarks; results go to docs/bench/.
#   hack/bench.sh apiserver [apiserver-bench flags...]
# builds the release kube-apiserver and apiserver-bench, then measures raw
# etcd and the apiserver in one run (about two minutes) and writes
# docs/bench/apiserver.{md,json}. `target/release/apiserver-bench --help`
# lists the knobs (concurrency, object size, durations, ...).
#   hack/bench.sh scheduler [scheduler-bench flags...]
# SchedulingBasic at 5000 nodes and 10000 pods against the release
# kube-apiserver and kube-scheduler, with the apiserver's own create and
# binding throughput measured in the same run: docs/bench/scheduler.{md,json}.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

usage() {
  [[ -n "${1:-}" ]] && echo "bench: unknown target '$1'" >&2
  echo "usage: $0 apiserver|scheduler [bench flags...]" >&2
  echo "   or: make bench TARGET=apiserver|scheduler" >&2
  exit 2
}

target="${1:-}"
case "$target" in
  apiserver)
    shift
    cargo build --release -p kube-apiserver -p bench
    # A fresh etcd per run: a shared one would carry other load.
    unset TEST_ETCD_ENDPOINT
    exec "$ROOT/target/release/apiserver-bench" --out-dir "$ROOT/docs/bench" "$@"
    ;;
  scheduler)
    shift
    cargo build --release -p kube-apiserver -p kube-scheduler -p bench
    unset TEST_ETCD_ENDPOINT
    exec "$ROOT/target/release/scheduler-bench" --out-dir "$ROOT/docs/bench" "$@"
    ;;
  *)
    usage "$target"
    ;;
esac
