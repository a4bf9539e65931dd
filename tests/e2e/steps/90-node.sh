# The kubelet beyond the tutorial: port-forward, cp both ways, a killed
# main process restarted, a failing liveness probe, init containers,
# SIGTERM and the grace period on delete, image pull errors and admission
# against the node's allocatable.
k create namespace e2e-node >/dev/null
N=(-n e2e-node)
node_dir="$E2E/node-$$"
rm -rf "$node_dir" && mkdir -p "$node_dir"
cat > "$node_dir/pods.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: e2e-node}
spec:
  containers:
  - {name: nginx, image: "nginx:1.22", ports: [{containerPort: 80}]}
---
apiVersion: v1
kind: Pod
metadata: {name: box, namespace: e2e-node}
spec:
  containers:
  - {name: c, image: "busybox:1.35", command: [sleep, "3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: live, namespace: e2e-node}
spec:
  # sh as PID 1 ignores SIGTERM: keep the kill after the probe short.
  terminationGracePeriodSeconds: 2
  containers:
  - name: c
    image: busybox:1.35
    command: [sh, -c, "touch /tmp/healthy; sleep 3600"]
    livenessProbe:
      exec: {command: [cat, /tmp/healthy]}
      periodSeconds: 1
      failureThreshold: 1
---
apiVersion: v1
kind: Pod
metadata: {name: init, namespace: e2e-node}
spec:
  initContainers:
  - {name: first, image: "busybox:1.35", command: [sh, -c, "echo made-by-init > /work/msg"],
     volumeMounts: [{name: work, mountPath: /work}]}
  containers:
  - {name: app, image: "busybox:1.35", command: [sh, -c, "cat /work/msg && exec sleep 3600"],
     volumeMounts: [{name: work, mountPath: /work}]}
  volumes:
  - {name: work, emptyDir: {}}
---
apiVersion: v1
kind: Pod
metadata: {name: term, namespace: e2e-node}
spec:
  terminationGracePeriodSeconds: 30
  containers:
  - name: c
    image: busybox:1.35
    # The trap runs once the current one-second sleep returns, takes two
    # more seconds, then exits: the delete must wait for it.
    command: [sh, -c, "trap 'echo got-term > /host/term; sleep 2; echo trap-done >> /host/term; exit 0' TERM; echo started > /host/term; while true; do sleep 1; done"]
    volumeMounts: [{name: host, mountPath: /host}]
  volumes:
  - name: host
    hostPath: {path: $node_dir, type: Directory}
YAML
check "create pods web, box, live, init, term" k apply -f "$node_dir/pods.yaml"
check "they all become Ready" \
  k "${N[@]}" wait --for=condition=Ready pod/web pod/box pod/live pod/init pod/term --timeout=180s

# port-forward: kubectl 1.33 tries a WebSocket tunnel carrying SPDY, then
# plain SPDY.
port_forward() {
  local out="$node_dir/port-forward.txt" pid body
  # kubectl itself in the background (not the k function's subshell), so
  # that the kill below ends it and frees the port.
  # -v=4 logs a fallback from the WebSocket tunnel to plain SPDY.
  "$KUBECTL" "${N[@]}" port-forward pod/web 28180:80 -v=4 > "$out" 2>&1 &
  pid=$!
  for _ in $(seq 1 40); do grep -q "Forwarding from 127.0.0.1:28180" "$out" && break; sleep 0.5; done
  body="$(curl -sS --max-time 10 http://127.0.0.1:28180/ 2>&1)"
  # A second connection over the same forwarding.
  body+="$(curl -sS --max-time 10 http://127.0.0.1:28180/second 2>&1)"
  # Megabytes through the tunnel arrive intact.
  curl -sS --max-time 20 http://127.0.0.1:28180/big -o "$node_dir/big.out" 2>&1
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  [[ "$body" == *"Welcome to nginx!"* && "$body" == *"404 Not Found"* ]] || {
    echo "curl:"; echo "$body"; echo "port-forward:"; cat "$out"; return 1
  }
  cmp "$node_dir/big" "$node_dir/big.out" || { cat "$out"; return 1; }
}
head -c 3000000 /dev/urandom > "$node_dir/big"
check "cp a 3 MB file into web's html directory" k cp "$node_dir/big" e2e-node/web:/usr/share/nginx/html/big
check "port-forward pod/web 28180:80, then curl 127.0.0.1:28180 (a page, a 404, 3 MB)" port_forward
# The apiserver accepts the tunnel itself (upstream's TunnelingHandler).
check "port-forward went through the WebSocket tunnel, no SPDY fallback" \
  bash -c "! grep 'fallback to secondary dialer' '$node_dir/port-forward.txt'"
rm -f "$node_dir/big" "$node_dir/big.out"

# cp both ways: kubectl runs tar in the container over exec with stdin.
echo "to-the-pod $$ $(date +%s%N)" > "$node_dir/in.txt"
check "cp a local file into the pod" k cp "$node_dir/in.txt" e2e-node/box:/tmp/in.txt
check "the file in the pod has the content" \
  equals "$(cat "$node_dir/in.txt")" k "${N[@]}" exec box -- cat /tmp/in.txt
k "${N[@]}" exec box -- sh -c "echo from-the-pod-$$ > /tmp/out.txt" >/dev/null 2>&1
check "cp a file out of the pod" k cp e2e-node/box:/tmp/out.txt "$node_dir/out.txt"
check "the copied file has the content" equals "from-the-pod-$$" cat "$node_dir/out.txt"

# Killing the main process: busybox sleep runs as the container's PID 1,
# which ignores signals it has no handler for when sent from inside (so
# `kubectl exec box -- kill 1` does nothing); SIGKILL from the host, as
# the OOM killer or a crash would end it.
kill_main() {
  local cid pid p
  cid="$(k "${N[@]}" get pod box -o jsonpath='{.status.containerStatuses[0].containerID}')"
  cid="${cid#*://}"
  [[ -n "$cid" ]] || { echo "no containerID"; return 1; }
  for p in $(grep -l "$cid" /proc/[0-9]*/cgroup 2>/dev/null | cut -d/ -f3); do
    # The container's init: the last NSpid entry is 1.
    if [[ "$(awk '/^NSpid:/ {print $NF}' "/proc/$p/status" 2>/dev/null)" == 1 ]]; then pid="$p"; fi
  done
  [[ -n "${pid:-}" ]] || { echo "no process of container $cid found"; return 1; }
  kill -KILL "$pid"
}
check "SIGKILL box's main process from the host" kill_main
check "box is restarted: restartCount 1" \
  eventually 60 equals 1 k "${N[@]}" get pod box -o jsonpath='{.status.containerStatuses[0].restartCount}'
check "box runs again, its last state terminated with exit code 137" eventually 30 equals "137 true" \
  k "${N[@]}" get pod box -o jsonpath='{.status.containerStatuses[0].lastState.terminated.exitCode} {.status.containerStatuses[0].ready}'

# A failing liveness probe restarts the container.
check "delete the file the liveness probe reads" k "${N[@]}" exec live -- rm /tmp/healthy
check "live is restarted: restartCount 1" \
  eventually 60 equals 1 k "${N[@]}" get pod live -o jsonpath='{.status.containerStatuses[0].restartCount}'
check "an Unhealthy event says the liveness probe failed" eventually 10 contains "Liveness probe failed" \
  k "${N[@]}" get events --field-selector involvedObject.name=live,reason=Unhealthy
check "the restarted container is healthy and stays at restartCount 1" bash -c "
  sleep 3 && [[ \$($KUBECTL -n e2e-node get pod live -o jsonpath='{.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].ready}') == '1 true' ]]"

# The init container ran to completion before the app container started.
check "the init container Completed" equals "Completed 0" \
  k "${N[@]}" get pod init -o jsonpath='{.status.initContainerStatuses[0].state.terminated.reason} {.status.initContainerStatuses[0].state.terminated.exitCode}'
check "the app container read the init container's file" contains made-by-init k "${N[@]}" logs init -c app
init_first() {
  local done started
  done="$(k "${N[@]}" get pod init -o jsonpath='{.status.initContainerStatuses[0].state.terminated.finishedAt}')"
  started="$(k "${N[@]}" get pod init -o jsonpath='{.status.containerStatuses[0].state.running.startedAt}')"
  [[ -n "$done" && -n "$started" && ! "$started" < "$done" ]] || { echo "init finished $done, app started $started"; return 1; }
}
check "the init container finished before the app started" init_first

# Deleting a pod: SIGTERM to its process, which exits on its own within
# the grace period; the delete waits for it.
check "term's process has started" eventually 10 grep -q started "$node_dir/term"
delete_term() {
  local t0 t1
  t0="$(date +%s%N)"
  k "${N[@]}" delete pod term --timeout=60s || return 1
  t1="$(date +%s%N)"
  echo "delete took $(((t1 - t0) / 1000000)) ms"
  ((t1 - t0 > 2000000000)) || { echo "the delete did not wait for the trap"; return 1; }
  ((t1 - t0 < 25000000000)) || { echo "the delete waited for the grace period, not the exit"; return 1; }
}
check "delete pod term waits for its SIGTERM trap (>2 s, < grace)" delete_term
check "the trap got SIGTERM and ran to its end" equals "got-term
trap-done" cat "$node_dir/term"

# A missing image: ErrImagePull, then ImagePullBackOff.
check "run a pod with a missing image" k "${N[@]}" run missing --image=busybox:no-such-tag-e2e --restart=Never
pod_status() { k "${N[@]}" get pod "$1" --no-headers | awk '{print $3}'; }
check "get pod shows ErrImagePull" eventually 60 equals ErrImagePull pod_status missing
check "then ImagePullBackOff" eventually 60 equals ImagePullBackOff pod_status missing
check "describe shows the pull failure event" eventually 10 contains "Failed to pull image" \
  k "${N[@]}" describe pod missing

# More cpu than the node has: the kubelet's admission rejects it (set
# nodeName directly: the scheduler would keep it Pending).
cat > "$node_dir/hog.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata: {name: hog, namespace: e2e-node}
spec:
  nodeName: $NODE_NAME
  restartPolicy: Never
  containers:
  - name: c
    image: busybox:1.35
    command: [sleep, "3600"]
    resources: {requests: {cpu: "1000"}}
YAML
check "create a pod requesting 1000 cpus on $NODE_NAME" k apply -f "$node_dir/hog.yaml"
check "it is rejected: phase Failed, reason OutOfcpu" eventually 30 equals "Failed OutOfcpu" \
  k "${N[@]}" get pod hog -o jsonpath='{.status.phase} {.status.reason}'
check "get pod shows OutOfcpu" equals OutOfcpu pod_status hog
check "its message names the cpu shortage" contains "Pod was rejected: Node didn't have enough resource: cpu" \
  k "${N[@]}" get pod hog -o jsonpath='{.status.message}'
