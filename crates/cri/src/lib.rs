//! A client for the Kubernetes Container Runtime Interface (`runtime.v1`),
//! as containerd 1.6 serves it on a unix socket.
//!
//! Start with [`CriRuntime::connect`]: it dials the runtime's socket and
//! implements [`Runtime`], the trait the kubelet programs against (a fake
//! runtime for hollow nodes implements the same trait). The generated
//! messages and raw gRPC clients are in [`api`]; [`connect`] returns the
//! bare [`tonic::transport::Channel`] for callers who want those directly.
//!
//! With the `testing` feature, [`testing::Containerd`] starts a throw-away
//! containerd (own root, state, socket, CNI bridge) for integration tests.

pub mod cleanup;
mod connect;
mod error;
mod runtime;
#[cfg(feature = "testing")]
pub mod testing;

/// The CRI `runtime.v1` messages and gRPC clients, generated from
/// `proto/runtime/v1/api.proto`.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod api {
    tonic::include_proto!("runtime.v1");
}

pub use api::image_service_client::ImageServiceClient;
pub use api::runtime_service_client::RuntimeServiceClient;
pub use connect::{connect, parse_endpoint, DEFAULT_MAX_MESSAGE_SIZE};
pub use error::{Error, Result};
pub use runtime::{CriRuntime, Runtime, DEFAULT_REQUEST_TIMEOUT};
