# Shared by run.sh and bench.sh: the comparison cluster's settings (etcd and
# kube-apiserver only, own ports and state directory, debug build), read by
# hack/lib/cluster-env.sh, and helpers to start and stop it.
# Overridable: KC_ETCD_CLIENT_PORT (24790), KC_ETCD_PEER_PORT (24800),
# KC_APISERVER_PORT (17443), KC_PROFILE (debug).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
KC="$ROOT/_output/kubectl-compare"
export OUT="$KC/cluster"
export ETCD_CLIENT_PORT="${KC_ETCD_CLIENT_PORT:-24790}"
export ETCD_PEER_PORT="${KC_ETCD_PEER_PORT:-24800}"
export APISERVER_PORT="${KC_APISERVER_PORT:-17443}"
export PROFILE="${KC_PROFILE:-debug}"
export COMPONENTS="etcd kube-apiserver"
UPSTREAM=/usr/lib/google-cloud-sdk/bin/kubectl.1.33

kc_say() { echo ">>> kubectl-compare: $*"; }

# Starts a fresh cluster; returns non-zero (with the log tail) on failure.
kc_cluster_up() {
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
  if [[ -d "$OUT/logs" ]]; then
    rm -rf "$KC/logs" && cp -r "$OUT/logs" "$KC/logs"
  fi
  bash "$ROOT/hack/local-down.sh" >/dev/null 2>&1 || echo "kubectl-compare: local-down failed" >&2
  kc_say "cluster stopped"
}
