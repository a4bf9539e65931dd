//! Command-line errors reported the way cobra and pflag report them.

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// Upstream's top-level commands in the order kubectl registers them,
/// which is the order cobra suggests them in.
const COMMANDS: &[&str] = &[
    "create",
    "expose",
    "run",
    "set",
    "explain",
    "get",
    "edit",
    "delete",
    "rollout",
    "scale",
    "autoscale",
    "certificate",
    "cluster-info",
    "top",
    "cordon",
    "uncordon",
    "drain",
    "taint",
    "describe",
    "logs",
    "attach",
    "exec",
    "port-forward",
    "proxy",
    "cp",
    "auth",
    "debug",
    "events",
    "diff",
    "apply",
    "patch",
    "replace",
    "wait",
    "kustomize",
    "label",
    "annotate",
    "completion",
    "alpha",
    "api-resources",
    "api-versions",
    "config",
    "plugin",
    "version",
    "options",
    "help",
];

const CONFIG_COMMANDS: &[&str] = &[
    "current-context",
    "delete-cluster",
    "delete-context",
    "delete-user",
    "get-clusters",
    "get-contexts",
    "get-users",
    "rename-context",
    "set",
    "set-cluster",
    "set-context",
    "set-credentials",
    "unset",
    "use-context",
    "view",
];

/// Short help printed by a bare `kubectl`.
pub const ROOT_HELP: &str = "kubectl controls the Kubernetes cluster manager.\n\nUsage:\n  kubectl [flags] [options]\n\nUse \"kubectl <command> --help\" for more information about a given command.\n";

/// The command path (`kubectl get`, `kubectl config view`) named in argv.
pub fn command_path(argv: &[String]) -> String {
    let mut path = vec!["kubectl".to_string()];
    const VALUE_FLAGS: &[&str] = &[
        "-n",
        "--namespace",
        "--context",
        "--cluster",
        "--user",
        "--kubeconfig",
        "-s",
        "--server",
        "--token",
        "--request-timeout",
        "-o",
        "--output",
        "-l",
        "--selector",
        "-f",
        "--filename",
        "--field-selector",
        "--sort-by",
    ];
    let mut words: Vec<&String> = Vec::new();
    let mut skip = false;
    for a in argv.iter().skip(1) {
        if skip {
            skip = false;
        } else if VALUE_FLAGS.contains(&a.as_str()) {
            skip = true;
        } else if !a.starts_with('-') {
            words.push(a);
        }
    }
    if let Some(first) = words.first() {
        if COMMANDS.contains(&first.as_str()) {
            path.push(first.to_string());
            if let Some(second) = words.get(1) {
                let subs: &[&str] = match first.as_str() {
                    "config" => CONFIG_COMMANDS,
                    "create" => &[
                        "namespace",
                        "deployment",
                        "configmap",
                        "secret",
                        "serviceaccount",
                        "service",
                    ],
                    _ => &[],
                };
                if subs.contains(&second.as_str()) {
                    path.push(second.to_string());
                }
            }
        }
    }
    path.join(" ")
}

fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Cobra's "Did you mean this?" candidates.
pub fn suggestions(typed: &str, among: &[&str]) -> Vec<String> {
    let t = typed.to_lowercase();
    among
        .iter()
        .filter(|c| levenshtein(&t, c) <= 2 || c.starts_with(&t))
        .map(|c| c.to_string())
        .collect()
}

fn ctx_str(e: &clap::Error, k: ContextKind) -> Option<String> {
    match e.get(k) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => v.first().cloned(),
        _ => None,
    }
}

/// Prints a clap parse failure as kubectl would and returns the exit code.
pub fn report_clap_error(argv: &[String], e: clap::Error) -> i32 {
    let path = command_path(argv);
    let see = format!("See '{path} --help' for usage.");
    let msg = match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            return 0;
        }
        ErrorKind::UnknownArgument => {
            let arg = ctx_str(&e, ContextKind::InvalidArg).unwrap_or_default();
            let arg = arg.split('=').next().unwrap_or_default().to_string();
            if let Some(short) = arg.strip_prefix('-').filter(|s| !s.starts_with('-')) {
                let c = short.chars().next().unwrap_or('?');
                format!("error: unknown shorthand flag: '{c}' in {arg}\n{see}")
            } else {
                format!("error: unknown flag: {arg}\n{see}")
            }
        }
        ErrorKind::InvalidSubcommand => {
            let sub = ctx_str(&e, ContextKind::InvalidSubcommand).unwrap_or_default();
            let parent = path.clone();
            let among = if parent.ends_with("config") {
                CONFIG_COMMANDS
            } else {
                COMMANDS
            };
            let mut m = format!("error: unknown command \"{sub}\" for \"{parent}\"");
            let s = suggestions(&sub, among);
            if !s.is_empty() {
                m.push_str("\n\nDid you mean this?\n");
                for c in s {
                    m.push('\t');
                    m.push_str(&c);
                    m.push('\n');
                }
            }
            m
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let arg = ctx_str(&e, ContextKind::InvalidArg).unwrap_or_default();
            let val = ctx_str(&e, ContextKind::InvalidValue).unwrap_or_default();
            let flag = arg.split([' ', '=']).next().unwrap_or_default().to_string();
            let last = argv.last().map(String::as_str).unwrap_or_default();
            if val.is_empty() && last.len() == 2 && last.starts_with('-') && last != "--" {
                format!(
                    "error: flag needs an argument: '{}' in {last}\n{see}",
                    &last[1..]
                )
            } else if val.is_empty() {
                format!("error: flag needs an argument: {flag}\n{see}")
            } else {
                format!("error: invalid argument \"{val}\" for \"{flag}\" flag: strconv.ParseInt: parsing \"{val}\": invalid syntax\n{see}")
            }
        }
        _ => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or_default().to_string();
            let first = first.strip_prefix("error: ").unwrap_or(&first).to_string();
            format!("error: {first}\n{see}")
        }
    };
    crate::eprint_line(&msg);
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_like_cobra() {
        assert_eq!(suggestions("bogus", COMMANDS), vec!["logs"]);
        assert_eq!(suggestions("gt", COMMANDS), vec!["set", "get", "cp"]);
    }

    #[test]
    fn finds_the_command_path() {
        let argv: Vec<String> = ["kubectl", "-n", "x", "config", "view", "--bogus"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(command_path(&argv), "kubectl config view");
        let argv: Vec<String> = ["kubectl", "config", "view", "--bogus"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(command_path(&argv), "kubectl config view");
    }
}
