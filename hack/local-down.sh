#!/usr/bin/env bash
# Stops what hack/local-up.sh started (only the PIDs it recorded) and
# removes the state it made under _output/local.
set -euo pipefail
source "$(dirname "$0")/lib/cluster-env.sh"

stop() {
  local name="$1" f="$RUN/$1.pid"
  [[ -f "$f" ]] || return 0
  local pid; pid="$(cat "$f")"
  if kill -0 "$pid" 2>/dev/null; then
    echo ">>> stopping $name (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

# Reverse start order.
stop kube-scheduler
stop kube-controller-manager
stop kube-apiserver
stop etcd
rm -rf "$OUT"
echo ">>> local cluster removed"
