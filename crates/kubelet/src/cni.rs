//! The node's CNI configuration: a bridge + host-local + portmap conflist
//! for the node's pod CIDR.

use std::path::{Path, PathBuf};

/// The file the kubelet writes in the CNI conf dir.
pub const CONFLIST_NAME: &str = "10-kubelet-bridge.conflist";

/// The bridge conflist for `pod_cidr`.
pub fn bridge_conflist(pod_cidr: &str) -> String {
    let v = serde_json::json!({
        "cniVersion": "1.0.0",
        "name": "k8s-pod-network",
        "plugins": [
            {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true,
             "hairpinMode": true,
             "ipam": {"type": "host-local", "ranges": [[{"subnet": pod_cidr}]],
                      "routes": [{"dst": "0.0.0.0/0"}]}},
            {"type": "portmap", "capabilities": {"portMappings": true}}
        ]
    });
    serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
}

/// Writes the conflist into `dir` unless another configuration is there
/// already; rewrites its own file when the CIDR changed. Returns the path
/// written, if any.
pub fn write_conf(dir: &Path, pod_cidr: &str) -> std::io::Result<Option<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let own = dir.join(CONFLIST_NAME);
    let others = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p != &own)
        .any(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("conf" | "conflist" | "json")
            )
        });
    if others {
        return Ok(None);
    }
    let text = bridge_conflist(pod_cidr);
    if std::fs::read_to_string(&own).ok().as_deref() == Some(text.as_str()) {
        return Ok(Some(own));
    }
    let tmp = dir.join(format!(".{CONFLIST_NAME}.tmp"));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, &own)?;
    Ok(Some(own))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_once_and_respects_other_configs() {
        let dir = std::env::temp_dir().join(format!("kubelet-cni-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let p = write_conf(&dir, "10.244.1.0/24").unwrap().unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        assert_eq!(
            v["plugins"][0]["ipam"]["ranges"][0][0]["subnet"],
            "10.244.1.0/24"
        );
        assert_eq!(v["plugins"][1]["type"], "portmap");
        write_conf(&dir, "10.244.2.0/24").unwrap();
        assert!(std::fs::read_to_string(&p)
            .unwrap()
            .contains("10.244.2.0/24"));
        std::fs::remove_file(&p).unwrap();
        std::fs::write(dir.join("05-other.conflist"), "{}").unwrap();
        assert_eq!(write_conf(&dir, "10.244.1.0/24").unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
