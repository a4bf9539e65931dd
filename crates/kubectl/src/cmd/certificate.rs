//! `kubectl certificate approve|deny`: adds the Approved or Denied
//! condition to CertificateSigningRequests through their `approval`
//! subresource.

use clap::{Args, Subcommand};
use http::Method;
use serde_json::{json, Value};

use crate::cli::FileArgs;
use crate::client::q;
use crate::manifest;
use crate::output::{self, Format};
use crate::{print, Ctx, Error};

/// `kubectl certificate`.
#[derive(Args, Debug)]
pub struct CertificateArgs {
    #[command(subcommand)]
    pub cmd: Option<CertificateCmd>,
}

/// `kubectl certificate <approve|deny>`.
#[derive(Subcommand, Debug)]
pub enum CertificateCmd {
    /// Approve a certificate signing request.
    Approve(DecideArgs),
    /// Deny a certificate signing request.
    Deny(DecideArgs),
}

/// Flags of `approve` and `deny`.
#[derive(Args, Debug)]
pub struct DecideArgs {
    pub names: Vec<String>,
    #[command(flatten)]
    pub files: FileArgs,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub force: bool,
    #[arg(short = 'o', long)]
    pub output: Option<String>,
}

const HELP: &str = "Modify certificate resources.\n\nAvailable Commands:\n  approve       Approve a certificate signing request\n  deny          Deny a certificate signing request\n\nUsage:\n  kubectl certificate SUBCOMMAND [options]\n\nUse \"kubectl certificate <command> --help\" for more information about a given command.\nUse \"kubectl options\" for a list of global command-line options (applies to all commands).";

const CSR_PATH: &str = "/apis/certificates.k8s.io/v1/certificatesigningrequests";

/// The condition to add, the one that must be absent, and its reason and
/// message.
struct Decision {
    want: &'static str,
    conflicting: &'static str,
    reason: &'static str,
    message: &'static str,
    done: &'static str,
}

const APPROVE: Decision = Decision {
    want: "Approved",
    conflicting: "Denied",
    reason: "KubectlApprove",
    message: "This CSR was approved by kubectl certificate approve.",
    done: "approved",
};
const DENY: Decision = Decision {
    want: "Denied",
    conflicting: "Approved",
    reason: "KubectlDeny",
    message: "This CSR was denied by kubectl certificate deny.",
    done: "denied",
};

/// Runs `kubectl certificate`.
pub async fn run(ctx: &mut Ctx, a: CertificateArgs) -> Result<(), Error> {
    match a.cmd {
        None => {
            crate::eprint_line(HELP);
            Ok(())
        }
        Some(CertificateCmd::Approve(d)) => decide(ctx, d, &APPROVE).await,
        Some(CertificateCmd::Deny(d)) => decide(ctx, d, &DENY).await,
    }
}

/// The conditions with `d.want` added, `Ok(None)` when it is already
/// there, or the error when the opposite decision was made.
fn add_condition(csr: &Value, d: &Decision, now: &str) -> Result<Option<Value>, Error> {
    let conds = csr["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut has = false;
    for c in &conds {
        if c["type"] == d.conflicting {
            return Err(Error::msg(format!(
                "certificate signing request \"{}\" is already {}",
                csr["metadata"]["name"].as_str().unwrap_or_default(),
                d.conflicting
            )));
        }
        has |= c["type"] == d.want;
    }
    if has {
        return Ok(None);
    }
    let mut out = conds;
    out.push(
        json!({"type": d.want, "status": "True", "reason": d.reason, "message": d.message,
        "lastUpdateTime": now}),
    );
    Ok(Some(Value::Array(out)))
}

async fn decide(ctx: &mut Ctx, a: DecideArgs, d: &Decision) -> Result<(), Error> {
    let format = a
        .output
        .as_deref()
        .map(|o| Format::parse(Some(o)))
        .transpose()?;
    if a.names.is_empty() && a.files.filename.is_empty() {
        return Err(Error::msg(
            "one or more CSRs must be specified as <name> or -f <filename>",
        ));
    }
    let mut names = Vec::new();
    for m in manifest::read_all(&a.files.filename, a.files.recursive)? {
        let kind = m.object["kind"].as_str().unwrap_or_default();
        let group = output::group_of(m.object["apiVersion"].as_str().unwrap_or_default());
        if (kind, group) != ("CertificateSigningRequest", "certificates.k8s.io") {
            return Err(Error::msg(format!(
                "can only handle CertificateSigningRequest.certificates.k8s.io objects, got {kind}{}",
                if group.is_empty() { String::new() } else { format!(".{group}") }
            )));
        }
        names.push(
            m.object["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    for n in &a.names {
        let n = match n.split_once('/') {
            Some((t, n)) if is_csr_type(t) => n,
            _ => n.as_str(),
        };
        names.push(n.to_string());
    }
    let client = ctx.client().await?;
    let mut errors = Vec::new();
    for name in names {
        let path = format!("{CSR_PATH}/{}", q(&name));
        let res = async {
            let mut attempt = 0;
            loop {
                let csr = client.get(&path).await?;
                let Some(conds) = add_condition(&csr, d, &apimachinery::meta::now_rfc3339())?
                    .or_else(|| a.force.then(|| csr["status"]["conditions"].clone()))
                else {
                    return Ok(csr);
                };
                let mut updated = csr.clone();
                updated["status"]["conditions"] = conds;
                let r = client
                    .call(
                        Method::PUT,
                        &format!("{path}/approval"),
                        Some("application/json"),
                        Some("application/json"),
                        Some(serde_json::to_vec(&updated).unwrap_or_default()),
                    )
                    .await;
                match r {
                    Err(e) if e.reason() == Some("Conflict") && attempt < 10 => attempt += 1,
                    Err(e) => return Err(e),
                    Ok(_) => return Ok(csr),
                }
            }
        }
        .await;
        match res {
            Ok(csr) => match &format {
                Some(f) if !f.is_table() => {
                    let mut out = String::new();
                    output::print_object(f, &csr, &mut out)?;
                    print(&out);
                }
                _ => print(&format!(
                    "certificatesigningrequest.certificates.k8s.io/{name} {}\n",
                    d.done
                )),
            },
            Err(e) => errors.push(e),
        }
    }
    // kubectl's CheckErr: one error as is, several one per line without
    // the `error: ` prefix.
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => Err(Error::Verbatim(
            errors
                .iter()
                .map(crate::cmd::cordon::strip_error)
                .collect::<Vec<_>>()
                .join("\n"),
        )),
    }
}

fn is_csr_type(t: &str) -> bool {
    matches!(
        t,
        "csr"
            | "certificatesigningrequest"
            | "certificatesigningrequests"
            | "certificatesigningrequests.certificates.k8s.io"
            | "certificatesigningrequest.certificates.k8s.io"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions() {
        let csr = json!({"metadata": {"name": "c"}, "status": {}});
        let c = add_condition(&csr, &APPROVE, "t").unwrap().unwrap();
        assert_eq!(c[0]["type"], "Approved");
        assert_eq!(c[0]["reason"], "KubectlApprove");
        let approved = json!({"metadata": {"name": "c"}, "status": {"conditions": c}});
        assert!(add_condition(&approved, &APPROVE, "t").unwrap().is_none());
        assert_eq!(
            add_condition(&approved, &DENY, "t")
                .unwrap_err()
                .to_string(),
            "error: certificate signing request \"c\" is already Approved"
        );
    }
}
