//! The HTTP side: one kube-rs client per invocation, raw requests with the
//! Accept headers kubectl sends, and `Status` bodies turned into errors.

use std::time::Duration;

use http::{Method, Request};
use http_body_util::BodyExt;
use kube::client::Body;
use serde_json::Value;

use crate::error::Error;
use crate::kubeconfig::Selected;

/// Accept header kubectl sends for human-readable output.
pub const TABLE_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

/// A connection to the apiserver of the selected context.
#[derive(Clone)]
pub struct Client {
    inner: kube::Client,
    server: String,
    /// The namespace in effect (`-n`, the context's, or `default`).
    pub namespace: String,
}

impl Client {
    /// Builds the client; TLS material is read here, once.
    pub async fn new(sel: &Selected, timeout: Option<Duration>) -> Result<Client, Error> {
        let kc: kube::config::Kubeconfig = serde_json::from_value(sel.kube_config.clone())
            .map_err(|e| Error::msg(format!("invalid configuration: {e}")))?;
        let mut cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .map_err(|e| Error::msg(format!("invalid configuration: {e}")))?;
        cfg.read_timeout = timeout;
        cfg.write_timeout = timeout;
        if timeout.is_some() {
            cfg.connect_timeout = timeout;
        }
        let inner = kube::Client::try_from(cfg)
            .map_err(|e| Error::msg(format!("invalid configuration: {e}")))?;
        Ok(Client {
            inner,
            server: sel.server.clone(),
            namespace: sel.namespace.clone(),
        })
    }

    /// The server URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The kube-rs client underneath, for streams this type does not wrap
    /// (WebSocket upgrades, raw log bodies).
    pub fn kube(&self) -> &kube::Client {
        &self.inner
    }

    /// Sends a request and returns the decoded JSON body of a success.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        accept: Option<&str>,
        content_type: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Result<Value, Error> {
        let (status, bytes) = self.raw(method, path, accept, content_type, body).await?;
        if status >= 400 {
            return Err(status_error(status, &bytes));
        }
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::msg(format!("decoding response from {path}: {e}")))
    }

    /// GET `path` as JSON.
    pub async fn get(&self, path: &str) -> Result<Value, Error> {
        self.call(Method::GET, path, Some("application/json"), None, None)
            .await
    }

    /// The status code and body of a request.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        accept: Option<&str>,
        content_type: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Result<(u16, Vec<u8>), Error> {
        let res = self.send(method, path, accept, content_type, body).await?;
        let status = res.status().as_u16();
        let bytes = res
            .into_body()
            .collect()
            .await
            .map_err(|e| self.transport(e))?
            .to_bytes()
            .to_vec();
        Ok((status, bytes))
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        accept: Option<&str>,
        content_type: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Result<http::Response<Body>, Error> {
        tracing::debug!(%method, path, "request");
        let mut req = Request::builder().method(method).uri(path);
        if let Some(a) = accept {
            req = req.header(http::header::ACCEPT, a);
        }
        if let Some(c) = content_type {
            req = req.header(http::header::CONTENT_TYPE, c);
        }
        let req = req
            .body(Body::from(body.unwrap_or_default()))
            .map_err(|e| Error::msg(format!("building request for {path}: {e}")))?;
        self.inner.send(req).await.map_err(|e| self.transport(e))
    }

    fn transport(&self, e: kube::Error) -> Error {
        Error::Transport {
            server: self.server.clone(),
            source: e,
        }
    }

    /// Opens a watch and calls `f` with each event as it arrives; returns
    /// when the server ends the stream or `f` says stop.
    pub async fn watch(
        &self,
        path: &str,
        accept: &str,
        mut f: impl FnMut(Value) -> Result<bool, Error>,
    ) -> Result<(), Error> {
        let res = self
            .send(Method::GET, path, Some(accept), None, None)
            .await?;
        let status = res.status().as_u16();
        let mut body = res.into_body();
        if status >= 400 {
            let bytes = body
                .collect()
                .await
                .map_err(|e| self.transport(e))?
                .to_bytes();
            return Err(status_error(status, &bytes));
        }
        let mut buf: Vec<u8> = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| self.transport(e))?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            buf.extend_from_slice(&data);
            while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=nl).collect();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let ev: Value = serde_json::from_slice(&line)
                    .map_err(|e| Error::msg(format!("decoding watch event: {e}")))?;
                if !f(ev)? {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

/// The error for a non-2xx answer: its `Status`, or one made up as
/// client-go does for bodies that are not a Status.
pub fn status_error(code: u16, body: &[u8]) -> Error {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        if v["kind"] == "Status" {
            return Error::Api(Box::new(v));
        }
    }
    let (reason, message) = match code {
        400 => ("BadRequest", "the server rejected our request for an unknown reason"),
        401 => ("Unauthorized", "the server has asked for the client to provide credentials"),
        403 => ("Forbidden", "the server does not allow access to the requested resource"),
        404 => ("NotFound", "the server could not find the requested resource"),
        405 => ("MethodNotAllowed", "the server does not allow this method on the requested resource"),
        409 => ("Conflict", "the server reported a conflict"),
        415 => ("UnsupportedMediaType", "the server responded with the status code 415 but did not return more information"),
        422 => ("Invalid", "the server rejected our request due to an error in our request"),
        429 => ("TooManyRequests", "the server has received too many requests and has asked us to try again later"),
        500 => ("InternalError", "an error on the server has prevented the request from succeeding"),
        503 => ("ServiceUnavailable", "the server is currently unable to handle the request"),
        504 => ("Timeout", "the server was unable to return a response in the time allotted, but may still be processing the request"),
        _ => ("", "an error on the server has prevented the request from succeeding"),
    };
    Error::Api(Box::new(serde_json::json!({
        "kind": "Status", "code": code, "reason": reason, "message": message
    })))
}

/// Everything but RFC 3986's unreserved characters.
const ESCAPE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a path segment or query value.
pub fn q(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, ESCAPE).to_string()
}
