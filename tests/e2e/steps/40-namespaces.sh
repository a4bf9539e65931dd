# Namespaces: create, run -n, get -n, config set-context --namespace,
# delete removes what is inside.
check "create ns e2e-dev" k create namespace e2e-dev
check "run -n e2e-dev" k run web --image=nginx:1.22 -n e2e-dev
check "get -n e2e-dev lists it" contains "web" k get pods -n e2e-dev
check "config set-context --current --namespace=e2e-dev" k config set-context --current --namespace=e2e-dev
check "get pods now defaults to e2e-dev" contains "web" k get pods
k config set-context --current --namespace=default >/dev/null
check "web becomes Ready" k -n e2e-dev wait --for=condition=Ready pod/web --timeout=120s
check "delete ns e2e-dev" k delete namespace e2e-dev --timeout=120s
check "its pod is gone with it" bash -c "! $KUBECTL get pods -n e2e-dev -o name | grep -q ."
check "the namespace is gone" bash -c "! $KUBECTL get namespace e2e-dev"
