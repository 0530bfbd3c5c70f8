//! Lot-level MOIC, company MOIC variants and fund metrics (SPEC §6.2–§6.4), as pure functions of a
//! [`PortfolioState`], so that a snapshot can recompute them from its captured inputs alone.

pub mod xirr;

pub use moic::*;

mod moic;
