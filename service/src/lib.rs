//! The Updog domain: the rules of funds, lots, MOIC, reserves and snapshots, and the transactions
//! that keep them. The API crate calls into this crate and never touches SQL itself.

pub mod cache;
pub mod db;
pub mod error;

pub use db::{Backend, Database};
pub use error::{Error, Result};
