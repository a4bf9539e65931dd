//! Watch: a chunked stream of `{"type":...,"object":...}` lines fed by an
//! etcd watch from a resourceVersion, so no event is lost or reordered.
//!
//! With no resourceVersion (or "0"), the current state is sent first as
//! ADDED events, as upstream does. A compacted resourceVersion ends the
//! stream with an ERROR event carrying 410 Expired. With selectors, an
//! object that stops matching is sent as DELETED and one that starts
//! matching as ADDED.

use std::sync::Arc;
use std::time::Duration;

use apimachinery::catalogue::ResourceInfo;
use apimachinery::{meta, StatusError};
use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::{json, Value};
use storage::{StorageError, WatchEvent};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tracing::debug;

use crate::http_util::{Body, Format, FormatKind};
use crate::registry::{ListOptions, Registry, Selectors};
use crate::table::{self, IncludeObject};

/// Watch-specific query parameters.
#[derive(Debug, Clone, Default)]
pub struct WatchParams {
    pub allow_bookmarks: bool,
    pub send_initial_events: bool,
    pub timeout: Duration,
    pub include_object: Option<String>,
}

struct Encoder {
    r: &'static ResourceInfo,
    format: Format,
    include: IncludeObject,
}

impl Encoder {
    fn event(&self, ty: &str, obj: &Value) -> Bytes {
        let object = match self.format.kind {
            FormatKind::Table if ty != "BOOKMARK" && ty != "ERROR" => table::to_table(
                self.r.group,
                self.r.plural,
                std::slice::from_ref(obj),
                meta::resource_version(obj),
                None,
                None,
                self.include,
                chrono::Utc::now(),
            ),
            FormatKind::PartialMetadata if ty != "ERROR" => json!({
                "kind": "PartialObjectMetadata",
                "apiVersion": format!("meta.k8s.io/{}", self.format.version),
                "metadata": obj.get("metadata").cloned().unwrap_or(json!({})),
            }),
            _ => obj.clone(),
        };
        let mut line =
            serde_json::to_vec(&json!({"type": ty, "object": object})).unwrap_or_default();
        line.push(b'\n');
        Bytes::from(line)
    }

    fn bookmark(&self, rv: i64, initial_end: bool) -> Bytes {
        let mut md = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            md["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let obj = json!({"kind": self.r.kind, "apiVersion": self.r.api_version(), "metadata": md});
        self.event("BOOKMARK", &obj)
    }
}

/// Starts a watch and returns the streaming response.
pub async fn serve(
    registry: Arc<Registry>,
    r: &'static ResourceInfo,
    ns: String,
    opts: ListOptions,
    params: WatchParams,
    format: Format,
) -> Result<Response<Body>, StatusError> {
    let sel = registry.selectors(r, &opts)?;
    let include = match params.include_object.as_deref() {
        None => IncludeObject::Metadata,
        Some(v) => IncludeObject::from_query(v)
            .ok_or_else(|| StatusError::bad_request(format!("invalid includeObject value: {v}")))?,
    };
    let enc = Encoder {
        r,
        format: format.clone(),
        include,
    };
    let rv = opts.resource_version.clone().unwrap_or_default();
    let initial = rv.is_empty() || rv == "0" || params.send_initial_events;
    let start_rev: i64 = if initial {
        0
    } else {
        rv.parse()
            .map_err(|_| StatusError::bad_request(format!("invalid resource version: {rv}")))?
    };
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let prefix = registry.collection_prefix(r, &ns);

    // Initial state (when asked) at one revision, then the watch after it.
    let mut initial_items = Vec::new();
    let after = if initial {
        let page = registry
            .list(
                r,
                &ns,
                &ListOptions {
                    label_selector: opts.label_selector.clone(),
                    field_selector: opts.field_selector.clone(),
                    ..Default::default()
                },
            )
            .await?;
        initial_items = page.items;
        page.resource_version
    } else {
        start_rev
    };
    let watch = registry.store().watch(&prefix, after).await;

    let task = async move {
        for item in &initial_items {
            if tx.send(enc.event("ADDED", item)).await.is_err() {
                return;
            }
        }
        if params.send_initial_events
            && params.allow_bookmarks
            && tx.send(enc.bookmark(after, true)).await.is_err()
        {
            return;
        }
        let mut w = match watch {
            Ok(w) => w,
            Err(e) => {
                let _ = tx
                    .send(enc.event("ERROR", &watch_error(e, after).to_json()))
                    .await;
                return;
            }
        };
        let deadline = tokio::time::sleep(params.timeout);
        tokio::pin!(deadline);
        // Every event up to this revision has been handled (sent, or
        // filtered out by the selectors): the only safe bookmark revision.
        let mut handled = after;
        loop {
            let ev = tokio::select! {
                _ = &mut deadline => return,
                _ = tx.closed() => return,
                ev = w.recv() => ev,
            };
            let ev = match ev {
                Some(Ok(ev)) => ev,
                Some(Err(e)) => {
                    let _ = tx
                        .send(enc.event("ERROR", &watch_error(e, after).to_json()))
                        .await;
                    return;
                }
                None => return,
            };
            // etcd 3.4's progress revision may run ahead of events not yet
            // delivered to a catching-up watcher, so a progress tick only
            // re-announces what this watch has handled itself.
            if let WatchEvent::Progress { .. } = ev {
                if !params.allow_bookmarks {
                    continue;
                }
                if tx.send(enc.bookmark(handled, false)).await.is_err() {
                    return;
                }
                continue;
            }
            handled = handled.max(ev.revision());
            let out = match translate(&registry, r, &sel, ev) {
                Some((ty, obj)) => enc.event(ty, &obj),
                None => continue,
            };
            if tx.send(out).await.is_err() {
                debug!("watch client went away");
                return;
            }
        }
    };
    tokio::spawn(task);

    let stream = ReceiverStream::new(rx).map(|b| Ok::<_, std::convert::Infallible>(Frame::data(b)));
    let body: Body = StreamBody::new(stream).boxed_unsync();
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut().insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    Ok(resp)
}

fn watch_error(e: StorageError, after: i64) -> StatusError {
    match e {
        StorageError::Compacted { compacted, .. } => {
            StatusError::expired(format!("too old resource version: {after} ({compacted})"))
        }
        other => StatusError::internal(other),
    }
}

/// Turns a store event into a watch event type and object, applying selectors.
fn translate(
    registry: &Registry,
    r: &ResourceInfo,
    sel: &Selectors,
    ev: WatchEvent,
) -> Option<(&'static str, Value)> {
    match ev {
        WatchEvent::Progress { .. } => None,
        WatchEvent::Put { kv, prev } => {
            let new = registry.decode(r, &kv).ok()?;
            let new_match = sel.matches(r, &new);
            let old_match = prev
                .as_ref()
                .and_then(|p| registry.decode(r, p).ok())
                .map(|o| sel.matches(r, &o));
            match (old_match, new_match) {
                (None, true) | (Some(false), true) => Some(("ADDED", new)),
                (Some(true), true) => Some(("MODIFIED", new)),
                (Some(true), false) => Some(("DELETED", new)),
                _ => None,
            }
        }
        WatchEvent::Delete { prev, revision } => {
            let mut old = registry.decode(r, &prev).ok()?;
            if !sel.matches(r, &old) {
                return None;
            }
            meta::set_meta(&mut old, "resourceVersion", json!(revision.to_string()));
            Some(("DELETED", old))
        }
    }
}
