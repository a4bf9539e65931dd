//! The kube-rs client of a control-plane component: from `--kubeconfig`
//! (or the environment), with a cap on requests in flight.
//!
//! kube-rs sends every request at once and does not retry a 429; the
//! apiserver refuses mutating requests beyond `--max-mutating-requests-inflight`
//! (200) with 429 and `Retry-After: 1`. A controller's 500-pod burst or the
//! scheduler's bindings after a backlog would otherwise bounce and come back
//! seconds later. client-go paces with QPS/burst instead, which is far slower.

use std::path::Path;

/// Half the apiserver's default mutating budget, leaving the rest to the
/// other components and users. Watches hold a slot only until their
/// response starts.
pub const DEFAULT_MAX_INFLIGHT: usize = 100;

/// The configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("loading the client configuration from {context}: {source}")]
pub struct ClientError {
    /// The kubeconfig path, or where the configuration was looked for.
    pub context: String,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// A client from `kubeconfig` (or `KUBECONFIG`/in-cluster when `None`)
/// sending at most `max_inflight` requests at a time.
pub async fn build(
    kubeconfig: Option<&Path>,
    max_inflight: usize,
) -> Result<kube::Client, ClientError> {
    let context = kubeconfig.map_or_else(
        || "the environment (KUBECONFIG or in-cluster)".to_string(),
        |p| p.display().to_string(),
    );
    let err = |e: Box<dyn std::error::Error + Send + Sync>| ClientError {
        context: context.clone(),
        source: e,
    };
    let config = match kubeconfig {
        Some(p) => {
            let kc = kube::config::Kubeconfig::read_from(p).map_err(|e| err(Box::new(e)))?;
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| err(Box::new(e)))?
        }
        None => kube::Config::infer().await.map_err(|e| err(Box::new(e)))?,
    };
    let builder = kube::client::ClientBuilder::try_from(config).map_err(|e| err(Box::new(e)))?;
    Ok(builder
        .with_layer(&tower::limit::ConcurrencyLimitLayer::new(
            max_inflight.max(1),
        ))
        .build())
}
