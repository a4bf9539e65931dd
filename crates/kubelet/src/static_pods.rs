//! Static pods: manifests in `--pod-manifest-path` / `staticPodPath`, run
//! without the apiserver and mirrored into it.
//!
//! [`watch_dir`] re-reads the directory every `fileCheckFrequency` (20 s
//! upstream) and publishes the full set. Each manifest becomes a pod named
//! `<name>-<node>` whose uid is a digest of the file's bytes, its path and
//! the node (upstream hashes the decoded object; the effect is the same:
//! an edit is a new pod). [`mirror_pod`] is what the kubelet creates in the
//! API to show it: annotation `kubernetes.io/config.mirror`, owned by the
//! Node.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, DeleteParams, PostParams, Preconditions};
use tokio::sync::watch;

/// Annotation on a mirror pod: the static pod's hash.
pub const ANNOTATION_MIRROR: &str = "kubernetes.io/config.mirror";
/// Annotation: where the pod came from (`file`, `api`).
pub const ANNOTATION_SOURCE: &str = "kubernetes.io/config.source";
/// Annotation: the static pod's hash (its uid).
pub const ANNOTATION_HASH: &str = "kubernetes.io/config.hash";
/// upstream's default `fileCheckFrequency`.
pub const FILE_CHECK_FREQUENCY: Duration = Duration::from_secs(20);

/// Why a manifest was skipped.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The manifest.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Not a Pod in YAML or JSON.
    #[error("decoding {path}: {source}")]
    Decode {
        /// The manifest.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_yaml::Error,
    },
    /// A Pod without a name.
    #[error("{path}: the pod has no metadata.name")]
    NoName {
        /// The manifest.
        path: PathBuf,
    },
}

/// Whether `pod` is a mirror pod (the API's view of a static pod).
pub fn is_mirror(pod: &Pod) -> bool {
    pod.metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(ANNOTATION_MIRROR))
}

/// Whether `pod` came from a manifest file.
pub fn is_static(pod: &Pod) -> bool {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANNOTATION_SOURCE))
        .is_some_and(|s| s == "file")
}

fn digest_hex(parts: &[&[u8]]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for p in parts {
        ctx.update(p);
    }
    ctx.finish().as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Decodes one manifest into the static pod it describes for `node`.
pub fn decode(path: &Path, bytes: &[u8], node: &str) -> Result<Pod, ManifestError> {
    let mut pod: Pod = serde_yaml::from_slice(bytes).map_err(|source| ManifestError::Decode {
        path: path.to_path_buf(),
        source,
    })?;
    let name = pod
        .metadata
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ManifestError::NoName {
            path: path.to_path_buf(),
        })?;
    let uid = digest_hex(&[
        bytes,
        format!("host:{node}").as_bytes(),
        format!("file:{}", path.display()).as_bytes(),
    ]);
    let m = &mut pod.metadata;
    m.name = Some(format!("{name}-{node}"));
    if m.namespace.as_deref().is_none_or(str::is_empty) {
        m.namespace = Some("default".into());
    }
    m.uid = Some(uid.clone());
    let a = m.annotations.get_or_insert_with(BTreeMap::new);
    a.insert(ANNOTATION_HASH.into(), uid);
    a.insert(ANNOTATION_SOURCE.into(), "file".into());
    let spec = pod.spec.get_or_insert_with(Default::default);
    spec.node_name = Some(node.into());
    // Static pods tolerate every NoExecute taint (upstream's applyDefaults).
    spec.tolerations
        .get_or_insert_with(Vec::new)
        .push(Toleration {
            operator: Some("Exists".into()),
            effect: Some("NoExecute".into()),
            ..Default::default()
        });
    pod.status = None;
    Ok(pod)
}

/// Reads every manifest in `dir` (hidden files skipped, as upstream); bad
/// ones are logged and left out.
pub fn scan(dir: &Path, node: &str) -> Vec<Pod> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        tracing::debug!(dir = %dir.display(), "static pod path not readable");
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(source) => {
                tracing::warn!("{}", ManifestError::Read { path, source });
                continue;
            }
        };
        match decode(&path, &bytes, node) {
            Ok(p) => out.push(p),
            Err(e) => tracing::warn!("skipping a static pod manifest: {e}"),
        }
    }
    out
}

/// Publishes the static pods of `dir` now and every `every`.
pub async fn watch_dir(
    dir: PathBuf,
    node: String,
    every: Duration,
    tx: watch::Sender<Option<Vec<Pod>>>,
) {
    loop {
        let pods = scan(&dir, &node);
        tx.send_if_modified(|old| {
            let changed = old.as_ref() != Some(&pods);
            if changed {
                *old = Some(pods);
            }
            changed
        });
        tokio::time::sleep(every).await;
    }
}

/// The mirror pod of `pod` on `node`.
pub fn mirror_pod(pod: &Pod, node: &Node) -> Pod {
    let hash = pod.metadata.uid.clone().unwrap_or_default();
    let mut annotations = pod.metadata.annotations.clone().unwrap_or_default();
    annotations.insert(ANNOTATION_MIRROR.into(), hash);
    Pod {
        metadata: ObjectMeta {
            name: pod.metadata.name.clone(),
            namespace: pod.metadata.namespace.clone(),
            labels: pod.metadata.labels.clone(),
            annotations: Some(annotations),
            owner_references: node.metadata.uid.clone().map(|uid| {
                vec![OwnerReference {
                    api_version: "v1".into(),
                    kind: "Node".into(),
                    name: node.metadata.name.clone().unwrap_or_default(),
                    uid,
                    controller: Some(true),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        },
        spec: pod.spec.clone(),
        status: None,
    }
}

/// Makes sure the API holds the current mirror pod of `pod`: a missing one
/// is created, one of an older manifest or being deleted is replaced.
/// Returns whether it (re)created it.
pub async fn ensure_mirror(api: &Api<Pod>, pod: &Pod, node: &Node) -> Result<bool, kube::Error> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let hash = pod.metadata.uid.clone().unwrap_or_default();
    if let Some(m) = api.get_opt(&name).await? {
        let current = m
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(ANNOTATION_MIRROR))
            .is_some_and(|h| *h == hash);
        if current && m.metadata.deletion_timestamp.is_none() {
            return Ok(false);
        }
        tracing::info!(pod = %name, "replacing an outdated or deleted mirror pod");
        delete_mirror(api, &name, m.metadata.uid.clone()).await?;
    }
    match api
        .create(&PostParams::default(), &mirror_pod(pod, node))
        .await
    {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}

/// Deletes the mirror pod named `name` if it mirrors the static pod
/// `hash` (a newer manifest's mirror is left alone).
pub async fn delete_own_mirror(api: &Api<Pod>, name: &str, hash: &str) -> Result<(), kube::Error> {
    let Some(m) = api.get_opt(name).await? else {
        return Ok(());
    };
    let ours = m
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANNOTATION_MIRROR))
        .is_some_and(|h| h == hash);
    if !ours {
        return Ok(());
    }
    delete_mirror(api, name, m.metadata.uid.clone()).await
}

/// Deletes a mirror pod at once (grace 0), optionally only that `uid`.
pub async fn delete_mirror(
    api: &Api<Pod>,
    name: &str,
    uid: Option<String>,
) -> Result<(), kube::Error> {
    let dp = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: uid.map(|uid| Preconditions {
            uid: Some(uid),
            resource_version: None,
        }),
        ..Default::default()
    };
    match api.delete(name, &dp).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  labels: {app: web}\nspec:\n  containers:\n  - name: c\n    image: busybox:1.35\n";

    #[test]
    fn decode_names_hashes_and_annotates() {
        let p = decode(Path::new("/m/web.yaml"), MANIFEST.as_bytes(), "node-1").unwrap();
        assert_eq!(p.metadata.name.as_deref(), Some("web-node-1"));
        assert_eq!(p.metadata.namespace.as_deref(), Some("default"));
        let uid = p.metadata.uid.clone().unwrap();
        assert_eq!(uid.len(), 32);
        let a = p.metadata.annotations.clone().unwrap();
        assert_eq!(a[ANNOTATION_HASH], uid);
        assert_eq!(a[ANNOTATION_SOURCE], "file");
        assert!(is_static(&p) && !is_mirror(&p));
        assert_eq!(
            p.spec.as_ref().unwrap().node_name.as_deref(),
            Some("node-1")
        );
        // Same bytes, same uid; an edit is a new pod.
        let again = decode(Path::new("/m/web.yaml"), MANIFEST.as_bytes(), "node-1").unwrap();
        assert_eq!(again.metadata.uid, p.metadata.uid);
        let edited = MANIFEST.replace("1.35", "1.36");
        let e = decode(Path::new("/m/web.yaml"), edited.as_bytes(), "node-1").unwrap();
        assert_ne!(e.metadata.uid, p.metadata.uid);
        // JSON is YAML too.
        let json = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"j","namespace":"kube-system"},"spec":{"containers":[]}}"#;
        let j = decode(Path::new("/m/j.json"), json.as_bytes(), "n").unwrap();
        assert_eq!(j.metadata.namespace.as_deref(), Some("kube-system"));
        assert!(decode(Path::new("/m/x"), b"kind: Pod\nspec: {}\n", "n").is_err());
    }

    #[test]
    fn scan_skips_hidden_and_bad_files_and_mirror_points_to_the_node() {
        let dir = std::env::temp_dir().join(format!("kubelet-static-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("web.yaml"), MANIFEST).unwrap();
        std::fs::write(dir.join(".hidden.yaml"), MANIFEST).unwrap();
        std::fs::write(dir.join("bad.yaml"), "{not yaml").unwrap();
        let pods = scan(&dir, "n1");
        assert_eq!(pods.len(), 1);
        let node: Node = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n1", "uid": "node-uid"}
        }))
        .unwrap();
        let m = mirror_pod(&pods[0], &node);
        assert!(is_mirror(&m));
        assert!(m.metadata.uid.is_none());
        let owner = &m.metadata.owner_references.unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str()),
            ("Node", "node-uid")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
