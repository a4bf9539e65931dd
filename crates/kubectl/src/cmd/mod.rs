//! One module per kubectl command.

pub mod apply;
pub mod config;
pub mod create;
pub mod delete;
pub mod get;
pub mod info;
pub mod meta;
pub mod patch;
pub mod scale;
pub mod target;
