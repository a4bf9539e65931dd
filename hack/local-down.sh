#!/usr/bin/env bash
# Stops what hack/local-up.sh started (only the PIDs it recorded) and
# removes what it made: pods and their sandboxes, shims, network namespaces,
# the CNI bridge and IP allocations, NAT rules, kube-proxy's nft table,
# mounts, cgroups, containerd state and everything under _output/local.
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

# The binary of a component, in whichever profile was built.
bin_of() {
  local b
  for b in "$BIN/$1" "$ROOT/target/release/$1" "$ROOT/target/debug/$1"; do
    if [[ -x "$b" ]]; then echo "$b"; return 0; fi
  done
  return 1
}

started_containerd=false
[[ -f "$RUN/containerd.pid" || -d "$CONTAINERD_DIR" ]] && started_containerd=true

# Node agents first, so nothing recreates what is being removed.
stop kube-dns
stop kube-proxy
# Only a cluster that ran kube-proxy owns the table (an apiserver-only
# cluster beside `make cluster` must leave it).
if [[ -f "$OUT/kube-proxy.kubeconfig" ]]; then
  if reset="$(bin_of kube-proxy)"; then
    "$reset" --cleanup --nft-table="$NFT_TABLE" >/dev/null 2>&1 || true
  fi
  nft delete table ip "$NFT_TABLE" 2>/dev/null || true
fi
stop kubelet

node_reset() {
  local r
  r="$(bin_of node-reset)" || { echo "node-reset is not built; skipping container clean-up" >&2; return 0; }
  "$r" --container-runtime-endpoint="unix://$CONTAINERD_SOCK" \
    --containerd-state-dir="$CONTAINERD_DIR/state" \
    --cgroup-root=kubepods --bridge="$CNI_BRIDGE" --cni-network="$CNI_NETWORK" \
    --ipam-dir="/var/lib/cni/networks/$CNI_NETWORK" --pod-log-dir=/var/log/pods \
    --remove-dir="$CONTAINERD_DIR" --remove-dir="$KUBELET_DIR" "$@"
}
if $started_containerd; then
  if running containerd; then
    echo ">>> removing pods through containerd"
    node_reset --phase=pods
  fi
  stop containerd
  echo ">>> removing shims, pod processes, network namespaces, bridge, cgroups and mounts"
  node_reset --phase=rest
fi

# Tables iptables-nft made for the CNI plugins, once they hold no rules and
# did not exist before `make cluster`.
if [[ -f "$RUN/nft-tables-before" ]]; then
  while read -r _ family name; do
    [[ -n "$name" ]] || continue
    grep -qx "table $family $name" "$RUN/nft-tables-before" && continue
    [[ "$name" == "$NFT_TABLE" ]] && continue
    if ! nft list table "$family" "$name" 2>/dev/null | grep -qvE '^\s*(table|chain|type|\}|$)'; then
      nft delete table "$family" "$name" 2>/dev/null || true
    fi
  done < <(nft list tables 2>/dev/null)
fi

stop kube-scheduler
stop kube-controller-manager
stop kube-apiserver
stop registry
stop etcd
rm -rf "$OUT"
echo ">>> local cluster removed"
