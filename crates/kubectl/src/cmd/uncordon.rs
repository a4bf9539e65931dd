//! `kubectl uncordon`: cordon's inverse.

use clap::Args;

use crate::cmd::cordon::{select_nodes, set_unschedulable, DryRun};
use crate::{Ctx, Error};

/// `kubectl uncordon`.
#[derive(Args, Debug)]
pub struct UncordonArgs {
    pub args: Vec<String>,
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    #[arg(long = "dry-run", num_args = 0..=1, require_equals = true, default_missing_value = "unchanged", default_value = "none")]
    pub dry_run: String,
}

/// Runs `kubectl uncordon`.
pub async fn run(ctx: &mut Ctx, a: UncordonArgs) -> Result<(), Error> {
    let dry = DryRun::parse(&a.dry_run)?;
    let nodes = select_nodes(ctx, "uncordon NODE", &a.args, a.selector.as_deref()).await?;
    let client = ctx.client().await?;
    set_unschedulable(&client, &nodes, false, dry).await;
    Ok(())
}
