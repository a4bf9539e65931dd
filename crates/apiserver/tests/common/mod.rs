//! An apiserver over a real etcd, and a small HTTPS client for tests.
#![allow(dead_code)]

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use serde_json::Value;

pub struct TestServer {
    pub etcd: etcd_harness::Etcd,
    pub running: apiserver::server::Running,
    pub prefix: String,
    tls: Arc<rustls::ClientConfig>,
    _dir: TempDir,
}

pub struct TempDir(pub std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(f: impl FnOnce(&mut apiserver::Config)) -> TestServer {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
            .with_test_writer()
            .try_init();
        let etcd = etcd_harness::Etcd::start().expect("etcd");
        let prefix = etcd.unique_prefix();
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("apiserver-test-{}-{n}", std::process::id()));
        let mut cfg = apiserver::Config::for_test(etcd.endpoint(), &prefix, dir.join("certs"));
        f(&mut cfg);
        let running = apiserver::server::start(cfg)
            .await
            .expect("start apiserver");
        let ca = std::fs::read(&running.ca_file).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pemfile::certs(&mut ca.as_slice()) {
            roots.add(c.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        // Wait until the OpenAPI documents (used for strict validation) exist.
        for _ in 0..600 {
            if running.state.openapi.get().is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        TestServer {
            etcd,
            running,
            prefix,
            tls: Arc::new(tls),
            _dir: TempDir(dir),
        }
    }

    /// Sends one request and returns the raw response (for streaming).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        accept: Option<&str>,
        body: Vec<u8>,
    ) -> http::Response<Incoming> {
        let tcp = tokio::net::TcpStream::connect(self.running.addr)
            .await
            .unwrap();
        let conn = tokio_rustls::TlsConnector::from(self.tls.clone());
        let tls = conn
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap();
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .unwrap();
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost");
        if let Some(ct) = content_type {
            b = b.header("content-type", ct);
        }
        if let Some(a) = accept {
            b = b.header("accept", a);
        }
        let req = b.body(Full::new(Bytes::from(body))).unwrap();
        sender.send_request(req).await.unwrap()
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        accept: Option<&str>,
        body: Vec<u8>,
    ) -> Reply {
        let resp = self.send(method, path, content_type, accept, body).await;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request(Method::GET, path, None, None, Vec::new())
            .await
    }

    pub async fn post(&self, path: &str, v: &Value) -> Reply {
        self.request(
            Method::POST,
            path,
            Some("application/json"),
            None,
            serde_json::to_vec(v).unwrap(),
        )
        .await
    }

    pub async fn put(&self, path: &str, v: &Value) -> Reply {
        self.request(
            Method::PUT,
            path,
            Some("application/json"),
            None,
            serde_json::to_vec(v).unwrap(),
        )
        .await
    }

    pub async fn patch(&self, path: &str, ty: &str, v: &Value) -> Reply {
        self.request(
            Method::PATCH,
            path,
            Some(ty),
            None,
            serde_json::to_vec(v).unwrap(),
        )
        .await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.request(Method::DELETE, path, None, None, Vec::new())
            .await
    }

    /// Raw etcd value under this server's prefix.
    pub async fn etcd_get(&self, key: &str) -> Option<Value> {
        let s = storage::EtcdStore::connect(&[self.etcd.endpoint().to_string()])
            .await
            .unwrap();
        use storage::Store;
        s.get(&format!("{}{}", self.prefix, key))
            .await
            .unwrap()
            .map(|kv| serde_json::from_slice(&kv.value).unwrap())
    }
}

/// Reads watch events (one JSON per line) until `n` arrive or 10 s pass.
pub async fn read_events(resp: http::Response<Incoming>, n: usize) -> Vec<Value> {
    let mut body = resp.into_body();
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while out.len() < n {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(Some(Ok(f))) => f,
            _ => break,
        };
        if let Some(d) = frame.data_ref() {
            buf.extend_from_slice(d);
            while let Some(i) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=i).collect();
                out.push(serde_json::from_slice(&line).unwrap());
            }
        }
    }
    out
}
