# A rolling update watched from start to end: with 4 replicas and the
# default 25%/25% strategy, never more than 5 pods (replicas + maxSurge)
# exist and never fewer than 3 (replicas - maxUnavailable) are ready; then
# foreground deletion removes the children before the owner.
k create namespace e2e-roll >/dev/null
R=(-n e2e-roll)
k "${R[@]}" create deployment roll --image=nginx:1.22 --replicas=4 >/dev/null
k "${R[@]}" rollout status deployment/roll --timeout=180s >/dev/null 2>&1
# Every pod event: type, name, whether it is being deleted, Ready.
"$KUBECTL" "${R[@]}" get pods -l app=roll --watch --output-watch-events \
  -o jsonpath='{.type} {.object.metadata.name} {.object.metadata.deletionTimestamp}x {.object.status.conditions[?(@.type=="Ready")].status}{"\n"}' \
  >"$E2E/roll.watch" 2>&1 &
watcher=$!
sleep 2
check "set image starts a rolling update" k "${R[@]}" set image deployment/roll nginx=nginx:1.22.1
check "the rollout completes" k "${R[@]}" rollout status deployment/roll --timeout=180s
sleep 1
kill "$watcher" 2>/dev/null
wait "$watcher" 2>/dev/null
# live: pods without a deletionTimestamp; ready: those of them Ready.
bounds="$(awk '
  { name=$2; gone=($1=="DELETED" || $3!="x"); rdy=($4=="True")
    if (gone) { delete live[name]; delete ready[name] } else { live[name]=1; if (rdy) ready[name]=1; else delete ready[name] }
    nl=0; for (p in live) nl++; nr=0; for (p in ready) nr++
    if (NR==1 || nl>maxl) maxl=nl; if (seen_all && nr<minr) minr=nr
    if (!seen_all && nr>=4) { seen_all=1; minr=nr } }
  END { print maxl+0, minr+0 }' "$E2E/roll.watch")"
check "the watch saw the whole rollout (pods created and deleted)" \
  bash -c "grep -c ADDED '$E2E/roll.watch' | awk '{exit !(\$1 >= 8)}'"
check "never more than replicas+maxSurge (5) pods, never fewer than replicas-maxUnavailable (3) ready (saw max live, min ready: $bounds)" \
  bash -c "read l r <<<'$bounds'; ((l <= 5 && l >= 4 && r >= 3))"

rs="$(k "${R[@]}" get rs -l app=roll -o name | head -n 1)"
check "delete --cascade=foreground" k "${R[@]}" delete deployment roll --cascade=foreground --wait=false
check "the owner waits with the foregroundDeletion finalizer while its children go" \
  contains "foregroundDeletion" k "${R[@]}" get deployment roll -o jsonpath='{.metadata.finalizers}'
check "then the ReplicaSets, pods and the Deployment are all gone" eventually 90 bash -c "
  [[ -z \"\$($KUBECTL -n e2e-roll get deploy,rs,pods -l app=roll -o name 2>/dev/null)\" ]] &&
  ! $KUBECTL -n e2e-roll get deployment roll >/dev/null 2>&1"
k delete namespace e2e-roll --wait=false >/dev/null
