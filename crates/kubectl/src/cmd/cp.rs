//! `kubectl cp`: files to and from containers as tar streams through
//! exec (`tar -xmf -` reading ours; `tar cf -` writing one we unpack), so
//! the container needs a `tar` binary, as upstream's does.

mod tar;

use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use clap::Args;
use serde_json::Value;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::client::{q, Client};
use crate::cmd::stream;
use crate::{Ctx, Error};

use self::tar::{Entry, Kind};

/// `kubectl cp <file-spec-src> <file-spec-dest>`.
#[derive(Args, Debug)]
pub struct CpArgs {
    /// Source and destination: `[[namespace/]pod:]file/path`.
    pub args: Vec<String>,
    /// Container name; defaults to the annotated or first one.
    #[arg(short = 'c', long)]
    pub container: Option<String>,
    /// Do not preserve ownership and permissions in the container.
    #[arg(long = "no-preserve", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub no_preserve: bool,
    /// Retries for a copy from a container (0: none, negative: forever).
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    pub retries: i64,
}

/// One side of a copy.
#[derive(Debug, Clone, PartialEq)]
struct FileSpec {
    namespace: String,
    pod: String,
    file: String,
}

const BAD_SPEC: &str = "filespec must match the canonical format: [[namespace/]pod:]file/path";

/// Upstream's `extractFileSpec`.
fn extract_file_spec(arg: &str) -> Result<FileSpec, Error> {
    let Some(i) = arg.find(':') else {
        return Ok(FileSpec {
            namespace: String::new(),
            pod: String::new(),
            file: strip_trailing_slash(arg).to_string(),
        });
    };
    if i == 0 {
        return Err(Error::msg(BAD_SPEC));
    }
    let (pod, file) = (&arg[..i], &arg[i + 1..]);
    let file = remote_path(file);
    let pieces: Vec<&str> = pod.split('/').collect();
    match pieces.as_slice() {
        [p] => Ok(FileSpec {
            namespace: String::new(),
            pod: p.to_string(),
            file,
        }),
        [n, p] => Ok(FileSpec {
            namespace: n.to_string(),
            pod: p.to_string(),
            file,
        }),
        _ => Err(Error::msg(BAD_SPEC)),
    }
}

fn strip_trailing_slash(f: &str) -> &str {
    if f.len() > 1 && f.ends_with('/') {
        &f[..f.len() - 1]
    } else {
        f
    }
}

/// A container path: `/` separators, no trailing slash.
fn remote_path(f: &str) -> String {
    strip_trailing_slash(f).replace('\\', "/")
}

/// Go's `path.Clean`.
fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Go's `path.Dir`.
fn dir(p: &str) -> String {
    match p.rfind('/') {
        Some(i) => clean(&p[..=i]),
        None => ".".into(),
    }
}

/// Go's `path.Base`.
fn base(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return "/".into();
    }
    t.rsplit('/').next().unwrap_or(t).to_string()
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => String::new(),
        (true, false) => clean(b),
        (false, true) => clean(a),
        (false, false) => clean(&format!("{a}/{b}")),
    }
}

/// Upstream's `stripPathShortcuts`: no leading `../`, no bare `.`/`..`,
/// no leading `/`.
fn strip_path_shortcuts(p: &str) -> String {
    let mut s = p;
    while let Some(rest) = s.strip_prefix("../") {
        s = rest;
    }
    if s == "." || s == ".." {
        s = "";
    }
    s.strip_prefix('/').unwrap_or(s).to_string()
}

/// Whether `target` stays inside `base` (upstream's `isRelative`).
fn is_inside(base: &str, target: &str) -> bool {
    let (b, t) = (clean(base), clean(target));
    if b == "." {
        return t != ".." && !t.starts_with("../") && !t.starts_with('/');
    }
    if b == "/" {
        return t.starts_with('/');
    }
    t == b || t.starts_with(&format!("{b}/"))
}

/// Go's `%q` for the plain paths in cp's messages.
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// Runs `kubectl cp`.
pub async fn run(ctx: &mut Ctx, a: CpArgs) -> Result<(), Error> {
    let client = ctx.client().await?;
    if a.args.len() != 2 {
        return Err(Error::msg("source and destination are required"));
    }
    let src = extract_file_spec(&a.args[0])?;
    let dest = extract_file_spec(&a.args[1])?;
    if !src.pod.is_empty() && !dest.pod.is_empty() {
        return Err(Error::msg(
            "one of src or dest must be a local file specification",
        ));
    }
    if src.file.is_empty() || dest.file.is_empty() {
        return Err(Error::msg("filepath can not be empty"));
    }
    let container = a.container.clone().unwrap_or_default();
    if !src.pod.is_empty() {
        return copy_from_pod(&client, &a, &container, &src, &dest).await;
    }
    if !dest.pod.is_empty() {
        return copy_to_pod(&client, &a, &container, &src, &dest).await;
    }
    Err(Error::msg(
        "one of src or dest must be a remote file specification",
    ))
}

/// An in-memory sink a session writes to.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl AsyncWrite for Capture {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

type Sink = Box<dyn AsyncWrite + Unpin + Send>;

/// Upstream's `ExecOptions.Run` for a pod named directly: the pod, its
/// phase, the container (its "Defaulted" note going to `err`), then the
/// command's streams.
async fn exec(
    client: &Client,
    spec: &FileSpec,
    container: &str,
    command: &[String],
    stdin: Option<Vec<u8>>,
    out: Sink,
    mut err: Sink,
) -> Result<(), Error> {
    let ns = if spec.namespace.is_empty() {
        client.namespace.clone()
    } else {
        spec.namespace.clone()
    };
    let pod: Value = client
        .get(&format!(
            "/api/v1/namespaces/{}/pods/{}",
            q(&ns),
            q(&spec.pod)
        ))
        .await?;
    let phase = stream::phase(&pod);
    if phase == "Succeeded" || phase == "Failed" {
        return Err(Error::msg(format!(
            "cannot exec into a container in a completed pod; current phase is {phase}"
        )));
    }
    let container = if container.is_empty() {
        let c = stream::container_or_default(&pod, "", true)?;
        let name = c["name"].as_str().unwrap_or_default().to_string();
        let names = stream::container_names(&pod, "containers");
        let annotated = pod["metadata"]["annotations"][stream::DEFAULT_CONTAINER_ANNOTATION]
            .as_str()
            .is_some_and(|d| stream::find_container(&pod, d).is_some());
        let choice = names.len() > 1
            || !stream::container_names(&pod, "initContainers").is_empty()
            || !stream::container_names(&pod, "ephemeralContainers").is_empty();
        if choice && !annotated {
            let _ = err
                .write_all(
                    format!(
                        "Defaulted container \"{name}\" out of: {}\n",
                        stream::all_container_names(&pod)
                    )
                    .as_bytes(),
                )
                .await;
            let _ = err.flush().await;
        }
        name
    } else {
        container.to_string()
    };
    let has_stdin = stdin.is_some();
    let path = format!(
        "/api/v1/namespaces/{}/pods/{}/exec?{}",
        q(&ns),
        q(&spec.pod),
        stream::stream_query(command, &container, has_stdin, true, true, false)
    );
    stream::exec_session(
        client,
        &path,
        stream::Streams {
            stdin: stdin.map(|b| {
                Box::new(std::io::Cursor::new(b)) as Box<dyn tokio::io::AsyncRead + Unpin + Send>
            }),
            stdout: Some(out),
            stderr: Some(err),
            resize: None,
        },
        stream::Channels {
            stdin: has_stdin,
            stdout: true,
            stderr: true,
            tty: false,
        },
    )
    .await
}

async fn copy_to_pod(
    client: &Client,
    a: &CpArgs,
    container: &str,
    src: &FileSpec,
    dest: &FileSpec,
) -> Result<(), Error> {
    if std::fs::metadata(&src.file).is_err() {
        return Err(Error::msg(format!(
            "{} doesn't exist in local filesystem",
            src.file
        )));
    }
    let mut dest_file = dest.file.clone();
    let test = vec!["test".to_string(), "-d".to_string(), dest.file.clone()];
    if exec(
        client,
        dest,
        container,
        &test,
        None,
        Box::new(Capture::default()),
        Box::new(Capture::default()),
    )
    .await
    .is_ok()
    {
        dest_file = remote_path(&join(&dest_file, &base(&src.file)));
    }
    let archive = make_tar(&src.file, &dest_file)?;
    let mut cmd: Vec<String> = if a.no_preserve {
        [
            "tar",
            "--no-same-permissions",
            "--no-same-owner",
            "-xmf",
            "-",
        ]
    } else {
        ["tar", "-xmf", "-", "", ""]
    }
    .iter()
    .filter(|s| !s.is_empty())
    .map(|s| s.to_string())
    .collect();
    let d = remote_path(&dir(&dest_file));
    if !d.is_empty() {
        cmd.push("-C".into());
        cmd.push(d);
    }
    exec(
        client,
        dest,
        container,
        &cmd,
        Some(archive),
        Box::new(tokio::io::stdout()),
        Box::new(tokio::io::stderr()),
    )
    .await
}

/// Upstream's `makeTar`: `src` archived under the name `dest`'s base.
fn make_tar(src: &str, dest: &str) -> Result<Vec<u8>, Error> {
    let src = clean(src);
    let dest = clean(dest);
    let mut out = Vec::new();
    add_tree(Path::new(&src), &base(&dest), &mut out)?;
    tar::finish(&mut out);
    Ok(out)
}

fn add_tree(path: &Path, name: &str, out: &mut Vec<u8>) -> Result<(), Error> {
    use std::os::unix::fs::MetadataExt;
    let io = |e: std::io::Error| Error::Io {
        context: path.display().to_string(),
        source: e,
    };
    let meta = std::fs::symlink_metadata(path).map_err(io)?;
    let entry = |kind, link: String, data: Vec<u8>| Entry {
        name: name.to_string(),
        kind,
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        mtime: u64::try_from(meta.mtime()).unwrap_or(0),
        link,
        data,
    };
    if meta.is_dir() {
        let mut names: Vec<String> = std::fs::read_dir(path)
            .map_err(io)?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        if names.is_empty() {
            tar::write_entry(out, &entry(Kind::Dir, String::new(), Vec::new()));
        }
        for n in names {
            add_tree(&path.join(&n), &format!("{name}/{n}"), out)?;
        }
    } else if meta.file_type().is_symlink() {
        let target = std::fs::read_link(path).map_err(io)?;
        tar::write_entry(
            out,
            &entry(
                Kind::Symlink,
                target.to_string_lossy().into_owned(),
                Vec::new(),
            ),
        );
    } else {
        let data = if meta.is_file() {
            std::fs::read(path).map_err(io)?
        } else {
            Vec::new()
        };
        tar::write_entry(out, &entry(Kind::File, String::new(), data));
    }
    Ok(())
}

async fn copy_from_pod(
    client: &Client,
    a: &CpArgs,
    container: &str,
    src: &FileSpec,
    dest: &FileSpec,
) -> Result<(), Error> {
    let cmd: Vec<String> = if a.retries != 0 {
        vec![
            "sh".into(),
            "-c".into(),
            format!("tar cf - {} | tail -c+0", src.file),
        ]
    } else {
        vec!["tar".into(), "cf".into(), "-".into(), src.file.clone()]
    };
    let data = Capture::default();
    // Upstream sends the remote tar's complaints to stdout, and unpacks
    // what arrived even when tar then fails (its exit code is lost).
    match exec(
        client,
        src,
        container,
        &cmd,
        None,
        Box::new(data.clone()),
        Box::new(tokio::io::stdout()),
    )
    .await
    {
        Ok(()) | Err(Error::Exit(_)) => {}
        Err(e) => return Err(e),
    }
    let archive = data.take();
    let prefix = strip_path_shortcuts(&clean(src.file.trim_start_matches(['/', '\\'])));
    untar(&archive, &prefix, src, &dest.file)
}

fn untar(archive: &[u8], prefix: &str, src: &FileSpec, dest: &str) -> Result<(), Error> {
    let entries = tar::read_all(archive).map_err(|e| Error::msg(e.to_string()))?;
    let mut warned = false;
    for e in entries {
        if !e.name.starts_with(prefix) {
            return Err(Error::msg("tar contents corrupted"));
        }
        let target = join(dest, &remote_path(&e.name[prefix.len()..]));
        if !is_inside(dest, &target) {
            crate::eprint_line(&format!(
                "warning: file {} is outside target destination, skipping",
                quote(&target)
            ));
            continue;
        }
        let io = |err: std::io::Error| Error::Io {
            context: target.clone(),
            source: err,
        };
        std::fs::create_dir_all(dir(&target)).map_err(io)?;
        match e.kind {
            Kind::Dir => std::fs::create_dir_all(&target).map_err(io)?,
            Kind::Symlink => {
                if warned {
                    crate::eprint_line(&format!(
                        "warning: skipping symlink: {} -> {}",
                        quote(&target),
                        quote(&e.link)
                    ));
                } else {
                    warned = true;
                    crate::eprint_line(&format!(
                        "warning: skipping symlink: {} -> {} (consider using \"kubectl exec -n {} {} -- tar cf - {} | tar xf -\")",
                        quote(&target),
                        quote(&e.link),
                        quote(&src.namespace),
                        quote(&src.pod),
                        quote(&src.file)
                    ));
                }
            }
            Kind::File | Kind::Other => std::fs::write(&target, &e.data).map_err(io)?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_specs() {
        assert_eq!(
            extract_file_spec("ns/pod:/tmp/x/").unwrap(),
            FileSpec {
                namespace: "ns".into(),
                pod: "pod".into(),
                file: "/tmp/x".into()
            }
        );
        assert_eq!(extract_file_spec("pod:a").unwrap().pod, "pod");
        assert_eq!(extract_file_spec("local/").unwrap().file, "local");
        assert_eq!(
            extract_file_spec(":x").unwrap_err().to_string(),
            format!("error: {BAD_SPEC}")
        );
        assert!(extract_file_spec("a/b/c:x").is_err());
    }

    #[test]
    fn go_paths() {
        assert_eq!(clean("a//b/./c/.."), "a/b");
        assert_eq!(clean("/../x"), "/x");
        assert_eq!(clean("../x"), "../x");
        assert_eq!(clean(""), ".");
        assert_eq!(dir("/tmp/x"), "/tmp");
        assert_eq!(dir("x"), ".");
        assert_eq!(dir("/x"), "/");
        assert_eq!(base("/tmp/x/"), "x");
        assert_eq!(join("/tmp", "a.txt"), "/tmp/a.txt");
        assert_eq!(join("out", ""), "out");
        assert_eq!(strip_path_shortcuts("../../a"), "a");
        assert_eq!(strip_path_shortcuts(".."), "");
        assert!(is_inside("out", "out/a"));
        assert!(is_inside("out", "out"));
        assert!(!is_inside("out", "x/../../a"));
        assert!(is_inside(".", "a/b"));
        assert!(!is_inside(".", "../a"));
    }

    #[test]
    fn tar_of_a_tree_unpacks_under_the_destination() {
        let root = std::env::temp_dir().join(format!("kubectl-cp-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("src/sub")).unwrap();
        std::fs::create_dir_all(root.join("src/empty")).unwrap();
        std::fs::write(root.join("src/a.txt"), "a\n").unwrap();
        std::fs::write(root.join("src/sub/b.txt"), "b\n").unwrap();
        let archive = make_tar(root.join("src").to_str().unwrap(), "/remote/dst").unwrap();
        let names: Vec<String> = tar::read_all(&archive)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["dst/a.txt", "dst/empty/", "dst/sub/b.txt"]);
        // Unpacking what `tar cf - /remote/dst` would send.
        let mut out = Vec::new();
        for e in tar::read_all(&archive).unwrap() {
            let mut e = e;
            e.name = format!("remote/{}", e.name);
            tar::write_entry(&mut out, &e);
        }
        tar::finish(&mut out);
        let dest = root.join("out");
        let spec = FileSpec {
            namespace: String::new(),
            pod: "p".into(),
            file: "/remote/dst".into(),
        };
        untar(&out, "remote/dst", &spec, dest.to_str().unwrap()).unwrap();
        assert_eq!(std::fs::read_to_string(dest.join("a.txt")).unwrap(), "a\n");
        assert_eq!(
            std::fs::read_to_string(dest.join("sub/b.txt")).unwrap(),
            "b\n"
        );
        assert!(dest.join("empty").is_dir());
        assert_eq!(
            untar(&out, "elsewhere", &spec, dest.to_str().unwrap())
                .unwrap_err()
                .to_string(),
            "error: tar contents corrupted"
        );
        let _ = std::fs::remove_dir_all(&root);
    }
}
