//! Shared by the integration tests: a network namespace playing a pod,
//! and HTTP checks against it.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const PATIENCE: Duration = Duration::from_secs(20);

fn sh(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect(args[0]);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Everything the test creates, removed on drop even when it fails.
pub struct Net {
    /// The proxy table the test uses (deleted on drop).
    pub table: String,
    /// The third octet of 10.213.x.0/24.
    pub subnet: u8,
    ns: String,
    veth_host: String,
    dir: std::path::PathBuf,
    httpd: Option<Child>,
}

impl Net {
    pub fn new(tag: &str) -> Net {
        let pid = std::process::id();
        let mut net = Net {
            ns: format!("kp-{tag}-{pid}"),
            veth_host: format!("kh{tag}{}", pid % 100_000),
            table: format!("kp-{tag}-{pid}"),
            dir: std::env::temp_dir().join(format!("kp-{tag}-{pid}")),
            httpd: None,
            subnet: (pid % 200) as u8 + 20 + if tag == "api" { 1 } else { 0 },
        };
        let veth_ns = format!("kn{tag}{}", pid % 100_000);
        let (host_ip, pod_ip) = (net.host_ip(), net.pod_ip());
        sh(&["ip", "netns", "add", &net.ns]);
        sh(&[
            "ip",
            "link",
            "add",
            &net.veth_host,
            "type",
            "veth",
            "peer",
            "name",
            &veth_ns,
        ]);
        sh(&["ip", "link", "set", &veth_ns, "netns", &net.ns]);
        sh(&[
            "ip",
            "addr",
            "add",
            &format!("{host_ip}/24"),
            "dev",
            &net.veth_host,
        ]);
        sh(&["ip", "link", "set", &net.veth_host, "up"]);
        let nsx = |args: &[&str]| {
            let mut v = vec!["ip", "netns", "exec", net.ns.as_str()];
            v.extend_from_slice(args);
            sh(&v);
        };
        nsx(&["ip", "link", "set", "lo", "up"]);
        nsx(&[
            "ip",
            "addr",
            "add",
            &format!("{pod_ip}/24"),
            "dev",
            &veth_ns,
        ]);
        nsx(&["ip", "link", "set", &veth_ns, "up"]);
        nsx(&["ip", "route", "add", "default", "via", &host_ip.to_string()]);
        std::fs::create_dir_all(&net.dir).unwrap();
        std::fs::write(net.dir.join("index.html"), BODY).unwrap();
        net.httpd = Some(
            Command::new("ip")
                .args(["netns", "exec", &net.ns, "busybox", "httpd", "-f", "-p"])
                .arg(format!("{pod_ip}:80"))
                .arg("-h")
                .arg(&net.dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("busybox httpd"),
        );
        net
    }

    pub fn host_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 213, self.subnet, 1)
    }

    pub fn pod_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 213, self.subnet, 2)
    }

    /// An HTTP GET from inside the pod's namespace (busybox wget, under
    /// `timeout` as its own `-T` is unreliable); the body, or `None`.
    pub fn get_from_pod(&self, addr: SocketAddr) -> Option<String> {
        let out = Command::new("ip")
            .args([
                "netns", "exec", &self.ns, "timeout", "5", "busybox", "wget", "-q", "-O", "-",
            ])
            .arg(format!("http://{addr}/"))
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        if let Some(mut c) = self.httpd.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("nft")
            .args(["delete", "table", "ip", &self.table])
            .stderr(Stdio::null())
            .status();
        let _ = Command::new("ip")
            .args(["link", "del", &self.veth_host])
            .stderr(Stdio::null())
            .status();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub const BODY: &str = "hello from the kube-proxy netns test\n";

/// One HTTP GET; the body on success, the connect error otherwise.
pub fn get(addr: SocketAddr) -> Result<String, std::io::Error> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(s, "GET / HTTP/1.0\r\nHost: x\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default())
}

pub fn eventually_body(addr: SocketAddr) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match get(addr) {
            Ok(b) if b == BODY => return,
            other => assert!(Instant::now() < deadline, "{addr}: {other:?}"),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub fn refused(addr: SocketAddr) {
    let err = get(addr).expect_err("no endpoints: must not connect");
    assert_eq!(
        err.kind(),
        std::io::ErrorKind::ConnectionRefused,
        "{addr}: want refused at once, got {err}"
    );
}

/// Waits until connecting is refused (rules catch up asynchronously).
pub fn eventually_refused(addr: SocketAddr) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match get(addr) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return,
            other => assert!(
                Instant::now() < deadline,
                "{addr}: want refused, got {other:?}"
            ),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A free TCP port on 127.0.0.1 (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A plain HTTP GET returning status line and body.
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(String, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    Ok((
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    ))
}
