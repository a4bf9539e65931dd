# Canary release: v1 and a canary v2 behind one Service, traffic reaching
# both, then v1 scaled to 0 and only v2 answers.
k create namespace e2e-canary >/dev/null
web() { # NAME VERSION REPLICAS
  cat <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1, namespace: e2e-canary}
spec:
  replicas: $3
  selector: {matchLabels: {app: web, track: $1}}
  template:
    metadata: {labels: {app: web, track: $1}}
    spec:
      containers:
      - name: web
        image: busybox:1.35
        command: [sh, -c, "mkdir -p /www && echo $2 > /www/index.html && exec httpd -f -p 80 -h /www"]
        ports: [{containerPort: 80}]
YAML
}
{ web web-v1 v1 2; echo ---; web web-canary v2 1; echo ---; cat <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: web, namespace: e2e-canary}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
YAML
} > "$E2E/canary.yaml"
check "apply v1, canary and the Service" k apply -f "$E2E/canary.yaml"
check "v1 rolls out" k -n e2e-canary rollout status deployment/web-v1 --timeout=120s
check "canary rolls out" k -n e2e-canary rollout status deployment/web-canary --timeout=120s
wip="$(k -n e2e-canary get service web -o jsonpath='{.spec.clusterIP}')"
answers() { local i; for i in $(seq 1 40); do curl -sS --max-time 2 "http://$wip/"; done | sort | uniq | tr '\n' ' '; }
both() { [[ "$(answers)" == "v1 v2 " ]]; }
check "traffic reaches both v1 and the canary" eventually 30 both
check "sessionAffinity: ClientIP" k -n e2e-canary patch service web -p '{"spec":{"sessionAffinity":"ClientIP"}}'
pinned() { local a; a="$(answers)"; [[ "$a" == "v1 " || "$a" == "v2 " ]] || { echo "answers: $a"; return 1; }; }
check "ClientIP affinity pins this client to one version" eventually 20 pinned
check "sessionAffinity: None again" k -n e2e-canary patch service web -p '{"spec":{"sessionAffinity":"None"}}'
check "traffic reaches both again" eventually 30 both
check "scale v1 to 0" k -n e2e-canary scale deployment web-v1 --replicas=0
only_v2() { [[ "$(answers)" == "v2 " ]]; }
check "then only the canary answers" eventually 60 only_v2
