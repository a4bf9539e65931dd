//! The benchmark object: a ConfigMap padded to a target size, so raw etcd
//! and the apiserver move the same bytes.

use bytes::Bytes;

/// The JSON of a ConfigMap `ns/name` whose serialised form is `size` bytes
/// (or as small as possible when `size` is below the bare object).
pub fn configmap(ns: &str, name: &str, size: usize) -> Bytes {
    let json = |pad: usize| {
        format!(
            r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}","namespace":"{ns}"}},"data":{{"payload":"{}"}}}}"#,
            "x".repeat(pad)
        )
    };
    let bare = json(0).len();
    Bytes::from(json(size.saturating_sub(bare)))
}

/// Object names are fixed-width so every object has the same size.
pub fn name(prefix: &str, i: u64) -> String {
    format!("{prefix}-{i:08}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_to_size_and_valid_json() {
        let b = configmap("bench", &name("c", 7), 1024);
        assert_eq!(b.len(), 1024);
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["metadata"]["name"], "c-00000007");
        assert!(configmap("bench", "x", 10).len() > 10);
    }
}
