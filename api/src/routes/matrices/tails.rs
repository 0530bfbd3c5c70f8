//! How heavy each bucket's tail is (SPEC §9): the power law's alpha, the cap if any, and the share of
//! cells the cap cut. Alpha ≤ 1 without a cap means no finite mean: forecasts and optimizations refuse
//! such a matrix. And the user's plan — the capital allocation as weights — over the matrix (issue #27).

use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;
use serde::Serialize;
use service::matrices::{self, MatrixRecord};
use utoipa::ToSchema;

use crate::wire::DecimalText;

/// One bucket's tail.
#[derive(Serialize, ToSchema)]
pub struct BucketTail {
    pub name: String,
    /// `ln 5 / ln(moic_p90 / moic_median)`, 6 places. At 1 or below the bucket has no finite mean.
    #[schema(value_type = String)]
    pub alpha: Option<DecimalText>,
    /// The cap on a cell, 5 places as in the config; `null`: uncapped.
    pub moic_cap: Option<String>,
    /// The share of the stored cells at the cap, 6 places: given with `?include=matrix` (the values are
    /// read then), `null` otherwise and for an uncapped bucket.
    #[schema(value_type = Option<String>)]
    pub capped_share: Option<DecimalText>,
    /// `true` when alpha ≤ 1 and there is no cap: forecasts and optimizations refuse the matrix.
    pub unbounded: bool,
}

/// The tails of `record`'s buckets, in column order; the capped shares from `values` when given.
pub fn tails(record: &MatrixRecord, values: Option<&[f32]>) -> Vec<BucketTail> {
    let Some(config) = matrices::from_canonical(&record.config) else {
        return Vec::new();
    };
    let columns = config.buckets.len().max(1);
    config
        .buckets
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let capped_share = match (b.moic_cap, values) {
                (Some(cap), Some(values)) if !values.is_empty() => {
                    let at_cap = values
                        .iter()
                        .skip(i)
                        .step_by(columns)
                        .filter(|v| **v >= cap as f32)
                        .count();
                    let rows = values.len() / columns;
                    DecimalText::ratio(
                        Decimal::from(at_cap).checked_div(Decimal::from(rows.max(1))),
                    )
                }
                _ => None,
            };
            BucketTail {
                name: b.name.clone(),
                alpha: DecimalText::ratio(Decimal::from_f64(b.alpha())),
                moic_cap: b.moic_cap.map(|c| format!("{c:.5}")),
                capped_share,
                unbounded: b.unbounded(),
            }
        })
        .collect()
}

/// The plan's risk and return over the matrix: the `capital_allocation_pct` of each bucket as weights,
/// CVaR and VaR at 95 %, as an optimization reports the optimum's.
#[derive(Serialize, ToSchema)]
pub struct PlanFigures {
    /// The mean multiple over the scenarios.
    pub expected_moic: f64,
    /// CVaR at 95 % of the loss 1 − multiple.
    pub cvar_95: f64,
    /// VaR at 95 % of the loss.
    pub var_95: f64,
    /// Share of scenarios whose multiple is below 1.
    pub loss_probability: f64,
}

/// The plan's figures over `values` (in column order), or `None` without values.
pub fn plan(record: &MatrixRecord, values: Option<&[f32]>) -> Option<PlanFigures> {
    let m = record.plan_figures(values?, 0.95)?;
    Some(PlanFigures {
        expected_moic: m.expected_moic,
        cvar_95: m.cvar,
        var_95: m.var,
        loss_probability: m.loss_probability,
    })
}
