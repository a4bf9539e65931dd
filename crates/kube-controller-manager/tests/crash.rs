//! The real kube-controller-manager binary, SIGKILLed three times in the
//! middle of a 10-replica rollout and started again each time, against a
//! real apiserver and etcd. The test plays kubelet (pods turn Ready a little
//! after they appear) and watches every pod and ReplicaSet event of the
//! namespace, so "no extra pods" is checked at every step, not only at the
//! end.

#[path = "../../controllers/tests/common/mod.rs"]
mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{eventually, TestEnv};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{watcher, WatchStreamExt};
use kube::ResourceExt;
use serde_json::json;

const NS: &str = "crash";
const REPLICAS: usize = 10;
/// The default 25% of 10, rounded up.
const MAX_SURGE: usize = 3;
/// How long the fake kubelet takes to report a new pod Ready: long enough
/// that a rollout takes seconds, so the kills land mid-rollout.
const READY_AFTER: Duration = Duration::from_millis(400);

/// A kubeconfig for the test apiserver (anonymous, AlwaysAllow).
fn write_kubeconfig(env: &TestEnv, dir: &Path) -> PathBuf {
    let path = dir.join("kcm.kubeconfig");
    let kc = format!(
        "apiVersion: v1\nkind: Config\n\
         clusters:\n- name: t\n  cluster:\n    server: https://127.0.0.1:{}\n    certificate-authority: {}\n\
         users:\n- name: t\n  user: {{}}\n\
         contexts:\n- name: t\n  context:\n    cluster: t\n    user: t\n\
         current-context: t\n",
        env.running.addr.port(),
        env.running.ca_file.display()
    );
    std::fs::write(&path, kc).unwrap();
    path
}

/// The binary with every controller and leader election on, with a short
/// lease so a restart after SIGKILL (no release) takes over in seconds.
fn spawn_kcm(kubeconfig: &Path, log: &Path) -> Child {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let err = out.try_clone().unwrap();
    Command::new(env!("CARGO_BIN_EXE_kube-controller-manager"))
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .arg("--leader-elect=true")
        .arg("--leader-elect-lease-duration=3s")
        .arg("--leader-elect-renew-deadline=2s")
        .arg("--leader-elect-retry-period=500ms")
        .arg("--secure-port=0")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("spawn kube-controller-manager")
}

/// What the watches saw.
#[derive(Default)]
struct Seen {
    /// Pods that exist now (name → uid).
    live: BTreeMap<String, String>,
    /// Every pod uid ever created, with its name and template hash.
    created: BTreeMap<String, (String, String)>,
    /// The same pod name under two uids.
    reused_names: Vec<String>,
    /// Most pods alive at once.
    max_live: usize,
    /// Every ReplicaSet uid ever seen, with its template hash.
    replicasets: BTreeMap<String, String>,
}

impl Seen {
    /// Pods ever created whose template hash is not `old`.
    fn new_pods(&self, old: &str) -> usize {
        self.created.values().filter(|(_, h)| h != old).count()
    }
}

fn hash_of<K: ResourceExt>(o: &K) -> String {
    o.labels()
        .get("pod-template-hash")
        .cloned()
        .unwrap_or_default()
}

/// Follows every pod and ReplicaSet event of the namespace into `seen`.
fn watch_all(env: &TestEnv, seen: Arc<Mutex<Seen>>) -> Vec<tokio::task::JoinHandle<()>> {
    let pods: Api<Pod> = Api::namespaced(env.client.clone(), NS);
    let s = seen.clone();
    let pod_task = tokio::spawn(async move {
        let mut w = Box::pin(watcher(pods, watcher::Config::default()).default_backoff());
        while let Some(ev) = w.next().await {
            let Ok(ev) = ev else { continue };
            let mut s = s.lock().unwrap();
            match ev {
                watcher::Event::Apply(p) | watcher::Event::InitApply(p) => {
                    let (name, uid) = (p.name_any(), p.uid().unwrap());
                    if let Some(other) = s.live.insert(name.clone(), uid.clone()) {
                        if other != uid {
                            s.reused_names.push(name.clone());
                        }
                    }
                    if s.created.values().any(|(n, _)| n == &name) && !s.created.contains_key(&uid)
                    {
                        s.reused_names.push(name.clone());
                    }
                    let hash = hash_of(&p);
                    s.created.entry(uid).or_insert((name, hash));
                }
                watcher::Event::Delete(p) => {
                    s.live.remove(&p.name_any());
                }
                watcher::Event::Init | watcher::Event::InitDone => {}
            }
            s.max_live = s.max_live.max(s.live.len());
        }
    });
    let rss: Api<ReplicaSet> = Api::namespaced(env.client.clone(), NS);
    let rs_task = tokio::spawn(async move {
        let mut w = Box::pin(
            watcher(rss, watcher::Config::default())
                .default_backoff()
                .applied_objects(),
        );
        while let Some(rs) = w.next().await {
            let Ok(rs) = rs else { continue };
            let mut s = seen.lock().unwrap();
            s.replicasets.insert(rs.uid().unwrap(), hash_of(&rs));
        }
    });
    vec![pod_task, rs_task]
}

/// A kubelet that reports each new pod Running and Ready [`READY_AFTER`]
/// after it appears.
fn slow_kubelet(env: &TestEnv) -> tokio::task::JoinHandle<()> {
    let api: Api<Pod> = Api::namespaced(env.client.clone(), NS);
    tokio::spawn(async move {
        let mut started = HashSet::new();
        let mut w = Box::pin(
            watcher(api.clone(), watcher::Config::default())
                .default_backoff()
                .applied_objects(),
        );
        while let Some(p) = w.next().await {
            let Ok(p) = p else { continue };
            if p.metadata.deletion_timestamp.is_some() || !started.insert(p.uid().unwrap()) {
                continue;
            }
            let api = api.clone();
            tokio::spawn(async move {
                tokio::time::sleep(READY_AFTER).await;
                let now = k8s_openapi::jiff::Timestamp::from_second(
                    k8s_openapi::jiff::Timestamp::now().as_second(),
                )
                .unwrap()
                .to_string();
                let _ = api
                    .patch_status(
                        &p.name_any(),
                        &PatchParams::default(),
                        &Patch::Merge(json!({"status": {"phase": "Running", "conditions": [
                            {"type": "Ready", "status": "True", "lastTransitionTime": now}
                        ]}})),
                    )
                    .await;
            });
        }
    })
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Kills the child on drop so a failing test leaves no process behind.
struct Kcm(Child);

impl Drop for Kcm {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_rollout_then_restart_completes_without_extra_pods() {
    let env = TestEnv::start().await;
    env.namespace(NS).await;
    let dir = std::env::temp_dir().join(format!("kcm-crash-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kubeconfig = write_kubeconfig(&env, &dir);
    let log = dir.join("kube-controller-manager.log");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let watches = watch_all(&env, seen.clone());
    let kubelet = slow_kubelet(&env);
    let mut kcm = Kcm(spawn_kcm(&kubeconfig, &log));

    let api: Api<Deployment> = Api::namespaced(env.client.clone(), NS);
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": REPLICAS, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx:1.22"}]}}}
    }))
    .unwrap();
    api.create(&PostParams::default(), &d).await.unwrap();
    let complete = |api: Api<Deployment>| async move {
        let d = api.get("web").await.unwrap();
        let s = d.status.clone()?;
        (s.updated_replicas == Some(REPLICAS as i32)
            && s.replicas == Some(REPLICAS as i32)
            && s.ready_replicas == Some(REPLICAS as i32)
            && s.available_replicas == Some(REPLICAS as i32)
            && s.observed_generation == d.metadata.generation)
            .then_some(())
    };
    let first_done = tokio::time::timeout(Duration::from_secs(60), async {
        while complete(api.clone()).await.is_none() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        first_done.is_ok(),
        "first revision never became ready; log:\n{}",
        log_tail(&log)
    );
    let rs_api: Api<ReplicaSet> = Api::namespaced(env.client.clone(), NS);
    let old = rs_api.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(old.len(), 1);
    let old_hash = hash_of(&old[0]);

    // `kubectl set image`, then three SIGKILLs as the new pods appear.
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Strategic(
            json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.22.1"}]}}}}),
        ),
    )
    .await
    .unwrap();
    for at in [1, 4, 7] {
        let reached = tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                let n = seen.lock().unwrap().new_pods(&old_hash);
                if n >= at {
                    return n;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        let Ok(n) = reached else {
            panic!("no {at} new pods within 60 s; log:\n{}", log_tail(&log));
        };
        kcm.0.kill().unwrap(); // SIGKILL
        kcm.0.wait().unwrap();
        let ready_new = rs_api
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|r| hash_of(r) != old_hash)
            .map(|r| r.status.and_then(|s| s.ready_replicas).unwrap_or(0))
            .sum::<i32>();
        assert!(
            n < REPLICAS && ready_new < REPLICAS as i32,
            "killed at {at}: the rollout was already done ({n} new pods, {ready_new} ready)"
        );
        eprintln!("killed with {n} new pods created, {ready_new} ready");
        kcm = Kcm(spawn_kcm(&kubeconfig, &log));
    }

    let done = tokio::time::timeout(Duration::from_secs(90), async {
        while complete(api.clone()).await.is_none() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        done.is_ok(),
        "rollout did not complete after the restarts; log:\n{}",
        log_tail(&log)
    );
    let c = env.client.clone();
    eventually(20, "exactly 10 live pods", || {
        let c = c.clone();
        async move { (common::active_pods(&c, NS).await.len() == REPLICAS).then_some(()) }
    })
    .await;
    // Settled: the new ReplicaSet holds 10 ready pods, the old one none.
    let rss = rs_api.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(
        rss.len(),
        2,
        "ReplicaSets: {:?}",
        rss.iter().map(|r| r.name_any()).collect::<Vec<_>>()
    );
    for r in &rss {
        let spec = r.spec.as_ref().and_then(|s| s.replicas);
        let st = r.status.clone().unwrap_or_default();
        if hash_of(r) == old_hash {
            assert_eq!((spec, st.replicas), (Some(0), 0), "old ReplicaSet");
        } else {
            assert_eq!(spec, Some(REPLICAS as i32), "new ReplicaSet");
            assert_eq!(st.ready_replicas, Some(REPLICAS as i32), "new ReplicaSet");
        }
    }
    // Still settled a little later: nothing left to do means nothing done.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(common::active_pods(&env.client, NS).await.len(), REPLICAS);

    let s = seen.lock().unwrap();
    assert!(
        s.max_live <= REPLICAS + MAX_SURGE,
        "{} pods at once, more than replicas + maxSurge",
        s.max_live
    );
    assert!(
        s.reused_names.is_empty(),
        "pod names reused: {:?}",
        s.reused_names
    );
    // Exactly one pod per replica per revision: a restart re-created none.
    assert_eq!(
        s.created.len(),
        2 * REPLICAS,
        "pods ever created: {:?}",
        s.created.values().collect::<Vec<_>>()
    );
    assert_eq!(s.new_pods(&old_hash), REPLICAS);
    let hashes: BTreeSet<&String> = s.replicasets.values().collect();
    assert_eq!(
        (s.replicasets.len(), hashes.len()),
        (2, 2),
        "ReplicaSets ever seen (uid → hash): {:?}",
        s.replicasets
    );
    drop(s);
    for t in watches {
        t.abort();
    }
    kubelet.abort();
    drop(kcm);
    let _ = std::fs::remove_dir_all(&dir);
}
