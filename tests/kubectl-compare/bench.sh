#!/usr/bin/env bash
# Start-up benchmark: 20 runs each of `kubectl get pods` with our kubectl
# and upstream kubectl 1.33 against the comparison cluster; reports the
# median wall time, the binary sizes and the peak RSS of one run.
#
# Uses the cluster at $KUBECONFIG when KC_BENCH_REUSE=1 (e.g. one run.sh or
# make cluster left up); otherwise starts its own (cluster.sh settings) and
# stops it afterwards. Our binary is built with KC_BENCH_PROFILE (release).
# Output: one `name value unit` line per figure, for `make bench` to collect.
set -uo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/cluster.sh"
cd "$ROOT" || exit 1
RUNS="${KC_BENCH_RUNS:-20}"
BENCH_PROFILE="${KC_BENCH_PROFILE:-release}"

if [[ "${KC_BENCH_REUSE:-0}" != 1 ]]; then
  trap 'kc_cluster_down' EXIT
  kc_cluster_up || exit 1
  export KUBECONFIG="$OUT/admin.kubeconfig"
fi
if [[ "$BENCH_PROFILE" == release ]]; then
  cargo build --release -p kubectl || exit 1
else
  cargo build -p kubectl || exit 1
fi
OURS="$ROOT/target/$BENCH_PROFILE/kubectl"

# median_ms BIN ARGS...: the median wall time of $RUNS runs, in ms.
median_ms() {
  local times=() i s e
  "$@" >/dev/null 2>&1 # warm the page cache (and upstream's discovery cache)
  for ((i = 0; i < RUNS; i++)); do
    s=$(date +%s%N)
    "$@" >/dev/null 2>&1
    e=$(date +%s%N)
    times+=($(((e - s) / 1000)))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.1f\n", m / 1000}'
}

# peak_rss_kb BIN ARGS...: maximum resident set size of one run.
peak_rss_kb() {
  if [[ -x /usr/bin/time ]]; then
    /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}'
  else
    # No GNU time: sample VmHWM until the process ends.
    "$@" >/dev/null 2>&1 &
    local pid=$! hwm=0 v
    while kill -0 "$pid" 2>/dev/null; do
      v=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null)
      [[ -n "$v" && "$v" -gt "$hwm" ]] && hwm=$v
      sleep 0.001
    done
    echo "$hwm"
  fi
}

ours_ms=$(median_ms "$OURS" get pods)
up_ms=$(median_ms "$UPSTREAM" get pods)
echo "kubectl_get_pods_median_ours ${ours_ms} ms"
echo "kubectl_get_pods_median_upstream ${up_ms} ms"
awk -v o="$ours_ms" -v u="$up_ms" 'BEGIN { if (o > 0) printf "kubectl_get_pods_speedup %.2f x\n", u / o }'
echo "kubectl_binary_size_ours $(stat -c %s "$OURS") bytes"
echo "kubectl_binary_size_upstream $(stat -Lc %s "$UPSTREAM") bytes"
echo "kubectl_peak_rss_ours $(peak_rss_kb "$OURS" get pods) KiB"
echo "kubectl_peak_rss_upstream $(peak_rss_kb "$UPSTREAM" get pods) KiB"
