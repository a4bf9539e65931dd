//! The proxy's error type.

use std::path::PathBuf;

/// Everything that can go wrong in the proxy library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag or option has a value the proxy cannot use.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Building a client from the kubeconfig or environment failed.
    #[error("kubernetes client from {context}")]
    Client {
        /// What was being read (a path or "the environment").
        context: String,
        /// The underlying failure.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// `nft` rejected a transaction.
    #[error("nft transaction on table {table} failed ({status}): {stderr}")]
    Nft {
        /// The table the transaction was for.
        table: String,
        /// How `nft` exited.
        status: String,
        /// What `nft` printed on stderr (truncated).
        stderr: String,
    },
    /// `nft` could not be run.
    #[error("running {program}")]
    NftRun {
        /// The program.
        program: String,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// A helper program (`conntrack`, `ip`) failed.
    #[error("{program} {args}: {message}")]
    Command {
        /// The program run.
        program: String,
        /// Its arguments, space-joined.
        args: String,
        /// What went wrong (spawn error or stderr).
        message: String,
    },
    /// Reading or writing a file under /proc/sys failed.
    #[error("sysctl {path}")]
    Sysctl {
        /// The /proc/sys path.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// Binding or serving the healthz or metrics endpoint failed.
    #[error("serving on {addr}")]
    Serve {
        /// The address.
        addr: String,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
}
