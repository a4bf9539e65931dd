//! etcd's own request counters (its Prometheus `/metrics`), so a phase can
//! say how many etcd RPCs one apiserver operation costs.

use std::collections::BTreeMap;

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The KV methods worth reporting; watches and leases are streams.
const METHODS: &[&str] = &["Range", "Txn", "Put", "DeleteRange"];

/// Started unary KV RPCs by method, read from `http://<host:port>/metrics`.
pub async fn kv_rpcs(host_port: &str) -> anyhow::Result<BTreeMap<String, f64>> {
    let mut s = tokio::net::TcpStream::connect(host_port).await?;
    s.write_all(format!("GET /metrics HTTP/1.0\r\nHost: {host_port}\r\n\r\n").as_bytes())
        .await?;
    let mut text = String::new();
    s.read_to_string(&mut text).await?;
    let body = text.split_once("\r\n\r\n").context("no HTTP body")?.1;
    Ok(parse(body))
}

fn parse(body: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in body
        .lines()
        .filter(|l| l.starts_with("grpc_server_started_total{"))
    {
        let Some((labels, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Some(method) = label(labels, "grpc_method") else {
            continue;
        };
        if !METHODS.contains(&method) {
            continue;
        }
        if let Ok(v) = value.parse::<f64>() {
            *out.entry(method.to_string()).or_insert(0.0) += v;
        }
    }
    out
}

fn label<'a>(labels: &'a str, name: &str) -> Option<&'a str> {
    let start = labels.find(&format!("{name}=\""))? + name.len() + 2;
    let len = labels[start..].find('"')?;
    Some(&labels[start..start + len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_started_rpcs_by_method() {
        let body = "# HELP x\n\
            grpc_server_started_total{grpc_method=\"Range\",grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"} 12\n\
            grpc_server_started_total{grpc_method=\"Txn\",grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"} 3\n\
            grpc_server_started_total{grpc_method=\"Watch\",grpc_service=\"etcdserverpb.Watch\",grpc_type=\"bidi_stream\"} 2\n\
            grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Range\"} 12\n";
        let m = parse(body);
        assert_eq!(m.get("Range"), Some(&12.0));
        assert_eq!(m.get("Txn"), Some(&3.0));
        assert!(!m.contains_key("Watch"));
    }
}
