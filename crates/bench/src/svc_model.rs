//! Synthetic Services for the proxy and DNS benchmarks. Addresses come from
//! ranges no cluster here uses, so a bench table hooked into the host's
//! netfilter never catches real traffic: cluster IPs from 198.18.0.0/15
//! (RFC 2544, benchmarking), endpoints from 100.64.0.0/10.

use std::net::Ipv4Addr;

use proxy::model::{Endpoint, Model, Protocol, ServicePort, ServicePortName};

/// The namespace of the synthetic services.
pub const NAMESPACE: &str = "bench";
/// Most services [`cluster_ip`] can number (a /15).
pub const MAX_SERVICES: u32 = 1 << 17;
/// Most endpoints [`endpoint_ip`] can number (a /10).
pub const MAX_ENDPOINTS: u32 = 1 << 22;

/// The cluster IP of service `i` (below [`MAX_SERVICES`]).
pub fn cluster_ip(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 0, 0)) + (i % MAX_SERVICES))
}

/// The `n`-th endpoint address (below [`MAX_ENDPOINTS`]).
pub fn endpoint_ip(n: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(100, 64, 0, 0)) + (n % MAX_ENDPOINTS))
}

/// The name of service `i`.
pub fn service_name(i: u32) -> String {
    format!("svc-{i}")
}

/// The port name of service `i`'s only port.
pub fn port_name(i: u32) -> ServicePortName {
    ServicePortName::new(NAMESPACE, &service_name(i), "http", Protocol::Tcp)
}

/// `services` ClusterIP services with one TCP port 80 each, and
/// `endpoints` ready endpoints (port 8080) per service.
pub fn model(services: u32, endpoints: u32) -> Model {
    let mut m = Model::default();
    for i in 0..services {
        let name = port_name(i);
        m.services.insert(
            name.clone(),
            ServicePort {
                cluster_ip: Some(cluster_ip(i)),
                port: 80,
                ..Default::default()
            },
        );
        let mut eps: Vec<Endpoint> = (0..endpoints)
            .map(|j| Endpoint::ready(endpoint_ip(i * endpoints + j), 8080, None))
            .collect();
        eps.sort();
        m.endpoints.insert(name, eps);
    }
    m
}

/// Replaces one endpoint of service `i` with a fresh address (`fresh` must
/// not collide with [`model`]'s: use numbers from `services * endpoints`
/// on), as a rolling update replacing one pod does.
pub fn replace_endpoint(m: &mut Model, i: u32, fresh: u32) {
    let Some(eps) = m.endpoints.get_mut(&port_name(i)) else {
        return;
    };
    if eps.is_empty() {
        return;
    }
    eps.remove(0);
    eps.push(Endpoint::ready(endpoint_ip(fresh), 8080, None));
    eps.sort();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_stay_in_their_ranges() {
        assert_eq!(cluster_ip(0), Ipv4Addr::new(198, 18, 0, 0));
        assert_eq!(cluster_ip(256 * 256 + 1), Ipv4Addr::new(198, 19, 0, 1));
        assert_eq!(endpoint_ip(99_999), Ipv4Addr::new(100, 65, 134, 159));
        assert_eq!(
            endpoint_ip(MAX_ENDPOINTS - 1),
            Ipv4Addr::new(100, 127, 255, 255)
        );
    }

    #[test]
    fn builds_and_changes_one_endpoint() {
        let mut m = model(3, 4);
        assert_eq!(m.services.len(), 3);
        assert!(m.endpoints.values().all(|e| e.len() == 4));
        let before = m.clone();
        replace_endpoint(&mut m, 1, 12);
        assert_eq!(m.endpoints[&port_name(0)], before.endpoints[&port_name(0)]);
        let changed = &m.endpoints[&port_name(1)];
        assert_eq!(changed.len(), 4);
        assert!(changed.iter().any(|e| e.ip == endpoint_ip(12)));
        assert_ne!(changed, &before.endpoints[&port_name(1)]);
    }

    #[test]
    fn one_changed_endpoint_is_a_small_incremental_sync() {
        let cfg = proxy::RulesetConfig::new("bench-unit", "node");
        let mut m = model(50, 10);
        let old = proxy::build(&m, &cfg);
        replace_endpoint(&mut m, 7, 500);
        let new = proxy::build(&m, &cfg);
        let tx = proxy::nft::incremental(&old, &new).expect("incremental");
        // Endpoints are map data: a swapped endpoint touches no chain (no
        // verdicts for the kernel to re-validate), only a few elements.
        let chains = tx.touched_chains();
        assert!(chains.is_empty(), "chains touched: {chains:?}");
        assert!(!tx.commands.is_empty());
        assert!(tx.commands.len() < 20, "{} commands", tx.commands.len());
    }
}
