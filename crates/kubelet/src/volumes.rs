//! Pod volumes: prepared under `<root-dir>/pods/<uid>/volumes/<plugin>/<name>`
//! before the containers start, handed to CRI as bind [`api::Mount`]s.
//!
//! emptyDir (a directory, or a tmpfs for `medium: Memory`), hostPath with
//! its type checks, configMap / secret / downwardAPI / projected (written
//! by [`write_atomic`] the way upstream's AtomicWriter does, so a running
//! container never sees half an update), and persistentVolumeClaim bound to
//! a hostPath or local PV. [`cleanup_pod`] unmounts and removes the pod's
//! directory when the pod is gone.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use apimachinery::quantity::Quantity;
use cri::api;
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, DownwardAPIVolumeFile, KeyToPath, Pod, Secret, Volume,
};

use crate::objects::{Objects, Token, TokenSpec};
use crate::pod::NodeContext;

/// upstream's plugin directory names.
pub const PLUGIN_EMPTY_DIR: &str = "kubernetes.io~empty-dir";
/// configMap volumes.
pub const PLUGIN_CONFIG_MAP: &str = "kubernetes.io~configmap";
/// secret volumes.
pub const PLUGIN_SECRET: &str = "kubernetes.io~secret";
/// downwardAPI volumes.
pub const PLUGIN_DOWNWARD_API: &str = "kubernetes.io~downward-api";
/// projected volumes.
pub const PLUGIN_PROJECTED: &str = "kubernetes.io~projected";

/// The default file mode of configMap, secret, downwardAPI and projected
/// volumes (0644).
pub const DEFAULT_MODE: u32 = 0o644;

/// Where the current payload of an atomically written volume lives.
pub const DATA_DIR_NAME: &str = "..data";

/// Why a volume could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// A file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the path.
        context: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The volume cannot be set up (upstream's SetUp error text).
    #[error("{0}")]
    SetUp(String),
    /// Reading a referenced object failed.
    #[error(transparent)]
    Objects(#[from] crate::objects::ObjectError),
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> VolumeError {
    let context = context.into();
    move |source| VolumeError::Io { context, source }
}

/// One file of an atomically written volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProjection {
    /// The content.
    pub data: Vec<u8>,
    /// The permission bits.
    pub mode: u32,
}

/// Relative path to file, as written into a volume.
pub type Payload = BTreeMap<String, FileProjection>;

/// The pod's directory under the kubelet root.
pub fn pod_dir(root: &Path, uid: &str) -> PathBuf {
    root.join("pods").join(uid)
}

/// A volume's directory: `<root>/pods/<uid>/volumes/<plugin>/<name>`.
pub fn volume_dir(root: &Path, uid: &str, plugin: &str, name: &str) -> PathBuf {
    pod_dir(root, uid).join("volumes").join(plugin).join(name)
}

/// A prepared volume: where it is on the host and whether it must be
/// mounted read-only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostVolume {
    /// The host path bind-mounted into containers.
    pub path: PathBuf,
    /// Always mounted read-only (configMap, secret, ... and read-only claims).
    pub read_only: bool,
}

/// The result of [`prepare`]: the volumes that are ready and, for the
/// others, upstream's FailedMount message.
#[derive(Debug, Default)]
pub struct Prepared {
    /// Ready volumes by name.
    pub volumes: HashMap<String, HostVolume>,
    /// Volumes that failed: (name, message).
    pub errors: Vec<(String, String)>,
}

/// Sets up (or refreshes) every volume of the pod. Idempotent: run on
/// every sync; atomically written volumes change only when their content
/// does.
pub async fn prepare(
    root: &Path,
    pod: &Pod,
    node: &NodeContext,
    objects: &dyn Objects,
) -> Prepared {
    let mut out = Prepared::default();
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    for v in pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .into_iter()
        .flatten()
    {
        match prepare_one(root, &uid, pod, node, objects, v).await {
            Ok(hv) => {
                out.volumes.insert(v.name.clone(), hv);
            }
            Err(e) => out.errors.push((
                v.name.clone(),
                format!("MountVolume.SetUp failed for volume \"{}\" : {e}", v.name),
            )),
        }
    }
    out
}

async fn prepare_one(
    root: &Path,
    uid: &str,
    pod: &Pod,
    node: &NodeContext,
    objects: &dyn Objects,
    v: &Volume,
) -> Result<HostVolume, VolumeError> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let rw = |path: PathBuf| HostVolume {
        path,
        read_only: false,
    };
    let ro = |path: PathBuf| HostVolume {
        path,
        read_only: true,
    };
    if let Some(e) = &v.empty_dir {
        let dir = volume_dir(root, uid, PLUGIN_EMPTY_DIR, &v.name);
        fs::create_dir_all(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
        if e.medium.as_deref() == Some("Memory") && !is_mount_point(&dir) {
            let size = e
                .size_limit
                .as_ref()
                .and_then(|q| Quantity::parse(&q.0).ok())
                .map(|q| q.value())
                .filter(|v| *v > 0);
            mount_tmpfs(&dir, size)?;
        }
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777))
            .map_err(io_err(format!("setting the mode of {}", dir.display())))?;
        return Ok(rw(dir));
    }
    if let Some(h) = &v.host_path {
        let path = PathBuf::from(&h.path);
        check_host_path(&path, h.type_.as_deref().unwrap_or(""))?;
        return Ok(rw(path));
    }
    if let Some(c) = &v.config_map {
        let mode = mode_of(c.default_mode, DEFAULT_MODE);
        let mut payload = Payload::new();
        config_map_payload(
            objects,
            ns,
            &c.name,
            c.items.as_deref(),
            c.optional.unwrap_or(false),
            mode,
            &mut payload,
        )
        .await?;
        let dir = volume_dir(root, uid, PLUGIN_CONFIG_MAP, &v.name);
        write_atomic(&dir, &payload)?;
        return Ok(ro(dir));
    }
    if let Some(s) = &v.secret {
        let mode = mode_of(s.default_mode, DEFAULT_MODE);
        let mut payload = Payload::new();
        secret_payload(
            objects,
            ns,
            s.secret_name.as_deref().unwrap_or_default(),
            s.items.as_deref(),
            s.optional.unwrap_or(false),
            mode,
            &mut payload,
        )
        .await?;
        let dir = volume_dir(root, uid, PLUGIN_SECRET, &v.name);
        write_atomic(&dir, &payload)?;
        return Ok(ro(dir));
    }
    if let Some(d) = &v.downward_api {
        let mode = mode_of(d.default_mode, DEFAULT_MODE);
        let mut payload = Payload::new();
        downward_payload(pod, node, d.items.as_deref(), mode, &mut payload)?;
        let dir = volume_dir(root, uid, PLUGIN_DOWNWARD_API, &v.name);
        write_atomic(&dir, &payload)?;
        return Ok(ro(dir));
    }
    if let Some(p) = &v.projected {
        let mode = mode_of(p.default_mode, DEFAULT_MODE);
        let mut payload = Payload::new();
        for src in p.sources.iter().flatten() {
            if let Some(c) = &src.config_map {
                config_map_payload(
                    objects,
                    ns,
                    &c.name,
                    c.items.as_deref(),
                    c.optional.unwrap_or(false),
                    mode,
                    &mut payload,
                )
                .await?;
            }
            if let Some(s) = &src.secret {
                secret_payload(
                    objects,
                    ns,
                    &s.name,
                    s.items.as_deref(),
                    s.optional.unwrap_or(false),
                    mode,
                    &mut payload,
                )
                .await?;
            }
            if let Some(d) = &src.downward_api {
                downward_payload(pod, node, d.items.as_deref(), mode, &mut payload)?;
            }
            if let Some(t) = &src.service_account_token {
                let sa = pod
                    .spec
                    .as_ref()
                    .and_then(|s| s.service_account_name.clone())
                    .unwrap_or_else(|| "default".into());
                let spec = TokenSpec {
                    namespace: ns.to_string(),
                    service_account: sa.clone(),
                    audience: t.audience.clone().unwrap_or_default(),
                    expiration_seconds: t.expiration_seconds.unwrap_or(3600),
                    pod_name: pod.metadata.name.clone().unwrap_or_default(),
                    pod_uid: uid.to_string(),
                };
                match objects.token(&spec).await? {
                    None => {
                        return Err(VolumeError::SetUp(format!(
                            "failed to fetch token: serviceaccounts \"{sa}\" not found"
                        )))
                    }
                    Some(Token::Issued { token, .. }) => {
                        payload.insert(
                            t.path.clone(),
                            FileProjection {
                                data: token.into_bytes(),
                                mode,
                            },
                        );
                    }
                    Some(Token::Unsupported(why)) => {
                        tracing::warn!(volume = %v.name, "skipping the serviceAccountToken source: {why}");
                    }
                }
            }
        }
        let dir = volume_dir(root, uid, PLUGIN_PROJECTED, &v.name);
        write_atomic(&dir, &payload)?;
        return Ok(ro(dir));
    }
    if let Some(c) = &v.persistent_volume_claim {
        let claim = objects.pvc(ns, &c.claim_name).await?.ok_or_else(|| {
            VolumeError::SetUp(format!(
                "persistentvolumeclaim \"{}\" not found",
                c.claim_name
            ))
        })?;
        let phase = claim
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default();
        let pv_name = claim
            .spec
            .as_ref()
            .and_then(|s| s.volume_name.clone())
            .unwrap_or_default();
        if phase != "Bound" || pv_name.is_empty() {
            return Err(VolumeError::SetUp(format!(
                "PVC {ns}/{} has non-bound phase (\"{phase}\") or empty pvc.Spec.VolumeName (\"{pv_name}\")",
                c.claim_name
            )));
        }
        let pv = objects.pv(&pv_name).await?.ok_or_else(|| {
            VolumeError::SetUp(format!("persistentvolume \"{pv_name}\" not found"))
        })?;
        let spec = pv.spec.unwrap_or_default();
        let path = if let Some(h) = &spec.host_path {
            check_host_path(Path::new(&h.path), h.type_.as_deref().unwrap_or(""))?;
            PathBuf::from(&h.path)
        } else if let Some(l) = &spec.local {
            let p = PathBuf::from(&l.path);
            if !p.exists() {
                return Err(VolumeError::SetUp(format!(
                    "local volume path {} does not exist",
                    p.display()
                )));
            }
            p
        } else {
            return Err(VolumeError::SetUp(format!(
                "persistentvolume \"{pv_name}\" is neither hostPath nor local: not supported by this kubelet"
            )));
        };
        return Ok(HostVolume {
            path,
            read_only: c.read_only.unwrap_or(false),
        });
    }
    Err(VolumeError::SetUp(
        "volume type not supported by this kubelet".into(),
    ))
}

fn mode_of(mode: Option<i32>, default: u32) -> u32 {
    mode.map(|m| (m as u32) & 0o7777).unwrap_or(default)
}

fn add_items(
    what: &str,
    data: &BTreeMap<String, Vec<u8>>,
    items: Option<&[KeyToPath]>,
    optional: bool,
    mode: u32,
    payload: &mut Payload,
) -> Result<(), VolumeError> {
    match items {
        None | Some([]) => {
            for (k, v) in data {
                payload.insert(
                    k.clone(),
                    FileProjection {
                        data: v.clone(),
                        mode,
                    },
                );
            }
        }
        Some(items) => {
            for it in items {
                let Some(v) = data.get(&it.key) else {
                    if optional {
                        continue;
                    }
                    return Err(VolumeError::SetUp(format!(
                        "{what} references non-existent config key: {}",
                        it.key
                    )));
                };
                payload.insert(
                    it.path.clone(),
                    FileProjection {
                        data: v.clone(),
                        mode: mode_of(it.mode, mode),
                    },
                );
            }
        }
    }
    Ok(())
}

fn config_map_data(cm: &ConfigMap) -> BTreeMap<String, Vec<u8>> {
    let mut data: BTreeMap<String, Vec<u8>> = cm
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
        .collect();
    for (k, v) in cm.binary_data.iter().flatten() {
        data.insert(k.clone(), v.0.clone());
    }
    data
}

fn secret_data(s: &Secret) -> BTreeMap<String, Vec<u8>> {
    let mut data: BTreeMap<String, Vec<u8>> = s
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect();
    for (k, v) in s.string_data.iter().flatten() {
        data.insert(k.clone(), v.clone().into_bytes());
    }
    data
}

async fn config_map_payload(
    objects: &dyn Objects,
    ns: &str,
    name: &str,
    items: Option<&[KeyToPath]>,
    optional: bool,
    mode: u32,
    payload: &mut Payload,
) -> Result<(), VolumeError> {
    match objects.config_map(ns, name).await? {
        Some(cm) => add_items(
            "configMap",
            &config_map_data(&cm),
            items,
            optional,
            mode,
            payload,
        ),
        None if optional => Ok(()),
        None => Err(VolumeError::SetUp(format!(
            "configmap \"{name}\" not found"
        ))),
    }
}

async fn secret_payload(
    objects: &dyn Objects,
    ns: &str,
    name: &str,
    items: Option<&[KeyToPath]>,
    optional: bool,
    mode: u32,
    payload: &mut Payload,
) -> Result<(), VolumeError> {
    match objects.secret(ns, name).await? {
        Some(s) => add_items("secret", &secret_data(&s), items, optional, mode, payload),
        None if optional => Ok(()),
        None => Err(VolumeError::SetUp(format!("secret \"{name}\" not found"))),
    }
}

/// Labels and annotations as upstream's downward API writes them: sorted
/// `key="value"` lines.
pub fn format_map(m: Option<&BTreeMap<String, String>>) -> String {
    m.into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", serde_json::Value::String(v.clone())))
        .collect::<Vec<_>>()
        .join("\n")
}

fn downward_payload(
    pod: &Pod,
    node: &NodeContext,
    items: Option<&[DownwardAPIVolumeFile]>,
    mode: u32,
    payload: &mut Payload,
) -> Result<(), VolumeError> {
    for it in items.into_iter().flatten() {
        let value = if let Some(f) = &it.field_ref {
            match f.field_path.as_str() {
                "metadata.labels" => format_map(pod.metadata.labels.as_ref()),
                "metadata.annotations" => format_map(pod.metadata.annotations.as_ref()),
                p => crate::pod::field_ref(pod, node, "", p)
                    .ok_or_else(|| VolumeError::SetUp(format!("unsupported fieldPath: {p}")))?,
            }
        } else if let Some(r) = &it.resource_field_ref {
            let cname = r.container_name.clone().unwrap_or_default();
            let c = crate::pod::all_containers(pod)
                .find(|c| c.name == cname)
                .ok_or_else(|| {
                    VolumeError::SetUp(format!(
                        "container {cname} not found in the pod for resourceFieldRef"
                    ))
                })?;
            crate::pod::resource_field_ref(
                c,
                node,
                &r.resource,
                r.divisor.as_ref().map(|d| d.0.as_str()),
            )
        } else {
            continue;
        };
        payload.insert(
            it.path.clone(),
            FileProjection {
                data: value.into_bytes(),
                mode: mode_of(it.mode, mode),
            },
        );
    }
    Ok(())
}

/// upstream's hostPath `type` checks; the `*OrCreate` types create what is
/// missing (directories 0755, files 0644).
pub fn check_host_path(path: &Path, kind: &str) -> Result<(), VolumeError> {
    let p = path.display();
    let meta = fs::metadata(path);
    let fail = |what: &str| {
        Err(VolumeError::SetUp(format!(
            "hostPath type check failed: {p} is not {what}"
        )))
    };
    match kind {
        "" => Ok(()),
        "DirectoryOrCreate" if meta.is_err() => {
            fs::create_dir_all(path).map_err(io_err(format!("creating {p}")))?;
            fs::set_permissions(path, fs::Permissions::from_mode(0o755))
                .map_err(io_err(format!("setting the mode of {p}")))
        }
        "DirectoryOrCreate" | "Directory" => match meta {
            Ok(m) if m.is_dir() => Ok(()),
            _ => fail("a directory"),
        },
        "FileOrCreate" if meta.is_err() => {
            fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(path)
                .map_err(io_err(format!("creating {p}")))?;
            fs::set_permissions(path, fs::Permissions::from_mode(0o644))
                .map_err(io_err(format!("setting the mode of {p}")))
        }
        "FileOrCreate" | "File" => match meta {
            Ok(m) if m.is_file() => Ok(()),
            _ => fail("a file"),
        },
        "Socket" => match meta {
            Ok(m) if m.file_type().is_socket() => Ok(()),
            _ => fail("a socket file"),
        },
        "CharDevice" => match meta {
            Ok(m) if m.file_type().is_char_device() => Ok(()),
            _ => fail("a character device"),
        },
        "BlockDevice" => match meta {
            Ok(m) if m.file_type().is_block_device() => Ok(()),
            _ => fail("a block device"),
        },
        other => Err(VolumeError::SetUp(format!(
            "{other} is an invalid volume type"
        ))),
    }
}

/// A user-visible payload path must be relative, without `..` and not
/// starting with `..` (those names are the writer's own).
fn valid_payload_path(p: &str) -> bool {
    let path = Path::new(p);
    !p.is_empty()
        && !p.starts_with("..")
        && path.components().all(|c| matches!(c, Component::Normal(_)))
}

fn timestamp_dir_name() -> String {
    let now = k8s_openapi::jiff::Timestamp::now();
    format!(
        "..{}.{:09}",
        now.strftime("%Y_%m_%d_%H_%M_%S"),
        now.subsec_nanosecond()
    )
}

/// Reads every regular file under `dir` as relative path -> (content, mode).
fn read_tree(dir: &Path) -> io::Result<Payload> {
    let mut out = Payload::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for e in fs::read_dir(dir.join(&rel))? {
            let e = e?;
            let r = rel.join(e.file_name());
            let ft = e.file_type()?;
            if ft.is_dir() {
                stack.push(r);
            } else {
                let meta = e.metadata()?;
                out.insert(
                    r.to_string_lossy().into_owned(),
                    FileProjection {
                        data: fs::read(e.path())?,
                        mode: meta.permissions().mode() & 0o7777,
                    },
                );
            }
        }
    }
    Ok(out)
}

/// Writes `payload` into `dir` atomically, as upstream's AtomicWriter: the
/// files go into a new `..<timestamp>` directory, the `..data` symlink is
/// swapped to it by rename, each top-level name is a symlink
/// `name -> ..data/name`, and the previous timestamped directory and stale
/// names are removed. Returns whether anything changed.
pub fn write_atomic(dir: &Path, payload: &Payload) -> Result<bool, VolumeError> {
    for p in payload.keys() {
        if !valid_payload_path(p) {
            return Err(VolumeError::SetUp(format!("invalid path in payload: {p}")));
        }
    }
    let d = dir.display();
    fs::create_dir_all(dir).map_err(io_err(format!("creating {d}")))?;
    let data_link = dir.join(DATA_DIR_NAME);
    let old = fs::read_link(&data_link).ok();
    let top: BTreeSet<String> = payload
        .keys()
        .filter_map(|p| {
            Path::new(p)
                .components()
                .next()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
        })
        .collect();
    let unchanged = old
        .as_ref()
        .and_then(|o| read_tree(&dir.join(o)).ok())
        .is_some_and(|cur| &cur == payload);
    let mut changed = false;
    if !unchanged {
        let mut name = timestamp_dir_name();
        while dir.join(&name).exists() {
            name.push('0');
        }
        let ts = dir.join(&name);
        fs::create_dir(&ts).map_err(io_err(format!("creating {}", ts.display())))?;
        fs::set_permissions(&ts, fs::Permissions::from_mode(0o755))
            .map_err(io_err(format!("setting the mode of {}", ts.display())))?;
        for (p, f) in payload {
            let file = ts.join(p);
            if let Some(parent) = file.parent() {
                fs::create_dir_all(parent)
                    .map_err(io_err(format!("creating {}", parent.display())))?;
            }
            fs::write(&file, &f.data).map_err(io_err(format!("writing {}", file.display())))?;
            fs::set_permissions(&file, fs::Permissions::from_mode(f.mode))
                .map_err(io_err(format!("setting the mode of {}", file.display())))?;
        }
        let tmp = dir.join("..data_tmp");
        let _ = fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&name, &tmp)
            .map_err(io_err(format!("linking {}", tmp.display())))?;
        fs::rename(&tmp, &data_link)
            .map_err(io_err(format!("swapping {}", data_link.display())))?;
        changed = true;
    }
    // The user-visible names.
    for t in &top {
        let link = dir.join(t);
        let want = Path::new(DATA_DIR_NAME).join(t);
        if fs::read_link(&link).ok().as_deref() == Some(want.as_path()) {
            continue;
        }
        if let Ok(m) = fs::symlink_metadata(&link) {
            if m.is_dir() {
                fs::remove_dir_all(&link)
            } else {
                fs::remove_file(&link)
            }
            .map_err(io_err(format!("removing {}", link.display())))?;
        }
        std::os::unix::fs::symlink(&want, &link)
            .map_err(io_err(format!("linking {}", link.display())))?;
        changed = true;
    }
    let current = fs::read_link(&data_link).ok();
    for e in fs::read_dir(dir).map_err(io_err(format!("reading {d}")))? {
        let e = e.map_err(io_err(format!("reading {d}")))?;
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with("..") {
            // Old timestamped directories.
            if n != DATA_DIR_NAME
                && n != "..data_tmp"
                && current.as_deref() != Some(Path::new(&n))
                && e.file_type().is_ok_and(|t| t.is_dir())
            {
                fs::remove_dir_all(e.path())
                    .map_err(io_err(format!("removing {}", e.path().display())))?;
            }
        } else if !top.contains(&n) && e.file_type().is_ok_and(|t| t.is_symlink()) {
            fs::remove_file(e.path())
                .map_err(io_err(format!("removing {}", e.path().display())))?;
            changed = true;
        }
    }
    Ok(changed)
}

/// The CRI mounts of a container from its `volumeMounts`: `subPath` (and
/// `subPathExpr` expanded with the container's env) below the volume,
/// created as a directory when missing, as upstream does.
pub fn container_mounts(
    c: &Container,
    prepared: &Prepared,
    env: &[(String, String)],
) -> Result<Vec<api::Mount>, String> {
    let mut out = Vec::new();
    for m in c.volume_mounts.iter().flatten() {
        let Some(v) = prepared.volumes.get(&m.name) else {
            return Err(format!(
                "cannot find volume \"{}\" to mount into container \"{}\"",
                m.name, c.name
            ));
        };
        let mut host = v.path.clone();
        let sub = match (&m.sub_path, &m.sub_path_expr) {
            (Some(s), _) if !s.is_empty() => Some(s.clone()),
            (_, Some(e)) if !e.is_empty() => {
                let lookup = |n: &str| {
                    env.iter()
                        .rev()
                        .find(|(k, _)| k == n)
                        .map(|(_, v)| v.clone())
                };
                Some(crate::pod::expand(e, &lookup))
            }
            _ => None,
        };
        if let Some(sub) = sub {
            let ok = Path::new(&sub)
                .components()
                .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
            if !ok {
                return Err(format!(
                    "failed to prepare subPath for volumeMount \"{}\" of container \"{}\": {sub} must be a relative path without ..",
                    m.name, c.name
                ));
            }
            host = host.join(&sub);
            if fs::symlink_metadata(&host).is_err() {
                fs::create_dir_all(&host).map_err(|e| {
                    format!("failed to create subPath directory for volumeMount \"{}\" of container \"{}\": {e}", m.name, c.name)
                })?;
            }
        }
        let propagation = match m.mount_propagation.as_deref() {
            Some("HostToContainer") => api::MountPropagation::PropagationHostToContainer,
            Some("Bidirectional") => api::MountPropagation::PropagationBidirectional,
            _ => api::MountPropagation::PropagationPrivate,
        };
        out.push(api::Mount {
            container_path: m.mount_path.clone(),
            host_path: host.display().to_string(),
            readonly: m.read_only.unwrap_or(false) || v.read_only,
            selinux_relabel: false,
            propagation: propagation as i32,
        });
    }
    Ok(out)
}

/// Mount points (from /proc/self/mountinfo) at or below `dir`, deepest
/// first.
pub fn mounts_below(dir: &Path) -> Vec<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut out: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape_mountinfo(p)))
        .filter(|p| p.starts_with(dir))
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    out.dedup();
    out
}

fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn is_mount_point(dir: &Path) -> bool {
    mounts_below(dir).iter().any(|p| p == dir)
}

fn run_cmd(cmd: &mut std::process::Command) -> Result<(), VolumeError> {
    let line = format!("{cmd:?}");
    let out = cmd.output().map_err(io_err(format!("running {line}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(VolumeError::SetUp(format!(
            "{line} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Mounts a tmpfs on `dir` (mount(8): the workspace forbids unsafe code).
fn mount_tmpfs(dir: &Path, size: Option<i128>) -> Result<(), VolumeError> {
    let mut cmd = std::process::Command::new("mount");
    cmd.args(["-t", "tmpfs"]);
    if let Some(s) = size {
        cmd.args(["-o", &format!("size={s}")]);
    }
    cmd.arg("tmpfs").arg(dir);
    run_cmd(&mut cmd)
}

/// Unmounts whatever is mounted below the pod's directory (tmpfs
/// emptyDirs), then removes it. hostPath and PV volumes live outside it
/// and are never touched.
pub fn cleanup_pod(root: &Path, uid: &str) -> Result<(), VolumeError> {
    let dir = pod_dir(root, uid);
    if !dir.exists() {
        return Ok(());
    }
    for m in mounts_below(&dir) {
        run_cmd(std::process::Command::new("umount").arg(&m))?;
    }
    // Anything still mounted means removal would reach into it.
    if !mounts_below(&dir).is_empty() {
        return Err(VolumeError::SetUp(format!(
            "{} still has mounts",
            dir.display()
        )));
    }
    fs::remove_dir_all(&dir).map_err(io_err(format!("removing {}", dir.display())))
}

/// Uids with a directory under `<root>/pods`.
pub fn pod_dirs(root: &Path) -> Vec<String> {
    fs::read_dir(root.join("pods"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::FakeObjects;
    use serde_json::json;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("kubelet-vol-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    fn node() -> NodeContext {
        NodeContext {
            node_name: "n1".into(),
            node_ip: "192.0.2.10".into(),
            cluster_dns: Vec::new(),
            cluster_domain: "cluster.local".into(),
            cgroup_root: String::new(),
            pod_log_root: std::env::temp_dir(),
            resolv_conf: "/nonexistent".into(),
            memory_capacity: 8 << 30,
        }
    }

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns1", "uid": "u-v",
                         "labels": {"b": "2", "a": "x\"y"}},
            "spec": spec,
        }))
        .unwrap()
    }

    fn cm(name: &str, data: serde_json::Value) -> ConfigMap {
        serde_json::from_value(
            json!({"metadata": {"name": name, "namespace": "ns1"}, "data": data}),
        )
        .unwrap()
    }

    fn file(data: &str, mode: u32) -> FileProjection {
        FileProjection {
            data: data.as_bytes().to_vec(),
            mode,
        }
    }

    #[test]
    fn atomic_writer_swaps_data_and_links() {
        let dir = tmp("atomic");
        let p1 = Payload::from([
            ("a".to_string(), file("1", 0o644)),
            ("sub/b".to_string(), file("2", 0o600)),
        ]);
        assert!(write_atomic(&dir, &p1).unwrap());
        let first = fs::read_link(dir.join(DATA_DIR_NAME)).unwrap();
        assert!(first.to_string_lossy().starts_with(".."));
        assert_eq!(fs::read_link(dir.join("a")).unwrap(), Path::new("..data/a"));
        assert_eq!(
            fs::read_link(dir.join("sub")).unwrap(),
            Path::new("..data/sub")
        );
        assert_eq!(fs::read_to_string(dir.join("sub/b")).unwrap(), "2");
        let mode = fs::metadata(dir.join("sub/b"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        // The same payload again: nothing changes.
        assert!(!write_atomic(&dir, &p1).unwrap());
        assert_eq!(fs::read_link(dir.join(DATA_DIR_NAME)).unwrap(), first);
        // A new payload: a new timestamped dir, the old one gone, stale
        // names removed.
        let p2 = Payload::from([("a".to_string(), file("changed", 0o644))]);
        assert!(write_atomic(&dir, &p2).unwrap());
        let second = fs::read_link(dir.join(DATA_DIR_NAME)).unwrap();
        assert_ne!(first, second);
        assert!(!dir.join(&first).exists());
        assert!(fs::symlink_metadata(dir.join("sub")).is_err());
        assert_eq!(fs::read_to_string(dir.join("a")).unwrap(), "changed");
        let names: BTreeSet<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            BTreeSet::from([
                "a".to_string(),
                DATA_DIR_NAME.to_string(),
                second.to_string_lossy().into_owned()
            ])
        );
        // Paths that escape are refused.
        let bad = Payload::from([("../x".to_string(), file("", 0o644))]);
        assert!(write_atomic(&dir, &bad).is_err());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn config_map_secret_downward_and_projected() {
        let root = tmp("prepare");
        let objects = FakeObjects::default();
        objects.put_config_map(cm("cfg", json!({"k1": "v1", "k2": "v2"})));
        objects.put_secret(
            serde_json::from_value(json!({"metadata": {"name": "sec", "namespace": "ns1"},
                "data": {"password": "aHVudGVyMg=="}}))
            .unwrap(),
        );
        let p = pod(json!({"containers": [{"name": "c", "image": "x",
            "resources": {"limits": {"memory": "64Mi"}}}],
        "volumes": [
            {"name": "all", "configMap": {"name": "cfg"}},
            {"name": "some", "configMap": {"name": "cfg", "defaultMode": 0o600,
                "items": [{"key": "k2", "path": "dir/two", "mode": 0o400}]}},
            {"name": "s", "secret": {"secretName": "sec"}},
            {"name": "d", "downwardAPI": {"items": [
                {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
                {"path": "mem", "resourceFieldRef": {"containerName": "c", "resource": "limits.memory", "divisor": "1Mi"}}]}},
            {"name": "proj", "projected": {"sources": [
                {"configMap": {"name": "cfg", "items": [{"key": "k1", "path": "k1"}]}},
                {"downwardAPI": {"items": [{"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
                {"serviceAccountToken": {"path": "token"}}]}},
            {"name": "opt", "configMap": {"name": "absent", "optional": true}},
            {"name": "miss", "configMap": {"name": "absent"}},
            {"name": "misskey", "configMap": {"name": "cfg", "items": [{"key": "nope", "path": "x"}]}}
        ]}));
        let prep = prepare(&root, &p, &node(), &objects).await;
        let path = |n: &str| prep.volumes[n].path.clone();
        assert_eq!(
            path("all"),
            root.join("pods/u-v/volumes/kubernetes.io~configmap/all")
        );
        assert!(prep.volumes["all"].read_only);
        assert_eq!(fs::read_to_string(path("all").join("k1")).unwrap(), "v1");
        let two = path("some").join("dir/two");
        assert_eq!(fs::read_to_string(&two).unwrap(), "v2");
        assert_eq!(
            fs::metadata(&two).unwrap().permissions().mode() & 0o777,
            0o400
        );
        assert!(!path("some").join("k1").exists());
        let pw = path("s").join("password");
        assert_eq!(fs::read_to_string(&pw).unwrap(), "hunter2");
        assert_eq!(
            fs::metadata(&pw).unwrap().permissions().mode() & 0o777,
            0o644
        );
        assert_eq!(
            fs::read_to_string(path("d").join("labels")).unwrap(),
            "a=\"x\\\"y\"\nb=\"2\""
        );
        assert_eq!(fs::read_to_string(path("d").join("name")).unwrap(), "p");
        assert_eq!(fs::read_to_string(path("d").join("mem")).unwrap(), "64");
        assert_eq!(fs::read_to_string(path("proj").join("k1")).unwrap(), "v1");
        assert_eq!(fs::read_to_string(path("proj").join("ns")).unwrap(), "ns1");
        // No TokenRequest API: the token source is skipped, not faked.
        assert!(!path("proj").join("token").exists());
        assert!(fs::read_dir(path("opt")).unwrap().all(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("..")));
        let errs: HashMap<_, _> = prep.errors.iter().cloned().collect();
        assert_eq!(
            errs["miss"],
            "MountVolume.SetUp failed for volume \"miss\" : configmap \"absent\" not found"
        );
        assert_eq!(
            errs["misskey"],
            "MountVolume.SetUp failed for volume \"misskey\" : configMap references non-existent config key: nope"
        );

        // With the TokenRequest API, the token is written.
        objects.put_token("ns1", "default", "jwt");
        let prep = prepare(&root, &p, &node(), &objects).await;
        assert_eq!(
            fs::read_to_string(prep.volumes["proj"].path.join("token")).unwrap(),
            "jwt"
        );

        // An edit swaps ..data; the file seen through the link changes.
        let before = fs::read_link(path("all").join(DATA_DIR_NAME)).unwrap();
        objects.put_config_map(cm("cfg", json!({"k1": "edited", "k2": "v2"})));
        prepare(&root, &p, &node(), &objects).await;
        let after = fs::read_link(path("all").join(DATA_DIR_NAME)).unwrap();
        assert_ne!(before, after);
        assert_eq!(
            fs::read_to_string(path("all").join("k1")).unwrap(),
            "edited"
        );

        cleanup_pod(&root, "u-v").unwrap();
        assert!(!pod_dir(&root, "u-v").exists());
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn host_path_types() {
        let d = tmp("hostpath");
        fs::create_dir_all(&d).unwrap();
        let f = d.join("file");
        fs::write(&f, "x").unwrap();
        let msg = |r: Result<(), VolumeError>| r.unwrap_err().to_string();
        assert!(check_host_path(&d, "Directory").is_ok());
        assert_eq!(
            msg(check_host_path(&f, "Directory")),
            format!(
                "hostPath type check failed: {} is not a directory",
                f.display()
            )
        );
        assert!(check_host_path(&f, "File").is_ok());
        assert!(check_host_path(&d.join("nope"), "File").is_err());
        assert!(check_host_path(&d.join("nope"), "").is_ok());
        let created = d.join("made/deeper");
        check_host_path(&created, "DirectoryOrCreate").unwrap();
        assert_eq!(
            fs::metadata(&created).unwrap().permissions().mode() & 0o777,
            0o755
        );
        let newf = d.join("new-file");
        check_host_path(&newf, "FileOrCreate").unwrap();
        assert!(newf.is_file());
        assert_eq!(
            msg(check_host_path(&f, "Socket")),
            format!(
                "hostPath type check failed: {} is not a socket file",
                f.display()
            )
        );
        assert!(check_host_path(Path::new("/dev/null"), "CharDevice").is_ok());
        assert!(check_host_path(Path::new("/dev/null"), "BlockDevice").is_err());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn mounts_with_sub_paths() {
        let d = tmp("mounts");
        let prepared = Prepared {
            volumes: HashMap::from([
                (
                    "data".to_string(),
                    HostVolume {
                        path: d.join("data"),
                        read_only: false,
                    },
                ),
                (
                    "cfg".to_string(),
                    HostVolume {
                        path: d.join("cfg"),
                        read_only: true,
                    },
                ),
            ]),
            errors: Vec::new(),
        };
        let c: Container = serde_json::from_value(json!({"name": "c", "volumeMounts": [
            {"name": "data", "mountPath": "/data"},
            {"name": "data", "mountPath": "/sub", "subPath": "a/b", "readOnly": true},
            {"name": "data", "mountPath": "/expr", "subPathExpr": "$(POD)"},
            {"name": "cfg", "mountPath": "/etc/cfg", "mountPropagation": "HostToContainer"}
        ]}))
        .unwrap();
        let env = vec![("POD".to_string(), "p1".to_string())];
        let m = container_mounts(&c, &prepared, &env).unwrap();
        assert_eq!(m[0].host_path, d.join("data").display().to_string());
        assert!(!m[0].readonly);
        assert_eq!(m[1].host_path, d.join("data/a/b").display().to_string());
        assert!(m[1].readonly && d.join("data/a/b").is_dir());
        assert_eq!(m[2].host_path, d.join("data/p1").display().to_string());
        assert!(m[3].readonly);
        assert_eq!(
            m[3].propagation,
            api::MountPropagation::PropagationHostToContainer as i32
        );
        assert_eq!(
            m[0].propagation,
            api::MountPropagation::PropagationPrivate as i32
        );
        let bad: Container = serde_json::from_value(
            json!({"name": "c", "volumeMounts": [{"name": "data", "mountPath": "/x", "subPath": "../up"}]}),
        )
        .unwrap();
        assert!(container_mounts(&bad, &prepared, &env).is_err());
        let missing: Container = serde_json::from_value(
            json!({"name": "c", "volumeMounts": [{"name": "nope", "mountPath": "/x"}]}),
        )
        .unwrap();
        assert_eq!(
            container_mounts(&missing, &prepared, &env).unwrap_err(),
            "cannot find volume \"nope\" to mount into container \"c\""
        );
        assert_eq!(unescape_mountinfo("/a\\040b"), "/a b");
        let _ = fs::remove_dir_all(&d);
    }

    #[tokio::test]
    async fn cached_objects_reread_after_the_ttl() {
        let fake = std::sync::Arc::new(FakeObjects::default());
        fake.put_config_map(cm("c", json!({"k": "1"})));
        let cached = crate::objects::CachedObjects::with_ttl(
            fake.clone(),
            std::time::Duration::from_millis(200),
        );
        for _ in 0..5 {
            cached.config_map("ns1", "c").await.unwrap();
        }
        assert_eq!(fake.reads(), 1);
        fake.put_config_map(cm("c", json!({"k": "2"})));
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let v = cached.config_map("ns1", "c").await.unwrap().unwrap();
        assert_eq!(v.data.unwrap()["k"], "2");
        assert_eq!(fake.reads(), 2);
    }
}
