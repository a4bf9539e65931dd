//! Shared API machinery: the types-free core every component builds on.
//!
//! Start with [`catalogue`] (what resources exist and how they are served),
//! then [`status`] (upstream's `Status` error bodies). Objects are handled as
//! `serde_json::Value` so one registry serves every kind, as upstream's
//! generic registry does; per-kind behaviour lives in [`defaults`] and
//! [`validation`].

pub mod catalogue;
pub mod defaults;
pub mod duration;
pub mod meta;
pub mod patch;
pub mod protobuf;
pub mod quantity;
pub mod selector;
pub mod status;
pub mod validation;

pub use catalogue::{ResourceInfo, CATALOGUE};
pub use status::StatusError;
