//! `kubectl`, re-implemented: the same commands, flags, output and exit
//! codes as upstream kubectl 1.33, built on kube-rs.
//!
//! Start at [`run`]: it parses the command line ([`cli`]), and hands a
//! [`Ctx`] (global flags, lazily built client and discovery) to the command
//! modules under [`cmd`]. Printing lives in [`output`]; kubeconfig loading
//! and merging in [`kubeconfig`].

pub mod cli;
pub mod client;
pub mod cmd;
pub mod discovery;
pub mod error;
pub mod kubeconfig;
pub mod manifest;
pub mod output;
pub mod patch;
mod usage;

use std::io::Write;
use std::time::Duration;

use clap::Parser;

pub use error::Error;

use crate::cli::{Cli, Cmd, Global};
use crate::client::Client;
use crate::discovery::Discovery;
use crate::kubeconfig::{Loaded, Overrides};

/// What every command works with: the global flags, and the kubeconfig,
/// client and discovery, each made on first use.
pub struct Ctx {
    pub global: Global,
    loaded: Option<Loaded>,
    client: Option<Client>,
    discovery: Option<Discovery>,
    discovery_cached: bool,
}

impl Ctx {
    /// A context for `global`.
    pub fn new(global: Global) -> Ctx {
        Ctx {
            global,
            loaded: None,
            client: None,
            discovery: None,
            discovery_cached: false,
        }
    }

    /// The loaded kubeconfig files.
    pub fn loaded(&mut self) -> Result<&mut Loaded, Error> {
        if self.loaded.is_none() {
            self.loaded = Some(kubeconfig::load(self.global.kubeconfig.as_deref())?);
        }
        Ok(self.loaded.as_mut().expect("just loaded"))
    }

    fn overrides(&self) -> Overrides {
        let g = &self.global;
        Overrides {
            context: g.context.clone(),
            cluster: g.cluster.clone(),
            user: g.user.clone(),
            namespace: g.namespace.clone(),
            server: g.server.clone(),
            token: g.token.clone(),
            insecure_skip_tls_verify: g.insecure_skip_tls_verify.unwrap_or(false),
            certificate_authority: g.certificate_authority.clone(),
            client_certificate: g.client_certificate.clone(),
            client_key: g.client_key.clone(),
        }
    }

    /// The apiserver client of the selected context.
    pub async fn client(&mut self) -> Result<Client, Error> {
        if let Some(c) = &self.client {
            return Ok(c.clone());
        }
        let o = self.overrides();
        let timeout = parse_timeout(self.global.request_timeout.as_deref())?;
        let sel = kubeconfig::select(self.loaded()?, &o)?;
        let c = Client::new(&sel, timeout).await?;
        self.client = Some(c.clone());
        Ok(c)
    }

    /// The namespace in effect.
    pub async fn namespace(&mut self) -> Result<String, Error> {
        Ok(self.client().await?.namespace)
    }

    /// What the server serves, from the disk cache when fresh.
    pub async fn discovery(&mut self) -> Result<&Discovery, Error> {
        if self.discovery.is_none() {
            let c = self.client().await?;
            let dir = discovery::cache_dir(c.server());
            match dir.as_deref().and_then(Discovery::load_cached) {
                Some(d) => {
                    self.discovery = Some(d);
                    self.discovery_cached = true;
                }
                None => self.discovery = Some(Discovery::load(&c, dir.as_deref()).await?),
            }
        }
        Ok(self.discovery.as_ref().expect("just loaded"))
    }

    /// Discovery straight from the server (refreshing the cache).
    pub async fn fresh_discovery(&mut self) -> Result<&Discovery, Error> {
        if self.discovery.is_none() || self.discovery_cached {
            let c = self.client().await?;
            let dir = discovery::cache_dir(c.server());
            self.discovery = Some(Discovery::load(&c, dir.as_deref()).await?);
            self.discovery_cached = false;
        }
        Ok(self.discovery.as_ref().expect("just loaded"))
    }

    /// Resolves resource arguments; a miss in cached discovery refetches it
    /// once, as upstream's RESTMapper does.
    pub async fn targets(
        &mut self,
        args: &[String],
        cmd: &str,
    ) -> Result<Vec<cmd::target::Target>, Error> {
        match cmd::target::parse(self.discovery().await?, args, cmd) {
            Err(_) if self.discovery_cached => {
                cmd::target::parse(self.fresh_discovery().await?, args, cmd)
            }
            other => other,
        }
    }

    /// Discovery that knows every kind in `manifests` if the server does.
    pub async fn discovery_for(
        &mut self,
        manifests: &[manifest::Manifest],
    ) -> Result<Discovery, Error> {
        let known = |d: &Discovery| {
            manifests.iter().all(|m| {
                d.for_kind(
                    m.object["apiVersion"].as_str().unwrap_or_default(),
                    m.object["kind"].as_str().unwrap_or_default(),
                )
                .is_some()
            })
        };
        if !known(self.discovery().await?) && self.discovery_cached {
            return Ok(self.fresh_discovery().await?.clone());
        }
        Ok(self.discovery().await?.clone())
    }
}

/// `--request-timeout`: `0` (none), a bare number of seconds, or a Go
/// duration (`1s`, `2m`, `500ms`).
pub fn parse_timeout(s: Option<&str>) -> Result<Option<Duration>, Error> {
    let Some(s) = s.filter(|s| !s.is_empty() && *s != "0") else {
        return Ok(None);
    };
    if let Ok(n) = s.parse::<u64>() {
        return Ok(Some(Duration::from_secs(n)));
    }
    let d = parse_go_duration(s).ok_or_else(|| {
        Error::msg(
            "Invalid timeout value. Timeout must be a single integer in seconds, or an integer followed by a corresponding time unit (e.g. 1s | 2m | 3h)",
        )
    })?;
    Ok(if d.is_zero() { None } else { Some(d) })
}

/// A Go `time.ParseDuration` string.
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    apimachinery::duration::parse_go_duration(s).ok()
}

/// Writes to stdout, ignoring a closed pipe as Go programs do not.
pub fn print(s: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(s.as_bytes());
    let _ = o.flush();
}

/// Writes a line to stderr.
pub fn eprint_line(s: &str) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(s.as_bytes());
    if !s.ends_with('\n') {
        let _ = e.write_all(b"\n");
    }
}

/// Runs kubectl with `argv` (program name first) and returns the exit code.
pub async fn run(argv: Vec<String>) -> i32 {
    let cli = match Cli::try_parse_from(&argv) {
        Ok(c) => c,
        Err(e) => return usage::report_clap_error(&argv, e),
    };
    let mut ctx = Ctx::new(cli.global);
    let res = match cli.cmd {
        None => {
            print(usage::ROOT_HELP);
            Ok(())
        }
        Some(cmd) => dispatch(&mut ctx, cmd).await,
    };
    match res {
        Ok(()) => 0,
        Err(e) => {
            // An empty message (`kubectl diff` finding differences) prints
            // nothing.
            let msg = e.to_string();
            if !msg.is_empty() {
                eprint_line(&msg);
            }
            e.exit_code()
        }
    }
}

async fn dispatch(ctx: &mut Ctx, cmd: Cmd) -> Result<(), Error> {
    match cmd {
        Cmd::Get(a) => cmd::get::run(ctx, a).await,
        Cmd::Apply(a) => cmd::apply::run(ctx, a).await,
        Cmd::Create(a) => cmd::create::run(ctx, a).await,
        Cmd::Delete(a) => cmd::delete::run(ctx, a).await,
        Cmd::Label(a) => cmd::meta::run(ctx, a, cmd::meta::Which::Labels).await,
        Cmd::Annotate(a) => cmd::meta::run(ctx, a, cmd::meta::Which::Annotations).await,
        Cmd::Scale(a) => cmd::scale::run(ctx, a).await,
        Cmd::Patch(a) => cmd::patch::run(ctx, a).await,
        Cmd::Version(a) => cmd::info::version(ctx, a).await,
        Cmd::ApiResources(a) => cmd::info::api_resources(ctx, a).await,
        Cmd::ApiVersions => cmd::info::api_versions(ctx).await,
        Cmd::ClusterInfo => cmd::info::cluster_info(ctx).await,
        Cmd::Config(a) => cmd::config::run(ctx, a.cmd),
        Cmd::Describe(a) => cmd::describe::run(ctx, a).await,
        Cmd::Logs(a) => cmd::logs::run(ctx, a).await,
        Cmd::Exec(a) => cmd::exec::run(ctx, a).await,
        Cmd::Attach(a) => cmd::attach::run(ctx, a).await,
        Cmd::PortForward(a) => cmd::portforward::run(ctx, a).await,
        Cmd::Cp(a) => cmd::cp::run(ctx, a).await,
        Cmd::Run(a) => cmd::run::run(ctx, a).await,
        Cmd::Expose(a) => cmd::expose::run(ctx, a).await,
        Cmd::Set(a) => cmd::set::run(ctx, a).await,
        Cmd::Rollout(a) => cmd::rollout::run(ctx, a).await,
        Cmd::Autoscale(a) => cmd::autoscale::run(ctx, a).await,
        Cmd::Wait(a) => cmd::wait::run(ctx, a).await,
        Cmd::Edit(a) => cmd::edit::run(ctx, a).await,
        Cmd::Replace(a) => cmd::replace::run(ctx, a).await,
        Cmd::Diff(a) => cmd::diff::run(ctx, a).await,
        Cmd::Cordon(a) => cmd::cordon::run(ctx, a).await,
        Cmd::Uncordon(a) => cmd::uncordon::run(ctx, a).await,
        Cmd::Drain(a) => cmd::drain::run(ctx, a).await,
        Cmd::Taint(a) => cmd::taint::run(ctx, a).await,
        Cmd::Auth(a) => cmd::auth::run(ctx, a).await,
        Cmd::Certificate(a) => cmd::certificate::run(ctx, a).await,
        Cmd::Completion(a) => cmd::completion::run(ctx, a).await,
        Cmd::Explain(a) => cmd::explain::run(ctx, a).await,
        Cmd::Top(a) => cmd::top::run(ctx, a).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout(Some("0")).unwrap(), None);
        assert_eq!(
            parse_timeout(Some("5")).unwrap(),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            parse_timeout(Some("1m30s")).unwrap(),
            Some(Duration::from_secs(90))
        );
        assert!(parse_timeout(Some("abc")).is_err());
    }
}
