//! The cluster DNS server, deployed the way CoreDNS is: it watches Services
//! and EndpointSlices and answers for the cluster zone (`cluster.local`) as
//! the Kubernetes DNS-Based Service Discovery specification (1.1.0) says,
//! forwarding every other name to the host's resolvers.
//!
//! Start with [`Index`]: the records, derived from API objects and updated
//! one object at a time; it needs no apiserver and no sockets. [`Handler`]
//! turns questions into answers from it; [`start`] and [`run`] assemble the
//! UDP/TCP listeners, the watchers, the HTTP ports (`/health`, `/ready`,
//! `/metrics`) and, optionally, self-registration as the `kube-dns`
//! Service. [`start_with_index`] serves a hand-fed index (tests, embedding).
//! [`loadgen::run_load`] measures a running server.

pub mod error;
pub mod forward;
pub mod handler;
pub mod http;
pub mod index;
pub mod loadgen;
pub mod metrics;
pub mod names;
pub mod register;
pub mod server;
pub mod watch;

pub use error::{Error, ForwardError};
pub use handler::{Handler, SharedIndex};
pub use index::{Answer, Index, Lookup, RecordData};
pub use register::Registration;
pub use server::{run, start, start_with_index, Config, Running, Upstreams};
pub use watch::Readiness;
