#!/usr/bin/env bash
# Brings up a local cluster in the background (etcd and kube-apiserver for
# now), writes the admin kubeconfig and prints how to use kubectl.
# Idempotent: components that already run are reused.
set -euo pipefail
source "$(dirname "$0")/lib/cluster-env.sh"

mkdir -p "$LOGS" "$RUN" "$OUT/certs"

step() { echo ">>> $*"; }

step "building binaries ($PROFILE)"
if [[ "$PROFILE" == release ]]; then
  cargo build --release --bin kube-apiserver
else
  cargo build --bin kube-apiserver
fi

# Admin credentials: a static bearer token, created once.
if [[ ! -s "$OUT/tokens.csv" ]]; then
  token="$(openssl rand -hex 16)"
  echo "${token},admin,admin,\"system:masters\"" > "$OUT/tokens.csv"
  chmod 600 "$OUT/tokens.csv"
fi
token="$(cut -d, -f1 "$OUT/tokens.csv" | head -1)"

wait_for() { # what, command...
  local what="$1"; shift
  for _ in $(seq 1 120); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "timed out waiting for $what; see $LOGS" >&2
  return 1
}

if running etcd; then
  step "etcd already running (pid $(cat "$RUN/etcd.pid"))"
else
  step "starting etcd on $ETCD_ENDPOINT"
  # shellcheck disable=SC2046
  nohup etcd $(etcd_flags) >"$LOGS/etcd.log" 2>&1 &
  echo $! > "$RUN/etcd.pid"
fi
wait_for etcd curl -fsS "$ETCD_ENDPOINT/health"

if running kube-apiserver; then
  step "kube-apiserver already running (pid $(cat "$RUN/kube-apiserver.pid"))"
else
  step "starting kube-apiserver on https://127.0.0.1:$APISERVER_PORT"
  # shellcheck disable=SC2046
  nohup "$BIN/kube-apiserver" $(kube_apiserver_flags) >"$LOGS/kube-apiserver.log" 2>&1 &
  echo $! > "$RUN/kube-apiserver.pid"
fi
wait_for kube-apiserver curl -fsS --cacert "$OUT/certs/apiserver-ca.crt" \
  -H "Authorization: Bearer $token" "https://127.0.0.1:$APISERVER_PORT/readyz"

step "writing $OUT/admin.kubeconfig"
ca_data="$(base64 -w0 < "$OUT/certs/apiserver-ca.crt")"
cat > "$OUT/admin.kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:${APISERVER_PORT}
    certificate-authority-data: ${ca_data}
users:
- name: admin
  user:
    token: ${token}
contexts:
- name: local
  context:
    cluster: local
    user: admin
current-context: local
KUBECONFIG
chmod 600 "$OUT/admin.kubeconfig"

rel="${OUT#"$ROOT"/}"
cat <<MSG

Local cluster is up. Logs: $rel/logs/

  export KUBECONFIG=$rel/admin.kubeconfig
  kubectl get ns

(upstream kubectl: /usr/lib/google-cloud-sdk/bin/kubectl.1.33 --kubeconfig $rel/admin.kubeconfig get ns)
Stop it with: make down
MSG
