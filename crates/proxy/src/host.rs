//! What the proxy reads from and sets on the host: sysctls, the node's
//! addresses (for `--nodeport-addresses`), the host name.

use std::net::Ipv4Addr;
use std::path::Path;

use crate::cidr::Cidr;
use crate::error::Error;

/// Sets a sysctl (given as its /proc/sys path) to `value` unless it already is.
pub fn ensure_sysctl(path: &str, value: &str) -> Result<(), Error> {
    let p = Path::new("/proc/sys").join(path);
    let err = |source| Error::Sysctl {
        path: p.clone(),
        source,
    };
    let cur = std::fs::read_to_string(&p).map_err(err)?;
    if cur.trim() != value {
        tracing::info!(
            sysctl = path,
            value,
            previous = cur.trim(),
            "setting sysctl"
        );
        std::fs::write(&p, value).map_err(err)?;
    }
    Ok(())
}

/// The host name, as upstream's default for the node name (lower-cased).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_lowercase())
        .unwrap_or_else(|_| "localhost".into())
}

async fn ip_json(args: &[&str]) -> Result<serde_json::Value, Error> {
    let fail = |message: String| Error::Command {
        program: "ip".into(),
        args: args.join(" "),
        message,
    };
    let out = tokio::process::Command::new("ip")
        .args(args)
        .output()
        .await
        .map_err(|e| fail(e.to_string()))?;
    if !out.status.success() {
        return Err(fail(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| fail(e.to_string()))
}

/// Every IPv4 address on the node's interfaces (`ip -j -4 addr`).
pub async fn local_addresses() -> Result<Vec<Ipv4Addr>, Error> {
    let v = ip_json(&["-j", "-4", "addr", "show"]).await?;
    Ok(v.as_array()
        .into_iter()
        .flatten()
        .flat_map(|link| link["addr_info"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a["local"].as_str()?.parse().ok())
        .collect())
}

/// The address the node uses for its default route (`primary`).
pub async fn primary_address() -> Option<Ipv4Addr> {
    let v = ip_json(&["-j", "-4", "route", "get", "1.1.1.1"])
        .await
        .ok()?;
    v.get(0)?.get("prefsrc")?.as_str()?.parse().ok()
}

/// `--nodeport-addresses`: CIDRs and the word `primary`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodePortAddresses {
    /// Addresses of the node inside any of these count.
    pub cidrs: Vec<Cidr>,
    /// The node's primary address counts.
    pub primary: bool,
}

impl NodePortAddresses {
    /// Parses the flag's comma-separated values.
    pub fn parse(values: &[String]) -> Result<Self, Error> {
        let mut out = NodePortAddresses::default();
        for v in values.iter().flat_map(|v| v.split(',')) {
            let v = v.trim();
            if v.is_empty() {
                continue;
            }
            if v == "primary" {
                out.primary = true;
            } else {
                out.cidrs
                    .push(v.parse().map_err(|e: crate::cidr::CidrParseError| {
                        Error::Config(format!("--nodeport-addresses: {e}"))
                    })?);
            }
        }
        Ok(out)
    }

    /// Whether the flag was empty: NodePorts then answer on every local
    /// address, 127.0.0.1 included.
    pub fn is_all(&self) -> bool {
        self.cidrs.is_empty() && !self.primary
    }

    /// Whether NodePorts answer on localhost (needs `route_localnet`).
    pub fn includes_localhost(&self) -> bool {
        self.is_all() || self.cidrs.iter().any(|c| c.contains(Ipv4Addr::LOCALHOST))
    }

    /// The addresses to put in the ruleset; `None` for every local one.
    pub async fn resolve(&self) -> Result<Option<Vec<Ipv4Addr>>, Error> {
        if self.is_all() {
            return Ok(None);
        }
        let mut ips: Vec<Ipv4Addr> = local_addresses()
            .await?
            .into_iter()
            .filter(|ip| self.cidrs.iter().any(|c| c.contains(*ip)))
            .collect();
        if self.primary {
            ips.extend(primary_address().await);
        }
        ips.sort();
        ips.dedup();
        Ok(Some(ips))
    }
}

/// The sysctls the proxy needs, set if not set.
pub fn ensure_sysctls(nodeport_on_localhost: bool) -> Result<(), Error> {
    ensure_sysctl("net/ipv4/ip_forward", "1")?;
    if nodeport_on_localhost {
        ensure_sysctl("net/ipv4/conf/all/route_localnet", "1")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodeport_addresses_flag() {
        let n = NodePortAddresses::parse(&["127.0.0.0/8,primary".into()]).unwrap();
        assert!(n.primary && n.includes_localhost() && !n.is_all());
        let all = NodePortAddresses::parse(&[]).unwrap();
        assert!(all.is_all() && all.includes_localhost());
        assert!(NodePortAddresses::parse(&["bogus".into()]).is_err());
    }
}
