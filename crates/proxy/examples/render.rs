//! Prints the ruleset of a small sample model as the `nft -f` script the
//! proxy applies. Useful for eyeballing the layout:
//! `cargo run -p proxy --example render | nft -c -f -`.

use proxy::model::{Endpoint, Model, Protocol, ServicePort, ServicePortName};
use proxy::ruleset::{build, RulesetConfig};

fn main() {
    let mut m = Model::default();
    let web = ServicePortName::new("ns", "web", "http", Protocol::Tcp);
    m.services.insert(
        web.clone(),
        ServicePort {
            cluster_ip: Some([10, 212, 0, 10].into()),
            port: 8080,
            node_port: Some(30080),
            external_ips: vec![[192, 0, 2, 50].into()],
            affinity_timeout: Some(600),
            external_local: true,
            ..Default::default()
        },
    );
    m.endpoints.insert(
        web,
        vec![
            Endpoint::ready([10, 244, 1, 2].into(), 80, Some("node-a")),
            Endpoint::ready([10, 244, 2, 2].into(), 80, Some("node-b")),
        ],
    );
    m.services.insert(
        ServicePortName::new("ns", "empty", "", Protocol::Udp),
        ServicePort {
            cluster_ip: Some([10, 212, 0, 11].into()),
            port: 53,
            ..Default::default()
        },
    );
    let mut cfg = RulesetConfig::new("kube-proxy-sample", "node-a");
    cfg.cluster_cidrs = vec!["10.244.0.0/16".parse().expect("cidr")];
    let tx = proxy::nft::full(&build(&m, &cfg), None);
    print!("{}", proxy::nft::to_text(&tx));
}
