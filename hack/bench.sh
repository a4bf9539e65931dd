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
#   hack/bench.sh proxy [proxy-bench flags...]
# root and nft: a full nftables sync of 10000 Services x 10 endpoints through
# the proxy library against `nft -f` of the same rules, one-endpoint
# incremental syncs, and the DNS server against a fixed-answer UDP loop:
# docs/bench/proxy.{md,json}.
#   hack/bench.sh pod-startup [pod-startup-bench flags...]
# root and containerd: 50 busybox pods on the release kubelet (a private
# containerd) against raw `ctr run`, and the kubelet's memory:
# docs/bench/pod-startup.{md,json}.
#   hack/bench.sh controllers [controllers-bench flags...]
# a Deployment of 1000 replicas through the release kube-controller-manager
# against the apiserver's own pod creates: docs/bench/controllers.{md,json}.
# docs/bench/README.md says what each target measures.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

usage() {
  [[ -n "${1:-}" ]] && echo "bench: unknown target '$1'" >&2
  echo "usage: $0 apiserver|scheduler|proxy|pod-startup|controllers|kubectl [bench flags...]" >&2
  echo "   or: make bench TARGET=apiserver|scheduler|proxy|pod-startup|controllers" >&2
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
  proxy)
    shift
    cargo build --release -p bench
    exec "$ROOT/target/release/proxy-bench" --out-dir "$ROOT/docs/bench" "$@"
    ;;
  pod-startup)
    shift
    cargo build --release -p kube-apiserver -p kubelet-cmd -p bench
    unset TEST_ETCD_ENDPOINT
    exec "$ROOT/target/release/pod-startup-bench" --out-dir "$ROOT/docs/bench" "$@"
    ;;
  controllers)
    shift
    cargo build --release -p kube-apiserver -p kube-controller-manager -p bench
    unset TEST_ETCD_ENDPOINT
    exec "$ROOT/target/release/controllers-bench" --out-dir "$ROOT/docs/bench" "$@"
    ;;
  kubectl)
    # Our kubectl against upstream 1.33: `get pods` start-up, binary size,
    # peak RSS, side by side in one run (tests/kubectl-compare/bench.sh).
    shift
    out="$ROOT/docs/bench/kubectl.md"
    results="$(bash "$ROOT/tests/kubectl-compare/bench.sh" "$@")" || { echo "$results"; exit 1; }
    {
      echo "# kubectl: ours against upstream 1.33"
      echo
      echo "Machine: $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), kernel $(uname -r), commit $(git describe --always --dirty), $(date -u +%Y-%m-%dT%H:%M:%SZ)."
      echo "\`kubectl get pods\` against the same local apiserver, ${KC_BENCH_RUNS:-20} runs each, median wall time; peak RSS of one run. Goal: ours at least 3x faster."
      echo
      echo "| measure | value | unit |"
      echo "| --- | --- | --- |"
      echo "$results" | grep -E '^kubectl_' | awk '{printf "| %s | %s | %s |\n", $1, $2, $3}'
    } > "$out"
    cat "$out"
    ;;
  *)
    usage "$target"
    ;;
esac
