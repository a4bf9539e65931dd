# Shared settings of the local cluster: one place for the flags each
# component runs with (the systemd units in deploy/ read the same values).
# Sourced by hack/local-up.sh and hack/local-down.sh.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="${OUT:-$ROOT/_output/local}"
LOGS="$OUT/logs"
RUN="$OUT/run"
PROFILE="${PROFILE:-release}"
BIN="$ROOT/target/$PROFILE"

ETCD_CLIENT_PORT="${ETCD_CLIENT_PORT:-23790}"
ETCD_PEER_PORT="${ETCD_PEER_PORT:-23800}"
ETCD_ENDPOINT="http://127.0.0.1:${ETCD_CLIENT_PORT}"
APISERVER_PORT="${APISERVER_PORT:-6443}"
SERVICE_CIDR="${SERVICE_CIDR:-10.0.0.0/24}"
NODE_PORT_RANGE="${NODE_PORT_RANGE:-30000-32767}"
CONTROLLER_MANAGER_PORT="${CONTROLLER_MANAGER_PORT:-10257}"
SCHEDULER_PORT="${SCHEDULER_PORT:-10259}"
# What `make cluster` runs, in start order (the compat suite runs only the
# first two so its API-level checks see no controllers at work).
COMPONENTS="${COMPONENTS:-etcd kube-apiserver kube-controller-manager kube-scheduler}"

etcd_flags() {
  echo --name=local \
    --data-dir="$OUT/etcd" \
    --listen-client-urls="$ETCD_ENDPOINT" \
    --advertise-client-urls="$ETCD_ENDPOINT" \
    --listen-peer-urls="http://127.0.0.1:${ETCD_PEER_PORT}" \
    --initial-advertise-peer-urls="http://127.0.0.1:${ETCD_PEER_PORT}" \
    --initial-cluster="local=http://127.0.0.1:${ETCD_PEER_PORT}" \
    --log-level=warn
}

kube_apiserver_flags() {
  echo --etcd-servers="$ETCD_ENDPOINT" \
    --etcd-prefix=/registry \
    --bind-address=127.0.0.1 \
    --secure-port="$APISERVER_PORT" \
    --cert-dir="$OUT/certs" \
    --token-auth-file="$OUT/tokens.csv" \
    --authorization-mode=AlwaysAllow \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --service-node-port-range="$NODE_PORT_RANGE"
}

kube_controller_manager_flags() {
  echo --kubeconfig="$OUT/controller-manager.kubeconfig" \
    --root-ca-file="$OUT/certs/apiserver-ca.crt" \
    --leader-elect=true \
    --secure-port="$CONTROLLER_MANAGER_PORT"
}

kube_scheduler_flags() {
  echo --kubeconfig="$OUT/scheduler.kubeconfig" \
    --secure-port="$SCHEDULER_PORT"
}

# True when the PID recorded in $RUN/<name>.pid is alive.
running() {
  local f="$RUN/$1.pid"
  [[ -f "$f" ]] && kill -0 "$(cat "$f")" 2>/dev/null
}
