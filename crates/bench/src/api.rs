//! The apiserver request phases: create, get and list of ConfigMaps, each in
//! its own namespace so one phase's objects never change another's work.

use std::sync::{Arc, Mutex};

use anyhow::{bail, Context};
use http::Method;
use serde::Serialize;

use crate::client::ApiClient;
use crate::load::{closed_loop, fixed_count, remember, spread, Plan, Summary};
use crate::object;
use crate::probe::Probe;

/// Namespaces the phases use.
pub const NS_CRUD: &str = "bench";
pub const NS_LIST: &str = "bench-list";
pub const NS_WATCH: &str = "bench-watch";

/// Collection reads: `lists` counts requests; `objects_per_sec` is items served.
#[derive(Debug, Clone, Serialize)]
pub struct ListResult {
    pub items_per_list: usize,
    pub objects_per_sec: f64,
    pub bytes_per_list: usize,
    pub lists: Summary,
}

/// Creates `ns` (NamespaceLifecycle admission rejects objects in a missing one).
pub async fn create_namespace(client: &ApiClient, ns: &str) -> anyhow::Result<()> {
    let body = format!(r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{ns}"}}}}"#);
    client
        .call(Method::POST, "/api/v1/namespaces", Some(body.into()))
        .await?;
    Ok(())
}

fn create_path(ns: &str) -> String {
    format!("/api/v1/namespaces/{ns}/configmaps")
}

/// POSTs ConfigMaps for the plan's duration; returns the summary and up to
/// `read_keys` names that exist afterwards, for the get phase.
pub async fn creates(
    client: &Arc<ApiClient>,
    plan: Plan,
    size: usize,
    read_keys: usize,
    probe: &Probe,
) -> (Summary, Vec<String>) {
    eprintln!("bench: apiserver creates ({} workers)", plan.concurrency);
    let created: Arc<Mutex<Vec<u64>>> = Arc::default();
    let summary = {
        let (client, created) = (client.clone(), created.clone());
        closed_loop(plan, probe, move |i| {
            let (client, created) = (client.clone(), created.clone());
            async move {
                let body = object::configmap(NS_CRUD, &object::name("c", i), size);
                client
                    .call(Method::POST, &create_path(NS_CRUD), Some(body))
                    .await?;
                remember(&created, i, read_keys);
                Ok(())
            }
        })
        .await
    };
    let names = created
        .lock()
        .expect("lock")
        .iter()
        .map(|i| object::name("c", *i))
        .collect();
    (summary, names)
}

/// GETs single objects, scattered over `names`.
pub async fn gets(
    client: &Arc<ApiClient>,
    plan: Plan,
    names: Vec<String>,
    probe: &Probe,
) -> anyhow::Result<Summary> {
    if names.is_empty() {
        bail!("no apiserver creates succeeded, nothing to get");
    }
    eprintln!("bench: apiserver gets over {} objects", names.len());
    let paths: Arc<Vec<String>> = Arc::new(
        names
            .iter()
            .map(|n| format!("{}/{n}", create_path(NS_CRUD)))
            .collect(),
    );
    let client = client.clone();
    Ok(closed_loop(plan, probe, move |i| {
        let (client, paths) = (client.clone(), paths.clone());
        async move {
            client
                .call(Method::GET, &paths[spread(i, paths.len())], None)
                .await?;
            Ok(())
        }
    })
    .await)
}

/// Fills a namespace with `n` objects, then lists it repeatedly.
pub async fn lists(
    client: &Arc<ApiClient>,
    plan: Plan,
    n: usize,
    size: usize,
    probe: &Probe,
) -> anyhow::Result<ListResult> {
    eprintln!("bench: apiserver lists of {n} objects");
    let c = client.clone();
    let (_, errors, first) = fixed_count(n as u64, plan.concurrency, plan.op_timeout, move |i| {
        let c = c.clone();
        async move {
            let body = object::configmap(NS_LIST, &object::name("l", i), size);
            c.call(Method::POST, &create_path(NS_LIST), Some(body))
                .await?;
            Ok(())
        }
    })
    .await;
    if errors > 0 {
        bail!(
            "filling {NS_LIST}: {errors} creates failed: {}",
            first.unwrap_or_default()
        );
    }
    let path = create_path(NS_LIST);
    let (_, body) = client.call(Method::GET, &path, None).await?;
    let list: serde_json::Value = serde_json::from_slice(&body).context("list response")?;
    let items = list["items"].as_array().map_or(0, Vec::len);
    if items != n {
        bail!("listing {NS_LIST} returned {items} items, expected {n}");
    }
    let client = client.clone();
    let lists = closed_loop(plan, probe, move |_| {
        let (client, path) = (client.clone(), path.clone());
        async move {
            client.call(Method::GET, &path, None).await?;
            Ok(())
        }
    })
    .await;
    Ok(ListResult {
        items_per_list: n,
        objects_per_sec: lists.ops_per_sec * n as f64,
        bytes_per_list: body.len(),
        lists,
    })
}
