//! Events the kubelet records about pods: core/v1 Events with source
//! `kubelet`/`<node>`, written by one background task ([`write_events`]).
//!
//! Recording never blocks a pod worker: a [`Recorder`] hands records to a
//! bounded queue and drops them when it is full (as upstream's broadcaster
//! does). Repeats are aggregated like upstream's correlator, simply: the
//! same object, field, type, reason and message within ten minutes bump
//! `count` and `lastTimestamp` of the Event already written (one update
//! per Event every [`FLUSH_EVERY`], however often it repeated).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::Client;
use tokio::sync::mpsc;

/// `type: Normal`.
pub const NORMAL: &str = "Normal";
/// `type: Warning`.
pub const WARNING: &str = "Warning";
/// Records waiting to be written before new ones are dropped.
const QUEUE: usize = 1000;
/// A repeat within this window is counted on the existing Event.
const AGGREGATE_WINDOW: Duration = Duration::from_secs(600);
/// Distinct events remembered for aggregation.
const CACHE_SIZE: usize = 4096;

/// One event to record.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The object it is about.
    pub object: ObjectReference,
    /// [`NORMAL`] or [`WARNING`].
    pub type_: &'static str,
    /// Upstream's reason (`Pulled`, `BackOff`, `OutOfcpu`, ...).
    pub reason: String,
    /// Upstream's message.
    pub message: String,
}

/// Hands events to the writer; cheap to clone.
#[derive(Debug, Clone)]
pub struct Recorder {
    tx: Option<mpsc::Sender<Record>>,
}

impl Recorder {
    /// A recorder and the receiving end for [`write_events`] (or a test).
    pub fn new() -> (Self, mpsc::Receiver<Record>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (Recorder { tx: Some(tx) }, rx)
    }

    /// A recorder that drops everything.
    pub fn disabled() -> Self {
        Recorder { tx: None }
    }

    /// Records an event; dropped when the queue is full.
    pub fn record(
        &self,
        object: ObjectReference,
        type_: &'static str,
        reason: &str,
        message: impl Into<String>,
    ) {
        let Some(tx) = &self.tx else { return };
        let r = Record {
            object,
            type_,
            reason: reason.to_string(),
            message: message.into(),
        };
        if tx.try_send(r).is_err() {
            tracing::debug!(reason, "event queue full or closed; event dropped");
        }
    }

    /// A `Normal` event.
    pub fn normal(&self, object: ObjectReference, reason: &str, message: impl Into<String>) {
        self.record(object, NORMAL, reason, message);
    }

    /// A `Warning` event.
    pub fn warning(&self, object: ObjectReference, reason: &str, message: impl Into<String>) {
        self.record(object, WARNING, reason, message);
    }
}

/// A reference to the pod, or to one of its containers
/// (`spec.containers{c}` / `spec.initContainers{c}`) as upstream's
/// `GenerateContainerRef`.
pub fn pod_ref(pod: &Pod, container: Option<&str>) -> ObjectReference {
    let field_path = container.map(|c| {
        let init = pod
            .spec
            .as_ref()
            .and_then(|s| s.init_containers.as_ref())
            .is_some_and(|v| v.iter().any(|i| i.name == c));
        if init {
            format!("spec.initContainers{{{c}}}")
        } else {
            format!("spec.containers{{{c}}}")
        }
    });
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Pod".into()),
        namespace: pod.metadata.namespace.clone(),
        name: pod.metadata.name.clone(),
        uid: pod.metadata.uid.clone(),
        resource_version: pod.metadata.resource_version.clone(),
        field_path,
    }
}

/// A container reference built from runtime labels (when the pod object is
/// not at hand, e.g. killing an orphan).
pub fn labels_ref(namespace: &str, name: &str, uid: &str, container: &str) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Pod".into()),
        namespace: Some(namespace.into()),
        name: Some(name.into()),
        uid: Some(uid.into()),
        field_path: Some(format!("spec.containers{{{container}}}")),
        ..Default::default()
    }
}

type Key = (String, String, &'static str, String, String);

/// An Event already written, for aggregation.
struct Seen {
    namespace: String,
    name: String,
    /// Occurrences so far (what the API should show).
    count: i32,
    /// What the API shows.
    written: i32,
    last: Time,
    at: Instant,
}

/// Now in Unix nanoseconds, strictly increasing within the process: the
/// suffix of Event names (`<pod>.<hex nanos>` as upstream), which must not
/// collide when several events are recorded in the same instant.
fn unique_nanos() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = k8s_openapi::jiff::Timestamp::now().as_nanosecond().max(0) as u64;
    let prev = LAST.fetch_max(now, Ordering::SeqCst);
    if prev >= now {
        LAST.fetch_add(1, Ordering::SeqCst) + 1
    } else {
        now
    }
}

/// The Event first written for `r` at `now`.
pub fn new_event(r: &Record, host: &str, now: Time) -> Event {
    let nanos = unique_nanos();
    let base = r.object.name.clone().unwrap_or_default();
    Event {
        metadata: ObjectMeta {
            name: Some(format!("{base}.{nanos:x}")),
            namespace: Some(
                r.object
                    .namespace
                    .clone()
                    .unwrap_or_else(|| "default".into()),
            ),
            ..Default::default()
        },
        involved_object: r.object.clone(),
        reason: Some(r.reason.clone()),
        message: Some(r.message.clone()),
        source: Some(EventSource {
            component: Some("kubelet".into()),
            host: Some(host.into()),
        }),
        first_timestamp: Some(now.clone()),
        last_timestamp: Some(now),
        count: Some(1),
        type_: Some(r.type_.into()),
        reporting_component: Some("kubelet".into()),
        reporting_instance: Some(host.into()),
        ..Default::default()
    }
}

/// How often repeats are written (as one `count` update per Event): a
/// pod re-synced every second must not write every second.
pub const FLUSH_EVERY: Duration = Duration::from_secs(5);

fn key_of(r: &Record) -> Key {
    (
        r.object.uid.clone().unwrap_or_default(),
        r.object.field_path.clone().unwrap_or_default(),
        r.type_,
        r.reason.clone(),
        r.message.clone(),
    )
}

/// Writes recorded events through the API until every [`Recorder`] is
/// gone: a new event at once, its repeats as a `count`/`lastTimestamp`
/// update every [`FLUSH_EVERY`].
pub async fn write_events(client: Client, host: String, mut rx: mpsc::Receiver<Record>) {
    let mut seen: HashMap<Key, Seen> = HashMap::new();
    let mut flush = tokio::time::interval(FLUSH_EVERY);
    loop {
        let r = tokio::select! {
            r = rx.recv() => match r {
                Some(r) => r,
                None => break,
            },
            _ = flush.tick() => {
                flush_repeats(&client, &mut seen).await;
                continue;
            }
        };
        let key = key_of(&r);
        let now = crate::sync::now_time();
        if let Some(s) = seen
            .get_mut(&key)
            .filter(|s| s.at.elapsed() < AGGREGATE_WINDOW)
        {
            s.count += 1;
            s.last = now;
            s.at = Instant::now();
            continue;
        }
        let ev = new_event(&r, &host, now.clone());
        let ns = ev.metadata.namespace.clone().unwrap_or_default();
        let api: Api<Event> = Api::namespaced(client.clone(), &ns);
        match api.create(&PostParams::default(), &ev).await {
            Ok(created) => {
                if seen.len() >= CACHE_SIZE {
                    flush_repeats(&client, &mut seen).await;
                    seen.retain(|_, s| s.at.elapsed() < AGGREGATE_WINDOW);
                    if seen.len() >= CACHE_SIZE {
                        seen.clear();
                    }
                }
                seen.insert(
                    key,
                    Seen {
                        namespace: ns,
                        name: created.metadata.name.unwrap_or_default(),
                        count: 1,
                        written: 1,
                        last: now,
                        at: Instant::now(),
                    },
                );
            }
            Err(e) => tracing::debug!(reason = %r.reason, "writing event: {e}"),
        }
    }
    flush_repeats(&client, &mut seen).await;
}

/// Writes the counts of events that repeated since the last flush; an
/// Event deleted meanwhile is forgotten (its next repeat is a new one).
async fn flush_repeats(client: &Client, seen: &mut HashMap<Key, Seen>) {
    let mut gone = Vec::new();
    for (key, s) in seen.iter_mut().filter(|(_, s)| s.count != s.written) {
        let api: Api<Event> = Api::namespaced(client.clone(), &s.namespace);
        let patch = serde_json::json!({"count": s.count, "lastTimestamp": s.last});
        match api
            .patch(&s.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => s.written = s.count,
            Err(kube::Error::Api(e)) if e.code == 404 => gone.push(key.clone()),
            Err(e) => tracing::debug!("updating event {}: {e}", s.name),
        }
    }
    for k in gone {
        seen.remove(&k);
    }
}

/// Formats a duration as Go's `time.Duration.String` does after
/// truncation to milliseconds (`1.234s`, `523ms`, `2m3.5s`), as upstream's
/// `Pulled` message prints it.
pub fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let secs = |ms: u128| {
        let (s, frac) = (ms / 1000, ms % 1000);
        if frac == 0 {
            format!("{s}s")
        } else {
            let f = format!("{frac:03}");
            format!("{s}.{}s", f.trim_end_matches('0'))
        }
    };
    let (h, rest) = (ms / 3_600_000, ms % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    if h > 0 {
        format!("{h}h{m}m{}", secs(rest))
    } else if m > 0 {
        format!("{m}m{}", secs(rest))
    } else {
        secs(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(Duration::from_millis(523)), "523ms");
        assert_eq!(go_duration(Duration::from_millis(1234)), "1.234s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_millis(123_500)), "2m3.5s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(go_duration(Duration::from_micros(10)), "0s");
    }

    #[test]
    fn container_refs_and_event_shape() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u"},
            "spec": {"initContainers": [{"name": "i"}], "containers": [{"name": "c"}]}
        }))
        .unwrap();
        assert_eq!(
            pod_ref(&pod, Some("i")).field_path.as_deref(),
            Some("spec.initContainers{i}")
        );
        assert_eq!(
            pod_ref(&pod, Some("c")).field_path.as_deref(),
            Some("spec.containers{c}")
        );
        let r = Record {
            object: pod_ref(&pod, None),
            type_: WARNING,
            reason: "OutOfcpu".into(),
            message: "m".into(),
        };
        let e = new_event(&r, "node-1", crate::sync::now_time());
        assert!(e.metadata.name.unwrap().starts_with("p."));
        assert_eq!(e.metadata.namespace.as_deref(), Some("ns"));
        let src = e.source.unwrap();
        assert_eq!(
            (src.component.as_deref(), src.host.as_deref()),
            (Some("kubelet"), Some("node-1"))
        );
        assert_eq!(e.count, Some(1));
    }

    #[tokio::test]
    async fn a_full_queue_drops_instead_of_blocking() {
        let (rec, mut rx) = Recorder::new();
        for i in 0..QUEUE + 10 {
            rec.normal(ObjectReference::default(), "R", format!("{i}"));
        }
        let mut n = 0;
        while rx.try_recv().is_ok() {
            n += 1;
        }
        assert_eq!(n, QUEUE);
        Recorder::disabled().normal(ObjectReference::default(), "R", "x");
    }
}
