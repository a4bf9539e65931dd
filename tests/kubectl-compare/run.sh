#!/usr/bin/env bash
# Compares our kubectl with upstream kubectl 1.33, command by command.
#
# Starts its own cluster (etcd + kube-apiserver, hack/local-up.sh with the
# settings in cluster.sh), then runs every line of scenario.txt twice: once
# with upstream kubectl in namespace kc-up, once with ours in kc-rs, each
# with a fresh copy of the admin kubeconfig at the same path and `kubectl`
# on PATH being the binary under test. stdout, stderr and the exit code of
# each line must match after normalising ages, IPs, node ports, uids,
# resourceVersions, timestamps, generated names (`gen-xxxxx`) and the
# namespace name. Prints a diff per
# mismatch, ends with `N passed, M failed`, exits non-zero on any failure,
# and always stops the cluster.
#
# Scenario: scenario.txt then scenario.d/*.txt in order; with KC_LIVE=1
# (see cluster.sh) scenario-live.txt then scenario-live.d/*.txt against the
# running full cluster.
#
# Usage: tests/kubectl-compare/run.sh [SCENARIO_FILE...]
set -uo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/cluster.sh"
cd "$ROOT" || exit 1
WORK="$KC/work"
if (($# > 0)); then
  FILES=("$@")
elif [[ "$KC_LIVE" == 1 ]]; then
  FILES=("$ROOT"/tests/kubectl-compare/scenario-live.txt "$ROOT"/tests/kubectl-compare/scenario-live.d/*.txt)
else
  FILES=("$ROOT"/tests/kubectl-compare/scenario.txt "$ROOT"/tests/kubectl-compare/scenario.d/*.txt)
fi
SCENARIO="$KC/scenario.txt"
mkdir -p "$KC"
for f in "${FILES[@]}"; do [[ -f "$f" ]] && cat "$f"; done >"$SCENARIO"

SUMMARY=""
teardown() {
  local rc=$?
  trap - EXIT INT TERM
  kc_cluster_down
  if [[ -n "$SUMMARY" ]]; then
    echo "$SUMMARY"
  else
    echo "0 passed, 1 failed (the comparison did not run to the end; exit status $rc)"
    ((rc != 0)) || rc=1
  fi
  exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[[ -x "$UPSTREAM" ]] || { echo "kubectl-compare: $UPSTREAM missing" >&2; exit 1; }
kc_say "building kubectl ($PROFILE)"
if [[ "$PROFILE" == release ]]; then
  cargo build --release -p kubectl || exit 1
else
  cargo build -p kubectl || exit 1
fi
OURS="$ROOT/target/$PROFILE/kubectl"
kc_cluster_up || exit 1

# normalize FILE: what may differ between two runs against one cluster.
normalize() {
  sed -E \
    -e 's/kc-(up|rs)/kc-NS/g' \
    -e 's/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/<uid>/g' \
    -e 's/(resourceVersion\\?"?:[ ]?\\?")[0-9]+/\1<rv>/g' \
    -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z/<ts>/g' \
    -e 's/(^| )[0-9]+[smhd]([0-9]+[smh])?( +|$)/\1<age> /g' \
    -e 's/\b([0-9]{1,3}\.){3}[0-9]{1,3}\b( +|$)?/<ip> /g' \
    -e 's/:3[0-2][0-9]{3}\//:<nodeport>\//g; s/(nodePort"?: )3[0-2][0-9]{3}/\1<nodeport>/g' \
    -e 's/\bgen-[bcdfghjklmnpqrstvwxz2456789]{5}\b/gen-<generated>/g' \
    "$1"
}

# run_all TOOL_BIN NS IP_PREFIX DIR: every scenario line with TOOL_BIN as
# `kubectl`. Service IPs come from IP_PREFIX so both runs' IPs (and so the
# table column widths) have the same length.
run_all() {
  local bin="$1" ns="$2" ip="$3" dir="$4" i=0 line
  rm -rf "$dir" && mkdir -p "$dir/bin" "$dir/home"
  ln -s "$bin" "$dir/bin/kubectl"
  cp "$OUT/admin.kubeconfig" "$WORK/kubeconfig"
  while IFS= read -r line || [[ -n "$line" ]]; do
    [[ -z "${line// }" || "$line" == \#* ]] && continue
    i=$((i + 1))
    printf '%s\n' "$line" >"$dir/$i.cmd"
    (
      cd "$ROOT/tests/kubectl-compare/fixtures" &&
        PATH="$dir/bin:$PATH" HOME="$WORK/home" KUBECONFIG="$WORK/kubeconfig" NS="$ns" IP="$ip" \
          timeout 60 bash -c "$line" >"$dir/$i.out" 2>"$dir/$i.err"
      echo $? >"$dir/$i.rc"
    )
  done <"$SCENARIO"
  echo "$i"
}

mkdir -p "$WORK"
if [[ "$KC_LIVE" == 1 ]]; then
  # Fresh namespaces: a live cluster keeps what an earlier run left.
  for ns in kc-up kc-rs; do
    "$UPSTREAM" --kubeconfig "$OUT/admin.kubeconfig" delete ns "$ns" --ignore-not-found >/dev/null 2>&1
  done
fi
kc_say "running $(basename "$SCENARIO") with upstream kubectl 1.33"
n=$(run_all "$UPSTREAM" kc-up 10.0.0.20 "$WORK/upstream")
kc_say "running $(basename "$SCENARIO") with ours"
run_all "$OURS" kc-rs 10.0.0.21 "$WORK/ours" >/dev/null

passed=0
failed=0
for ((i = 1; i <= n; i++)); do
  cmd="$(cat "$WORK/upstream/$i.cmd")"
  bad=""
  for part in out err rc; do
    if ! diff -u --label "upstream $part" --label "ours $part" \
      <(normalize "$WORK/upstream/$i.$part") <(normalize "$WORK/ours/$i.$part") >"$WORK/diff.$i.$part"; then
      bad+=" $part"
    fi
  done
  if [[ -z "$bad" ]]; then
    echo "ok $i - $cmd"
    passed=$((passed + 1))
  else
    echo "not ok $i - $cmd (differs in:$bad)"
    for part in $bad; do sed 's/^/    /' "$WORK/diff.$i.$part"; done
    failed=$((failed + 1))
  fi
done
SUMMARY="$passed passed, $failed failed"
((failed == 0))
