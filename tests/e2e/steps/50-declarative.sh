# Declarative objects: apply -f, labels and selectors, delete -f.
k create namespace e2e-decl >/dev/null
cat > "$E2E/decl.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: labelled
  namespace: e2e-decl
  labels: {app: labelled}
spec:
  replicas: 2
  selector:
    matchLabels: {app: labelled}
    matchExpressions:
    - {key: tier, operator: In, values: [front, back]}
  template:
    metadata:
      labels: {app: labelled, tier: front, env: e2e}
    spec:
      containers:
      - name: bb
        image: busybox:1.35
        command: [sleep, "3600"]
---
apiVersion: v1
kind: Pod
metadata:
  name: other
  namespace: e2e-decl
  labels: {app: other, tier: back}
spec:
  containers:
  - name: bb
    image: busybox:1.35
    command: [sleep, "3600"]
YAML
check "apply -f creates" contains "deployment.apps/labelled created" k apply -f "$E2E/decl.yaml"
check "apply -f again is unchanged" contains "deployment.apps/labelled unchanged" k apply -f "$E2E/decl.yaml"
check "the deployment becomes available" k -n e2e-decl rollout status deployment/labelled --timeout=120s
check "get pods --show-labels" contains "app=labelled,env=e2e" k -n e2e-decl get pods --show-labels
count() { k -n e2e-decl get pods "$@" -o name | wc -l; }
check "-l app=labelled selects 2" equals 2 count -l app=labelled
check "-l 'tier in (back)' selects 1" equals 1 count -l 'tier in (back)'
check "-l 'app!=labelled,tier' selects 1" equals 1 count -l 'app!=labelled,tier'
check "delete -f removes both" k delete -f "$E2E/decl.yaml" --timeout=120s
check "nothing left" eventually 60 equals 0 count
