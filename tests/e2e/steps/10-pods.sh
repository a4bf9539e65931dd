# Pods: run, get -owide, curl the pod IP, logs -f, describe, exec,
# run -it --rm, delete.
k create namespace e2e-pods >/dev/null
P=(-n e2e-pods)
check "kubectl run mynginx --image=nginx:1.22" k "${P[@]}" run mynginx --image=nginx:1.22 --port=80
check "mynginx becomes Ready" k "${P[@]}" wait --for=condition=Ready pod/mynginx --timeout=120s
ip="$(k "${P[@]}" get pod mynginx -o jsonpath='{.status.podIP}')"
check "get pod -o wide shows the pod IP $ip" contains "$ip" k "${P[@]}" get pod mynginx -o wide
check "curl the pod IP returns nginx's welcome page" \
  contains "Welcome to nginx!" curl -sS --max-time 5 "http://$ip/"
check "logs show the request" eventually 10 contains "GET / HTTP/1.1" k "${P[@]}" logs mynginx
logs_follow() {
  local out="$E2E/logs-f.txt"
  "$KUBECTL" "${P[@]}" logs -f mynginx > "$out" 2>&1 &
  local pid=$!
  sleep 1
  curl -sS --max-time 5 "http://$ip/followed" >/dev/null
  for _ in $(seq 1 20); do grep -q "GET /followed" "$out" && break; sleep 0.5; done
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  grep -q "GET /followed" "$out" || { cat "$out"; return 1; }
}
check "logs -f streams a new request" logs_follow
check "describe pod shows its node and IP" \
  contains "Node:         $NODE_NAME" k "${P[@]}" describe pod mynginx
check "exec mynginx -- nginx -v" contains "nginx version: nginx/1.22.1" k "${P[@]}" exec mynginx -- nginx -v
# -it needs a terminal: script(1) gives kubectl a pty. The one-second
# sleep: output a TTY container writes before kubectl's attach stream is up
# is not replayed (as upstream; kubectl falls back to the logs only when the
# container has already exited).
run_it_rm() {
  local out
  out="$(timeout 90 script -qec "$KUBECTL -n e2e-pods run -it --rm oneshot --image=busybox:1.35 --restart=Never -- sh -c 'sleep 1; echo hi-from-busybox'" /dev/null 2>&1)"
  [[ "$out" == *hi-from-busybox* ]] || { echo "$out"; return 1; }
  eventually 30 bash -c "! $KUBECTL -n e2e-pods get pod oneshot >/dev/null 2>&1"
}
check "run -it --rm busybox prints and removes its pod" run_it_rm
check "delete pod mynginx" contains 'pod "mynginx" deleted' k "${P[@]}" delete pod mynginx
check "mynginx is gone" eventually 30 bash -c "! $KUBECTL -n e2e-pods get pod mynginx >/dev/null 2>&1"
