//! `kubectl port-forward`: local listeners whose connections each ride a
//! WebSocket to `pods/portforward?ports=REMOTE` (`v4.channel.k8s.io`:
//! channel 0 the data, channel 1 errors, each opened by the server with
//! the port number as two little-endian bytes).

use std::net::SocketAddr;

use clap::Args;
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

use crate::client::{q, Client};
use crate::cmd::stream;
use crate::{eprint_line, print, Ctx, Error};

const CMD: &str = "kubectl port-forward";

/// `kubectl port-forward TYPE/NAME [options] [LOCAL_PORT:]REMOTE_PORT [...]`.
#[derive(Args, Debug)]
pub struct PortForwardArgs {
    /// TYPE/NAME, then the ports.
    pub args: Vec<String>,
    /// Addresses to listen on (comma separated): IPs or localhost.
    #[arg(long, value_delimiter = ',', default_value = "localhost")]
    pub address: Vec<String>,
    /// Accepted as upstream.
    #[arg(long = "pod-running-timeout", default_value = "1m0s")]
    pub pod_running_timeout: String,
}

/// A local:remote pair.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Forward {
    local: u16,
    remote: u16,
}

/// Runs `kubectl port-forward` until interrupted.
pub async fn run(ctx: &mut Ctx, a: PortForwardArgs) -> Result<(), Error> {
    if a.args.len() < 2 {
        return Err(Error::usage(
            CMD,
            "TYPE/NAME and list of ports are required for port-forward",
        ));
    }
    stream::check_pod_running_timeout(&a.pod_running_timeout).map_err(|m| Error::usage(CMD, m))?;
    let client = ctx.client().await?;
    let ns = client.namespace.clone();
    let arg = &a.args[0];
    let picked = stream::pick_pod(ctx, &client, &ns, arg, CMD, &a.pod_running_timeout).await?;
    let pod = picked.pod;
    let ports = if arg.contains('/') && !is_pod_arg(arg) {
        let obj = service_of(ctx, &client, &ns, arg).await?;
        match obj {
            Some(svc) => translate_service_ports(&a.args[1..], &svc, &pod)?,
            None => pod_ports(&a.args[1..], &pod)?,
        }
    } else {
        pod_ports(&a.args[1..], &pod)?
    };
    let name = pod["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let pod_ns = pod["metadata"]["namespace"]
        .as_str()
        .unwrap_or(&ns)
        .to_string();
    let fresh = client
        .get(&format!(
            "/api/v1/namespaces/{}/pods/{}",
            q(&pod_ns),
            q(&name)
        ))
        .await?;
    let phase = stream::phase(&fresh);
    if phase != "Running" {
        return Err(Error::msg(format!(
            "unable to forward port because pod is not running. Current status={phase}"
        )));
    }
    let addresses = parse_addresses(&a.address)?;
    let forwards = parse_ports(&ports)?;
    let path = format!(
        "/api/v1/namespaces/{}/pods/{}/portforward",
        q(&pod_ns),
        q(&name)
    );
    let mut listening = false;
    let mut listeners = Vec::new();
    let mut bound = Vec::new();
    for f in &forwards {
        let mut f = *f;
        let mut errors = Vec::new();
        let (mut ok_all, mut fail_all, mut fail_any) = (0, 0, 0);
        for (addr, proto, all) in &addresses {
            match listen(addr, proto, f.local).await {
                Ok(l) => {
                    let port = l.local_addr().map(|s| s.port()).unwrap_or(f.local);
                    f.local = port;
                    print(&format!(
                        "Forwarding from {} -> {}\n",
                        join_host_port(addr, port),
                        f.remote
                    ));
                    listeners.push((l, f));
                    if *all {
                        ok_all += 1;
                    }
                }
                Err(e) => {
                    errors.push(e);
                    if *all {
                        fail_all += 1;
                    } else {
                        fail_any += 1;
                    }
                }
            }
        }
        if (ok_all == 0 && fail_all > 0) || fail_any > 0 {
            eprint_line(&format!(
                "Unable to listen on port {}: Listeners failed to create with the following errors: [{}]",
                f.local,
                errors.join(" ")
            ));
        } else {
            listening = true;
        }
        bound.push(f);
    }
    if !listening {
        let list: Vec<String> = bound
            .iter()
            .map(|f| format!("{{{} {}}}", f.local, f.remote))
            .collect();
        return Err(Error::msg(format!(
            "unable to listen on any of the requested ports: [{}]",
            list.join(" ")
        )));
    }
    for (l, f) in listeners {
        let client = client.clone();
        let path = path.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = l.accept().await {
                print(&format!("Handling connection for {}\n", f.local));
                let client = client.clone();
                let path = path.clone();
                tokio::spawn(async move {
                    if let Err(e) = forward(&client, &path, conn, f).await {
                        eprint_line(&format!(
                            "an error occurred forwarding {} -> {}: {}",
                            f.local, f.remote, e
                        ));
                    }
                });
            }
        });
    }
    tokio::select! {
        _ = wait_for_interrupt() => Ok(()),
        r = until_pod_gone(&client, &pod_ns, &name) => r,
    }
}

/// Returns (upstream's "lost connection to pod") once the pod is deleted
/// or stops running: upstream notices its one SPDY connection closing,
/// ours has a connection per forwarded connection, so it watches.
async fn until_pod_gone(client: &Client, ns: &str, name: &str) -> Result<(), Error> {
    let lost = || Err(Error::msg("lost connection to pod"));
    loop {
        match client
            .get(&format!("/api/v1/namespaces/{}/pods/{}", q(ns), q(name)))
            .await
        {
            Err(e) if e.is_not_found() => return lost(),
            Ok(p) if stream::phase(&p) != "Running" => return lost(),
            _ => {}
        }
        let path = format!(
            "/api/v1/namespaces/{}/pods?fieldSelector={}&watch=true",
            q(ns),
            q(&format!("metadata.name={name}"))
        );
        let mut gone = false;
        let watched = client
            .watch(&path, "application/json", |ev| {
                let phase = ev["object"]["status"]["phase"].as_str();
                gone = ev["type"] == "DELETED" || phase.is_some_and(|p| p != "Running");
                Ok(!gone)
            })
            .await;
        if gone {
            return lost();
        }
        if watched.is_err() {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }
}

async fn wait_for_interrupt() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::interrupt()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => futures::future::pending::<()>().await,
    }
}

fn is_pod_arg(arg: &str) -> bool {
    matches!(arg.split('/').next(), Some("pod" | "pods" | "po"))
}

/// The Service `arg` names, if it is one (its ports map to target ports).
async fn service_of(
    ctx: &mut Ctx,
    client: &Client,
    ns: &str,
    arg: &str,
) -> Result<Option<Value>, Error> {
    let targets = ctx.targets(&[arg.to_string()], CMD).await?;
    let Some(t) = targets.into_iter().next() else {
        return Ok(None);
    };
    if t.resource.group_resource() != "services" {
        return Ok(None);
    }
    let name = t.name.unwrap_or_default();
    Ok(Some(
        client.get(&t.resource.item_path(Some(ns), &name)).await?,
    ))
}

fn split_port(p: &str) -> (&str, &str) {
    let parts: Vec<&str> = p.split(':').collect();
    if parts.len() == 2 {
        (parts[0], parts[1])
    } else {
        (parts[0], parts[0])
    }
}

fn container_port_by_name(pod: &Value, name: &str) -> Option<i64> {
    pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["ports"].as_array().into_iter().flatten())
        .find(|p| p["name"] == name)
        .and_then(|p| p["containerPort"].as_i64())
}

/// Named pod ports to numbers, upstream's `convertPodNamedPortToNumber`.
fn pod_ports(ports: &[String], pod: &Value) -> Result<Vec<String>, Error> {
    let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let mut out = Vec::new();
    for p in ports {
        let (local, remote) = split_port(p);
        if remote.is_empty() {
            return Err(Error::msg("remote port cannot be empty"));
        }
        let mut number = remote.to_string();
        if remote.parse::<i64>().is_err() {
            number = container_port_by_name(pod, remote)
                .ok_or_else(|| {
                    Error::msg(format!(
                        "Pod '{pod_name}' does not have a named port '{remote}'"
                    ))
                })?
                .to_string();
        }
        out.push(if local != remote {
            format!("{local}:{number}")
        } else {
            number
        });
    }
    Ok(out)
}

/// Service ports to the pod's target ports, upstream's
/// `translateServicePortToTargetPort`.
fn translate_service_ports(
    ports: &[String],
    svc: &Value,
    pod: &Value,
) -> Result<Vec<String>, Error> {
    let svc_name = svc["metadata"]["name"].as_str().unwrap_or_default();
    let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let svc_ports: Vec<Value> = svc["spec"]["ports"].as_array().cloned().unwrap_or_default();
    let mut out = Vec::new();
    for p in ports {
        let (local, remote) = split_port(p);
        let mut local = local.to_string();
        let port_num = match remote.parse::<i64>() {
            Ok(n) => n,
            Err(_) => {
                let n = svc_ports
                    .iter()
                    .find(|sp| sp["name"] == remote)
                    .and_then(|sp| sp["port"].as_i64())
                    .ok_or_else(|| {
                        Error::msg(format!(
                            "Service '{svc_name}' does not have a named port '{remote}'"
                        ))
                    })?;
                if local == remote {
                    local = n.to_string();
                }
                n
            }
        };
        let sp = svc_ports
            .iter()
            .find(|sp| sp["port"].as_i64() == Some(port_num))
            .ok_or_else(|| {
                Error::msg(format!(
                    "Service {svc_name} does not have a service port {port_num}"
                ))
            })?;
        let target = match &sp["targetPort"] {
            Value::Number(n) if n.as_i64().unwrap_or(0) > 0 => n.as_i64().unwrap_or(port_num),
            Value::String(s) if !s.is_empty() => {
                container_port_by_name(pod, s).ok_or_else(|| {
                    Error::msg(format!("Pod '{pod_name}' does not have a named port '{s}'"))
                })?
            }
            _ => port_num,
        };
        let target = target.to_string();
        out.push(if local != target {
            format!("{local}:{target}")
        } else {
            target
        });
    }
    Ok(out)
}

/// Go's `strconv.ParseUint(s, 10, 16)` error text.
fn parse_u16(s: &str) -> Result<u16, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "strconv.ParseUint: parsing \"{s}\": invalid syntax"
        ));
    }
    s.parse::<u16>()
        .map_err(|_| format!("strconv.ParseUint: parsing \"{s}\": value out of range"))
}

/// Upstream's `parsePorts`.
fn parse_ports(ports: &[String]) -> Result<Vec<Forward>, Error> {
    let mut out = Vec::new();
    for p in ports {
        let parts: Vec<&str> = p.split(':').collect();
        let (local, remote) = match parts.len() {
            1 => (parts[0], parts[0]),
            2 => (if parts[0].is_empty() { "0" } else { parts[0] }, parts[1]),
            _ => return Err(Error::msg(format!("invalid port format '{p}'"))),
        };
        let local = parse_u16(local)
            .map_err(|e| Error::msg(format!("error parsing local port '{local}': {e}")))?;
        let remote = parse_u16(remote)
            .map_err(|e| Error::msg(format!("error parsing remote port '{remote}': {e}")))?;
        if remote == 0 {
            return Err(Error::msg("remote port must be > 0"));
        }
        out.push(Forward { local, remote });
    }
    Ok(out)
}

/// Listen addresses: (address, tcp4/tcp6, whether failure counts only
/// when every address of its group fails), sorted as upstream does.
fn parse_addresses(addrs: &[String]) -> Result<Vec<(String, &'static str, bool)>, Error> {
    let mut out: Vec<(String, &'static str, bool)> = Vec::new();
    let mut add = |a: String, proto, all| {
        if !out.iter().any(|(x, _, _)| *x == a) {
            out.push((a, proto, all));
        }
    };
    for a in addrs {
        if a == "localhost" {
            add("127.0.0.1".to_string(), "tcp4", true);
            add("::1".to_string(), "tcp6", true);
        } else if let Ok(ip) = a.parse::<std::net::IpAddr>() {
            add(
                ip.to_string(),
                if ip.is_ipv4() { "tcp4" } else { "tcp6" },
                false,
            );
        } else {
            return Err(Error::msg(format!("{a} is not a valid IP")));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Binds `addr:port`; errors read as Go's `net.Listen` ones.
async fn listen(addr: &str, proto: &str, port: u16) -> Result<TcpListener, String> {
    let hp = join_host_port(addr, port);
    let sa: SocketAddr = hp
        .parse()
        .map_err(|e| format!("unable to create listener: Error {e}"))?;
    TcpListener::bind(sa).await.map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::AddrInUse => "address already in use".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            std::io::ErrorKind::AddrNotAvailable => "cannot assign requested address".to_string(),
            _ => e.to_string(),
        };
        format!("unable to create listener: Error listen {proto} {hp}: bind: {why}")
    })
}

/// Carries one local connection over its own WebSocket.
async fn forward(
    client: &Client,
    path: &str,
    mut conn: TcpStream,
    f: Forward,
) -> Result<(), Error> {
    let ws = stream::connect(client, &format!("{path}?ports={}", f.remote)).await?;
    let (mut tx, mut rx) = ws.into_stream().split();
    let (mut rd, mut wr) = conn.split();
    // Each channel's first message is its port number, not data.
    let mut seen = [false; 2];
    let mut errors: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        tokio::select! {
            msg = rx.next() => {
                let data = match msg {
                    None | Some(Ok(Message::Close(_))) | Some(Err(_)) => break,
                    Some(Ok(Message::Binary(b))) => b.to_vec(),
                    Some(Ok(_)) => continue,
                };
                let Some((&ch, payload)) = data.split_first() else { continue };
                let idx = usize::from(ch & 1);
                if ch > 1 {
                    continue;
                }
                let payload = if !seen[idx] {
                    seen[idx] = true;
                    payload.get(2..).unwrap_or_default()
                } else {
                    payload
                };
                if payload.is_empty() {
                    continue;
                }
                if ch == 0 {
                    if wr.write_all(payload).await.is_err() {
                        break;
                    }
                } else {
                    errors.extend_from_slice(payload);
                }
            }
            n = rd.read(&mut buf) => {
                match n {
                    // v4 has no half-close: the local end closing ends
                    // the exchange.
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let mut m = Vec::with_capacity(n + 1);
                        m.push(0u8);
                        m.extend_from_slice(&buf[..n]);
                        if tx.send(Message::binary(m)).await.is_err() {
                            break;
                        }
                    }
                }
            }
        }
    }
    let _ = tx.close().await;
    let _ = wr.shutdown().await;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Verbatim(
            String::from_utf8_lossy(&errors).into_owned(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ports_parse_as_upstream() {
        let p = |v: &[&str]| parse_ports(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            p(&["8080:80", "5000", ":81"]).unwrap(),
            vec![
                Forward {
                    local: 8080,
                    remote: 80
                },
                Forward {
                    local: 5000,
                    remote: 5000
                },
                Forward {
                    local: 0,
                    remote: 81
                }
            ]
        );
        assert_eq!(
            p(&["x:80"]).unwrap_err().to_string(),
            "error: error parsing local port 'x': strconv.ParseUint: parsing \"x\": invalid syntax"
        );
        assert_eq!(
            p(&["1:0"]).unwrap_err().to_string(),
            "error: remote port must be > 0"
        );
        assert_eq!(
            p(&["1:2:3"]).unwrap_err().to_string(),
            "error: invalid port format '1:2:3'"
        );
    }

    #[test]
    fn addresses_and_named_ports() {
        let a = parse_addresses(&["localhost".into()]).unwrap();
        assert_eq!(a[0].0, "127.0.0.1");
        assert_eq!(a[1].0, "::1");
        assert_eq!(join_host_port("::1", 5), "[::1]:5");
        assert!(parse_addresses(&["nope".into()]).is_err());
        let pod = json!({"metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 80}]}]}});
        assert_eq!(
            pod_ports(&["8080:http".into()], &pod).unwrap(),
            vec!["8080:80"]
        );
        assert_eq!(
            pod_ports(&["web".into()], &pod).unwrap_err().to_string(),
            "error: Pod 'p' does not have a named port 'web'"
        );
        let svc = json!({"metadata": {"name": "s"},
            "spec": {"ports": [{"name": "web", "port": 8080, "targetPort": "http"}]}});
        assert_eq!(
            translate_service_ports(&["web".into()], &svc, &pod).unwrap(),
            vec!["8080:80"]
        );
        assert_eq!(
            translate_service_ports(&["9999:8080".into()], &svc, &pod).unwrap(),
            vec!["9999:80"]
        );
    }
}
