# Shared by run.sh and bench.sh: the comparison cluster's settings (etcd and
# kube-apiserver only, own ports and state directory, debug build), read by
# hack/lib/cluster-env.sh, and helpers to start and stop it.
# Overridable: KC_ETCD_CLIENT_PORT (24790), KC_ETCD_PEER_PORT (24800),
# KC_APISERVER_PORT (17443), KC_PROFILE (debug).

# KC_LIVE=1 instead compares against the running `make cluster` (kubelet,
# containerd, proxy and DNS included: logs, exec, port-forward, describe with
# events...), neither starting nor stopping it; KC_DIR moves the work
# directory so several comparisons can run side by side.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
KC="${KC_DIR:-$ROOT/_output/kubectl-compare}"
KC_LIVE="${KC_LIVE:-0}"
export PROFILE="${KC_PROFILE:-debug}"
if [[ "$KC_LIVE" == 1 ]]; then
  export OUT="${OUT:-$ROOT/_output/local}"
else
  export OUT="$KC/cluster"
  export ETCD_CLIENT_PORT="${KC_ETCD_CLIENT_PORT:-24790}"
  export ETCD_PEER_PORT="${KC_ETCD_PEER_PORT:-24800}"
  export APISERVER_PORT="${KC_APISERVER_PORT:-17443}"
  export COMPONENTS="etcd kube-apiserver"
fi
UPSTREAM=/usr/lib/google-cloud-sdk/bin/kubectl.1.33

kc_say() { echo ">>> kubectl-compare: $*"; }

# Starts a fresh cluster; returns non-zero (with the log tail) on failure.
# Live: checks that `make cluster` runs.
kc_cluster_up() {
  mkdir -p "$KC"
  if [[ "$KC_LIVE" == 1 ]]; then
    if [[ ! -f "$OUT/admin.kubeconfig" ]] ||
      ! "$UPSTREAM" --kubeconfig "$OUT/admin.kubeconfig" get --raw /readyz >/dev/null 2>&1; then
      echo "kubectl-compare: KC_LIVE=1 needs a running make cluster ($OUT)" >&2
      return 1
    fi
    kc_say "using the running cluster in ${OUT#"$ROOT"/}"
    return 0
  fi
  mkdir -p "$KC"
  bash "$ROOT/hack/local-down.sh" >/dev/null 2>&1
  kc_say "starting a cluster in ${OUT#"$ROOT"/} (apiserver :$APISERVER_PORT, etcd :$ETCD_CLIENT_PORT, $PROFILE build)"
  if ! bash "$ROOT/hack/local-up.sh" >"$KC/local-up.log" 2>&1; then
    tail -n 30 "$KC/local-up.log" >&2
    echo "kubectl-compare: the cluster did not start" >&2
    return 1
  fi
  local p
  for p in etcd kube-apiserver; do
    if ! kill -0 "$(cat "$OUT/run/$p.pid" 2>/dev/null)" 2>/dev/null; then
      echo "kubectl-compare: $p exited after start (port taken?); see $OUT/logs/$p.log" >&2
      return 1
    fi
  done
}

# Stops what kc_cluster_up started (only the PIDs local-up.sh recorded).
kc_cluster_down() {
  if [[ "$KC_LIVE" == 1 ]]; then
    "$UPSTREAM" --kubeconfig "$OUT/admin.kubeconfig" delete ns kc-up kc-rs --ignore-not-found --wait=false >/dev/null 2>&1
    return 0
  fi
  if [[ -d "$OUT/logs" ]]; then
    rm -rf "$KC/logs" && cp -r "$OUT/logs" "$KC/logs"
  fi
  bash "$ROOT/hack/local-down.sh" >/dev/null 2>&1 || echo "kubectl-compare: local-down failed" >&2
  kc_say "cluster stopped"
}
