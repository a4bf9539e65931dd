#!/usr/bin/env bash
# The compatibility suite: upstream kubectl and the official Python client
# against a cluster of our own (etcd + kube-apiserver, debug build).
#
# Starts its own cluster through hack/local-up.sh with its own state
# directory and ports (never the developer's `make cluster`), runs
# tests/compat/kubectl.sh and tests/compat/python_client.py, always tears the
# cluster down, and ends with `N passed, M failed`; exits non-zero on any
# failure. `make compat` runs it; `make test` runs it after `integration`.
#
# Overridable: COMPAT_ETCD_CLIENT_PORT (23890), COMPAT_ETCD_PEER_PORT (23900),
# COMPAT_APISERVER_PORT (16443), COMPAT_PROFILE (debug).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT" || exit 1
COMPAT="$ROOT/_output/compat"
VENV="$COMPAT/venv"
LOGS_KEPT="$COMPAT/logs"

# The cluster's own settings, read by hack/lib/cluster-env.sh. Its state goes
# to $COMPAT/cluster: local-down.sh removes its whole OUT directory, and the
# virtualenv beside it must survive between runs.
export OUT="$COMPAT/cluster"
export ETCD_CLIENT_PORT="${COMPAT_ETCD_CLIENT_PORT:-23890}"
export ETCD_PEER_PORT="${COMPAT_ETCD_PEER_PORT:-23900}"
export APISERVER_PORT="${COMPAT_APISERVER_PORT:-16443}"
export PROFILE="${COMPAT_PROFILE:-debug}"
# API-level checks: no controllers or scheduler at work behind them.
export COMPONENTS="etcd kube-apiserver"
export KUBECONFIG="$OUT/admin.kubeconfig"

say() { echo ">>> compat: $*"; }

SUMMARY=""
teardown() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -d "$OUT/logs" ]]; then
    rm -rf "$LOGS_KEPT" && cp -r "$OUT/logs" "$LOGS_KEPT"
    say "cluster logs kept in ${LOGS_KEPT#"$ROOT"/}"
  fi
  bash hack/local-down.sh >/dev/null 2>&1 || echo "compat: local-down failed" >&2
  say "cluster stopped"
  # The last line, whatever happened.
  if [[ -n "$SUMMARY" ]]; then
    echo "$SUMMARY"
  else
    echo "0 passed, 1 failed (the suite did not run to the end; exit status $rc)"
    ((rc != 0)) || rc=1
  fi
  exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- what the suite needs -------------------------------------------------------
bash hack/install-deps.sh
if ! "$VENV/bin/python" -c 'import kubernetes, yaml' 2>/dev/null; then
  say "creating $VENV with the official Python client"
  rm -rf "$VENV"
  if ! { python3 -m venv "$VENV" && "$VENV/bin/pip" install --quiet --disable-pip-version-check kubernetes; }; then
    echo "compat: could not install the kubernetes Python client" >&2
    exit 1
  fi
fi
"$VENV/bin/python" -c 'import kubernetes; print(">>> compat: python client", kubernetes.__version__)'
for v in 1.27 1.30 1.33; do
  [[ -x /usr/lib/google-cloud-sdk/bin/kubectl.$v ]] ||
    { echo "compat: upstream kubectl $v missing under /usr/lib/google-cloud-sdk/bin" >&2; exit 1; }
done

# --- a fresh cluster of our own ---------------------------------------------------------
# Leftovers of an interrupted run (recorded PIDs, old etcd data) go first:
# the suite needs an empty cluster.
bash hack/local-down.sh >/dev/null 2>&1
say "starting a cluster in ${OUT#"$ROOT"/} (apiserver :$APISERVER_PORT, etcd :$ETCD_CLIENT_PORT, $PROFILE build)"
if ! bash hack/local-up.sh >"$COMPAT/local-up.log" 2>&1; then
  tail -n 30 "$COMPAT/local-up.log" >&2
  echo "compat: the cluster did not start" >&2
  exit 1
fi
# local-up.sh's readiness probe would also pass against someone else's
# process on our ports: make sure the ones it started are the ones alive.
for p in etcd kube-apiserver; do
  if ! kill -0 "$(cat "$OUT/run/$p.pid" 2>/dev/null)" 2>/dev/null; then
    echo "compat: $p exited after start (port taken?); see $OUT/logs/$p.log" >&2
    tail -n 20 "$OUT/logs/$p.log" >&2
    exit 1
  fi
done

# --- the suites ------------------------------------------------------------------------
passed=0
failed=0
run_suite() { # NAME TIMEOUT CMD...
  local name="$1" limit="$2"; shift 2
  local log="$COMPAT/$name.log" rc
  say "running $name"
  timeout "$limit" "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  local p f
  p=$(grep -c '^ok ' "$log")
  f=$(grep -c '^not ok ' "$log")
  if ((rc != 0 && f == 0)); then
    f=1
    echo "not ok - $name exited with status $rc without reporting a failure (timeout after ${limit}s is 124)"
  fi
  passed=$((passed + p))
  failed=$((failed + f))
}

# OUT is local-up.sh's setting, not the suites'.
run_suite kubectl 150 env -u OUT PYTHON="$VENV/bin/python" bash tests/compat/kubectl.sh
run_suite python-client 90 env -u OUT "$VENV/bin/python" tests/compat/python_client.py

if ! curl -fsS --cacert "$OUT/certs/apiserver-ca.crt" \
  -H "Authorization: Bearer $(awk -F, '$2 == "admin" { print $1; exit }' "$OUT/tokens.csv")" \
  "https://127.0.0.1:$APISERVER_PORT/readyz" >/dev/null; then
  echo "not ok - the apiserver is still ready after both suites"
  failed=$((failed + 1))
else
  echo "ok - the apiserver is still ready after both suites"
  passed=$((passed + 1))
fi

if ((failed > 0)); then
  grep -h '^not ok ' "$COMPAT/kubectl.log" "$COMPAT/python-client.log" | sed 's/^/  /'
fi
SUMMARY="$passed passed, $failed failed"
((failed == 0))
