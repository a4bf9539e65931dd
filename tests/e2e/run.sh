#!/usr/bin/env bash
# The seed tutorial as an end-to-end suite: upstream kubectl 1.33 drives the
# local cluster of `make cluster` (etcd, registry, containerd, control plane,
# kubelet, kube-proxy, DNS) and every step checks a real effect — HTTP bodies
# served, files inside pods, pod IPs, endpoints — not only exit codes.
#
# Reuses a running `make cluster`; otherwise starts one (E2E_PROFILE, debug
# by default, the build `make test` already made) and stops it at the end.
# Everything the suite creates lives in namespaces it deletes. Ends with
# `N passed, M failed`; exits non-zero on any failure. `make e2e` runs it.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT" || exit 1
source hack/lib/cluster-env.sh
KUBECTL=/usr/lib/google-cloud-sdk/bin/kubectl.1.33
E2E="$ROOT/_output/e2e"
mkdir -p "$E2E"
# A copy of the admin kubeconfig: `config set-context` must not touch the
# developer's.
export KUBECONFIG="$E2E/kubeconfig"

say() { echo ">>> e2e: $*"; }
PASSED=0
FAILED=0
FAILURES=()
STARTED_CLUSTER=false

k() { "$KUBECTL" "$@"; }

pass() { PASSED=$((PASSED + 1)); echo "  ok   $1"; }
fail() {
  FAILED=$((FAILED + 1)); FAILURES+=("$1"); echo "  FAIL $1"
  [[ -n "${2:-}" ]] && echo "$2" | tail -n 20 | sed 's/^/       | /'
  return 0
}

# check NAME COMMAND...: passes when COMMAND succeeds; shows its output otherwise.
check() {
  local name="$1" out; shift
  if out="$("$@" 2>&1)"; then pass "$name"; else fail "$name" "$out"; fi
}

# eventually SECONDS COMMAND...: retries COMMAND until it succeeds.
eventually() {
  local secs="$1" i; shift
  for ((i = 0; i < secs * 2; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  "$@"
}

# contains NEEDLE COMMAND...: COMMAND's output (stdout+stderr) contains NEEDLE.
contains() {
  local needle="$1" out; shift
  out="$("$@" 2>&1)" || { echo "$out"; return 1; }
  if [[ "$out" == *"$needle"* ]]; then return 0; fi
  echo "expected '$needle' in:"; echo "$out"; return 1
}

# equals WANT COMMAND...: COMMAND's trimmed stdout is WANT.
equals() {
  local want="$1" out; shift
  out="$("$@" 2>/dev/null)"
  [[ "$out" == "$want" ]] && return 0
  echo "expected '$want', got '$out'"; return 1
}

teardown() {
  local rc=$?
  trap - EXIT INT TERM
  for ns in e2e-pods e2e-deploy e2e-dev e2e-decl e2e-canary e2e-state e2e-work e2e-roll e2e-sched e2e-node; do
    k delete namespace "$ns" --ignore-not-found --wait=false >/dev/null 2>&1
  done
  if $STARTED_CLUSTER; then
    # Let the namespaces go before the pods' runtime does.
    for _ in $(seq 1 60); do
      [[ -z "$(k get ns -o name 2>/dev/null | grep e2e-)" ]] && break
      sleep 1
    done
    rm -rf "$E2E/logs" && cp -r "$LOGS" "$E2E/logs" 2>/dev/null
    say "cluster logs kept in ${E2E#"$ROOT"/}/logs"
    bash hack/local-down.sh >/dev/null 2>&1 || echo "e2e: local-down failed" >&2
    say "cluster stopped"
  fi
  echo
  for f in "${FAILURES[@]}"; do echo "failed: $f"; done
  echo "$PASSED passed, $FAILED failed"
  if ((FAILED > 0 || rc != 0)); then exit 1; fi
  exit 0
}
trap teardown EXIT
trap 'exit 130' INT TERM

if running kube-apiserver && running kubelet; then
  say "reusing the running cluster in ${OUT#"$ROOT"/}"
else
  say "starting a cluster (make cluster, PROFILE=${E2E_PROFILE:-debug})"
  STARTED_CLUSTER=true
  if ! PROFILE="${E2E_PROFILE:-debug}" bash hack/local-up.sh; then
    fail "make cluster"
    exit 1
  fi
fi
cp "$OUT/admin.kubeconfig" "$KUBECONFIG"

for step in tests/e2e/steps/*.sh; do
  say "$(basename "$step" .sh)"
  # shellcheck disable=SC1090
  source "$step"
done
