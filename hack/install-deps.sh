#!/usr/bin/env bash
# Installs the Debian packages the project needs, only when missing.
# Idempotent: `apt-get update` runs only if something has to be installed.
# Never installs Debian's kubernetes-client (it conflicts with the upstream
# kubectl preinstalled under /usr/lib/google-cloud-sdk/bin).
set -euo pipefail

PKGS=(
  etcd-server etcd-client containerd runc containernetworking-plugins
  busybox-static nftables iptables conntrack protobuf-compiler
  docker-registry umoci skopeo openssl iproute2 curl ca-certificates
  libprotobuf-dev python3-venv
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# A half-configured dpkg (for example after a failed kubernetes-client
# install) leaves iptables missing; repair it first.
$SUDO dpkg --configure -a >/dev/null 2>&1 || true
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# containerd's package may start a system instance on machines with a service
# manager; the project always runs its own, on its own socket.
