//! The numbers the product stands on, in one place: pure functions over plain domain values — no
//! database, no async, no clock (the valuation date is an argument). Loading and persisting stay in the
//! resource modules, which call in here; this tree imports none of them.
//!
//! - `money`: cents, shares and every rounding rule (half-up, named at each use);
//! - `state`: a fund's state as the calculations read it (`PortfolioState`);
//! - `holdings`: what a company position can hold — sales bounded by shares held (SPEC §6.1a);
//! - `moic`: lot, company and fund MOIC and their variants (SPEC §6.2–§6.4), with the cost basis;
//! - `xirr`: the internal rate of return of dated cash flows (SPEC §6.3);
//! - `reserves`: the follow-on reserve engine (SPEC §6.5);
//! - `terms`, `fees`, `waterfall`: a fund's terms, its management-fee schedule and the European and
//!   American waterfalls (SPEC §6.6), over dated calls and distributions;
//! - `scenarios`: scenario-matrix configs and their seeded generator (SPEC §9);
//! - `optimizer`: the CVaR portfolio model and its two-pass solve (SPEC §10).
//!
//! Floats appear only in `scenarios` and `optimizer` (SPEC §1); money is integer cents throughout.

pub mod fees;
#[cfg(test)]
mod fixtures;
pub mod forecast;
pub mod holdings;
pub mod ledger;
pub mod moic;
pub mod money;
pub mod optimizer;
pub mod reserves;
pub mod returns;
pub mod scenarios;
pub mod state;
pub mod terms;
pub mod waterfall;
pub mod xirr;
