//! Dialling a runtime's unix socket.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::{Error, Result};

/// The largest message the clients accept or send, as the upstream kubelet
/// (16 MiB; a node's `ListContainers` outgrows tonic's 4 MiB default).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 16 * 1024 * 1024;

/// Turns a `--container-runtime-endpoint` value (`unix:///run/containerd/containerd.sock`,
/// `unix:/path` or a bare absolute path) into the socket's path.
pub fn parse_endpoint(endpoint: &str) -> Result<PathBuf> {
    let path = endpoint
        .strip_prefix("unix://")
        .or_else(|| endpoint.strip_prefix("unix:"))
        .unwrap_or(endpoint);
    if path.starts_with('/') {
        Ok(PathBuf::from(path))
    } else {
        Err(Error::UnsupportedEndpoint {
            endpoint: endpoint.to_owned(),
        })
    }
}

/// Dials the runtime listening on the unix socket `socket` and returns a
/// gRPC channel for [`crate::RuntimeServiceClient`] and
/// [`crate::ImageServiceClient`]. Fails at once when nothing listens there.
///
/// The channel reconnects by itself when the runtime restarts.
pub async fn connect(socket: impl AsRef<Path>) -> Result<Channel> {
    let path = socket.as_ref().to_path_buf();
    // The URI only names the HTTP/2 authority; the connector ignores it.
    let endpoint =
        Endpoint::from_static("http://localhost").connect_timeout(Duration::from_secs(5));
    let dial = path.clone();
    let connector = tower::service_fn(move |_: Uri| {
        let dial = dial.clone();
        async move { UnixStream::connect(dial).await.map(TokioIo::new) }
    });
    endpoint
        .connect_with_connector(connector)
        .await
        .map_err(|source| Error::Connect { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let want = PathBuf::from("/run/containerd/containerd.sock");
        assert_eq!(
            parse_endpoint("unix:///run/containerd/containerd.sock").unwrap(),
            want
        );
        assert_eq!(
            parse_endpoint("unix:/run/containerd/containerd.sock").unwrap(),
            want
        );
        assert_eq!(
            parse_endpoint("/run/containerd/containerd.sock").unwrap(),
            want
        );
        assert!(matches!(
            parse_endpoint("tcp://127.0.0.1:1234"),
            Err(Error::UnsupportedEndpoint { .. })
        ));
        assert!(parse_endpoint("relative.sock").is_err());
    }

    #[tokio::test]
    async fn connect_names_the_missing_socket() {
        let err = connect("/nonexistent/cri-test.sock").await.unwrap_err();
        assert!(matches!(err, Error::Connect { .. }), "{err:?}");
        assert!(
            err.to_string().contains("/nonexistent/cri-test.sock"),
            "{err}"
        );
    }
}
