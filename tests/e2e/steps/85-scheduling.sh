# The scheduler as a user sees it: an unschedulable pod stays Pending and
# `describe pod` shows upstream's FailedScheduling event and message; once
# a node matches, it is scheduled and the Scheduled event follows.
k create namespace e2e-sched >/dev/null
S=(-n e2e-sched)
NODE="$(k get nodes -o jsonpath='{.items[0].metadata.name}')"
k "${S[@]}" run picky --image=busybox:1.35 --restart=Never \
  --overrides='{"spec":{"nodeSelector":{"e2e-disk":"ssd"}}}' -- sleep 3600 >/dev/null

want="0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
check "describe of an unschedulable pod shows FailedScheduling with upstream's message" \
  eventually 20 contains "Warning  FailedScheduling" k "${S[@]}" describe pod picky
check "describe shows the reasons per node" contains "$want" k "${S[@]}" describe pod picky
check "the pod stays Pending with PodScheduled=False/Unschedulable" \
  equals "Pending False Unschedulable" k "${S[@]}" get pod picky \
  -o jsonpath='{.status.phase} {.status.conditions[?(@.type=="PodScheduled")].status} {.status.conditions[?(@.type=="PodScheduled")].reason}'

k label node "$NODE" e2e-disk=ssd >/dev/null
check "labelling the node gets the pod scheduled (Scheduled event)" \
  eventually 90 contains "Successfully assigned e2e-sched/picky to $NODE" k "${S[@]}" describe pod picky
k label node "$NODE" e2e-disk- >/dev/null

k "${S[@]}" run greedy --image=busybox:1.35 --restart=Never \
  --overrides='{"spec":{"containers":[{"name":"greedy","image":"busybox:1.35","command":["sleep","3600"],"resources":{"requests":{"cpu":"1000"}}}]}}' >/dev/null
check "a pod asking for more cpu than any node has: 'Insufficient cpu'" \
  eventually 20 contains "0/1 nodes are available: 1 Insufficient cpu." k "${S[@]}" describe pod greedy
k delete namespace e2e-sched --wait=false >/dev/null
