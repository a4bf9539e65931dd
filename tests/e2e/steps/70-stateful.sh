# A stateful app: hostPath data survives the pod, a ConfigMap as files
# (edited, seen changed in the running pod), a Secret as an env variable.
k create namespace e2e-state >/dev/null
data_dir="$E2E/hostpath-$$"
rm -rf "$data_dir"
check "create configmap" k -n e2e-state create configmap app-config --from-literal=greeting=hello
check "create secret" k -n e2e-state create secret generic app-secret --from-literal=password=s3cr3t
pod() {
  cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: stateful, namespace: e2e-state}
spec:
  containers:
  - name: app
    image: busybox:1.35
    command: [sh, -c, "date >> /data/boots && exec sleep 3600"]
    env:
    - name: PASSWORD
      valueFrom: {secretKeyRef: {name: app-secret, key: password}}
    volumeMounts:
    - {name: data, mountPath: /data}
    - {name: config, mountPath: /etc/app}
  volumes:
  - name: data
    hostPath: {path: $data_dir, type: DirectoryOrCreate}
  - name: config
    configMap: {name: app-config}
YAML
}
pod > "$E2E/stateful.yaml"
check "create the pod" k apply -f "$E2E/stateful.yaml"
check "it becomes Ready" k -n e2e-state wait --for=condition=Ready pod/stateful --timeout=120s
check "the hostPath directory was created" test -d "$data_dir"
# (busybox-static has no printenv applet)
check "the Secret is an env variable" equals s3cr3t k -n e2e-state exec stateful -- sh -c 'echo $PASSWORD'
check "the ConfigMap is a file" equals hello k -n e2e-state exec stateful -- cat /etc/app/greeting
check "edit the ConfigMap" k -n e2e-state patch configmap app-config -p '{"data":{"greeting":"bonjour"}}'
check "the running pod sees the change" eventually 90 equals bonjour k -n e2e-state exec stateful -- cat /etc/app/greeting
k -n e2e-state exec stateful -- sh -c 'echo kept > /data/note' >/dev/null 2>&1
check "delete the pod" k -n e2e-state delete pod stateful --timeout=90s
check "create it again" k apply -f "$E2E/stateful.yaml"
check "it becomes Ready again" k -n e2e-state wait --for=condition=Ready pod/stateful --timeout=120s
check "the data survived the pod" equals kept k -n e2e-state exec stateful -- cat /data/note
check "both boots are recorded" equals 2 bash -c "$KUBECTL -n e2e-state exec stateful -- cat /data/boots | wc -l"
k -n e2e-state delete pod stateful --wait=false >/dev/null 2>&1
rm -rf "$data_dir"
