# Workloads beyond Deployments: a Job to completion, a StatefulSet with
# per-pod claims from the default StorageClass, a DaemonSet, and orphaning
# deletion.
k create namespace e2e-work >/dev/null
W=(-n e2e-work)
cat > "$E2E/work.yaml" <<'YAML'
apiVersion: batch/v1
kind: Job
metadata: {name: five, namespace: e2e-work}
spec:
  completions: 5
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: c, image: "busybox:1.35", command: [sh, -c, "echo done"]}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: e2e-work}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web, namespace: e2e-work}
spec:
  serviceName: web
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: c
        image: busybox:1.35
        command: [sh, -c, "hostname > /data/who && exec sleep 3600"]
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Mi}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: every-node, namespace: e2e-work}
spec:
  selector: {matchLabels: {app: every-node}}
  template:
    metadata: {labels: {app: every-node}}
    spec:
      containers:
      - {name: c, image: "busybox:1.35", command: [sleep, "3600"]}
YAML
check "apply a Job, a StatefulSet and a DaemonSet" k apply -f "$E2E/work.yaml"
check "the Job completes 5 pods, 2 at a time" k "${W[@]}" wait --for=condition=Complete job/five --timeout=180s
check "the Job has 5 succeeded pods" equals 5 k "${W[@]}" get job five -o jsonpath='{.status.succeeded}'
check "the StatefulSet rolls out" k "${W[@]}" rollout status statefulset/web --timeout=240s
check "pods web-0, web-1, web-2" equals "web-0 web-1 web-2" \
  k "${W[@]}" get pods -l app=web -o jsonpath='{.items[*].metadata.name}'
check "their claims are Bound (default StorageClass local-path)" equals "Bound Bound Bound" \
  k "${W[@]}" get pvc data-web-0 data-web-1 data-web-2 -o jsonpath='{.items[*].status.phase}'
check "each pod writes to its own volume" equals web-1 k "${W[@]}" exec web-1 -- cat /data/who
check "the DaemonSet runs one pod on the node" k "${W[@]}" rollout status daemonset/every-node --timeout=120s
check "delete deployment --cascade=orphan keeps its ReplicaSet" bash -c "
  $KUBECTL -n e2e-work create deployment orphaned --image=busybox:1.35 -- sleep 3600 >/dev/null &&
  for i in \$(seq 1 60); do $KUBECTL -n e2e-work get rs -l app=orphaned -o name | grep -q . && break; sleep 0.5; done &&
  $KUBECTL -n e2e-work delete deployment orphaned --cascade=orphan >/dev/null &&
  sleep 2 && $KUBECTL -n e2e-work get rs -l app=orphaned -o name | grep -q replicaset"
