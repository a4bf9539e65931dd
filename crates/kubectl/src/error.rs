//! The crate's error type. `Display` is exactly what upstream kubectl
//! prints on stderr for the same failure (every error exits 1).

use serde_json::Value;

/// A kubectl failure, displayed as upstream displays it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A `Status` the apiserver answered with.
    #[error("{}", status_message(.0))]
    Api(Box<Value>),
    /// Bad arguments to a command: the message, then the help hint.
    #[error("error: {msg}\nSee '{cmd} -h' for help and examples")]
    Usage {
        /// What was wrong.
        msg: String,
        /// The command path (`kubectl get`).
        cmd: String,
    },
    /// A message printed as is.
    #[error("{0}")]
    Verbatim(String),
    /// Anything else: `error: <message>`.
    #[error("error: {0}")]
    Msg(String),
    /// The apiserver could not be reached or answered garbage.
    #[error("{}", transport_message(.server, .source))]
    Transport {
        /// The server URL.
        server: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// A remote command (exec, attach, cp) exited non-zero: upstream
    /// prints this line and exits with the command's code.
    #[error("command terminated with exit code {0}")]
    Exit(i32),
    /// A failure printed as is with its own exit code (`kubectl run`'s
    /// terminated pod: the container's exit code).
    #[error("{message}")]
    ExitWith {
        /// The process exit code.
        code: i32,
        /// What is printed.
        message: String,
    },
    /// A local file could not be read or written.
    #[error("error: {context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// `error: <m>`.
    pub fn msg(m: impl Into<String>) -> Error {
        Error::Msg(m.into())
    }

    /// A usage error of `cmd` (e.g. `kubectl get`).
    pub fn usage(cmd: &str, msg: impl Into<String>) -> Error {
        Error::Usage {
            msg: msg.into(),
            cmd: cmd.to_string(),
        }
    }

    /// The process exit code: the remote command's for [`Error::Exit`],
    /// else 1.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Exit(code) => *code,
            Error::ExitWith { code, .. } => *code,
            _ => 1,
        }
    }

    /// The Status reason of an API error.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Error::Api(s) => s["reason"].as_str(),
            _ => None,
        }
    }

    /// Whether this is a NotFound from the server.
    pub fn is_not_found(&self) -> bool {
        self.reason() == Some("NotFound")
    }
}

fn status_message(s: &Value) -> String {
    let reason = s["reason"].as_str().unwrap_or_default();
    let message = s["message"].as_str().unwrap_or_default();
    if reason == "Unauthorized" {
        return format!("error: You must be logged in to the server ({message})");
    }
    if reason == "Invalid" {
        let details = &s["details"];
        let mut head = "The request is invalid".to_string();
        if details.is_object() {
            // The details carry the group-kind as the server names it.
            let kind = details["kind"].as_str().unwrap_or_default();
            head = format!(
                "The {} \"{}\" is invalid",
                kind,
                details["name"].as_str().unwrap_or_default()
            );
        }
        if let Some(causes) = details["causes"].as_array().filter(|c| !c.is_empty()) {
            let errs: Vec<String> = causes
                .iter()
                .map(|c| {
                    format!(
                        "{}: {}",
                        c["field"].as_str().unwrap_or_default(),
                        c["message"].as_str().unwrap_or_default()
                    )
                })
                .collect();
            return if errs.len() == 1 {
                format!("{head}: {}", errs[0])
            } else {
                format!("{head}: \n* {}", errs.join("\n* "))
            };
        }
    }
    if reason.is_empty() {
        format!("Error from server: {message}")
    } else {
        format!("Error from server ({reason}): {message}")
    }
}

fn transport_message(server: &str, e: &kube::Error) -> String {
    let text = format!("{e:?}");
    let host = server
        .split("://")
        .nth(1)
        .unwrap_or(server)
        .trim_end_matches('/');
    if text.contains("Connection refused") || text.contains("ConnectionRefused") {
        return format!(
            "The connection to the server {host} was refused - did you specify the right host or port?"
        );
    }
    format!("Unable to connect to the server: {e}")
}
