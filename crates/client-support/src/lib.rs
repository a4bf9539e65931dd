//! Client-side building blocks kube-rs does not provide, shared by the
//! controller manager and the scheduler.
//!
//! Start with [`WorkQueue`]: controllers push object keys into it from
//! informer callbacks and workers pull them out one at a time; a key is never
//! handed to two workers at once, and failures are retried with per-key
//! exponential back-off under an overall token bucket (client-go's default
//! controller rate limiter). [`Informer`] keeps a kube-rs reflector store and
//! calls a handler with the previous version of each changed object.
//! [`LeaderElector`] holds a `coordination.k8s.io/v1` Lease the way
//! client-go's `leaderelection` package does. [`client::build`] makes the
//! components' kube-rs client.

pub mod client;
pub mod informer;
pub mod leader_election;
pub mod selectors;
pub mod workqueue;

pub use informer::{Informer, InformerEvent};
pub use leader_election::{LeaderElectionConfig, LeaderElectionError, LeaderElector};
pub use workqueue::{RateLimiter, WorkQueue};
