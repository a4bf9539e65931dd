//! Stale UDP conntrack entries. UDP has no connection teardown, so a flow
//! DNAT-ed to an endpoint that is gone keeps going there (into a void)
//! until its entry expires; upstream deletes such entries after a sync.

use std::net::Ipv4Addr;

use crate::model::{usable, Model, Protocol};

/// One `conntrack -D` invocation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Flush {
    /// Flows to a service address (and port) DNAT-ed to a removed endpoint.
    ServiceEndpoint {
        /// Cluster IP, external IP or load-balancer IP.
        service_ip: Ipv4Addr,
        /// The service port.
        port: u16,
        /// The removed endpoint's address.
        endpoint_ip: Ipv4Addr,
    },
    /// Flows to a NodePort DNAT-ed to a removed endpoint.
    NodePortEndpoint {
        /// The node port.
        node_port: u16,
        /// The removed endpoint's address.
        endpoint_ip: Ipv4Addr,
    },
    /// Flows to a service address that had no endpoints (rejected or not
    /// DNAT-ed, cached in conntrack) now that it has some.
    ServiceIp {
        /// The service address.
        service_ip: Ipv4Addr,
        /// The service port.
        port: u16,
    },
}

impl Flush {
    /// The `conntrack` arguments.
    pub fn args(&self) -> Vec<String> {
        let mut a: Vec<String> = ["-D", "-p", "udp"].map(String::from).to_vec();
        match self {
            Flush::ServiceEndpoint {
                service_ip,
                port,
                endpoint_ip,
            } => a.extend([
                "--orig-dst".into(),
                service_ip.to_string(),
                "--orig-port-dst".into(),
                port.to_string(),
                "--dst-nat".into(),
                endpoint_ip.to_string(),
            ]),
            Flush::NodePortEndpoint {
                node_port,
                endpoint_ip,
            } => a.extend([
                "--orig-port-dst".into(),
                node_port.to_string(),
                "--dst-nat".into(),
                endpoint_ip.to_string(),
            ]),
            Flush::ServiceIp { service_ip, port } => a.extend([
                "--orig-dst".into(),
                service_ip.to_string(),
                "--orig-port-dst".into(),
                port.to_string(),
            ]),
        }
        a
    }
}

/// What to flush after going from `old` to `new` (pure).
pub fn stale_udp(old: &Model, new: &Model) -> Vec<Flush> {
    let mut out = Vec::new();
    let none = Vec::new();
    for (name, sp) in &old.services {
        if name.protocol != Protocol::Udp {
            continue;
        }
        let ips: Vec<Ipv4Addr> = sp
            .cluster_ip
            .iter()
            .chain(&sp.external_ips)
            .chain(&sp.load_balancer_ips)
            .copied()
            .collect();
        let old_eps = usable(old.endpoints.get(name).unwrap_or(&none).iter());
        let new_eps = usable(new.endpoints.get(name).unwrap_or(&none).iter());
        for ep in &old_eps {
            if new_eps.iter().any(|n| n.ip == ep.ip && n.port == ep.port) {
                continue;
            }
            for ip in &ips {
                out.push(Flush::ServiceEndpoint {
                    service_ip: *ip,
                    port: sp.port,
                    endpoint_ip: ep.ip,
                });
            }
            if let Some(np) = sp.node_port {
                out.push(Flush::NodePortEndpoint {
                    node_port: np,
                    endpoint_ip: ep.ip,
                });
            }
        }
    }
    for (name, sp) in &new.services {
        if name.protocol != Protocol::Udp {
            continue;
        }
        let had = old
            .endpoints
            .get(name)
            .is_some_and(|e| !usable(e.iter()).is_empty());
        let has = new
            .endpoints
            .get(name)
            .is_some_and(|e| !usable(e.iter()).is_empty());
        if has && !had {
            for ip in sp
                .cluster_ip
                .iter()
                .chain(&sp.external_ips)
                .chain(&sp.load_balancer_ips)
            {
                out.push(Flush::ServiceIp {
                    service_ip: *ip,
                    port: sp.port,
                });
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Runs the flushes; failures are logged, not fatal (the entries expire).
/// `conntrack` exits 1 when nothing matched, which is fine.
pub async fn run(flushes: &[Flush]) {
    for f in flushes {
        let args = f.args();
        match tokio::process::Command::new("conntrack")
            .args(&args)
            .output()
            .await
        {
            Ok(o) if o.status.success() || o.status.code() == Some(1) => {
                tracing::debug!(args = ?args, "conntrack entries cleared");
            }
            Ok(o) => tracing::warn!(
                args = ?args,
                stderr = %String::from_utf8_lossy(&o.stderr).trim(),
                "conntrack failed"
            ),
            Err(e) => tracing::warn!(error = %e, "cannot run conntrack"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Endpoint, ServicePort, ServicePortName};

    #[test]
    fn removed_udp_endpoint_and_revived_service() {
        let dns = ServicePortName::new("kube-system", "dns", "dns", Protocol::Udp);
        let web = ServicePortName::new("ns", "web", "", Protocol::Tcp);
        let sp = ServicePort {
            cluster_ip: Some("10.0.0.10".parse().unwrap()),
            port: 53,
            node_port: Some(30053),
            ..Default::default()
        };
        let e1 = Endpoint::ready("10.244.0.1".parse().unwrap(), 53, None);
        let e2 = Endpoint::ready("10.244.0.2".parse().unwrap(), 53, None);
        let mut old = Model::default();
        old.services.insert(dns.clone(), sp.clone());
        old.services.insert(
            web.clone(),
            ServicePort {
                port: 80,
                ..sp.clone()
            },
        );
        old.endpoints
            .insert(dns.clone(), vec![e1.clone(), e2.clone()]);
        old.endpoints.insert(web.clone(), vec![e1.clone()]);
        let mut new = old.clone();
        new.endpoints.insert(dns.clone(), vec![e2.clone()]);
        new.endpoints.remove(&web);
        let f = stale_udp(&old, &new);
        assert_eq!(
            f,
            vec![
                Flush::ServiceEndpoint {
                    service_ip: "10.0.0.10".parse().unwrap(),
                    port: 53,
                    endpoint_ip: e1.ip
                },
                Flush::NodePortEndpoint {
                    node_port: 30053,
                    endpoint_ip: e1.ip
                },
            ]
        );
        // From no endpoints to one: flows cached while rejecting go.
        let mut empty = old.clone();
        empty.endpoints.remove(&dns);
        let f = stale_udp(&empty, &old);
        assert_eq!(
            f,
            vec![Flush::ServiceIp {
                service_ip: "10.0.0.10".parse().unwrap(),
                port: 53
            }]
        );
        assert_eq!(
            f[0].args().join(" "),
            "-D -p udp --orig-dst 10.0.0.10 --orig-port-dst 53"
        );
    }
}
