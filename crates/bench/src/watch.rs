//! Watch delivery: one watch is open while `m` objects are created; we time
//! each ADDED event against its create's response. The delay is how stale an
//! informer is right after a write; events/s is what one watcher receives.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use http::Method;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::api::NS_WATCH;
use crate::client::ApiClient;
use crate::load::{fixed_count, ms, percentile};
use crate::object;
use crate::probe::{Probe, Usage};

#[derive(Debug, Clone, Serialize)]
pub struct WatchResult {
    pub expected: u64,
    pub events: u64,
    /// From the first create sent to the last event received.
    pub seconds: f64,
    pub events_per_sec: f64,
    /// Event arrival minus create response; negative when the event won.
    pub delay_p50_ms: f64,
    pub delay_p99_ms: f64,
    pub delay_max_ms: f64,
    pub create_errors: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    pub usage: Usage,
}

#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    object: EventObject,
}

#[derive(Deserialize, Default)]
struct EventObject {
    #[serde(default)]
    metadata: Meta,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize, Default)]
struct Meta {
    name: Option<String>,
}

/// Watches `NS_WATCH` from its current revision and creates `m` objects
/// there with `concurrency` workers, giving up after `limit`.
pub async fn run(
    client: &Arc<ApiClient>,
    m: u64,
    concurrency: usize,
    size: usize,
    op_timeout: Duration,
    limit: Duration,
    probe: &Probe,
) -> anyhow::Result<WatchResult> {
    eprintln!("bench: watch delivery of {m} creates ({concurrency} workers)");
    let path = format!("/api/v1/namespaces/{NS_WATCH}/configmaps");
    let (_, body) = client.call(Method::GET, &path, None).await?;
    let list: serde_json::Value = serde_json::from_slice(&body).context("list response")?;
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .context("list has no resourceVersion")?;
    let url = format!(
        "{path}?watch=1&resourceVersion={rv}&timeoutSeconds={}",
        limit.as_secs() + 5
    );
    let resp = client.send(Method::GET, &url, None).await?;
    if !resp.status().is_success() {
        bail!("watch {url}: {}", resp.status());
    }
    let deadline = Instant::now() + limit;
    let reader = tokio::spawn(read_events(resp.into_body(), m, deadline));

    let before = probe.snapshot().await;
    let start = Instant::now();
    let c = client.clone();
    let (created, create_errors, first_error) = fixed_count(m, concurrency, op_timeout, move |i| {
        let (c, path) = (c.clone(), path.clone());
        async move {
            let body = object::configmap(NS_WATCH, &object::name("w", i), size);
            c.call(Method::POST, &path, Some(body)).await?;
            Ok(())
        }
    })
    .await;
    let arrived = reader.await??;
    let after = probe.snapshot().await;

    let mut delays: Vec<f64> = created
        .iter()
        .zip(&arrived)
        .filter_map(|(c, a)| Some(signed_ms(*a.as_ref()?, *c.as_ref()?)))
        .collect();
    delays.sort_by(f64::total_cmp);
    let events = arrived.iter().flatten().count() as u64;
    let last = arrived.iter().flatten().max().copied().unwrap_or(start);
    let seconds = (last - start).as_secs_f64();
    Ok(WatchResult {
        expected: m,
        events,
        seconds,
        events_per_sec: if seconds > 0.0 {
            events as f64 / seconds
        } else {
            0.0
        },
        delay_p50_ms: percentile(&delays, 0.50),
        delay_p99_ms: percentile(&delays, 0.99),
        delay_max_ms: delays.last().copied().unwrap_or(0.0),
        create_errors,
        first_error,
        usage: probe.usage(&before, &after, events),
    })
}

/// `a - b` in milliseconds, negative when `a` came first.
fn signed_ms(a: Instant, b: Instant) -> f64 {
    if a >= b {
        ms(a - b)
    } else {
        -ms(b - a)
    }
}

/// Reads newline-delimited watch events until `m` objects were ADDED or the
/// deadline passes; returns each object's arrival time by index.
async fn read_events(
    mut body: Incoming,
    m: u64,
    deadline: Instant,
) -> anyhow::Result<Vec<Option<Instant>>> {
    let mut arrived = vec![None; m as usize];
    let mut seen = 0u64;
    let mut buf: Vec<u8> = Vec::new();
    while seen < m {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(Some(f)) => f?,
            Ok(None) | Err(_) => break,
        };
        let now = Instant::now();
        let Some(data) = frame.data_ref() else {
            continue;
        };
        buf.extend_from_slice(data);
        let mut start = 0;
        while let Some(nl) = buf[start..].iter().position(|b| *b == b'\n') {
            let ev: Event =
                serde_json::from_slice(&buf[start..start + nl]).context("watch event")?;
            start += nl + 1;
            match ev.kind.as_str() {
                "ADDED" => {}
                "ERROR" => bail!("watch error: {}", ev.object.message.unwrap_or_default()),
                _ => continue,
            }
            let index = ev
                .object
                .metadata
                .name
                .as_deref()
                .and_then(|n| n.strip_prefix("w-"))
                .and_then(|n| n.parse::<usize>().ok());
            if let Some(slot) = index.and_then(|i| arrived.get_mut(i)) {
                if slot.is_none() {
                    *slot = Some(now);
                    seen += 1;
                }
            }
        }
        buf.drain(..start);
    }
    Ok(arrived)
}
