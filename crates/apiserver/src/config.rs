//! Server configuration, one field per upstream flag.

use std::net::IpAddr;
use std::path::PathBuf;

use crate::allocator::{Cidr, PortRange};
use crate::ServerError;

/// What `kube-apiserver` was started with.
#[derive(Debug, Clone)]
pub struct Config {
    pub etcd_servers: Vec<String>,
    pub etcd_prefix: String,
    pub bind_address: IpAddr,
    pub secure_port: u16,
    /// Address advertised in the `kubernetes` Endpoints and discovery.
    pub advertise_address: Option<IpAddr>,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_private_key_file: Option<PathBuf>,
    pub cert_dir: PathBuf,
    pub token_auth_file: Option<PathBuf>,
    pub authorization_mode: Vec<String>,
    pub service_cluster_ip_range: Cidr,
    pub service_node_port_range: PortRange,
    pub max_requests_inflight: usize,
    pub max_mutating_requests_inflight: usize,
    /// Upstream's `--min-request-timeout`: watches last between this and
    /// twice this when the client gives no timeout.
    pub min_request_timeout: u64,
    /// How long Events are kept (`--event-ttl`, default 1h).
    pub event_ttl: std::time::Duration,
}

impl Config {
    /// A configuration for tests: loopback, an ephemeral port, generated certs.
    pub fn for_test(etcd: &str, prefix: &str, cert_dir: PathBuf) -> Config {
        Config {
            etcd_servers: vec![etcd.to_string()],
            etcd_prefix: prefix.to_string(),
            bind_address: "127.0.0.1".parse().expect("ip"),
            secure_port: 0,
            advertise_address: None,
            tls_cert_file: None,
            tls_private_key_file: None,
            cert_dir,
            token_auth_file: None,
            authorization_mode: vec!["AlwaysAllow".into()],
            service_cluster_ip_range: "10.0.0.0/24".parse().expect("cidr"),
            service_node_port_range: "30000-32767".parse().expect("range"),
            max_requests_inflight: 400,
            max_mutating_requests_inflight: 200,
            min_request_timeout: 1800,
            event_ttl: std::time::Duration::from_secs(3600),
        }
    }

    pub fn validate(&self) -> Result<(), ServerError> {
        if self.etcd_servers.is_empty() {
            return Err(ServerError::Config(
                "--etcd-servers must be specified".into(),
            ));
        }
        for m in &self.authorization_mode {
            if m != "AlwaysAllow" {
                return Err(ServerError::Config(format!(
                    "authorization mode {m:?} is not supported yet (supported: AlwaysAllow)"
                )));
            }
        }
        if !self.etcd_prefix.starts_with('/') {
            return Err(ServerError::Config(
                "--etcd-prefix must start with /".into(),
            ));
        }
        Ok(())
    }
}

/// Parses a Go duration such as `1h0m0s` (see [`apimachinery::duration`]).
pub fn parse_go_duration(s: &str) -> Result<std::time::Duration, String> {
    apimachinery::duration::parse_go_duration(s).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1h0m0s").unwrap().as_secs(), 3600);
        assert_eq!(parse_go_duration("90s").unwrap().as_secs(), 90);
        assert_eq!(parse_go_duration("1.5h").unwrap().as_secs(), 5400);
        assert_eq!(parse_go_duration("0").unwrap().as_secs(), 0);
        assert!(parse_go_duration("10").is_err());
        assert!(parse_go_duration("5x").is_err());
    }
}
