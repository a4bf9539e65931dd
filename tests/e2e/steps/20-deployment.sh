# Deployment and ReplicaSet: create, watch, self-healing, scale, set image,
# rollout history and undo.
k create namespace e2e-deploy >/dev/null
D=(-n e2e-deploy)
"$KUBECTL" "${D[@]}" get replicaset --watch > "$E2E/rs-watch.txt" 2>&1 &
watch_pid=$!
check "create deployment --replicas=3" k "${D[@]}" create deployment nginx-deploy --image=nginx:1.22 --replicas=3
check "rollout status reaches 3 ready" k "${D[@]}" rollout status deployment/nginx-deploy --timeout=180s
ready_pods() { k "${D[@]}" get pods -l app=nginx-deploy --field-selector=status.phase=Running -o name | wc -l; }
check "3 pods Running" equals 3 ready_pods
sleep 1
kill "$watch_pid" 2>/dev/null; wait "$watch_pid" 2>/dev/null
rs_watch_saw() { local n; n="$(grep -c nginx-deploy- "$E2E/rs-watch.txt")"; ((n >= 2)) || { cat "$E2E/rs-watch.txt"; return 1; }; }
check "get replicaset --watch showed the changes" rs_watch_saw
victim="$(k "${D[@]}" get pods -l app=nginx-deploy -o jsonpath='{.items[0].metadata.name}')"
k "${D[@]}" delete pod "$victim" --wait=false >/dev/null
healed() {
  [[ "$(ready_pods)" == 3 ]] && ! k "${D[@]}" get pods -o name | grep -q "pod/$victim$"
}
check "a deleted pod is replaced (self-healing)" eventually 90 healed
check "scale to 5" k "${D[@]}" scale deployment nginx-deploy --replicas=5
check "5 pods Running" eventually 120 equals 5 ready_pods
check "scale back to 3" k "${D[@]}" scale deployment nginx-deploy --replicas=3
check "3 pods remain" eventually 60 equals 3 bash -c "$KUBECTL -n e2e-deploy get pods -l app=nginx-deploy -o name | wc -l"
check "set image nginx=nginx:1.22.1" k "${D[@]}" set image deployment/nginx-deploy nginx=nginx:1.22.1
check "the rolling update completes" k "${D[@]}" rollout status deployment/nginx-deploy --timeout=180s
images() { k "${D[@]}" get pods -l app=nginx-deploy -o jsonpath='{range .items[*]}{.spec.containers[0].image}{"\n"}{end}' | sort -u; }
check "every pod runs nginx:1.22.1" eventually 60 equals nginx:1.22.1 images
check "rollout history lists 2 revisions" contains "2         <none>" k "${D[@]}" rollout history deployment/nginx-deploy
check "rollout history --revision=1 shows nginx:1.22" \
  contains "Image:	nginx:1.22" k "${D[@]}" rollout history deployment/nginx-deploy --revision=1
check "rollout undo --to-revision=1" k "${D[@]}" rollout undo deployment/nginx-deploy --to-revision=1
check "the undo rolls out" k "${D[@]}" rollout status deployment/nginx-deploy --timeout=180s
check "every pod runs nginx:1.22 again" eventually 60 equals nginx:1.22 images
