//! Errors of the DNS server.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A listener could not be bound.
    #[error("cannot bind {what} on {addr}")]
    Bind {
        /// Which listener (`dns udp`, `health`, ...).
        what: &'static str,
        /// The address asked for.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The resolv.conf naming the upstreams could not be read.
    #[error("cannot read resolv.conf {path}")]
    ResolvConf {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A call to the apiserver failed.
    #[error("{context}")]
    Kube {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: kube::Error,
    },
    /// The DNS server stopped with an error.
    #[error("dns server failed")]
    Server(#[source] hickory_proto::ProtoError),
    /// A flag value is unusable.
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// Why a forwarded query got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// No upstream is configured (or all were this server).
    #[error("no upstream nameserver")]
    NoUpstream,
    /// The upstream did not answer in time.
    #[error("upstream timed out")]
    Timeout,
    /// Sending or receiving failed.
    #[error("upstream exchange failed")]
    Io(#[source] std::io::Error),
    /// The question could not be encoded.
    #[error("cannot encode the forwarded query")]
    Encode(#[source] hickory_proto::ProtoError),
    /// The answer could not be decoded.
    #[error("cannot decode the upstream answer")]
    Decode(#[source] hickory_proto::ProtoError),
    /// The answer was for another question.
    #[error("upstream answer does not match the question")]
    Mismatch,
    /// The question does not fit a TCP frame.
    #[error("query too large")]
    TooLarge,
}
