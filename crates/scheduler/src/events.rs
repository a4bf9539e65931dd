//! `events.k8s.io/v1` Events for pods, keyed as upstream's event recorder
//! keys them (the note included): a repeat of the same event within six
//! minutes becomes a `series` update instead of a new object.
//!
//! kube-rs's `Recorder` leaves the note out of its key, so a pod whose
//! FailedScheduling message changes would keep showing the first message;
//! hence this small recorder.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, Resource};
use serde_json::json;
use std::sync::Mutex;

const SERIES_WINDOW: Duration = Duration::from_secs(6 * 60);

/// (regarding uid, reason, action, note)
type Key = (String, String, String, String);
/// (event name, series count, last seen)
type Seen = (String, i32, Instant);

/// Publishes events as one reporting controller (a scheduler profile).
pub struct Recorder {
    client: Client,
    controller: String,
    instance: String,
    seen: Mutex<SeenEvents>,
}

/// Events published within the series window. Pruned at most once a
/// second: one Scheduled event per pod makes this map as large as the
/// pods scheduled in six minutes.
#[derive(Default)]
struct SeenEvents {
    map: HashMap<Key, Seen>,
    pruned: Option<Instant>,
}

fn micro_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

impl Recorder {
    pub fn new(client: Client, controller: &str, instance: &str) -> Recorder {
        Recorder {
            client,
            controller: controller.to_string(),
            instance: instance.to_string(),
            seen: Mutex::new(SeenEvents::default()),
        }
    }

    /// Records `type_`/`reason`/`action` with `note` about `pod`.
    pub async fn publish(
        &self,
        pod: &Pod,
        type_: &str,
        reason: &str,
        action: &str,
        note: &str,
    ) -> Result<(), kube::Error> {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let key = (
            pod.metadata.uid.clone().unwrap_or_else(|| name.clone()),
            reason.to_string(),
            action.to_string(),
            note.to_string(),
        );
        let api: Api<Event> = Api::namespaced(self.client.clone(), &ns);
        // The lock is held only to look up and note, never across a request.
        let repeat = {
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            if seen
                .pruned
                .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
            {
                seen.map
                    .retain(|_, (_, _, t)| now.duration_since(*t) < SERIES_WINDOW);
                seen.pruned = Some(now);
            }
            seen.map.get_mut(&key).map(|(ev_name, count, t)| {
                *count += 1;
                *t = now;
                (ev_name.clone(), *count)
            })
        };
        if let Some((ev_name, count)) = repeat {
            let patch = json!({"series": {"count": count, "lastObservedTime": micro_now()}});
            api.patch(&ev_name, &PatchParams::default(), &Patch::Merge(patch))
                .await?;
            return Ok(());
        }
        let ev_name = format!(
            "{name}.{:x}",
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
        );
        let ev: Event = serde_json::from_value(json!({
            "metadata": {"name": ev_name, "namespace": ns},
            "eventTime": micro_now(),
            "reportingController": self.controller,
            "reportingInstance": self.instance,
            "action": action,
            "reason": reason,
            "regarding": pod.object_ref(&()),
            "note": note,
            "type": type_,
        }))
        .map_err(kube::Error::SerdeError)?;
        api.create(&PostParams::default(), &ev).await?;
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map
            .insert(key, (ev_name, 1, Instant::now()));
        Ok(())
    }
}
