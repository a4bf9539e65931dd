//! kube-proxy in nftables mode.
//!
//! Start at [`run`] (what the `kube-proxy` binary calls). The pieces, from
//! data to kernel: [`model::Model`] (Services and EndpointSlices reduced to
//! service ports and endpoints) → [`ruleset::build`] (pure: the desired
//! table) → [`nft::full`] / [`nft::incremental`] (a transaction) →
//! [`nft::Nft::apply`] (one `nft -f -` run). Benchmarks use the same
//! functions: build a model, [`ruleset::build`], [`nft::full`], then
//! [`nft::to_text`].

pub mod cidr;
pub mod conntrack;
pub mod error;
pub mod health;
pub mod host;
pub mod metrics;
pub mod model;
pub mod netlink;
pub mod nft;
mod proxier;
pub mod ruleset;

pub use cidr::Cidr;
pub use error::Error;
pub use host::NodePortAddresses;
pub use model::{Endpoint, Model, Protocol, ServicePort, ServicePortName};
pub use nft::{Nft, NftCli, Transaction};
pub use proxier::{cleanup, run, run_with, Options, SyncOutcome, Syncer};
pub use ruleset::{build, Ruleset, RulesetConfig};
