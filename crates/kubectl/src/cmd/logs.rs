//! `kubectl logs`: a pod's (or a workload's first pod's, or every
//! selected pod's) container logs, streamed from `pods/log`.

use clap::Args;
use futures::StreamExt;
use http::Request;
use http_body_util::BodyExt;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::client::{q, status_error, Client};
use crate::cmd::stream;
use crate::{eprint_line, Ctx, Error};

const USAGE: &str = "expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]'.\nPOD or TYPE/NAME is a required argument for the logs command";
const CMD: &str = "kubectl logs";

/// `kubectl logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]`.
#[derive(Args, Debug)]
pub struct LogsArgs {
    /// The pod or TYPE/NAME, and optionally the container.
    pub args: Vec<String>,
    /// Get all containers' logs in the pod(s).
    #[arg(long = "all-containers", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub all_containers: bool,
    /// Get logs from all pod(s) a TYPE/NAME selects.
    #[arg(long = "all-pods", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub all_pods: bool,
    /// Print the logs of this container.
    #[arg(short = 'c', long)]
    pub container: Option<String>,
    /// Specify if the logs should be streamed.
    #[arg(short = 'f', long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub follow: bool,
    /// If watching / following pod logs, allow for any errors that occur to be non-fatal.
    #[arg(long = "ignore-errors", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub ignore_errors: bool,
    /// Skip verifying the identity of the kubelet that logs are requested from.
    #[arg(long = "insecure-skip-tls-verify-backend", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub insecure_skip_tls_verify_backend: bool,
    /// Maximum bytes of logs to return.
    #[arg(long = "limit-bytes", default_value_t = 0, allow_hyphen_values = true)]
    pub limit_bytes: i64,
    /// Maximum number of concurrent logs to follow when using a selector.
    #[arg(long = "max-log-requests", default_value_t = 5)]
    pub max_log_requests: usize,
    /// Accepted as upstream.
    #[arg(long = "pod-running-timeout", default_value = "20s")]
    pub pod_running_timeout: String,
    /// Prefix each log line with the log source (pod name and container name).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub prefix: bool,
    /// Print the logs for the previous instance of the container.
    #[arg(short = 'p', long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub previous: bool,
    /// Selector (label query) to filter on.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Only return logs newer than a relative duration like 5s, 2m, or 3h.
    #[arg(long, default_value = "0s")]
    pub since: String,
    /// Only return logs after a specific date (RFC3339).
    #[arg(long = "since-time")]
    pub since_time: Option<String>,
    /// Lines of recent log file to display.
    #[arg(long, allow_hyphen_values = true)]
    pub tail: Option<i64>,
    /// Include timestamps on each line in the log output.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub timestamps: bool,
}

/// One log stream to read: a pod's container.
#[derive(Debug, Clone, PartialEq)]
struct Source {
    namespace: String,
    pod: String,
    container: String,
}

/// Runs `kubectl logs`.
pub async fn run(ctx: &mut Ctx, a: LogsArgs) -> Result<(), Error> {
    let selector = a.selector.clone().filter(|s| !s.is_empty());
    let mut container = a.container.clone().unwrap_or_default();
    match a.args.len() {
        0 if selector.is_none() => return Err(Error::usage(CMD, USAGE)),
        0 => {}
        1 if selector.is_some() => {
            return Err(Error::usage(
                CMD,
                "only a selector (-l) or a POD name is allowed",
            ))
        }
        1 => {}
        2 => container = a.args[1].clone(),
        _ => return Err(Error::usage(CMD, USAGE)),
    }
    stream::check_pod_running_timeout(&a.pod_running_timeout).map_err(Error::msg)?;
    let since = match crate::parse_go_duration(&a.since) {
        Some(d) => d,
        None => {
            return Err(Error::usage(
                CMD,
                format!(
                    "invalid argument \"{0}\" for \"--since\" flag: time: invalid duration \"{0}\"",
                    a.since
                ),
            ))
        }
    };
    let client = ctx.client().await?;
    let ns = client.namespace.clone();
    // Upstream resolves the objects before validating the flags.
    let mut pods: Vec<Value> = Vec::new();
    let mut from_list = false;
    if let Some(sel) = &selector {
        pods = stream::list_pods(&client, &ns, sel).await?;
        from_list = true;
        if pods.is_empty() {
            eprint_line(&format!("No resources found in {ns} namespace."));
        }
    } else {
        let arg = &a.args[0];
        if a.all_pods && arg.contains('/') {
            let (sel, _) = workload_selector(ctx, &client, &ns, arg).await?;
            if let Some(sel) = sel {
                pods = stream::list_pods(&client, &ns, &sel).await?;
                from_list = true;
            }
        }
        if !from_list {
            let picked = stream::pick_pod(ctx, &client, &ns, arg, CMD, &a.pod_running_timeout)
                .await
                .map_err(|e| not_found_in(e, &ns))?;
            if picked.matched > 1 {
                eprint_line(&format!(
                    "Found {} pods, using pod/{}",
                    picked.matched,
                    picked.pod["metadata"]["name"].as_str().unwrap_or_default()
                ));
            }
            pods.push(picked.pod);
        }
    }
    if a.since_time.as_deref().is_some_and(|t| !t.is_empty()) && !since.is_zero() {
        return Err(Error::msg(
            "at most one of `sinceTime` or `sinceSeconds` may be specified",
        ));
    }
    if a.all_containers && !container.is_empty() {
        return Err(Error::msg(format!(
            "--all-containers=true should not be specified with container name {container}"
        )));
    }
    if a.container.is_some() && a.args.len() == 2 {
        return Err(Error::msg(
            "only one of -c or an inline [CONTAINER] arg is allowed",
        ));
    }
    if a.limit_bytes < 0 {
        return Err(Error::msg("--limit-bytes must be greater than 0"));
    }
    let tail = match a.tail {
        Some(t) if t < -1 => return Err(Error::msg("--tail must be greater than or equal to -1")),
        Some(-1) => None,
        Some(t) => Some(t),
        None if selector.is_some() => Some(10),
        None => None,
    };
    let mut sources = Vec::new();
    for pod in &pods {
        sources.extend(sources_for(
            pod,
            &container,
            a.all_containers,
            from_list && a.all_pods,
        )?);
    }
    let mut query = Vec::new();
    for (k, on) in [
        ("follow", a.follow),
        ("previous", a.previous),
        ("timestamps", a.timestamps),
        (
            "insecureSkipTLSVerifyBackend",
            a.insecure_skip_tls_verify_backend,
        ),
    ] {
        if on {
            query.push(format!("{k}=true"));
        }
    }
    if let Some(t) = a.since_time.as_deref().filter(|t| !t.is_empty()) {
        query.push(format!("sinceTime={}", q(t)));
    }
    if !since.is_zero() {
        // Rounded to the nearest second, as upstream.
        let secs = (since.as_millis() + 500) / 1000;
        query.push(format!("sinceSeconds={secs}"));
    }
    if let Some(t) = tail {
        query.push(format!("tailLines={t}"));
    }
    if a.limit_bytes > 0 {
        query.push(format!("limitBytes={}", a.limit_bytes));
    }
    if a.follow && sources.len() > 1 {
        if sources.len() > a.max_log_requests {
            return Err(Error::msg(format!(
                "you are attempting to follow {} log streams, but maximum allowed concurrency is {}, use --max-log-requests to increase the limit",
                sources.len(),
                a.max_log_requests
            )));
        }
        return follow_all(&client, &sources, &query, a.prefix, a.ignore_errors).await;
    }
    for s in &sources {
        let body = open(&client, s, &query).await?;
        copy_lines(body, prefix_for(s, a.prefix)).await?;
    }
    Ok(())
}

/// The pod selector of a `TYPE/NAME` that is not a pod.
async fn workload_selector(
    ctx: &mut Ctx,
    client: &Client,
    ns: &str,
    arg: &str,
) -> Result<(Option<String>, Value), Error> {
    let targets = ctx.targets(&[arg.to_string()], CMD).await?;
    let Some(t) = targets.into_iter().next() else {
        return Err(Error::msg("expected a resource"));
    };
    let name = t.name.unwrap_or_default();
    let obj = client
        .get(
            &t.resource
                .item_path(t.resource.namespaced.then_some(ns), &name),
        )
        .await?;
    if t.resource.group_resource() == "pods" {
        return Ok((None, obj));
    }
    Ok((
        Some(stream::selector_for(&obj, "cannot get the logs from")?),
        obj,
    ))
}

/// The containers of `pod` to read, with upstream's defaulting and its
/// messages (`Defaulted container ...` unless reading all pods).
fn sources_for(
    pod: &Value,
    container: &str,
    all_containers: bool,
    all_pods: bool,
) -> Result<Vec<Source>, Error> {
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let namespace = pod["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let src = |c: &str| Source {
        namespace: namespace.clone(),
        pod: name.to_string(),
        container: c.to_string(),
    };
    if all_containers {
        let mut out = Vec::new();
        for field in ["initContainers", "containers", "ephemeralContainers"] {
            out.extend(stream::container_names(pod, field).iter().map(|c| src(c)));
        }
        return Ok(out);
    }
    let mut chosen = container.to_string();
    if chosen.is_empty() {
        if let Some(d) = pod["metadata"]["annotations"][stream::DEFAULT_CONTAINER_ANNOTATION]
            .as_str()
            .filter(|d| !d.is_empty())
        {
            if stream::find_container(pod, d).is_some() {
                chosen = d.to_string();
            } else {
                eprint_line(&format!(
                    "Default container name \"{d}\" not found in pod {name}"
                ));
            }
        }
    }
    if chosen.is_empty() {
        let containers = stream::container_names(pod, "containers");
        chosen = containers.first().cloned().unwrap_or_default();
        let choice = containers.len() > 1
            || !stream::container_names(pod, "initContainers").is_empty()
            || !stream::container_names(pod, "ephemeralContainers").is_empty();
        if choice && !all_pods {
            eprint_line(&format!(
                "Defaulted container \"{chosen}\" out of: {}",
                stream::all_container_names(pod)
            ));
        }
    }
    if stream::find_container(pod, &chosen).is_none() {
        return Err(Error::msg(format!(
            "container {chosen} is not valid for pod {name}"
        )));
    }
    Ok(vec![src(&chosen)])
}

fn prefix_for(s: &Source, on: bool) -> Vec<u8> {
    if on {
        format!("[pod/{}/{}] ", s.pod, s.container).into_bytes()
    } else {
        Vec::new()
    }
}

/// Starts one log request; a non-2xx answer is its `Status` error.
async fn open(client: &Client, s: &Source, query: &[String]) -> Result<kube::client::Body, Error> {
    let mut parts = vec![format!("container={}", q(&s.container))];
    parts.extend(query.iter().cloned());
    let path = format!(
        "/api/v1/namespaces/{}/pods/{}/log?{}",
        q(&s.namespace),
        q(&s.pod),
        parts.join("&")
    );
    let req = Request::get(&path)
        .body(kube::client::Body::empty())
        .map_err(|e| Error::msg(format!("building request for {path}: {e}")))?;
    let transport = |e: kube::Error| Error::Transport {
        server: client.server().to_string(),
        source: e,
    };
    let res = client.kube().send(req).await.map_err(transport)?;
    let code = res.status().as_u16();
    let body = res.into_body();
    if code >= 400 {
        let bytes = body.collect().await.map_err(transport)?.to_bytes();
        return Err(status_error(code, &bytes));
    }
    Ok(body)
}

/// Copies a log body to stdout a line at a time, each line after `prefix`.
async fn copy_lines(mut body: kube::client::Body, prefix: Vec<u8>) -> Result<(), Error> {
    let mut out = tokio::io::stdout();
    let mut buf = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        buf.extend_from_slice(&data);
        let chunk = take_lines(&mut buf, &prefix);
        if !chunk.is_empty() {
            let _ = out.write_all(&chunk).await;
            let _ = out.flush().await;
        }
    }
    if !buf.is_empty() {
        let mut last = prefix.clone();
        last.extend_from_slice(&buf);
        let _ = out.write_all(&last).await;
    }
    let _ = out.flush().await;
    Ok(())
}

/// The complete lines at the front of `buf`, each after `prefix`; the
/// partial line stays.
fn take_lines(buf: &mut Vec<u8>, prefix: &[u8]) -> Vec<u8> {
    let Some(end) = buf.iter().rposition(|b| *b == b'\n') else {
        return Vec::new();
    };
    let lines: Vec<u8> = buf.drain(..=end).collect();
    if prefix.is_empty() {
        return lines;
    }
    let mut out = Vec::with_capacity(lines.len() + prefix.len() * 4);
    for line in lines.split_inclusive(|b| *b == b'\n') {
        out.extend_from_slice(prefix);
        out.extend_from_slice(line);
    }
    out
}

/// `-f` over several streams: all at once, whole lines interleaved.
async fn follow_all(
    client: &Client,
    sources: &[Source],
    query: &[String],
    prefix: bool,
    ignore_errors: bool,
) -> Result<(), Error> {
    let mut bodies = Vec::new();
    for (i, s) in sources.iter().enumerate() {
        match open(client, s, query).await {
            Ok(b) => bodies.push(
                http_body_util::BodyStream::new(b)
                    .map(move |f| (i, f))
                    .boxed(),
            ),
            Err(e) if ignore_errors => crate::print(&format!("error: {}\n", e_text(&e))),
            Err(e) => return Err(e),
        }
    }
    let prefixes: Vec<Vec<u8>> = sources.iter().map(|s| prefix_for(s, prefix)).collect();
    let mut bufs: Vec<Vec<u8>> = vec![Vec::new(); sources.len()];
    let mut all = futures::stream::select_all(bodies);
    let mut out = tokio::io::stdout();
    while let Some((i, frame)) = all.next().await {
        let Ok(frame) = frame else { continue };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        bufs[i].extend_from_slice(&data);
        let chunk = take_lines(&mut bufs[i], &prefixes[i]);
        if !chunk.is_empty() {
            let _ = out.write_all(&chunk).await;
            let _ = out.flush().await;
        }
    }
    for (i, rest) in bufs.iter().enumerate() {
        if !rest.is_empty() {
            let mut last = prefixes[i].clone();
            last.extend_from_slice(rest);
            let _ = out.write_all(&last).await;
        }
    }
    let _ = out.flush().await;
    Ok(())
}

/// The builder's wording for a missing named object, which logs (unlike
/// exec) passes through: `error: error from server (NotFound): ... in
/// namespace "ns"`.
fn not_found_in(e: Error, ns: &str) -> Error {
    if !e.is_not_found() {
        return e;
    }
    let Error::Api(s) = &e else { return e };
    Error::msg(format!(
        "error from server (NotFound): {} in namespace \"{ns}\"",
        s["message"].as_str().unwrap_or_default()
    ))
}

fn e_text(e: &Error) -> String {
    let s = e.to_string();
    s.strip_prefix("error: ").unwrap_or(&s).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lines_get_prefixes() {
        let mut buf = b"a\nb\npart".to_vec();
        assert_eq!(take_lines(&mut buf, b"[p] "), b"[p] a\n[p] b\n".to_vec());
        assert_eq!(buf, b"part".to_vec());
        let mut buf = b"x\n".to_vec();
        assert_eq!(take_lines(&mut buf, b""), b"x\n".to_vec());
        assert!(take_lines(&mut b"no newline".to_vec(), b"").is_empty());
    }

    #[test]
    fn container_choice() {
        let pod = json!({"metadata": {"name": "p", "namespace": "n"},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
        let got = sources_for(&pod, "", false, false).unwrap();
        assert_eq!(got[0].container, "a");
        let got = sources_for(&pod, "", true, false).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            sources_for(&pod, "x", false, false)
                .unwrap_err()
                .to_string(),
            "error: container x is not valid for pod p"
        );
        let mut annotated = pod.clone();
        annotated["metadata"]["annotations"] = json!({stream::DEFAULT_CONTAINER_ANNOTATION: "b"});
        assert_eq!(
            sources_for(&annotated, "", false, false).unwrap()[0].container,
            "b"
        );
    }
}
