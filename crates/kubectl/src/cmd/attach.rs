//! `kubectl attach`: the streams of a container's running process, over
//! the same channel protocol as exec.

use clap::Args;

use crate::client::q;
use crate::cmd::stream;
use crate::{eprint_line, print, Ctx, Error};

/// `kubectl attach (POD | TYPE/NAME) -c CONTAINER`.
#[derive(Args, Debug)]
pub struct AttachArgs {
    /// POD, TYPE/NAME, or TYPE NAME.
    pub args: Vec<String>,
    /// Container name; defaults to the annotated or first one.
    #[arg(short = 'c', long)]
    pub container: Option<String>,
    /// Accepted as upstream.
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

/// Runs `kubectl attach`.
pub async fn run(ctx: &mut Ctx, a: AttachArgs) -> Result<(), Error> {
    if a.args.is_empty() {
        return Err(Error::msg("at least 1 argument is required for attach"));
    }
    if a.args.len() > 2 {
        return Err(Error::msg(format!(
            "expected POD, TYPE/NAME, or TYPE NAME, (at most 2 arguments) saw {}: [{}]",
            a.args.len(),
            a.args.join(" ")
        )));
    }
    stream::check_pod_running_timeout(&a.pod_running_timeout)
        .map_err(|m| Error::usage("kubectl attach", m))?;
    let arg = if a.args.len() == 2 {
        format!("{}/{}", a.args[0], a.args[1])
    } else {
        a.args[0].clone()
    };
    let client = ctx.client().await?;
    let ns = client.namespace.clone();
    let pod = stream::pick_pod(
        ctx,
        &client,
        &ns,
        &arg,
        "kubectl attach",
        &a.pod_running_timeout,
    )
    .await?
    .pod;
    let phase = stream::phase(&pod);
    if phase == "Succeeded" || phase == "Failed" {
        return Err(Error::msg(format!(
            "cannot attach a container in a completed pod; current phase is {phase}"
        )));
    }
    let container =
        stream::container_or_default(&pod, a.container.as_deref().unwrap_or_default(), a.quiet)
            .map_err(|e| {
                let text = e.to_string();
                Error::msg(format!(
                    "cannot attach to the container: {}",
                    text.strip_prefix("error: ").unwrap_or(&text)
                ))
            })?;
    let name = container["name"].as_str().unwrap_or_default().to_string();
    let container_tty = container["tty"].as_bool().unwrap_or(false);
    let mut tty = a.tty;
    if tty && !container_tty {
        tty = false;
        if !a.quiet {
            eprint_line(&format!(
                "error: Unable to use a TTY - container {name} did not allocate one"
            ));
        }
    } else if !tty && container_tty {
        // The process writes a TTY's stream; reading it otherwise fails.
        tty = true;
    }
    let raw = stream::setup_tty(a.stdin, tty, a.quiet);
    // Attach-detach-reattach redraws: a size one larger, then the real one.
    let first = if raw {
        stream::terminal_size().map(|(w, h)| (w + 1, h + 1))
    } else {
        None
    };
    if !a.quiet {
        eprint_line("If you don't see a command prompt, try pressing enter.");
    }
    let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let pod_ns = pod["metadata"]["namespace"].as_str().unwrap_or(&ns);
    let path = format!(
        "/api/v1/namespaces/{}/pods/{}/attach?{}",
        q(pod_ns),
        q(pod_name),
        stream::stream_query(&[], &name, a.stdin, true, !raw, raw)
    );
    stream::stdio_session(&client, &path, a.stdin, raw, first).await?;
    if !a.quiet && a.stdin && raw {
        print(&format!(
            "Session ended, resume using 'kubectl attach {pod_name} -c {name} -n {pod_ns} -i -t' command\n"
        ));
    }
    Ok(())
}
