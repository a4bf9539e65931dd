//! Best-effort core/v1 Events, as upstream's event recorder writes them:
//! named `<object>.<unique suffix>`, in the object's namespace (`default`
//! for cluster-scoped objects). A failed write is only logged: events are
//! advisory and must never fail a sync.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::PostParams;
use kube::{Api, Resource, ResourceExt};

use crate::Context;

/// `Normal` or `Warning`.
#[derive(Clone, Copy, Debug)]
pub enum EventType {
    /// Something expected happened.
    Normal,
    /// Something needs attention.
    Warning,
}

/// Records an event about `obj` from `component`.
pub async fn record<K: Resource<DynamicType = ()>>(
    ctx: &Context,
    component: &str,
    obj: &K,
    kind: EventType,
    reason: &str,
    message: &str,
) {
    let ns = obj.namespace().unwrap_or_else(|| "default".into());
    let now = crate::util::now();
    let nanos = k8s_openapi::jiff::Timestamp::now().as_nanosecond();
    let ev = Event {
        metadata: ObjectMeta {
            name: Some(format!("{}.{:x}", obj.name_any(), nanos)),
            namespace: Some(ns.clone()),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            api_version: Some(K::api_version(&()).to_string()),
            kind: Some(K::kind(&()).to_string()),
            name: obj.meta().name.clone(),
            namespace: obj.namespace(),
            uid: obj.meta().uid.clone(),
            resource_version: obj.meta().resource_version.clone(),
            field_path: None,
        },
        reason: Some(reason.to_string()),
        message: Some(message.to_string()),
        type_: Some(
            match kind {
                EventType::Normal => "Normal",
                EventType::Warning => "Warning",
            }
            .to_string(),
        ),
        source: Some(EventSource {
            component: Some(component.to_string()),
            host: None,
        }),
        reporting_component: Some(component.to_string()),
        first_timestamp: Some(now.clone()),
        last_timestamp: Some(now),
        count: Some(1),
        ..Event::default()
    };
    let api: Api<Event> = Api::namespaced(ctx.client.clone(), &ns);
    if let Err(e) = api.create(&PostParams::default(), &ev).await {
        tracing::debug!(reason, object = %obj.name_any(), error = %e, "recording event failed");
    }
}
