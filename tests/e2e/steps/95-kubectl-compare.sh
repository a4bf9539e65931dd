# Our kubectl against upstream kubectl 1.33 on this full cluster: the
# commands that need running pods (tests/kubectl-compare/scenario-live*).
out="$(KC_LIVE=1 OUT="$OUT" KC_DIR="$E2E/kubectl-compare" bash tests/kubectl-compare/run.sh 2>&1)"
rc=$?
echo "$out" | grep -E '^(not ok|[0-9]+ passed)' | sed 's/^/  /'
if ((rc == 0)); then
  pass "kubectl-compare on the live cluster: $(echo "$out" | tail -n 1)"
else
  fail "kubectl-compare on the live cluster" "$(echo "$out" | grep -A12 '^not ok')"
fi
