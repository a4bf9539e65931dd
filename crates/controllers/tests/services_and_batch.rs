//! The endpoints, endpointslice, job and cronjob controllers in-process
//! against a real apiserver and etcd; fake kubelets set pod status through
//! the status subresource.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{eventually, TestEnv};
use futures::StreamExt;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{watcher, WatchStreamExt};
use kube::ResourceExt;
use serde_json::json;

async fn set_pod_status(api: &Api<Pod>, name: &str, ip: &str, ready: bool) {
    let now =
        k8s_openapi::jiff::Timestamp::from_second(k8s_openapi::jiff::Timestamp::now().as_second())
            .unwrap()
            .to_string();
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
            "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}, "lastTransitionTime": now}]}})),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn service_gets_endpointslice_and_endpoints_that_follow_readiness() {
    let env = TestEnv::start().await;
    env.namespace("svc").await;
    let _c = env.start_controllers(&["endpoint", "endpointslice"]);
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), "svc");
    for i in 1..=3 {
        let p: Pod = serde_json::from_value(json!({
            "metadata": {"name": format!("web-{i}"), "labels": {"app": "web"}},
            "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "nginx",
                "ports": [{"name": "http", "containerPort": 8080}]}]}
        }))
        .unwrap();
        pods.create(&PostParams::default(), &p).await.unwrap();
        set_pod_status(&pods, &format!("web-{i}"), &format!("10.1.0.{i}"), true).await;
    }
    let svcs: Api<Service> = Api::namespaced(env.client.clone(), "svc");
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": "web", "labels": {"team": "a"}},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}
    }))
    .unwrap();
    let svc = svcs.create(&PostParams::default(), &svc).await.unwrap();
    // A service without a selector is left alone.
    let manual: Service = serde_json::from_value(json!({
        "metadata": {"name": "manual"}, "spec": {"ports": [{"port": 80}]}
    }))
    .unwrap();
    svcs.create(&PostParams::default(), &manual).await.unwrap();

    let slices: Api<EndpointSlice> = Api::namespaced(env.client.clone(), "svc");
    let lp = ListParams::default().labels("kubernetes.io/service-name=web");
    let s = eventually(30, "one slice with 3 ready endpoints", || {
        let slices = slices.clone();
        let lp = lp.clone();
        async move {
            let l = slices.list(&lp).await.unwrap().items;
            (l.len() == 1
                && l[0].endpoints.len() == 3
                && l[0]
                    .endpoints
                    .iter()
                    .all(|e| e.conditions.as_ref().and_then(|c| c.ready) == Some(true)))
            .then(|| l[0].clone())
        }
    })
    .await;
    assert_eq!(s.address_type, "IPv4");
    assert_eq!(
        s.labels()
            .get("endpointslice.kubernetes.io/managed-by")
            .map(String::as_str),
        Some("endpointslice-controller.k8s.io")
    );
    assert_eq!(s.labels().get("team").map(String::as_str), Some("a"));
    let ports = s.ports.clone().unwrap();
    assert_eq!(
        (ports[0].name.as_deref(), ports[0].port),
        (Some("http"), Some(8080))
    );
    let owner = &s.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str()),
        ("Service", svc.uid().unwrap().as_str())
    );
    let eps: Api<Endpoints> = Api::namespaced(env.client.clone(), "svc");
    eventually(30, "endpoints with 3 addresses", || {
        let eps = eps.clone();
        async move {
            let e = eps.get_opt("web").await.unwrap()?;
            let ss = e.subsets?;
            (ss.len() == 1
                && ss[0].addresses.as_ref().map(Vec::len) == Some(3)
                && ss[0].ports.as_ref()?[0].port == 8080)
                .then_some(())
        }
    })
    .await;

    // One pod turns not ready.
    set_pod_status(&pods, "web-2", "10.1.0.2", false).await;
    let s2 = eventually(30, "web-2 not ready in the slice", || {
        let slices = slices.clone();
        let lp = lp.clone();
        async move {
            let l = slices.list(&lp).await.unwrap().items;
            let e = l
                .first()?
                .endpoints
                .iter()
                .find(|e| e.addresses == ["10.1.0.2"])?
                .clone();
            let c = e.conditions?;
            (l.len() == 1 && c.ready == Some(false) && c.serving == Some(false))
                .then(|| l[0].clone())
        }
    })
    .await;
    // Updated in place, not replaced.
    assert_eq!(s2.name_any(), s.name_any());
    eventually(30, "web-2 in notReadyAddresses", || {
        let eps = eps.clone();
        async move {
            let ss = eps.get("web").await.unwrap().subsets?;
            let nr = ss[0].not_ready_addresses.clone()?;
            (nr.len() == 1 && nr[0].ip == "10.1.0.2" && ss[0].addresses.as_ref()?.len() == 2)
                .then_some(())
        }
    })
    .await;
    assert!(eps.get_opt("manual").await.unwrap().is_none());
    let manual_slices = slices
        .list(&ListParams::default().labels("kubernetes.io/service-name=manual"))
        .await
        .unwrap();
    assert!(manual_slices.items.is_empty());
}

/// A fake kubelet for jobs: every new pod finishes after a moment,
/// Succeeded (or Failed with the label `outcome=fail`); records the most
/// pods ever running at once.
fn job_kubelet(
    env: &TestEnv,
    ns: &str,
    max_running: Arc<AtomicUsize>,
) -> tokio::task::JoinHandle<()> {
    let api: Api<Pod> = Api::namespaced(env.client.clone(), ns);
    tokio::spawn(async move {
        let mut running: BTreeMap<String, bool> = BTreeMap::new();
        let mut s = Box::pin(watcher(api.clone(), watcher::Config::default()).default_backoff());
        while let Some(Ok(ev)) = s.next().await {
            let p = match ev {
                watcher::Event::Apply(p) | watcher::Event::InitApply(p) => p,
                watcher::Event::Delete(p) => {
                    running.remove(&p.name_any());
                    continue;
                }
                _ => continue,
            };
            let phase = p.status.as_ref().and_then(|s| s.phase.clone());
            let terminal = matches!(phase.as_deref(), Some("Succeeded") | Some("Failed"));
            let live = !terminal && p.metadata.deletion_timestamp.is_none();
            let first = !running.contains_key(&p.name_any());
            running.insert(p.name_any(), live);
            max_running.fetch_max(running.values().filter(|v| **v).count(), Ordering::SeqCst);
            if live && first {
                let api = api.clone();
                let name = p.name_any();
                let fail = p.labels().get("outcome").map(String::as_str) == Some("fail");
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    let phase = if fail { "Failed" } else { "Succeeded" };
                    let _ = api
                        .patch_status(
                            &name,
                            &PatchParams::default(),
                            &Patch::Merge(json!({"status": {"phase": phase, "podIP": "10.2.0.1"}})),
                        )
                        .await;
                });
            }
        }
    })
}

fn job(name: &str, spec: serde_json::Value, labels: serde_json::Value) -> Job {
    let mut j = json!({
        "metadata": {"name": name},
        "spec": {"template": {"metadata": {"labels": labels},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}
    });
    for (k, v) in spec.as_object().unwrap() {
        j["spec"][k] = v.clone();
    }
    serde_json::from_value(j).unwrap()
}

fn has_condition(j: &Job, t: &str) -> bool {
    j.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == t && c.status == "True"))
}

#[tokio::test]
async fn job_completes_five_two_at_a_time_and_indexed_and_failing_jobs() {
    let env = TestEnv::start().await;
    env.namespace("job").await;
    let _c = env.start_controllers(&["job"]);
    let max_running = Arc::new(AtomicUsize::new(0));
    let _k = job_kubelet(&env, "job", max_running.clone());
    let api: Api<Job> = Api::namespaced(env.client.clone(), "job");
    api.create(
        &PostParams::default(),
        &job("pi", json!({"completions": 5, "parallelism": 2}), json!({})),
    )
    .await
    .unwrap();
    let done = eventually(60, "job complete", || {
        let api = api.clone();
        async move {
            let j = api.get("pi").await.unwrap();
            has_condition(&j, "Complete").then_some(j)
        }
    })
    .await;
    let st = done.status.clone().unwrap();
    assert_eq!(st.succeeded, Some(5));
    assert_eq!(st.failed.unwrap_or(0), 0);
    assert_eq!(st.active.unwrap_or(0), 0);
    assert!(st.start_time.is_some() && st.completion_time.is_some());
    assert!(has_condition(&done, "SuccessCriteriaMet"));
    let uncounted = st.uncounted_terminated_pods.unwrap_or_default();
    assert!(uncounted.succeeded.unwrap_or_default().is_empty());
    assert!(
        max_running.load(Ordering::SeqCst) <= 2,
        "{} pods ran at once",
        max_running.load(Ordering::SeqCst)
    );
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), "job");
    let all = pods.list(&ListParams::default()).await.unwrap().items;
    let mine: Vec<&Pod> = all
        .iter()
        .filter(|p| p.name_any().starts_with("pi-"))
        .collect();
    assert_eq!(mine.len(), 5);
    for p in &mine {
        assert!(p.finalizers().is_empty(), "{:?}", p.finalizers());
        assert_eq!(
            p.labels()
                .get("batch.kubernetes.io/job-name")
                .map(String::as_str),
            Some("pi")
        );
    }

    // Indexed: every index once, recorded in completedIndexes.
    api.create(
        &PostParams::default(),
        &job(
            "ix",
            json!({"completions": 3, "parallelism": 3, "completionMode": "Indexed"}),
            json!({}),
        ),
    )
    .await
    .unwrap();
    let ix = eventually(60, "indexed job complete", || {
        let api = api.clone();
        async move {
            let j = api.get("ix").await.unwrap();
            has_condition(&j, "Complete").then_some(j)
        }
    })
    .await;
    assert_eq!(
        ix.status.as_ref().unwrap().completed_indexes.as_deref(),
        Some("0-2")
    );
    let all = pods.list(&ListParams::default()).await.unwrap().items;
    let mut idx: Vec<String> = all
        .iter()
        .filter(|p| p.name_any().starts_with("ix-"))
        .map(|p| p.annotations()["batch.kubernetes.io/job-completion-index"].clone())
        .collect();
    idx.sort();
    assert_eq!(idx, ["0", "1", "2"]);

    // backoffLimit 0: the first failure fails the job.
    api.create(
        &PostParams::default(),
        &job(
            "bad",
            json!({"backoffLimit": 0}),
            json!({"outcome": "fail"}),
        ),
    )
    .await
    .unwrap();
    let bad = eventually(60, "job failed", || {
        let api = api.clone();
        async move {
            let j = api.get("bad").await.unwrap();
            has_condition(&j, "Failed").then_some(j)
        }
    })
    .await;
    assert!(has_condition(&bad, "FailureTarget"));
    let c = bad
        .status
        .as_ref()
        .unwrap()
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Failed")
        .unwrap()
        .clone();
    assert_eq!(c.reason.as_deref(), Some("BackoffLimitExceeded"));
    assert_eq!(bad.status.as_ref().unwrap().failed, Some(1));
}

#[tokio::test]
async fn cronjob_every_minute_creates_a_job_named_by_its_scheduled_minute() {
    let env = TestEnv::start().await;
    env.namespace("cron").await;
    // The controller's clock runs 61 s ahead, so a `* * * * *` schedule is
    // due at once.
    let opts = controllers::Options {
        leader_elect: false,
        controllers: vec!["cronjob".into()],
        secure_port: 0,
        ..controllers::Options::default()
    };
    let ctx = controllers::Context::new(
        env.client.clone(),
        opts,
        Arc::new(controllers::Metrics::default()),
    );
    let clock: controllers::cronjob::Clock =
        Arc::new(|| chrono::Utc::now() + chrono::Duration::seconds(61));
    let c = controllers::cronjob::CronJobController::with_clock(ctx.clone(), clock);
    let queue = c.queue();
    ctx.start().await;
    let run = tokio::spawn(c.run());

    let api: Api<CronJob> = Api::namespaced(env.client.clone(), "cron");
    let cj: CronJob = serde_json::from_value(json!({
        "metadata": {"name": "hello"},
        "spec": {"schedule": "* * * * *", "successfulJobsHistoryLimit": 1,
            "jobTemplate": {"metadata": {"labels": {"from": "cron"}}, "spec": {"template": {"spec": {
                "restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox"}]}}}}}
    }))
    .unwrap();
    let cj = api.create(&PostParams::default(), &cj).await.unwrap();
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "cron");
    let j = eventually(30, "a job", || {
        let jobs = jobs.clone();
        async move {
            jobs.list(&ListParams::default())
                .await
                .unwrap()
                .items
                .into_iter()
                .next()
        }
    })
    .await;
    let suffix: i64 = j
        .name_any()
        .strip_prefix("hello-")
        .unwrap()
        .parse()
        .unwrap();
    let now_min = chrono::Utc::now().timestamp() / 60;
    assert!(
        (now_min..=now_min + 2).contains(&suffix),
        "{suffix} vs {now_min}"
    );
    assert_eq!(j.owner_references()[0].uid, cj.uid().unwrap());
    assert_eq!(j.labels().get("from").map(String::as_str), Some("cron"));
    assert!(j
        .annotations()
        .contains_key("batch.kubernetes.io/cronjob-scheduled-timestamp"));
    let st = eventually(30, "cronjob status", || {
        let api = api.clone();
        async move {
            let s = api.get("hello").await.unwrap().status?;
            (s.active.as_ref().map(Vec::len) == Some(1) && s.last_schedule_time.is_some())
                .then_some(s)
        }
    })
    .await;
    assert_eq!(st.last_schedule_time.unwrap().0.as_second(), suffix * 60);
    // The job completes: no longer active, lastSuccessfulTime set.
    let now =
        k8s_openapi::jiff::Timestamp::from_second(k8s_openapi::jiff::Timestamp::now().as_second())
            .unwrap()
            .to_string();
    jobs.patch_status(
        &j.name_any(),
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"startTime": now, "completionTime": now, "succeeded": 1,
            "conditions": [{"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": now},
                           {"type": "Complete", "status": "True", "lastTransitionTime": now}]}})),
    )
    .await
    .unwrap();
    eventually(30, "lastSuccessfulTime", || {
        let api = api.clone();
        async move {
            let s = api.get("hello").await.unwrap().status?;
            (s.active.is_none() && s.last_successful_time.is_some()).then_some(())
        }
    })
    .await;
    queue.shut_down();
    run.abort();
}

#[tokio::test]
async fn statefulset_creates_ordinals_in_order_with_claims_and_rolls() {
    use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
    use k8s_openapi::api::core::v1::PersistentVolumeClaim;
    let env = TestEnv::start().await;
    env.namespace("sts").await;
    let _c = env.start_controllers(&["statefulset"]);
    let _k = env.kubelet("sts");
    // Record the order pods appear in.
    let order = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let o = order.clone();
    let pod_api: Api<Pod> = Api::namespaced(env.client.clone(), "sts");
    let w = pod_api.clone();
    let _watch = tokio::spawn(async move {
        let mut s = Box::pin(
            watcher(w, watcher::Config::default())
                .default_backoff()
                .applied_objects(),
        );
        while let Some(Ok(p)) = s.next().await {
            let mut o = o.lock().unwrap();
            if !o.contains(&p.name_any()) {
                o.push(p.name_any());
            }
        }
    });
    let api: Api<StatefulSet> = Api::namespaced(env.client.clone(), "sts");
    let set: StatefulSet = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"serviceName": "nginx", "replicas": 3, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1.22"}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "www"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}
    }))
    .unwrap();
    api.create(&PostParams::default(), &set).await.unwrap();
    let st = eventually(60, "3 ready replicas", || {
        let api = api.clone();
        async move {
            let s = api.get("web").await.unwrap().status?;
            (s.ready_replicas == Some(3) && s.replicas == 3).then_some(s)
        }
    })
    .await;
    assert_eq!(*order.lock().unwrap(), ["web-0", "web-1", "web-2"]);
    assert_eq!(st.current_revision, st.update_revision);
    let first_rev = st.update_revision.clone().unwrap();
    assert!(first_rev.starts_with("web-"));
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(env.client.clone(), "sts");
    for i in 0..3 {
        assert!(pvcs
            .get_opt(&format!("www-web-{i}"))
            .await
            .unwrap()
            .is_some());
    }
    let p0 = pod_api.get("web-0").await.unwrap();
    let ps = p0.spec.as_ref().unwrap();
    assert_eq!(
        (ps.hostname.as_deref(), ps.subdomain.as_deref()),
        (Some("web-0"), Some("nginx"))
    );
    // Rolling update to a new image: every pod ends at the new revision.
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.23"}]}}}})),
    )
    .await
    .unwrap();
    let st = eventually(90, "rolled", || {
        let api = api.clone();
        let first_rev = first_rev.clone();
        async move {
            let s = api.get("web").await.unwrap().status?;
            (s.update_revision.as_deref() != Some(first_rev.as_str())
                && s.current_revision == s.update_revision
                && s.updated_replicas == Some(3)
                && s.ready_replicas == Some(3))
            .then_some(s)
        }
    })
    .await;
    for i in 0..3 {
        let p = pod_api.get(&format!("web-{i}")).await.unwrap();
        assert_eq!(
            p.labels().get("controller-revision-hash"),
            st.update_revision.as_ref()
        );
        assert_eq!(
            p.spec.unwrap().containers[0].image.as_deref(),
            Some("nginx:1.23")
        );
    }
    let crs: Api<ControllerRevision> = Api::namespaced(env.client.clone(), "sts");
    assert_eq!(
        crs.list(&ListParams::default()).await.unwrap().items.len(),
        2
    );
    // Scale down to 1: pods go, claims stay.
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 1}})),
    )
    .await
    .unwrap();
    let c = env.client.clone();
    eventually(60, "1 pod", || {
        let c = c.clone();
        async move { (common::active_pods(&c, "sts").await.len() == 1).then_some(()) }
    })
    .await;
    assert_eq!(
        common::active_pods(&env.client, "sts").await[0].name_any(),
        "web-0"
    );
    assert_eq!(
        pvcs.list(&ListParams::default()).await.unwrap().items.len(),
        3
    );
}

#[tokio::test]
async fn daemonset_runs_one_pod_per_eligible_node_and_rolls() {
    use k8s_openapi::api::apps::v1::DaemonSet;
    use k8s_openapi::api::core::v1::Node;
    let env = TestEnv::start().await;
    env.namespace("ds").await;
    let nodes: Api<Node> = Api::all(env.client.clone());
    for (n, taints) in [
        ("node-a", json!([])),
        (
            "node-b",
            json!([{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]),
        ),
    ] {
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": n, "labels": {"kubernetes.io/hostname": n}},
            "spec": {"taints": taints}
        }))
        .unwrap();
        nodes.create(&PostParams::default(), &node).await.unwrap();
    }
    let _c = env.start_controllers(&["daemonset"]);
    let _k = env.kubelet("ds");
    let api: Api<DaemonSet> = Api::namespaced(env.client.clone(), "ds");
    let ds: DaemonSet = serde_json::from_value(json!({
        "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
            "template": {"metadata": {"labels": {"app": "agent"}},
                "spec": {"containers": [{"name": "c", "image": "agent:1"}]}}}
    }))
    .unwrap();
    api.create(&PostParams::default(), &ds).await.unwrap();
    eventually(30, "one ready daemon pod", || {
        let api = api.clone();
        async move {
            let s = api.get("agent").await.unwrap().status?;
            (s.desired_number_scheduled == 1
                && s.current_number_scheduled == 1
                && s.number_ready == 1)
                .then_some(())
        }
    })
    .await;
    let pods = common::active_pods(&env.client, "ds").await;
    assert_eq!(pods.len(), 1);
    let terms = &pods[0]
        .spec
        .as_ref()
        .unwrap()
        .affinity
        .as_ref()
        .unwrap()
        .node_affinity
        .as_ref()
        .unwrap()
        .required_during_scheduling_ignored_during_execution
        .as_ref()
        .unwrap()
        .node_selector_terms;
    assert_eq!(
        terms[0].match_fields.as_ref().unwrap()[0].values,
        Some(vec!["node-a".to_string()])
    );
    // The taint goes: node-b gets a pod too.
    nodes
        .patch(
            "node-b",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"taints": null}})),
        )
        .await
        .unwrap();
    eventually(30, "two daemon pods", || {
        let api = api.clone();
        async move {
            let s = api.get("agent").await.unwrap().status?;
            (s.desired_number_scheduled == 2 && s.number_ready == 2).then_some(())
        }
    })
    .await;
    // New template: every pod replaced.
    api.patch(
        "agent",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "agent:2"}]}}}})),
    )
    .await
    .unwrap();
    let c = env.client.clone();
    eventually(60, "rolled to agent:2", || {
        let c = c.clone();
        async move {
            let p = common::active_pods(&c, "ds").await;
            (p.len() == 2
                && p.iter().all(|p| {
                    p.spec.as_ref().unwrap().containers[0].image.as_deref() == Some("agent:2")
                }))
            .then_some(())
        }
    })
    .await;
    eventually(30, "status updated", || {
        let api = api.clone();
        async move {
            let s = api.get("agent").await.unwrap().status?;
            (s.updated_number_scheduled == Some(2) && s.number_available == Some(2)).then_some(())
        }
    })
    .await;
}

#[tokio::test]
async fn cronjob_on_real_minute_ticks_creates_jobs_and_keeps_history_limit() {
    // Real time: two schedule ticks take up to two minutes.
    let env = TestEnv::start().await;
    env.namespace("tick").await;
    let _c = env.start_controllers(&["cronjob", "job", "garbage-collector-controller"]);
    let _k = job_kubelet(&env, "tick", Arc::new(AtomicUsize::new(0)));
    let jobs: Api<Job> = Api::namespaced(env.client.clone(), "tick");
    // Every Job ever created (name → deleted yet).
    let seen: Arc<std::sync::Mutex<BTreeMap<String, bool>>> = Arc::default();
    let s = seen.clone();
    let w = jobs.clone();
    let watch_task = tokio::spawn(async move {
        let mut w = Box::pin(watcher(w, watcher::Config::default()).default_backoff());
        while let Some(Ok(ev)) = w.next().await {
            let mut s = s.lock().unwrap();
            match ev {
                watcher::Event::Apply(j) | watcher::Event::InitApply(j) => {
                    s.entry(j.name_any()).or_insert(false);
                }
                watcher::Event::Delete(j) => {
                    s.insert(j.name_any(), true);
                }
                _ => {}
            }
        }
    });
    let api: Api<CronJob> = Api::namespaced(env.client.clone(), "tick");
    let cj: CronJob = serde_json::from_value(json!({
        "metadata": {"name": "hello"},
        "spec": {"schedule": "*/1 * * * *", "successfulJobsHistoryLimit": 1,
            "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}}
    }))
    .unwrap();
    let created_min = chrono::Utc::now().timestamp() / 60;
    api.create(&PostParams::default(), &cj).await.unwrap();
    // Two ticks: the second Job completes and the first is trimmed.
    let (first, second) = eventually(200, "two jobs, the first trimmed", || {
        let (seen, jobs) = (seen.clone(), jobs.clone());
        async move {
            let names: Vec<(String, bool)> = seen
                .lock()
                .unwrap()
                .iter()
                .map(|(n, d)| (n.clone(), *d))
                .collect();
            if names.len() < 2 || !names[0].1 {
                return None;
            }
            let j = jobs.get_opt(&names[1].0).await.unwrap()?;
            has_condition(&j, "Complete").then(|| (names[0].0.clone(), j))
        }
    })
    .await;
    let minute = |n: &str| -> i64 { n.strip_prefix("hello-").unwrap().parse().unwrap() };
    let (m1, m2) = (minute(&first), minute(&second.name_any()));
    assert!(
        m1 > created_min && m1 <= created_min + 2,
        "{m1} vs {created_min}"
    );
    assert_eq!(m2, m1 + 1, "consecutive minutes");
    // The history limit holds: only the latest successful Job is left.
    let left: Vec<String> = jobs
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|j| j.name_any())
        .collect();
    assert_eq!(left, [second.name_any()]);
    let st = eventually(30, "cronjob status", || {
        let api = api.clone();
        async move {
            let s = api.get("hello").await.unwrap().status?;
            (s.active.is_none() && s.last_successful_time.is_some()).then_some(s)
        }
    })
    .await;
    assert_eq!(st.last_schedule_time.unwrap().0.as_second(), m2 * 60);
    assert_eq!(
        seen.lock().unwrap().len(),
        2,
        "one Job per tick: {:?}",
        seen.lock().unwrap()
    );
    watch_task.abort();
}
