#!/usr/bin/env bash
# Builds the project's container images locally from Debian packages (no
# public registry is reachable from these machines) and hands them to a
# containerd or a local registry.
#
#   hack/build-images.sh [build] [NAME...]        build (default: all) into _output/images/
#   hack/build-images.sh import SOCKET [NAME...]  import into the containerd at SOCKET (namespace k8s.io)
#   hack/build-images.sh push [REGISTRY] [NAME...] push to a registry (default 127.0.0.1:5000), plain HTTP
#
# Images (NAME: references it produces):
#   busybox: docker.io/library/busybox:{1.35,1.35.0,latest}  busybox-static, every applet linked in /bin, PATH=/bin, cmd sh
#   pause:   registry.k8s.io/pause:3.9                        the project's own static pause program (C, built with gcc -static)
#   nginx:   docker.io/library/nginx:{1.22,1.22.1}             Debian's nginx 1.22.1 with its libraries, the stock welcome
#            page on port 80, logs to stdout/stderr (nginx is fetched with `apt-get download`, never installed on the host)
#
# Each image is an OCI layout in _output/images/<name>/ and a tarball of it in
# _output/images/<name>.tar. A build is skipped when the tarball exists and was
# made by this same version of the script (the stamp file holds its hash).
# Environment: IMAGES_DIR overrides the output directory.
#
# Sourcing the script (`source hack/build-images.sh`) defines the functions
# without running anything: build_image NAME, import_image SOCKET NAME,
# push_image REGISTRY NAME.
set -euo pipefail

IMAGES_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IMAGES_DIR=${IMAGES_DIR:-$IMAGES_ROOT/_output/images}
IMAGES_ALL=(busybox pause nginx)
IMAGES_STAMP=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)

# Repository (without tag) each image is imported under or pushed as.
image_repo() {
  case $1 in
    busybox) echo docker.io/library/busybox ;;
    nginx) echo docker.io/library/nginx ;;
    pause) echo registry.k8s.io/pause ;;
    *) echo "build-images: unknown image $1" >&2; return 1 ;;
  esac
}

image_tags() {
  case $1 in
    busybox) echo 1.35 1.35.0 latest ;;
    nginx) echo 1.22 1.22.1 ;;
    pause) echo 3.9 ;;
    *) echo "build-images: unknown image $1" >&2; return 1 ;;
  esac
}

log() { echo "build-images: $*" >&2; }

umoci_unpack() {
  # As root, keep real ownership; otherwise map the caller to root.
  if [[ $(id -u) -eq 0 ]]; then umoci unpack "$@"; else umoci unpack --rootless "$@"; fi
}

umoci_repack() {
  if [[ $(id -u) -eq 0 ]]; then umoci repack "$@"; else umoci repack --rootless "$@"; fi
}

# Files every image gets: a root and a nobody user, /tmp.
base_files() {
  local rootfs=$1
  mkdir -p "$rootfs"/{etc,tmp,root,var,proc,sys,dev}
  chmod 1777 "$rootfs/tmp"
  cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
  cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
www-data:x:33:
nogroup:x:65534:
EOF
}

install_busybox() {
  local rootfs=$1 a
  mkdir -p "$rootfs/bin"
  cp /bin/busybox "$rootfs/bin/busybox"
  for a in $(/bin/busybox --list); do
    [[ $a == busybox ]] || ln -sf busybox "$rootfs/bin/$a"
  done
}

fill_busybox() {
  local rootfs=$1
  base_files "$rootfs"
  install_busybox "$rootfs"
}

fill_pause() {
  local rootfs=$1 work=$2
  cat >"$work/pause.c" <<'EOF'
/* The pod sandbox's placeholder process: holds the pod's namespaces, reaps
 * orphans when it is PID 1 of a shared PID namespace, exits 0 on INT/TERM. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) { (void)sig; _exit(0); }

static void reap(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(void) {
  struct sigaction sa = {0};
  sa.sa_handler = stop;
  if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0) return 1;
  sa.sa_handler = reap;
  sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
  if (sigaction(SIGCHLD, &sa, NULL) < 0) return 2;
  for (;;) pause();
}
EOF
  gcc -static -Os -s -o "$work/pause" "$work/pause.c"
  install -m 0755 "$work/pause" "$rootfs/pause"
}

fill_nginx() {
  local rootfs=$1 work=$2 lib deb
  base_files "$rootfs"
  install_busybox "$rootfs"
  mkdir -p "$work/debs" "$work/x"
  (cd "$work/debs" && { apt-get download nginx nginx-common >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get download nginx nginx-common >/dev/null; }; })
  for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$work/x"; done
  mkdir -p "$rootfs/usr/sbin" "$rootfs/usr/share/nginx" "$rootfs/etc/nginx/conf.d" \
    "$rootfs/var/lib/nginx" "$rootfs/var/log/nginx" "$rootfs/run" "$rootfs/var/cache/nginx"
  install -m 0755 "$work/x/usr/sbin/nginx" "$rootfs/usr/sbin/nginx"
  cp -a "$work/x/usr/share/nginx/html" "$rootfs/usr/share/nginx/"
  local f
  for f in mime.types fastcgi_params scgi_params uwsgi_params; do
    cp "$work/x/etc/nginx/$f" "$rootfs/etc/nginx/$f"
  done
  # The shared libraries the binary links, taken from this (same-release) host.
  for lib in $(ldd "$work/x/usr/sbin/nginx" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L "$lib" "$rootfs$lib"
  done
  # Logs go to the container's stdout/stderr, as in the official image.
  ln -sf /dev/stdout "$rootfs/var/log/nginx/access.log"
  ln -sf /dev/stderr "$rootfs/var/log/nginx/error.log"
  cat >"$rootfs/etc/nginx/nginx.conf" <<'EOF'
user www-data;
worker_processes auto;
error_log /var/log/nginx/error.log notice;
pid /run/nginx.pid;

events {
    worker_connections 1024;
}

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    log_format main '$remote_addr - $remote_user [$time_local] "$request" '
                    '$status $body_bytes_sent "$http_referer" '
                    '"$http_user_agent" "$http_x_forwarded_for"';
    access_log /var/log/nginx/access.log main;
    sendfile on;
    keepalive_timeout 65;
    include /etc/nginx/conf.d/*.conf;
}
EOF
  cat >"$rootfs/etc/nginx/conf.d/default.conf" <<'EOF'
server {
    listen 80;
    listen [::]:80;
    server_name localhost;

    location / {
        root /usr/share/nginx/html;
        index index.html index.htm;
    }

    error_page 500 502 503 504 /50x.html;
    location = /50x.html {
        root /usr/share/nginx/html;
    }
}
EOF
  [[ -f $rootfs/usr/share/nginx/html/50x.html ]] ||
    echo '<html><body><h1>An error occurred.</h1></body></html>' >"$rootfs/usr/share/nginx/html/50x.html"
}

configure_image() {
  local name=$1 ref=$2
  case $name in
    busybox)
      umoci config --image "$ref" --os linux --architecture amd64 \
        --config.env PATH=/bin --config.cmd sh ;;
    pause)
      umoci config --image "$ref" --os linux --architecture amd64 \
        --config.entrypoint /pause ;;
    nginx)
      umoci config --image "$ref" --os linux --architecture amd64 \
        --config.env PATH=/usr/sbin:/bin --config.env NGINX_VERSION=1.22.1 \
        --config.exposedports 80/tcp --config.stopsignal SIGQUIT \
        --config.cmd nginx --config.cmd=-g '--config.cmd=daemon off;' ;;
  esac
}

# build_image NAME: builds _output/images/NAME/ and NAME.tar unless current.
# Concurrent callers (parallel tests) serialize on a lock file.
build_image() {
  mkdir -p "$IMAGES_DIR"
  (
    flock 9
    build_image_locked "$1"
  ) 9>"$IMAGES_DIR/.lock"
}

build_image_locked() {
  local name=$1 tags first layout tar work tag
  tags=$(image_tags "$name")
  first=${tags%% *}
  layout=$IMAGES_DIR/$name
  tar=$IMAGES_DIR/$name.tar
  if [[ -f $tar && -f $IMAGES_DIR/$name.stamp && $(cat "$IMAGES_DIR/$name.stamp") == "$IMAGES_STAMP" ]]; then
    log "$name is up to date ($tar)"
    return 0
  fi
  log "building $name"
  mkdir -p "$IMAGES_DIR"
  work=$(mktemp -d "$IMAGES_DIR/.work-$name.XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf '$work'; trap - RETURN" RETURN
  rm -rf "$layout" "$tar" "$IMAGES_DIR/$name.stamp"
  umoci init --layout "$work/layout"
  umoci new --image "$work/layout:$first"
  umoci_unpack --image "$work/layout:$first" "$work/bundle"
  "fill_$name" "$work/bundle/rootfs" "$work"
  umoci_repack --image "$work/layout:$first" "$work/bundle"
  configure_image "$name" "$work/layout:$first"
  for tag in $tags; do
    [[ $tag == "$first" ]] || umoci tag --image "$work/layout:$first" "$tag"
  done
  umoci gc --layout "$work/layout"
  tar -C "$work/layout" -cf "$work/image.tar" .
  mv "$work/layout" "$layout"
  mv "$work/image.tar" "$tar"
  echo "$IMAGES_STAMP" >"$IMAGES_DIR/$name.stamp"
  log "built $name: $tar ($(du -h "$tar" | cut -f1))"
}

# import_image SOCKET NAME: imports NAME.tar into the containerd at SOCKET,
# namespace k8s.io, as <repo>:<tag> for every tag.
import_image() {
  local sock=$1 name=$2
  build_image "$name"
  ctr --address "$sock" -n k8s.io images import --base-name "$(image_repo "$name")" \
    "$IMAGES_DIR/$name.tar" >/dev/null
  log "imported $name into $sock"
}

# push_image REGISTRY NAME: pushes every tag of NAME to REGISTRY over HTTP.
push_image() {
  local registry=$1 name=$2 repo path tag
  build_image "$name"
  repo=$(image_repo "$name")
  path=${repo#*/}
  for tag in $(image_tags "$name"); do
    skopeo copy --quiet --dest-tls-verify=false "oci:$IMAGES_DIR/$name:$tag" "docker://$registry/$path:$tag"
  done
  log "pushed $name to $registry/$path"
}

main() {
  local cmd=${1:-build} name
  [[ $# -gt 0 ]] && shift
  case $cmd in
    build)
      for name in "${@:-${IMAGES_ALL[@]}}"; do build_image "$name"; done ;;
    import)
      local sock=${1:?usage: build-images.sh import SOCKET [NAME...]}
      shift
      for name in "${@:-${IMAGES_ALL[@]}}"; do import_image "$sock" "$name"; done ;;
    push)
      local registry=${1:-127.0.0.1:5000}
      [[ $# -gt 0 ]] && shift
      for name in "${@:-${IMAGES_ALL[@]}}"; do push_image "$registry" "$name"; done ;;
    busybox | pause | nginx)
      build_image "$cmd"
      for name in "$@"; do build_image "$name"; done ;;
    *)
      echo "usage: build-images.sh [build|import SOCKET|push [REGISTRY]] [NAME...]" >&2
      return 2 ;;
  esac
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  main "$@"
fi
