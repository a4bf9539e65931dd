//! Assembling the parts: listeners, the handler, the watchers, the HTTP
//! ports and self-registration, with one shutdown path.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hickory_server::ServerFuture;
use kube::Client;
use tokio::net::{TcpListener, UdpSocket};

use crate::error::Error;
use crate::forward::Forwarder;
use crate::handler::{Handler, SharedIndex};
use crate::http::{self, Endpoint};
use crate::index::Index;
use crate::metrics::Metrics;
use crate::register::{self, Registration};
use crate::watch::{self, Readiness, Watchers};

/// How often the registration is re-asserted (someone may delete it).
const REREGISTER_EVERY: Duration = Duration::from_secs(30);
/// How long an idle TCP client connection is kept.
const TCP_IDLE: Duration = Duration::from_secs(10);

/// Where forwarded queries go.
#[derive(Debug, Clone)]
pub enum Upstreams {
    /// The nameservers of this resolv.conf (port 53).
    ResolvConf(PathBuf),
    /// These servers, in order.
    Explicit(Vec<SocketAddr>),
}

/// Everything the server needs to know.
#[derive(Debug, Clone)]
pub struct Config {
    /// The cluster zone (`cluster.local`).
    pub cluster_domain: String,
    /// TTL of every record served from the index, in seconds.
    pub ttl: u32,
    /// UDP and TCP listen address (port 0 picks one, the same for both).
    pub dns_bind_address: SocketAddr,
    /// `/health`, if served.
    pub health_bind_address: Option<SocketAddr>,
    /// `/ready`, if served.
    pub ready_bind_address: Option<SocketAddr>,
    /// `/metrics`, if served.
    pub metrics_bind_address: Option<SocketAddr>,
    /// Where names outside the zone go.
    pub upstreams: Upstreams,
    /// How long to wait for each upstream.
    pub forward_timeout: Duration,
    /// The DNS Service's IP (answers `ns.dns.<zone>`; never an upstream).
    pub service_ip: Option<IpAddr>,
    /// Keep the DNS Service and an EndpointSlice for this server.
    pub registration: Option<Registration>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            cluster_domain: "cluster.local".into(),
            ttl: 5,
            dns_bind_address: ([0, 0, 0, 0], 53).into(),
            health_bind_address: Some(([0, 0, 0, 0], 8080).into()),
            ready_bind_address: Some(([0, 0, 0, 0], 8181).into()),
            metrics_bind_address: Some(([0, 0, 0, 0], 9153).into()),
            upstreams: Upstreams::ResolvConf("/etc/resolv.conf".into()),
            forward_timeout: Duration::from_secs(2),
            service_ip: None,
            registration: None,
        }
    }
}

/// A started server.
pub struct Running {
    /// The UDP and TCP address DNS is served on.
    pub dns_addr: SocketAddr,
    /// Where each HTTP endpoint is served.
    pub http: BTreeMap<Endpoint, SocketAddr>,
    /// The record index (the seam tests and embedders feed directly).
    pub index: SharedIndex,
    /// The metrics registry.
    pub metrics: Arc<Metrics>,
    /// Whether the initial lists are in.
    pub readiness: Arc<Readiness>,
    stop: tokio::sync::watch::Sender<bool>,
    server: tokio::task::JoinHandle<Result<(), Error>>,
    background: Vec<tokio::task::JoinHandle<()>>,
    watchers: Option<Watchers>,
    registration: Option<(Client, Registration)>,
}

impl Running {
    /// Stops serving: removes our EndpointSlice (if registered), stops the
    /// watchers and the HTTP ports, and drains the DNS server.
    pub async fn shutdown(mut self) -> Result<(), Error> {
        if let Some((client, reg)) = &self.registration {
            if let Err(e) = register::unregister(client, reg).await {
                tracing::warn!(error = %e, "cannot remove our endpointslice");
            }
        }
        for t in self.background.drain(..) {
            t.abort();
        }
        self.watchers.take();
        let _ = self.stop.send(true);
        match (&mut self.server).await {
            Ok(r) => r,
            Err(e) => Err(Error::Config(format!("dns server task: {e}"))),
        }
    }
}

impl Drop for Running {
    /// A server dropped without [`Running::shutdown`] still stops serving
    /// (its EndpointSlice is left for the next start to update).
    fn drop(&mut self) {
        for t in &self.background {
            t.abort();
        }
        let _ = self.stop.send(true);
    }
}

/// Starts a server answering from `index`, without any apiserver: the seam
/// for tests and for embedding.
pub async fn start_with_index(
    config: &Config,
    index: SharedIndex,
    readiness: Arc<Readiness>,
) -> Result<Running, Error> {
    let (udp, tcp) = bind_dns(config.dns_bind_address).await?;
    let dns_addr = udp.local_addr().map_err(|source| Error::Bind {
        what: "dns udp",
        addr: config.dns_bind_address,
        source,
    })?;

    let mut own = vec![dns_addr];
    own.extend(config.service_ip.map(|ip| SocketAddr::new(ip, 53)));
    if let Some(reg) = &config.registration {
        own.push(SocketAddr::new(reg.advertise_address, dns_addr.port()));
        own.push(SocketAddr::new(reg.service_ip, 53));
    }
    let forwarder = match &config.upstreams {
        Upstreams::Explicit(list) => Forwarder::new(
            list.iter()
                .copied()
                .filter(|u| !crate::forward::skip_self(*u, &own))
                .collect(),
            config.forward_timeout,
        ),
        Upstreams::ResolvConf(path) => {
            Forwarder::from_resolv_conf(path, &own, config.forward_timeout)?
        }
    };
    if forwarder.upstreams().is_empty() {
        tracing::warn!("no upstream nameserver: names outside the zone get SERVFAIL");
    } else {
        tracing::info!(upstreams = ?forwarder.upstreams(), "forwarding names outside the zone");
    }

    let metrics = Arc::new(Metrics::new(format!("dns://{dns_addr}")));
    let handler = Handler::new(index.clone(), forwarder, metrics.clone(), config.ttl);
    let mut server = ServerFuture::new(handler);
    server.register_socket(udp);
    server.register_listener(tcp, TCP_IDLE);
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(async move {
        tokio::select! {
            r = server.block_until_done() => r.map_err(Error::Server),
            _ = stopped.changed() => server.shutdown_gracefully().await.map_err(Error::Server),
        }
    });

    let wanted: Vec<(Endpoint, SocketAddr)> = [
        (Endpoint::Health, config.health_bind_address),
        (Endpoint::Ready, config.ready_bind_address),
        (Endpoint::Metrics, config.metrics_bind_address),
    ]
    .into_iter()
    .filter_map(|(e, a)| Some((e, a?)))
    .collect();
    let (http, background) = http::bind(&wanted, readiness.clone(), metrics.clone()).await?;
    tracing::info!(dns = %dns_addr, http = ?http, "serving");
    Ok(Running {
        dns_addr,
        http,
        index,
        metrics,
        readiness,
        stop,
        server,
        background,
        watchers: None,
        registration: None,
    })
}

/// Starts a server fed by the apiserver behind `client`; registers it once
/// the initial lists are in, if configured.
pub async fn start(client: Client, config: &Config) -> Result<Running, Error> {
    let index: SharedIndex = Arc::new(RwLock::new(Index::new(
        &config.cluster_domain,
        config.service_ip,
    )));
    let readiness = Arc::new(Readiness::default());
    let mut running = start_with_index(config, index.clone(), readiness.clone()).await?;
    running.watchers = Some(watch::spawn(client.clone(), index, readiness.clone()));
    if let Some(reg) = &config.registration {
        let mut reg = reg.clone();
        reg.dns_port = running.dns_addr.port();
        reg.metrics_port = running.http.get(&Endpoint::Metrics).map(|a| a.port());
        running.registration = Some((client.clone(), reg.clone()));
        running
            .background
            .push(tokio::spawn(keep_registered(client, reg, readiness)));
    }
    Ok(running)
}

/// Runs until `shutdown` resolves, then stops cleanly.
pub async fn run(
    client: Client,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let running = start(client, &config).await?;
    shutdown.await;
    tracing::info!("shutting down");
    running.shutdown().await
}

async fn keep_registered(client: Client, reg: Registration, readiness: Arc<Readiness>) {
    // Advertise only a server that can answer for the cluster.
    while !readiness.is_ready() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    loop {
        match register::register(&client, &reg).await {
            Ok(()) => {
                tracing::debug!(service = %format!("{}/{}", reg.namespace, reg.name), "registered")
            }
            Err(e) => tracing::warn!(error = %e, "registration failed; will retry"),
        }
        tokio::time::sleep(REREGISTER_EVERY).await;
    }
}

/// Binds UDP and TCP on the same address; for port 0, on the same port.
async fn bind_dns(addr: SocketAddr) -> Result<(UdpSocket, TcpListener), Error> {
    let bind_err = |what: &'static str| move |source| Error::Bind { what, addr, source };
    if addr.port() != 0 {
        let udp = UdpSocket::bind(addr).await.map_err(bind_err("dns udp"))?;
        let tcp = TcpListener::bind(addr).await.map_err(bind_err("dns tcp"))?;
        return Ok((udp, tcp));
    }
    let mut last = None;
    for _ in 0..20 {
        let udp = UdpSocket::bind(addr).await.map_err(bind_err("dns udp"))?;
        let port = udp.local_addr().map_err(bind_err("dns udp"))?.port();
        match TcpListener::bind(SocketAddr::new(addr.ip(), port)).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last = Some(e),
        }
    }
    Err(Error::Bind {
        what: "dns tcp",
        addr,
        source: last.unwrap_or_else(|| std::io::Error::other("no free port")),
    })
}
