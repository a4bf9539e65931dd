# The node is Ready and has its Lease; the control plane answers.
check "node $NODE_NAME is Ready (get nodes -o wide)" \
  contains " Ready " k get nodes -o wide
check "get lease -A shows the node's Lease" \
  contains "kube-node-lease   $NODE_NAME" k get lease -A
check "default ServiceAccount exists" k get serviceaccount default
