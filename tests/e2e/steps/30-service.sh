# Services: expose (ClusterIP from the host and by name from a pod),
# NodePort on the node IP and on 127.0.0.1, a Service without endpoints
# refuses at once.
D=(-n e2e-deploy)
check "expose deploy/nginx-deploy --port=8080 --target-port=80" \
  k "${D[@]}" expose deploy/nginx-deploy --name=nginx-service --port=8080 --target-port=80
cip="$(k "${D[@]}" get service nginx-service -o jsonpath='{.spec.clusterIP}')"
endpoints_ready() { [[ "$(k "${D[@]}" get endpoints nginx-service -o jsonpath='{.subsets[0].addresses[*].ip}' | wc -w)" == 3 ]]; }
check "the Service's endpoints are the 3 pod IPs" eventually 30 endpoints_ready
check "curl $cip:8080 from the host returns nginx's page" \
  eventually 20 contains "Welcome to nginx!" curl -sS --max-time 3 "http://$cip:8080/"
k "${D[@]}" run client --image=busybox:1.35 --restart=Never -- sleep 3600 >/dev/null
k "${D[@]}" wait --for=condition=Ready pod/client --timeout=120s >/dev/null 2>&1
check "from a pod, wget nginx-service:8080 by name" eventually 20 contains "Welcome to nginx!" \
  k "${D[@]}" exec client -- timeout 5 wget -qO- http://nginx-service:8080/
check "from a pod, the full name nginx-service.e2e-deploy.svc.cluster.local" contains "Welcome to nginx!" \
  k "${D[@]}" exec client -- timeout 5 wget -qO- "http://nginx-service.e2e-deploy.svc.$CLUSTER_DOMAIN:8080/"
check "expose --type=NodePort" k "${D[@]}" expose deploy/nginx-deploy --name=nginx-np --type=NodePort --port=80
np="$(k "${D[@]}" get service nginx-np -o jsonpath='{.spec.ports[0].nodePort}')"
check "NodePort $np answers on the node IP" \
  eventually 20 contains "Welcome to nginx!" curl -sS --max-time 3 "http://$NODE_IP:$np/"
check "NodePort $np answers on 127.0.0.1" \
  eventually 20 contains "Welcome to nginx!" curl -sS --max-time 3 "http://127.0.0.1:$np/"
k "${D[@]}" create service clusterip nothing-behind --tcp=80:80 >/dev/null
nip="$(k "${D[@]}" get service nothing-behind -o jsonpath='{.spec.clusterIP}')"
refused() {
  local out
  out="$(curl -sS --max-time 3 "http://$nip/" 2>&1)"
  [[ "$out" == *"Connection refused"* || "$out" == *"Couldn't connect"* ]] || { echo "$out"; return 1; }
}
check "a Service without endpoints refuses at once" eventually 10 refused
# Names outside the cluster go to the host's resolvers (checked only when
# the host itself resolves the name, e.g. its apt mirror).
host_ns="$(awk '$1 == "nameserver" { print $2; exit }' /etc/resolv.conf)"
if outside="$(python3 hack/lib/dns-probe.py "$host_ns" deb.debian.org 2>/dev/null)"; then
  first="${outside%% *}"
  check "a pod resolves deb.debian.org through the host's resolver ($first)" \
    eventually 10 contains "$first" k "${D[@]}" exec client -- nslookup deb.debian.org
fi
