//! `kubectl completion SHELL`: shell completion scripts. Upstream's scripts
//! call a hidden `__complete` command; ours are self-contained: commands
//! and subcommands from a static table, resource types from
//! `kubectl api-resources`, and object names from `kubectl get`.

use clap::Args;

use crate::{print, Ctx, Error};

/// `kubectl completion`.
#[derive(Args, Debug)]
pub struct CompletionArgs {
    pub args: Vec<String>,
}

/// The license header upstream prints before every script.
const BOILERPLATE: &str = "
# Copyright 2016 The Kubernetes Authors.
#
# Licensed under the Apache License, Version 2.0 (the \"License\");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an \"AS IS\" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
";

/// Top-level commands this kubectl implements, with their subcommands.
const COMMANDS: &[(&str, &[&str])] = &[
    ("annotate", &[]),
    ("api-resources", &[]),
    ("api-versions", &[]),
    ("apply", &[]),
    ("attach", &[]),
    ("auth", &["can-i", "whoami"]),
    ("autoscale", &[]),
    ("certificate", &["approve", "deny"]),
    ("cluster-info", &[]),
    ("completion", &["bash", "fish", "powershell", "zsh"]),
    (
        "config",
        &[
            "current-context",
            "delete-cluster",
            "delete-context",
            "delete-user",
            "get-clusters",
            "get-contexts",
            "get-users",
            "set-cluster",
            "set-context",
            "set-credentials",
            "use-context",
            "view",
        ],
    ),
    ("cordon", &[]),
    ("cp", &[]),
    (
        "create",
        &[
            "clusterrole",
            "clusterrolebinding",
            "configmap",
            "cronjob",
            "deployment",
            "job",
            "namespace",
            "poddisruptionbudget",
            "priorityclass",
            "quota",
            "role",
            "rolebinding",
            "secret",
            "service",
            "serviceaccount",
        ],
    ),
    ("delete", &[]),
    ("describe", &[]),
    ("diff", &[]),
    ("drain", &[]),
    ("edit", &[]),
    ("exec", &[]),
    ("explain", &[]),
    ("expose", &[]),
    ("get", &[]),
    ("label", &[]),
    ("logs", &[]),
    ("patch", &[]),
    ("port-forward", &[]),
    ("replace", &[]),
    (
        "rollout",
        &["history", "pause", "restart", "resume", "status", "undo"],
    ),
    ("run", &[]),
    ("scale", &[]),
    (
        "set",
        &[
            "env",
            "image",
            "resources",
            "selector",
            "serviceaccount",
            "subject",
        ],
    ),
    ("taint", &[]),
    ("top", &["node", "pod"]),
    ("uncordon", &[]),
    ("version", &[]),
    ("wait", &[]),
];

/// Commands whose first argument is a resource type.
const TAKES_TYPE: &[&str] = &[
    "annotate", "delete", "describe", "edit", "explain", "get", "label", "patch", "scale", "wait",
];

/// Commands whose argument is a node name.
const TAKES_NODE: &[&str] = &["cordon", "drain", "taint", "uncordon"];

/// Runs `kubectl completion`.
pub async fn run(_ctx: &mut Ctx, a: CompletionArgs) -> Result<(), Error> {
    let cmd = "kubectl completion";
    let shell = match a.args.as_slice() {
        [] => return Err(Error::usage(cmd, "Shell not specified.")),
        [s] => s.as_str(),
        _ => {
            return Err(Error::usage(
                cmd,
                "Too many arguments. Expected only the shell type.",
            ))
        }
    };
    let script = match shell {
        "bash" => format!("{BOILERPLATE}{}", bash_script()),
        "zsh" => format!(
            "#compdef kubectl\ncompdef _kubectl kubectl\n{BOILERPLATE}{}",
            zsh_script()
        ),
        "fish" => format!("{BOILERPLATE}{}", fish_script()),
        "powershell" => format!("{BOILERPLATE}{}", powershell_script()),
        other => {
            return Err(Error::usage(
                cmd,
                format!("Unsupported shell type \"{other}\"."),
            ))
        }
    };
    print(&script);
    Ok(())
}

fn top_level() -> String {
    COMMANDS
        .iter()
        .map(|(c, _)| *c)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A bash `case` arm per command with subcommands.
fn bash_sub_cases() -> String {
    COMMANDS
        .iter()
        .filter(|(_, subs)| !subs.is_empty())
        .map(|(c, subs)| format!("        {c}) words_list=\"{}\" ;;\n", subs.join(" ")))
        .collect()
}

fn bash_script() -> String {
    format!(
        r#"# bash completion for kubectl                              -*- shell-script -*-

__kubectl_types()
{{
    kubectl api-resources -o name --cached 2>/dev/null || kubectl api-resources -o name 2>/dev/null
}}

__kubectl_names()
{{
    kubectl get "$1" -o 'jsonpath={{range .items[*]}}{{.metadata.name}} {{end}}' 2>/dev/null
}}

_kubectl()
{{
    local cur words_list cmd="" sub="" i n=0
    cur="${{COMP_WORDS[COMP_CWORD]}}"
    COMPREPLY=()
    # The command and its first argument, skipping flags.
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${{COMP_WORDS[i]}}" in
            -*) ;;
            *)
                n=$((n + 1))
                if ((n == 1)); then cmd="${{COMP_WORDS[i]}}"; elif ((n == 2)); then sub="${{COMP_WORDS[i]}}"; fi
                ;;
        esac
    done
    if [[ "$cur" == -* ]]; then
        words_list="--namespace --context --kubeconfig --output --selector --all-namespaces --filename --help"
    elif ((n == 0)); then
        words_list="{top}"
    else
        case "$cmd" in
{subs}        {types})
            if ((n == 1)); then words_list="$(__kubectl_types)"; else words_list="$(__kubectl_names "$sub")"; fi ;;
        {nodes}) words_list="$(__kubectl_names nodes)" ;;
        logs|exec|attach|port-forward) words_list="$(__kubectl_names pods)" ;;
        *) words_list="" ;;
        esac
        if ((n >= 2)); then
            case "$cmd" in
                config|create|auth|certificate|rollout|set|top|completion) words_list="" ;;
            esac
        fi
    fi
    COMPREPLY=($(compgen -W "$words_list" -- "$cur"))
}}

complete -o default -F _kubectl kubectl
"#,
        top = top_level(),
        subs = bash_sub_cases(),
        types = TAKES_TYPE.join("|"),
        nodes = TAKES_NODE.join("|"),
    )
}

fn zsh_script() -> String {
    format!(
        "# zsh completion for kubectl                              -*- shell-script -*-\n\nautoload -U +X bashcompinit && bashcompinit\n\n{}",
        bash_script()
            .lines()
            .skip(1)
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    )
}

fn fish_script() -> String {
    let mut s = String::from(
        "# fish completion for kubectl                              -*- shell-script -*-\n\n",
    );
    s.push_str(&format!(
        "complete -c kubectl -f -n '__fish_use_subcommand' -a '{}'\n",
        top_level()
    ));
    for (c, subs) in COMMANDS.iter().filter(|(_, s)| !s.is_empty()) {
        s.push_str(&format!(
            "complete -c kubectl -f -n '__fish_seen_subcommand_from {c}' -a '{}'\n",
            subs.join(" ")
        ));
    }
    s
}

fn powershell_script() -> String {
    let quoted: Vec<String> = COMMANDS.iter().map(|(c, _)| format!("'{c}'")).collect();
    format!(
        "# powershell completion for kubectl                              -*- shell-script -*-\n\nRegister-ArgumentCompleter -CommandName 'kubectl' -ScriptBlock {{\n    param($wordToComplete, $commandAst, $cursorPosition)\n    @({}) | Where-Object {{ $_ -like \"$wordToComplete*\" }} | ForEach-Object {{\n        [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_)\n    }}\n}}\n",
        quoted.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bash_script_lists_commands() {
        let s = bash_script();
        assert!(s.contains("complete -o default -F _kubectl kubectl"));
        assert!(s.contains("config) words_list=\"current-context"));
        assert!(top_level().starts_with("annotate api-resources"));
    }

    #[test]
    fn bash_accepts_the_script() {
        let path = std::env::temp_dir().join(format!("kc-completion-{}.bash", std::process::id()));
        std::fs::write(&path, format!("{BOILERPLATE}{}", bash_script())).unwrap();
        let ok = std::process::Command::new("bash")
            .arg("-n")
            .arg(&path)
            .status()
            .map(|s| s.success())
            .unwrap_or(true);
        let _ = std::fs::remove_file(&path);
        assert!(ok, "bash -n rejected the completion script");
    }
}
