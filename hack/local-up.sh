#!/usr/bin/env bash
# Brings up a local cluster in the background, one node on this machine:
# etcd, the image registry, containerd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubelet, kube-proxy and the
# cluster DNS (COMPONENTS and every flag in hack/lib/cluster-env.sh). Waits
# until the node is Ready, the `default` ServiceAccount exists and DNS
# answers, then prints how to use kubectl. Idempotent: components that
# already run are reused.
set -euo pipefail
source "$(dirname "$0")/lib/cluster-env.sh"

mkdir -p "$LOGS" "$RUN" "$OUT/certs"
# The nftables tables that exist before the cluster: `make down` removes
# only tables it finds empty that were not there (the CNI plugins' iptables
# calls create `ip nat`/`ip filter` through iptables-nft).
[[ -f "$RUN/nft-tables-before" ]] || nft list tables > "$RUN/nft-tables-before" 2>/dev/null || true

step() { echo ">>> $*"; }
wants() { [[ " $COMPONENTS " == *" $1 "* ]]; }

bins=() names=()
for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kube-dns; do
  if wants "$c"; then bins+=(--bin "$c"); names+=("$c"); fi
done
# `make down` cleans a node with it.
if wants containerd; then bins+=(--bin node-reset); names+=(node-reset); fi
step "building ${names[*]} ($PROFILE)"
if [[ "$PROFILE" == release ]]; then
  cargo build --release "${bins[@]}"
else
  cargo build "${bins[@]}"
fi

# Credentials: one static bearer token per identity, created once.
token_of() { awk -F, -v u="$1" '$2 == u { print $1; exit }' "$OUT/tokens.csv" 2>/dev/null; }
touch "$OUT/tokens.csv" && chmod 600 "$OUT/tokens.csv"
for id in admin system:kube-controller-manager system:kube-scheduler \
  "system:node:$NODE_NAME" system:kube-proxy system:serviceaccount:kube-system:coredns; do
  if [[ -z "$(token_of "$id")" ]]; then
    groups=""
    case "$id" in
      admin) groups=',"system:masters"' ;;
      system:node:*) groups=',"system:nodes"' ;;
      system:serviceaccount:*) groups=',"system:serviceaccounts,system:serviceaccounts:kube-system"' ;;
    esac
    echo "$(openssl rand -hex 16),$id,$id$groups" >> "$OUT/tokens.csv"
    if running kube-apiserver; then
      echo "note: $id was added to tokens.csv; restart the cluster (make down) for the apiserver to read it" >&2
    fi
  fi
done
token="$(token_of admin)"

# wait_for WHAT SECONDS COMMAND...: polls COMMAND, printing a dot a second.
wait_for() {
  local what="$1" secs="$2"; shift 2
  local i
  for ((i = 0; i < secs * 2; i++)); do
    if "$@" >/dev/null 2>&1; then
      ((i < 2)) || echo
      return 0
    fi
    if ((i == 2)); then printf '    waiting for %s ' "$what"; fi
    if ((i >= 2 && i % 2 == 0)); then printf '.'; fi
    sleep 0.5
  done
  echo
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

kubectl_() {
  /usr/lib/google-cloud-sdk/bin/kubectl.1.33 --kubeconfig "$OUT/admin.kubeconfig" "$@"
}

# shellcheck disable=SC2046
start etcd etcd $(etcd_flags)
wait_for etcd 60 curl -fsS "$ETCD_ENDPOINT/health"

if wants registry; then
  mkdir -p "$OUT/registry"
  registry_config > "$OUT/registry/config.yml"
  start registry docker-registry serve "$OUT/registry/config.yml"
  wait_for registry 30 curl -fsS "http://$REGISTRY_ADDR/v2/"
  # Images are built once (cached under _output/images) and pushed to the
  # registry when it lacks them.
  for image in pause busybox nginx; do
    case "$image" in
      pause) probe="pause/manifests/3.9" ;;
      busybox) probe="library/busybox/manifests/1.35" ;;
      nginx) probe="library/nginx/manifests/1.22" ;;
    esac
    if ! curl -fs -o /dev/null -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
      "http://$REGISTRY_ADDR/v2/$probe"; then
      step "building and pushing image $image"
      bash "$ROOT/hack/build-images.sh" push "$REGISTRY_ADDR" "$image"
    fi
  done
fi

if wants containerd; then
  mkdir -p "$CONTAINERD_DIR" "$CNI_CONF_DIR"
  containerd_config > "$CONTAINERD_DIR/config.toml"
  # shellcheck disable=SC2046
  start containerd containerd $(containerd_flags)
  wait_for containerd 60 test -S "$CONTAINERD_SOCK"
fi

# shellcheck disable=SC2046
start kube-apiserver "$BIN/kube-apiserver" $(kube_apiserver_flags)
wait_for kube-apiserver 60 curl -fsS --cacert "$OUT/certs/apiserver-ca.crt" \
  -H "Authorization: Bearer $token" "https://127.0.0.1:$APISERVER_PORT/readyz"

step "writing kubeconfigs"
write_kubeconfig "$OUT/admin.kubeconfig" admin
write_kubeconfig "$OUT/controller-manager.kubeconfig" system:kube-controller-manager
write_kubeconfig "$OUT/scheduler.kubeconfig" system:kube-scheduler
write_kubeconfig "$OUT/kubelet.kubeconfig" "system:node:$NODE_NAME"
write_kubeconfig "$OUT/kube-proxy.kubeconfig" system:kube-proxy
write_kubeconfig "$OUT/kube-dns.kubeconfig" system:serviceaccount:kube-system:coredns

if wants kube-controller-manager; then
  # shellcheck disable=SC2046
  start kube-controller-manager bash "$ROOT/hack/lib/supervise.sh" "$BIN/kube-controller-manager" $(kube_controller_manager_flags)
  wait_for kube-controller-manager 60 curl -fsS "http://127.0.0.1:$CONTROLLER_MANAGER_PORT/healthz"
fi
if wants kube-controller-manager; then
  step "applying the addons in deploy/addons"
  kubectl_ apply -f "$ROOT/deploy/addons/" >/dev/null
fi
if wants kube-scheduler; then
  # shellcheck disable=SC2046
  start kube-scheduler bash "$ROOT/hack/lib/supervise.sh" "$BIN/kube-scheduler" $(kube_scheduler_flags)
  wait_for kube-scheduler 60 curl -fsS "http://127.0.0.1:$SCHEDULER_PORT/healthz"
fi
if wants kubelet; then
  mkdir -p "$KUBELET_DIR"
  # shellcheck disable=SC2046
  start kubelet "$BIN/kubelet" $(kubelet_flags)
  wait_for "node $NODE_NAME to be Ready" 120 bash -c \
    "[[ \$(/usr/lib/google-cloud-sdk/bin/kubectl.1.33 --kubeconfig '$OUT/admin.kubeconfig' get node '$NODE_NAME' \
       -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}') == True ]]"
fi
if wants kube-proxy; then
  # shellcheck disable=SC2046
  start kube-proxy "$BIN/kube-proxy" $(kube_proxy_flags)
  wait_for kube-proxy 60 curl -fsS "http://127.0.0.1:10256/healthz"
fi
if wants kube-dns; then
  # shellcheck disable=SC2046
  start kube-dns "$BIN/kube-dns" $(kube_dns_flags)
  wait_for kube-dns 60 curl -fsS "http://127.0.0.1:8181/ready"
fi
if wants kube-controller-manager; then
  wait_for "the default ServiceAccount" 60 kubectl_ get serviceaccount default -n default
fi
if wants kube-dns && wants kube-proxy; then
  # Through the Service address, as pods will ask.
  wait_for "DNS to answer at $CLUSTER_DNS" 60 bash -c \
    "python3 '$ROOT/hack/lib/dns-probe.py' '$CLUSTER_DNS' 'kubernetes.default.svc.$CLUSTER_DOMAIN'"
fi

rel="${OUT#"$ROOT"/}"
cat <<MSG

Local cluster is up ($COMPONENTS). Logs: $rel/logs/

  export KUBECONFIG=$rel/admin.kubeconfig
  kubectl get nodes -o wide

(upstream kubectl: /usr/lib/google-cloud-sdk/bin/kubectl.1.33 --kubeconfig $rel/admin.kubeconfig get nodes -o wide)
Stop it with: make down
MSG
