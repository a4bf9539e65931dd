//! The taint eviction controller (upstream `pkg/controller/tainteviction`,
//! formerly the node lifecycle controller's "taint manager").
//!
//! A pod bound to a Node with `NoExecute` taints is deleted at once when
//! some taint has no toleration, or, when every taint is tolerated, after
//! the smallest `tolerationSeconds` among the tolerations used (never when
//! none sets it). The clock starts at the newest taint's `timeAdded` (the
//! node lifecycle controller sets it), so a restart keeps the deadline;
//! a taint without one starts it when first seen here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use client_support::{InformerEvent, WorkQueue};
use k8s_openapi::api::core::v1::{Node, Pod, Taint, Toleration};
use k8s_openapi::jiff::Timestamp;
use kube::runtime::reflector::ObjectRef;
use kube::ResourceExt;

use crate::daemonset::tolerates;
use crate::events::{record, EventType};
use crate::util::{delete_pod, key_of};
use crate::worker::run_workers;
use crate::{Context, Error};

const COMPONENT: &str = "taint-eviction-controller";

/// What to do with a pod on a tainted Node.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Stay: no `NoExecute` taint, or every one tolerated forever.
    Stay,
    /// Delete now: some taint is not tolerated.
    EvictNow,
    /// Delete after this many seconds from the taint's start.
    EvictAfter(i64),
}

/// Upstream `getMinTolerationTime` over the tolerations that match the
/// Node's `NoExecute` taints.
pub fn verdict(taints: &[Taint], tolerations: &[Toleration]) -> Verdict {
    let taints: Vec<&Taint> = taints.iter().filter(|t| t.effect == "NoExecute").collect();
    if taints.is_empty() {
        return Verdict::Stay;
    }
    let mut min: Option<i64> = None;
    for taint in taints {
        let used: Vec<&Toleration> = tolerations.iter().filter(|t| tolerates(t, taint)).collect();
        if used.is_empty() {
            return Verdict::EvictNow;
        }
        for t in used {
            if let Some(s) = t.toleration_seconds {
                let s = s.max(0);
                min = Some(min.map_or(s, |m| m.min(s)));
            }
        }
    }
    match min {
        None => Verdict::Stay,
        Some(0) => Verdict::EvictNow,
        Some(s) => Verdict::EvictAfter(s),
    }
}

/// The controller: a queue of pod keys and when untimed taints were first seen.
pub struct TaintEvictionController {
    ctx: Arc<Context>,
    queue: WorkQueue<String>,
    first_seen: Arc<Mutex<HashMap<String, Timestamp>>>,
}

fn pod_node(p: &Pod) -> Option<&str> {
    p.spec
        .as_ref()?
        .node_name
        .as_deref()
        .filter(|n| !n.is_empty())
}

fn no_execute(n: &Node) -> Vec<Taint> {
    n.spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|t| t.effect == "NoExecute")
        .collect()
}

impl TaintEvictionController {
    /// Subscribes to pods and Nodes.
    pub fn new(ctx: Arc<Context>) -> Self {
        let queue: WorkQueue<String> = WorkQueue::new();
        let q = queue.clone();
        ctx.pods.subscribe(move |ev| {
            if let InformerEvent::Applied { old, new } = ev {
                let changed = old.as_ref().is_none_or(|o| {
                    pod_node(o) != pod_node(new)
                        || o.spec.as_ref().map(|s| &s.tolerations)
                            != new.spec.as_ref().map(|s| &s.tolerations)
                });
                if changed && pod_node(new).is_some() {
                    q.add(key_of(&**new));
                }
            }
        });
        let q = queue.clone();
        let weak = Arc::downgrade(&ctx);
        ctx.nodes.subscribe(move |ev| {
            let Some(ctx) = weak.upgrade() else { return };
            if let InformerEvent::Applied { old, new } = ev {
                let taints = no_execute(new);
                if taints.is_empty() || old.as_ref().is_some_and(|o| no_execute(o) == taints) {
                    return;
                }
                let name = new.name_any();
                for p in ctx
                    .pods
                    .store()
                    .state_filter(|p| pod_node(p) == Some(name.as_str()))
                {
                    q.add(key_of(&*p));
                }
            }
        });
        TaintEvictionController {
            ctx,
            queue,
            first_seen: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The work queue (shut down to stop).
    pub fn queue(&self) -> WorkQueue<String> {
        self.queue.clone()
    }

    /// Runs the workers.
    pub async fn run(self) {
        let ctx = self.ctx.clone();
        let seen = self.first_seen.clone();
        run_workers(
            "taint-eviction",
            self.queue,
            4,
            ctx.metrics.clone(),
            move |key| {
                let ctx = ctx.clone();
                let seen = seen.clone();
                async move { sync(&ctx, &seen, &key).await }
            },
        )
        .await;
    }
}

#[tracing::instrument(skip(ctx, seen), fields(pod = %key))]
async fn sync(
    ctx: &Context,
    seen: &Mutex<HashMap<String, Timestamp>>,
    key: &str,
) -> Result<Option<Duration>, Error> {
    let forget = || {
        seen.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    };
    let (ns, name) = client_support::informer::split_key(key);
    let Some(pod) = ctx
        .pods
        .store()
        .get(&ObjectRef::<Pod>::new(name).within(ns.unwrap_or_default()))
    else {
        forget();
        return Ok(None);
    };
    let node = pod_node(&pod).and_then(|n| ctx.nodes.store().get(&ObjectRef::<Node>::new(n)));
    let (Some(node), None) = (node, pod.metadata.deletion_timestamp.as_ref()) else {
        forget();
        return Ok(None);
    };
    let taints = no_execute(&node);
    let tolerations = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.clone())
        .unwrap_or_default();
    let now = Timestamp::now();
    let wait = match verdict(&taints, &tolerations) {
        Verdict::Stay => {
            forget();
            return Ok(None);
        }
        Verdict::EvictNow => 0,
        Verdict::EvictAfter(s) => s,
    };
    let start = match taints.iter().filter_map(|t| t.time_added.as_ref()).max() {
        Some(t) => t.0,
        None => *seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.to_string())
            .or_insert(now),
    };
    let due = start.as_second() + wait;
    if due > now.as_second() {
        return Ok(Some(Duration::from_secs((due - now.as_second()) as u64)));
    }
    tracing::info!(node = %node.name_any(), "evicting pod for a NoExecute taint");
    record(
        ctx,
        COMPONENT,
        &*pod,
        EventType::Normal,
        "TaintManagerEviction",
        &format!("Marking for deletion Pod {key}"),
    )
    .await;
    delete_pod(ctx, &pod).await?;
    forget();
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn taint(key: &str, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            effect: effect.into(),
            value: None,
            time_added: None,
        }
    }

    fn tol(v: serde_json::Value) -> Toleration {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn verdicts_as_upstream() {
        let unreach = [taint("node.kubernetes.io/unreachable", "NoExecute")];
        assert_eq!(verdict(&unreach, &[]), Verdict::EvictNow);
        assert_eq!(verdict(&[taint("x", "NoSchedule")], &[]), Verdict::Stay);
        let forever = tol(json!({"operator": "Exists"}));
        assert_eq!(
            verdict(&unreach, std::slice::from_ref(&forever)),
            Verdict::Stay
        );
        let t300 = tol(
            json!({"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                               "effect": "NoExecute", "tolerationSeconds": 300}),
        );
        let t5 = tol(
            json!({"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                             "tolerationSeconds": 5}),
        );
        assert_eq!(
            verdict(&unreach, std::slice::from_ref(&t300)),
            Verdict::EvictAfter(300)
        );
        // The smallest of the used tolerations wins, even beside a forever one.
        assert_eq!(
            verdict(&unreach, &[t300.clone(), t5, forever]),
            Verdict::EvictAfter(5)
        );
        // A second, untolerated taint evicts at once.
        let two = [unreach[0].clone(), taint("other", "NoExecute")];
        assert_eq!(verdict(&two, &[t300]), Verdict::EvictNow);
        let neg = tol(json!({"operator": "Exists", "tolerationSeconds": -3}));
        assert_eq!(verdict(&unreach, &[neg]), Verdict::EvictNow);
    }
}
