//! NodeName, NodeUnschedulable and NodePorts.

use k8s_openapi::api::core::v1::Taint;

use super::{tolerates, Failure, Plugin};
use crate::nodeinfo::{NodeInfo, PodInfo};

/// `spec.nodeName`, when set, must be this node.
pub struct NodeName;

impl Plugin for NodeName {
    fn name(&self) -> &'static str {
        "NodeName"
    }

    fn filter(&self, pod: &PodInfo, node: &NodeInfo) -> Result<(), Failure> {
        match pod.pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) {
            Some(n) if !n.is_empty() && n != node.name => Err(Failure::unresolvable(
                "node(s) didn't match the requested node name",
            )),
            _ => Ok(()),
        }
    }
}

/// Cordoned nodes (`spec.unschedulable`) only take pods that tolerate the
/// `node.kubernetes.io/unschedulable:NoSchedule` taint.
pub struct NodeUnschedulable;

impl Plugin for NodeUnschedulable {
    fn name(&self) -> &'static str {
        "NodeUnschedulable"
    }

    fn filter(&self, pod: &PodInfo, node: &NodeInfo) -> Result<(), Failure> {
        let Some(n) = node.node.as_ref() else {
            return Err(Failure::unresolvable("node(s) had unknown conditions"));
        };
        if !n
            .spec
            .as_ref()
            .and_then(|s| s.unschedulable)
            .unwrap_or(false)
        {
            return Ok(());
        }
        let taint = Taint {
            key: "node.kubernetes.io/unschedulable".into(),
            effect: "NoSchedule".into(),
            ..Default::default()
        };
        if pod.tolerations().iter().any(|t| tolerates(t, &taint)) {
            Ok(())
        } else {
            Err(Failure::unresolvable("node(s) were unschedulable"))
        }
    }
}

/// A `hostPort` may be used once per node (per protocol and host IP).
pub struct NodePorts;

impl Plugin for NodePorts {
    fn name(&self) -> &'static str {
        "NodePorts"
    }

    fn filter(&self, pod: &PodInfo, node: &NodeInfo) -> Result<(), Failure> {
        let clash = pod
            .ports
            .iter()
            .any(|p| node.used_ports.iter().any(|u| u.conflicts(p)));
        if clash {
            Err(Failure::unschedulable(
                "node(s) didn't have free ports for the requested pod ports",
            ))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::Code;
    use super::*;
    use serde_json::json;

    #[test]
    fn node_name_must_match() {
        let n = node("a", json!({}));
        assert!(NodeName.filter(&pod("p", json!({})), &n).is_ok());
        assert!(NodeName
            .filter(&pod("p", json!({"nodeName": "a"})), &n)
            .is_ok());
        let e = NodeName
            .filter(&pod("p", json!({"nodeName": "b"})), &n)
            .unwrap_err();
        assert_eq!(e.code, Code::UnschedulableAndUnresolvable);
        assert_eq!(
            e.reasons,
            vec!["node(s) didn't match the requested node name"]
        );
    }

    #[test]
    fn cordoned_nodes_need_the_toleration() {
        let n = node("a", json!({"spec": {"unschedulable": true}}));
        let e = NodeUnschedulable
            .filter(&pod("p", json!({})), &n)
            .unwrap_err();
        assert_eq!(e.reasons, vec!["node(s) were unschedulable"]);
        let tol = pod(
            "p",
            json!({"tolerations": [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}]}),
        );
        assert!(NodeUnschedulable.filter(&tol, &n).is_ok());
        assert!(NodeUnschedulable
            .filter(&pod("p", json!({})), &node("b", json!({})))
            .is_ok());
    }

    #[test]
    fn host_ports_conflict() {
        let mut n = node("a", json!({}));
        let ports = json!({"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 80, "hostPort": 8080}]}]});
        n.add_pod(entry("old", ports.clone()));
        let e = NodePorts.filter(&pod("p", ports), &n).unwrap_err();
        assert_eq!(e.code, Code::Unschedulable);
        let udp = json!({"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 80, "hostPort": 8080, "protocol": "UDP"}]}]});
        assert!(NodePorts.filter(&pod("p", udp), &n).is_ok());
        n.remove_pod("default/old");
        assert!(n.used_ports.is_empty());
    }
}
