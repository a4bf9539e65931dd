//! `kubectl exec`: a command in a container, its streams over the
//! WebSocket channel protocol (see [`crate::cmd::stream`]), its exit code
//! ours.

use clap::Args;

use crate::client::q;
use crate::cmd::stream;
use crate::{Ctx, Error};

/// `kubectl exec (POD | TYPE/NAME) [-c CONTAINER] [flags] -- COMMAND [args...]`.
#[derive(Args, Debug)]
pub struct ExecArgs {
    /// The pod (and, in the deprecated form without `--`, the command).
    pub args: Vec<String>,
    /// The command, after `--`.
    #[arg(last = true)]
    pub command: Vec<String>,
    /// Container name; defaults to the annotated or first one.
    #[arg(short = 'c', long)]
    pub container: Option<String>,
    /// A manifest naming the pod (or workload) to exec into.
    #[arg(short = 'f', long = "filename")]
    pub filename: Vec<String>,
    /// How long to wait for a workload's first pod.
    #[arg(long = "pod-running-timeout", default_value = "1m0s")]
    pub pod_running_timeout: String,
    /// Only print output from the remote session.
    #[arg(short = 'q', long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub quiet: bool,
    /// Pass stdin to the container.
    #[arg(short = 'i', long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub stdin: bool,
    /// Stdin is a TTY.
    #[arg(short = 't', long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub tty: bool,
}

/// The pod argument and the command, as upstream splits them around `--`.
fn split(a: &ExecArgs) -> (Option<String>, Vec<String>, bool) {
    let pod = a.args.first().cloned();
    if !a.command.is_empty() || a.args.len() <= 1 {
        return (pod, a.command.clone(), false);
    }
    // `kubectl exec POD CMD...`: refused since 1.31.
    (pod, a.args[1..].to_vec(), true)
}

/// Runs `kubectl exec`.
pub async fn run(ctx: &mut Ctx, a: ExecArgs) -> Result<(), Error> {
    let (pod_arg, command, without_dash) = split(&a);
    if without_dash {
        return Err(Error::usage(
            "kubectl exec",
            "exec [POD] [COMMAND] is not supported anymore. Use exec [POD] -- [COMMAND] instead",
        ));
    }
    stream::check_pod_running_timeout(&a.pod_running_timeout)
        .map_err(|m| Error::usage("kubectl exec", m))?;
    if pod_arg.is_none() && a.filename.is_empty() {
        return Err(Error::msg("pod, type/name or --filename must be specified"));
    }
    if command.is_empty() {
        return Err(Error::msg(
            "you must specify at least one command for the container",
        ));
    }
    let client = ctx.client().await?;
    let ns = client.namespace.clone();
    let pod = match pod_arg {
        Some(arg) => {
            stream::pick_pod(
                ctx,
                &client,
                &ns,
                &arg,
                "kubectl exec",
                &a.pod_running_timeout,
            )
            .await?
            .pod
        }
        None => {
            // As upstream's builder: the first object the files hold, as
            // written there (a pod is used as is).
            let manifests = crate::manifest::read_all(&a.filename, false)?;
            let Some(m) = manifests.into_iter().next() else {
                return Err(Error::msg("no objects passed to exec"));
            };
            let mut obj = m.object;
            let obj_ns = obj["metadata"]["namespace"]
                .as_str()
                .unwrap_or(&ns)
                .to_string();
            if obj["kind"] == "Pod" {
                obj["metadata"]["namespace"] = obj_ns.clone().into();
                obj
            } else {
                let arg = format!(
                    "{}/{}",
                    obj["kind"].as_str().unwrap_or_default().to_lowercase(),
                    obj["metadata"]["name"].as_str().unwrap_or_default()
                );
                stream::pick_pod(
                    ctx,
                    &client,
                    &obj_ns,
                    &arg,
                    "kubectl exec",
                    &a.pod_running_timeout,
                )
                .await?
                .pod
            }
        }
    };
    let phase = stream::phase(&pod);
    if phase == "Succeeded" || phase == "Failed" {
        return Err(Error::msg(format!(
            "cannot exec into a container in a completed pod; current phase is {phase}"
        )));
    }
    let container = match a.container.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => c.to_string(),
        None => stream::container_or_default(&pod, "", a.quiet)?["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    };
    let raw = stream::setup_tty(a.stdin, a.tty, a.quiet);
    let path = format!(
        "/api/v1/namespaces/{}/pods/{}/exec?{}",
        q(pod["metadata"]["namespace"].as_str().unwrap_or(&ns)),
        q(pod["metadata"]["name"].as_str().unwrap_or_default()),
        stream::stream_query(&command, &container, a.stdin, true, !raw, raw)
    );
    stream::stdio_session(&client, &path, a.stdin, raw, None).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: ExecArgs,
    }

    fn parse(args: &[&str]) -> ExecArgs {
        T::try_parse_from(std::iter::once("exec").chain(args.iter().copied()))
            .unwrap()
            .a
    }

    #[test]
    fn splits_around_the_dash() {
        let a = parse(&["-it", "p", "--", "sh", "-c", "ls -l"]);
        assert!(a.stdin && a.tty);
        assert_eq!(
            split(&a),
            (
                Some("p".into()),
                vec!["sh".into(), "-c".into(), "ls -l".into()],
                false
            )
        );
        let a = parse(&["p", "date"]);
        assert_eq!(split(&a), (Some("p".into()), vec!["date".into()], true));
        let a = parse(&["--", "date"]);
        assert_eq!(split(&a), (None, vec!["date".into()], false));
        let a = parse(&["p"]);
        assert_eq!(split(&a), (Some("p".into()), vec![], false));
    }
}
