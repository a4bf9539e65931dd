//! `--config`: the KubeletConfiguration file
//! (`kubelet.config.k8s.io/v1beta1`, YAML or JSON).
//!
//! [`KubeletConfiguration::load`] reads it; [`KubeletConfiguration::apply`]
//! lays it over [`Options`] defaults. The binary then applies the flags
//! that were given on the command line, so flags win over the file, as
//! upstream documents. Unknown fields are ignored (upstream warns and
//! decodes leniently); relative paths are taken relative to the file's
//! directory, as upstream's `resolveRelativePaths`.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::Taint;
use serde::Deserialize;

use crate::Options;

/// The group/versions accepted in `apiVersion`.
const API_VERSIONS: &[&str] = &["kubelet.config.k8s.io/v1beta1", "kubelet.config.k8s.io/v1"];

/// Why the configuration file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading kubelet config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Not YAML/JSON of the expected shape.
    #[error("decoding kubelet config file {path}: {source}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_yaml::Error,
    },
    /// Wrong `kind` or `apiVersion`.
    #[error("kubelet config file {path}: expected kind KubeletConfiguration of kubelet.config.k8s.io/v1beta1, got {kind:?} of {api_version:?}")]
    Kind {
        /// The file.
        path: PathBuf,
        /// Its kind.
        kind: String,
        /// Its apiVersion.
        api_version: String,
    },
    /// A field value is invalid.
    #[error("kubelet config file {path}: {field}: {message}")]
    Field {
        /// The file.
        path: PathBuf,
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// The fields of upstream's KubeletConfiguration this kubelet uses; each
/// is optional, and only what is set changes [`Options`].
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KubeletConfiguration {
    /// `kubelet.config.k8s.io/v1beta1`.
    #[serde(default)]
    pub api_version: String,
    /// `KubeletConfiguration`.
    #[serde(default)]
    pub kind: String,
    /// The kubelet API's address.
    pub address: Option<IpAddr>,
    /// The kubelet API's port.
    pub port: Option<u16>,
    /// The static pod manifest directory.
    pub static_pod_path: Option<PathBuf>,
    /// How often the static pod manifests are read (`20s`).
    pub file_check_frequency: Option<String>,
    /// Cluster DNS servers.
    #[serde(rename = "clusterDNS")]
    pub cluster_dns: Option<Vec<String>>,
    /// The cluster domain.
    pub cluster_domain: Option<String>,
    /// Most pods.
    pub max_pods: Option<u32>,
    /// The pod CIDR.
    #[serde(rename = "podCIDR")]
    pub pod_cidr: Option<String>,
    /// `cgroupfs` (or `systemd`, refused at start).
    pub cgroup_driver: Option<String>,
    /// The root cgroup.
    pub cgroup_root: Option<String>,
    /// Taints to register with.
    pub register_with_taints: Option<Vec<Taint>>,
    /// resolv.conf for dnsPolicy Default.
    pub resolv_conf: Option<PathBuf>,
    /// The serving certificate.
    pub tls_cert_file: Option<PathBuf>,
    /// Its key.
    pub tls_private_key_file: Option<PathBuf>,
    /// Hard eviction thresholds (`memory.available: 100Mi`, ...).
    pub eviction_hard: Option<BTreeMap<String, String>>,
}

/// A Go duration (`20s`, `1m30s`), as KubeletConfiguration writes them.
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    apimachinery::duration::parse_go_duration(s).ok()
}

/// upstream's evictionHard signals.
const EVICTION_SIGNALS: &[&str] = &[
    "memory.available",
    "nodefs.available",
    "nodefs.inodesFree",
    "imagefs.available",
    "imagefs.inodesFree",
    "containerfs.available",
    "containerfs.inodesFree",
    "pid.available",
];

impl KubeletConfiguration {
    /// Reads and checks the file at `path`, resolving relative paths
    /// against its directory.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut c: KubeletConfiguration =
            serde_yaml::from_slice(&bytes).map_err(|source| ConfigError::Decode {
                path: path.to_path_buf(),
                source,
            })?;
        if c.kind != "KubeletConfiguration" || !API_VERSIONS.contains(&c.api_version.as_str()) {
            return Err(ConfigError::Kind {
                path: path.to_path_buf(),
                kind: c.kind,
                api_version: c.api_version,
            });
        }
        let field = |field, message: String| ConfigError::Field {
            path: path.to_path_buf(),
            field,
            message,
        };
        if let Some(f) = &c.file_check_frequency {
            parse_go_duration(f)
                .ok_or_else(|| field("fileCheckFrequency", format!("invalid duration {f:?}")))?;
        }
        for (signal, value) in c.eviction_hard.iter().flatten() {
            if !EVICTION_SIGNALS.contains(&signal.as_str()) {
                return Err(field(
                    "evictionHard",
                    format!("unsupported eviction signal {signal}"),
                ));
            }
            let ok = match value.strip_suffix('%') {
                Some(p) => p.parse::<f64>().is_ok_and(|p| (0.0..=100.0).contains(&p)),
                None => apimachinery::quantity::Quantity::parse(value).is_ok(),
            };
            if !ok {
                return Err(field(
                    "evictionHard",
                    format!("invalid threshold {value:?} for {signal}"),
                ));
            }
        }
        let base = path.parent().unwrap_or(Path::new("/"));
        for p in [
            &mut c.static_pod_path,
            &mut c.tls_cert_file,
            &mut c.tls_private_key_file,
            &mut c.resolv_conf,
        ]
        .into_iter()
        .flatten()
        {
            if p.is_relative() && !p.as_os_str().is_empty() {
                *p = base.join(&*p);
            }
        }
        Ok(c)
    }

    /// Lays the fields that are set over `opts`.
    pub fn apply(&self, opts: &mut Options) {
        let c = self.clone();
        if let Some(v) = c.address {
            opts.address = v;
        }
        if let Some(v) = c.port {
            opts.port = v;
        }
        if let Some(v) = c.static_pod_path.filter(|p| !p.as_os_str().is_empty()) {
            opts.static_pod_path = Some(v);
        }
        if let Some(v) = c
            .file_check_frequency
            .as_deref()
            .and_then(parse_go_duration)
        {
            opts.file_check_frequency = v;
        }
        if let Some(v) = c.cluster_dns {
            opts.cluster_dns = v;
        }
        if let Some(v) = c.cluster_domain {
            opts.cluster_domain = v;
        }
        if let Some(v) = c.max_pods {
            opts.max_pods = v;
        }
        if let Some(v) = c.pod_cidr.filter(|s| !s.is_empty()) {
            opts.pod_cidr = Some(v);
        }
        if let Some(v) = c.cgroup_driver {
            opts.cgroup_driver = v;
        }
        if let Some(v) = c.cgroup_root {
            opts.cgroup_root = v;
        }
        if let Some(v) = c.register_with_taints {
            opts.register_with_taints = v;
        }
        if let Some(v) = c.resolv_conf {
            opts.resolv_conf = v;
        }
        if let Some(v) = c.tls_cert_file {
            opts.tls_cert_file = Some(v);
        }
        if let Some(v) = c.tls_private_key_file {
            opts.tls_private_key_file = Some(v);
        }
        if let Some(v) = c.eviction_hard {
            opts.eviction_hard = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kubelet-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn a_full_file_applies_over_the_defaults() {
        let p = write(
            "full.yaml",
            r#"apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: 10350
staticPodPath: manifests
fileCheckFrequency: 5s
clusterDNS: [10.96.0.10]
clusterDomain: example.local
maxPods: 42
podCIDR: 10.244.3.0/24
cgroupDriver: cgroupfs
cgroupRoot: /kubelet-root
registerWithTaints:
- key: dedicated
  value: infra
  effect: NoSchedule
resolvConf: /run/resolv.conf
tlsCertFile: /pki/kubelet.crt
tlsPrivateKeyFile: pki/kubelet.key
evictionHard:
  memory.available: 100Mi
  nodefs.available: "10%"
authentication: {anonymous: {enabled: false}}
"#,
        );
        let c = KubeletConfiguration::load(&p).unwrap();
        let mut o = Options::default();
        c.apply(&mut o);
        let dir = p.parent().unwrap();
        assert_eq!(o.address, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(o.port, 10350);
        assert_eq!(o.static_pod_path, Some(dir.join("manifests")));
        assert_eq!(o.file_check_frequency, Duration::from_secs(5));
        assert_eq!(o.cluster_dns, vec!["10.96.0.10".to_string()]);
        assert_eq!(o.cluster_domain, "example.local");
        assert_eq!(o.max_pods, 42);
        assert_eq!(o.pod_cidr.as_deref(), Some("10.244.3.0/24"));
        assert_eq!(o.cgroup_root, "/kubelet-root");
        assert_eq!(o.register_with_taints[0].key, "dedicated");
        assert_eq!(o.resolv_conf, PathBuf::from("/run/resolv.conf"));
        assert_eq!(o.tls_cert_file, Some(PathBuf::from("/pki/kubelet.crt")));
        assert_eq!(o.tls_private_key_file, Some(dir.join("pki/kubelet.key")));
        assert_eq!(o.eviction_hard["memory.available"], "100Mi");
        assert_eq!(o.eviction_hard["nodefs.available"], "10%");
    }

    #[test]
    fn unset_fields_keep_the_defaults() {
        let p = write(
            "min.yaml",
            "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nmaxPods: 7\n",
        );
        let mut o = Options::default();
        KubeletConfiguration::load(&p).unwrap().apply(&mut o);
        assert_eq!(o.max_pods, 7);
        assert_eq!(o.cluster_domain, "cluster.local");
        assert_eq!(o.port, crate::server::DEFAULT_PORT);
        assert!(o.static_pod_path.is_none());
    }

    #[test]
    fn bad_files_are_refused() {
        let kind = write("kind.yaml", "apiVersion: v1\nkind: Pod\n");
        assert!(matches!(
            KubeletConfiguration::load(&kind),
            Err(ConfigError::Kind { .. })
        ));
        let signal = write(
            "signal.yaml",
            "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nevictionHard: {cpu.available: 1}\n",
        );
        assert!(matches!(
            KubeletConfiguration::load(&signal),
            Err(ConfigError::Field {
                field: "evictionHard",
                ..
            })
        ));
        let port = write(
            "port.yaml",
            "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nport: not-a-port\n",
        );
        assert!(matches!(
            KubeletConfiguration::load(&port),
            Err(ConfigError::Decode { .. })
        ));
        assert!(matches!(
            KubeletConfiguration::load(Path::new("/nonexistent/kubelet.yaml")),
            Err(ConfigError::Read { .. })
        ));
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("20s"), Some(Duration::from_secs(20)));
        assert_eq!(parse_go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_go_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_go_duration("x"), None);
        assert_eq!(parse_go_duration(""), None);
    }
}
