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
# The node: its name, the address the kubelet registers, the pod networks.
NODE_NAME="${NODE_NAME:-$(tr '[:upper:]' '[:lower:]' < /proc/sys/kernel/hostname)}"
NODE_IP="${NODE_IP:-$(ip -4 route get 10.255.255.255 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "src") { print $(i + 1); exit }}')}"
NODE_IP="${NODE_IP:-127.0.0.1}"
CLUSTER_CIDR="${CLUSTER_CIDR:-10.244.0.0/16}"
CLUSTER_DOMAIN="${CLUSTER_DOMAIN:-cluster.local}"
# The tenth address of SERVICE_CIDR, as kubeadm and CoreDNS use it.
CLUSTER_DNS="${CLUSTER_DNS:-10.0.0.10}"
KUBELET_PORT="${KUBELET_PORT:-10250}"
# The local registry holding the project-built images, containerd's mirror
# for docker.io and registry.k8s.io.
REGISTRY_ADDR="${REGISTRY_ADDR:-127.0.0.1:5000}"
CONTAINERD_DIR="$OUT/containerd"
CONTAINERD_SOCK="$CONTAINERD_DIR/containerd.sock"
KUBELET_DIR="$OUT/kubelet"
CNI_CONF_DIR="$OUT/net.d"
# What the kubelet's CNI configuration (crates/kubelet/src/cni.rs) names.
CNI_BRIDGE=cni0
CNI_NETWORK=k8s-pod-network
NFT_TABLE="${NFT_TABLE:-kube-proxy}"
# What `make cluster` runs, in start order (the compat suite runs only the
# first two so its API-level checks see no controllers at work).
COMPONENTS="${COMPONENTS:-etcd registry containerd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kube-dns}"

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
    --allocate-node-cidrs=true \
    --cluster-cidr="$CLUSTER_CIDR" \
    --node-cidr-mask-size=24 \
    --local-path-root="$OUT/local-path" \
    --secure-port="$CONTROLLER_MANAGER_PORT"
}

kube_scheduler_flags() {
  echo --kubeconfig="$OUT/scheduler.kubeconfig" \
    --secure-port="$SCHEDULER_PORT"
}

registry_config() {
  cat <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $OUT/registry
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
YAML
}

containerd_config() {
  cat <<TOML
version = 2
root = "$CONTAINERD_DIR/root"
state = "$CONTAINERD_DIR/state"
[grpc]
  address = "$CONTAINERD_SOCK"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.9"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$CNI_CONF_DIR"
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]
    endpoint = ["http://$REGISTRY_ADDR"]
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."registry.k8s.io"]
    endpoint = ["http://$REGISTRY_ADDR"]
TOML
}

containerd_flags() {
  echo --config="$CONTAINERD_DIR/config.toml" --log-level=warn
}

kubelet_flags() {
  echo --kubeconfig="$OUT/kubelet.kubeconfig" \
    --hostname-override="$NODE_NAME" \
    --node-ip="$NODE_IP" \
    --container-runtime-endpoint="unix://$CONTAINERD_SOCK" \
    --root-dir="$KUBELET_DIR" \
    --cni-conf-dir="$CNI_CONF_DIR" \
    --cluster-dns="$CLUSTER_DNS" \
    --cluster-domain="$CLUSTER_DOMAIN" \
    --cgroup-driver=cgroupfs \
    --port="$KUBELET_PORT"
}

kube_proxy_flags() {
  echo --kubeconfig="$OUT/kube-proxy.kubeconfig" \
    --proxy-mode=nftables \
    --cluster-cidr="$CLUSTER_CIDR" \
    --hostname-override="$NODE_NAME" \
    --nodeport-addresses="$NODE_IP/32,127.0.0.0/8" \
    --nft-table="$NFT_TABLE"
}

kube_dns_flags() {
  echo --kubeconfig="$OUT/kube-dns.kubeconfig" \
    --cluster-domain="$CLUSTER_DOMAIN" \
    --dns-bind-address="$NODE_IP:53" \
    --health-bind-address=127.0.0.1:8081 \
    --ready-bind-address=127.0.0.1:8181 \
    --metrics-bind-address=127.0.0.1:9153 \
    --register-service=kube-system/kube-dns \
    --service-ip="$CLUSTER_DNS" \
    --advertise-address="$NODE_IP"
}

# True when the PID recorded in $RUN/<name>.pid is alive.
running() {
  local f="$RUN/$1.pid"
  [[ -f "$f" ]] && kill -0 "$(cat "$f")" 2>/dev/null
}
