#!/usr/bin/env bash
# Brings up a local cluster in the background — etcd, kube-apiserver,
# kube-controller-manager and kube-scheduler (COMPONENTS in
# hack/lib/cluster-env.sh) — writes the kubeconfigs and prints how to use
# kubectl. Idempotent: components that already run are reused.
set -euo pipefail
source "$(dirname "$0")/lib/cluster-env.sh"

mkdir -p "$LOGS" "$RUN" "$OUT/certs"

step() { echo ">>> $*"; }
wants() { [[ " $COMPONENTS " == *" $1 "* ]]; }

bins=()
for c in kube-apiserver kube-controller-manager kube-scheduler; do
  if wants "$c"; then bins+=(--bin "$c"); fi
done
step "building ${bins[*]//--bin /} ($PROFILE)"
if [[ "$PROFILE" == release ]]; then
  cargo build --release "${bins[@]}"
else
  cargo build "${bins[@]}"
fi

# Credentials: one static bearer token per identity, created once.
token_of() { awk -F, -v u="$1" '$2 == u { print $1; exit }' "$OUT/tokens.csv" 2>/dev/null; }
touch "$OUT/tokens.csv" && chmod 600 "$OUT/tokens.csv"
for id in admin system:kube-controller-manager system:kube-scheduler; do
  if [[ -z "$(token_of "$id")" ]]; then
    groups=""
    [[ "$id" == admin ]] && groups=',"system:masters"'
    echo "$(openssl rand -hex 16),$id,$id$groups" >> "$OUT/tokens.csv"
    if running kube-apiserver; then
      echo "note: $id was added to tokens.csv; restart the cluster (make down) for the apiserver to read it" >&2
    fi
  fi
done
token="$(token_of admin)"

wait_for() { # what, command...
  local what="$1"; shift
  for _ in $(seq 1 120); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "timed out waiting for $what; see $LOGS" >&2
  return 1
}

# start NAME COMMAND...: runs a component in the background unless running.
start() {
  local name="$1"; shift
  if running "$name"; then
    step "$name already running (pid $(cat "$RUN/$name.pid"))"
  else
    step "starting $name"
    nohup "$@" >"$LOGS/$name.log" 2>&1 &
    echo $! > "$RUN/$name.pid"
  fi
}

# write_kubeconfig FILE USER: a kubeconfig with USER's token and the CA.
write_kubeconfig() {
  local file="$1" user="$2" ca_data
  ca_data="$(base64 -w0 < "$OUT/certs/apiserver-ca.crt")"
  cat > "$file" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:${APISERVER_PORT}
    certificate-authority-data: ${ca_data}
users:
- name: ${user}
  user:
    token: $(token_of "$user")
contexts:
- name: local
  context:
    cluster: local
    user: ${user}
current-context: local
KUBECONFIG
  chmod 600 "$file"
}

# shellcheck disable=SC2046
start etcd etcd $(etcd_flags)
wait_for etcd curl -fsS "$ETCD_ENDPOINT/health"

# shellcheck disable=SC2046
start kube-apiserver "$BIN/kube-apiserver" $(kube_apiserver_flags)
wait_for kube-apiserver curl -fsS --cacert "$OUT/certs/apiserver-ca.crt" \
  -H "Authorization: Bearer $token" "https://127.0.0.1:$APISERVER_PORT/readyz"

step "writing kubeconfigs"
write_kubeconfig "$OUT/admin.kubeconfig" admin
write_kubeconfig "$OUT/controller-manager.kubeconfig" system:kube-controller-manager
write_kubeconfig "$OUT/scheduler.kubeconfig" system:kube-scheduler

if wants kube-controller-manager; then
  # shellcheck disable=SC2046
  start kube-controller-manager "$BIN/kube-controller-manager" $(kube_controller_manager_flags)
  wait_for kube-controller-manager curl -fsS "http://127.0.0.1:$CONTROLLER_MANAGER_PORT/healthz"
fi
if wants kube-scheduler; then
  # shellcheck disable=SC2046
  start kube-scheduler "$BIN/kube-scheduler" $(kube_scheduler_flags)
  wait_for kube-scheduler curl -fsS "http://127.0.0.1:$SCHEDULER_PORT/healthz"
fi

rel="${OUT#"$ROOT"/}"
cat <<MSG

Local cluster is up ($COMPONENTS). Logs: $rel/logs/

  export KUBECONFIG=$rel/admin.kubeconfig
  kubectl get ns

(upstream kubectl: /usr/lib/google-cloud-sdk/bin/kubectl.1.33 --kubeconfig $rel/admin.kubeconfig get ns)
Stop it with: make down
MSG
