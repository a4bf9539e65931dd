//! The Kubernetes API server as a library.
//!
//! Start at [`run`]: it connects to etcd, prepares the serving certificate and
//! serves HTTPS. Every request passes the same chain as upstream's:
//! TLS -> in-flight limits -> [`auth::Authenticator`] -> [`auth::Authorizer`]
//! -> [`registry`] (which calls [`admission`] before it writes) -> [`storage`].
//! Each stage is a trait object in [`server::Chain`], so RBAC, Node
//! authorization or more admission plugins slot in without touching the rest.

pub mod admission;
pub mod allocator;
pub mod auth;
pub mod cache;
pub mod config;
pub mod conversion;
pub mod discovery;
pub mod http_util;
pub mod metrics;
pub mod openapi;
pub mod proxy;
pub mod registry;
pub mod request;
pub mod reviews;
pub mod server;
pub mod table;
pub mod tls;
pub mod watch;

pub use config::Config;
pub use server::run;

/// Errors that stop the server from starting or serving.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A flag value is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Certificates could not be loaded or generated.
    #[error("tls: {0}")]
    Tls(String),
    /// etcd could not be reached.
    #[error("storage: {0}")]
    Storage(#[from] storage::StorageError),
    /// The listener failed.
    #[error("listen on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    /// The token file could not be read.
    #[error("token auth file {path}: {reason}")]
    TokenFile { path: String, reason: String },
}
