//! The crate's one error type.

use std::path::PathBuf;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong talking to a container runtime.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The `--container-runtime-endpoint` value is not a unix socket.
    #[error("unsupported container runtime endpoint {endpoint:?}: only unix sockets (unix:///path) are supported")]
    UnsupportedEndpoint {
        /// The endpoint as given.
        endpoint: String,
    },

    /// The runtime's socket could not be dialled or the HTTP/2 handshake failed.
    #[error("connecting to container runtime at {}", path.display())]
    Connect {
        /// The socket path.
        path: PathBuf,
        /// What the transport reported.
        #[source]
        source: tonic::transport::Error,
    },

    /// The runtime answered a call with a gRPC error status.
    #[error("CRI {method} failed: {}", status.message())]
    Rpc {
        /// The CRI method, such as `RunPodSandbox`.
        method: &'static str,
        /// The runtime's status (code and message).
        #[source]
        status: tonic::Status,
    },

    /// The runtime did not answer within the request timeout.
    #[error("CRI {method} timed out after {timeout:?}")]
    Timeout {
        /// The CRI method.
        method: &'static str,
        /// The limit that passed.
        timeout: std::time::Duration,
    },

    /// A response lacked a field the protocol requires.
    #[error("CRI {method} response has no {field}")]
    MissingField {
        /// The CRI method.
        method: &'static str,
        /// The missing field.
        field: &'static str,
    },
}

impl Error {
    /// The gRPC status code, when the runtime answered with an error.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            Error::Rpc { status, .. } => Some(status.code()),
            _ => None,
        }
    }

    /// Whether the runtime said the object does not exist; removing
    /// something already gone is then a success for an idempotent caller.
    pub fn is_not_found(&self) -> bool {
        self.code() == Some(tonic::Code::NotFound)
    }

    /// Whether the call is worth retrying as is: the runtime was
    /// unreachable, slow, or said so.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Connect { .. } | Error::Timeout { .. } => true,
            Error::Rpc { status, .. } => matches!(
                status.code(),
                tonic::Code::Unavailable
                    | tonic::Code::DeadlineExceeded
                    | tonic::Code::ResourceExhausted
            ),
            _ => false,
        }
    }
}
