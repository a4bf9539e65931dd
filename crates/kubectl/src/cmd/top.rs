//! `kubectl top node|pod`: reads the Metrics API (metrics.k8s.io). This
//! project runs no metrics server, so the usual answer is upstream's
//! `error: Metrics API not available`; the checks before that match
//! upstream's order so argument errors still come first.

use clap::{Args, Subcommand};

use crate::{Ctx, Error};

/// Metrics API versions kubectl understands, newest first.
const METRICS_VERSIONS: &[&str] = &["v1", "v1beta1"];

/// `kubectl top`.
#[derive(Args, Debug)]
pub struct TopArgs {
    #[command(subcommand)]
    pub what: Option<TopCmd>,
}

/// `kubectl top <node|pod>`.
#[derive(Subcommand, Debug)]
pub enum TopCmd {
    /// Display resource (CPU/memory) usage of nodes.
    #[command(alias = "nodes", alias = "no")]
    Node(TopNodeArgs),
    /// Display resource (CPU/memory) usage of pods.
    #[command(alias = "pods", alias = "po")]
    Pod(TopPodArgs),
}

/// `kubectl top node`.
#[derive(Args, Debug)]
pub struct TopNodeArgs {
    pub args: Vec<String>,
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    #[arg(long = "sort-by")]
    pub sort_by: Option<String>,
    #[arg(long = "no-headers", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub no_headers: bool,
    #[arg(long = "use-protocol-buffers", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true")]
    pub use_protocol_buffers: bool,
    #[arg(long = "show-capacity", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub show_capacity: bool,
    #[arg(long = "show-swap", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub show_swap: bool,
}

/// `kubectl top pod`.
#[derive(Args, Debug)]
pub struct TopPodArgs {
    pub args: Vec<String>,
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    #[arg(long = "field-selector")]
    pub field_selector: Option<String>,
    #[arg(long = "sort-by")]
    pub sort_by: Option<String>,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub containers: bool,
    #[arg(short = 'A', long = "all-namespaces", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub all_namespaces: bool,
    #[arg(long = "no-headers", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub no_headers: bool,
    #[arg(long = "use-protocol-buffers", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true")]
    pub use_protocol_buffers: bool,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub sum: bool,
    #[arg(long = "show-swap", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub show_swap: bool,
}

/// Upstream's short help for a bare `kubectl top` (printed to stderr).
const TOP_HELP: &str = "Display resource (CPU/memory) usage.\n\nAvailable Commands:\n  node          Display resource (CPU/memory) usage of nodes\n  pod           Display resource (CPU/memory) usage of pods\n\nUsage:\n  kubectl top [flags] [options]\n\nUse \"kubectl top <command> --help\" for more information about a given command.\nUse \"kubectl options\" for a list of global command-line options (applies to all commands).\n";

/// Runs `kubectl top`.
pub async fn run(ctx: &mut Ctx, a: TopArgs) -> Result<(), Error> {
    let (cmd, args, selector, sort_by, one_of) = match a.what {
        None => {
            crate::eprint_line(TOP_HELP.trim_end());
            return Ok(());
        }
        Some(TopCmd::Node(n)) => (
            "node [NAME | -l label]",
            n.args,
            n.selector,
            n.sort_by,
            "only one of NAME or --selector can be provided",
        ),
        Some(TopCmd::Pod(p)) => (
            "pod [NAME | -l label]",
            p.args,
            p.selector,
            p.sort_by,
            "only one of NAME or selector can be provided",
        ),
    };
    let path = format!("kubectl top {}", cmd.split(' ').next().unwrap_or_default());
    if args.len() > 1 {
        return Err(Error::usage(&path, cmd));
    }
    if let Some(s) = sort_by.filter(|s| !s.is_empty()) {
        if s != "cpu" && s != "memory" {
            return Err(Error::msg("--sort-by accepts only cpu or memory"));
        }
    }
    if !args.is_empty() && selector.as_deref().is_some_and(|s| !s.is_empty()) {
        return Err(Error::msg(one_of));
    }
    let groups = ctx.client().await?.get("/apis").await?;
    match metrics_version(&groups) {
        None => Err(Error::msg("Metrics API not available")),
        // This project ships no metrics server, and reading one is not
        // implemented: say so rather than print made-up numbers.
        Some(v) => Err(Error::msg(format!(
            "reading metrics.k8s.io/{v} is not supported by this kubectl"
        ))),
    }
}

/// The Metrics API version the server offers that kubectl understands.
fn metrics_version(groups: &serde_json::Value) -> Option<&'static str> {
    let group = groups["groups"]
        .as_array()?
        .iter()
        .find(|g| g["name"] == "metrics.k8s.io")?;
    let offered: Vec<&str> = group["versions"]
        .as_array()?
        .iter()
        .filter_map(|v| v["version"].as_str())
        .collect();
    METRICS_VERSIONS
        .iter()
        .find(|v| offered.contains(v))
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_the_metrics_group() {
        assert_eq!(metrics_version(&json!({"groups": []})), None);
        let g =
            json!({"groups": [{"name": "metrics.k8s.io", "versions": [{"version": "v1beta1"}]}]});
        assert_eq!(metrics_version(&g), Some("v1beta1"));
    }
}
