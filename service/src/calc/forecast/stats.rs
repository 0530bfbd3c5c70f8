//! The statistics of a forecast's `results` (SPEC §6.7), from the scenarios' outcomes: means and
//! nearest-rank percentiles, the four probabilities, a 40-bin histogram of net TVPI and the J-curve
//! bands. Ratios are `Decimal`s at 6 places (rounded half-up), cents are integers; the reduction is
//! sequential over outcomes in scenario order, so the same outcomes give the same bytes.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Outcome, Prepared};
use crate::calc::money::{div_half_up, fixed_scale, ratio};

/// The percentiles every summary reports.
const PERCENTILES: [u32; 7] = [5, 10, 25, 50, 75, 90, 95];
/// Bins of the net-TVPI histogram.
pub const BINS: usize = 40;

/// Mean and nearest-rank percentiles of a ratio, 6 places.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatioSummary {
    pub mean: Decimal,
    pub p5: Decimal,
    pub p10: Decimal,
    pub p25: Decimal,
    pub p50: Decimal,
    pub p75: Decimal,
    pub p90: Decimal,
    pub p95: Decimal,
}

/// Mean (rounded half-up to the cent) and nearest-rank percentiles of an amount in cents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CentsSummary {
    pub mean: i64,
    pub p5: i64,
    pub p10: i64,
    pub p25: i64,
    pub p50: i64,
    pub p75: i64,
    pub p90: i64,
    pub p95: i64,
}

/// Shares of the scenarios, 6 places.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probabilities {
    pub net_tvpi_below_1: Decimal,
    pub net_tvpi_at_least_2: Decimal,
    pub net_tvpi_at_least_3: Decimal,
    pub carry_positive: Decimal,
}

/// Net TVPI in 40 equal bins [eᵢ, eᵢ₊₁) from the smallest value to the largest, the last bin closed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram {
    pub edges: Vec<Decimal>,
    pub counts: Vec<u64>,
}

/// The LPs' cumulative distributions − calls ÷ commitments at a year end, across scenarios.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JCurvePoint {
    pub date: NaiveDate,
    pub p10: Decimal,
    pub p50: Decimal,
    pub p90: Decimal,
}

/// A forecast's `results`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForecastResults {
    pub scenarios: u64,
    /// `null` only when nothing was paid in.
    pub net_tvpi: Option<RatioSummary>,
    /// Over the scenarios whose IRR exists; `null` when none does.
    pub net_irr: Option<RatioSummary>,
    pub irr_undefined: u64,
    pub gross_tvpi: Option<RatioSummary>,
    pub gp_carry_cents: Option<CentsSummary>,
    pub probabilities: Probabilities,
    pub histogram: Option<Histogram>,
    pub j_curve: Vec<JCurvePoint>,
}

/// The value at nearest rank `p` of `sorted` (position ⌈p/100 × N⌉, 1-based).
fn nearest_rank<T: Copy>(sorted: &[T], p: u32) -> T {
    let n = sorted.len();
    let position = (p as usize * n).div_ceil(100).max(1);
    sorted[position.min(n) - 1]
}

fn ratio_summary(mut values: Vec<Decimal>) -> Option<RatioSummary> {
    if values.is_empty() {
        return None;
    }
    let sum: Decimal = values.iter().sum();
    let mean = fixed_scale(sum / Decimal::from(values.len()), 6);
    values.sort();
    let [p5, p10, p25, p50, p75, p90, p95] =
        PERCENTILES.map(|p| fixed_scale(nearest_rank(&values, p), 6));
    Some(RatioSummary {
        mean,
        p5,
        p10,
        p25,
        p50,
        p75,
        p90,
        p95,
    })
}

fn cents_summary(mut values: Vec<i64>) -> Option<CentsSummary> {
    if values.is_empty() {
        return None;
    }
    let sum: i128 = values.iter().map(|v| i128::from(*v)).sum();
    let mean = i64::try_from(div_half_up(sum, values.len() as i128)).unwrap_or(i64::MAX);
    values.sort_unstable();
    let [p5, p10, p25, p50, p75, p90, p95] = PERCENTILES.map(|p| nearest_rank(&values, p));
    Some(CentsSummary {
        mean,
        p5,
        p10,
        p25,
        p50,
        p75,
        p90,
        p95,
    })
}

fn share(count: usize, of: usize) -> Decimal {
    ratio(count as i64, of as i64).unwrap_or(Decimal::ZERO)
}

fn histogram(values: &[Decimal]) -> Option<Histogram> {
    let min = *values.iter().min()?;
    let max = *values.iter().max()?;
    let mut counts = vec![0u64; BINS];
    let width = (max - min) / Decimal::from(BINS);
    for v in values {
        let bin = if width.is_zero() {
            0
        } else {
            let at = ((*v - min) / width).floor();
            usize::try_from(at.mantissa() / 10i128.pow(at.scale()))
                .unwrap_or(BINS - 1)
                .min(BINS - 1)
        };
        counts[bin] += 1;
    }
    let edges = (0..=BINS)
        .map(|i| {
            let edge = if i == BINS {
                max
            } else {
                min + width * Decimal::from(i)
            };
            fixed_scale(edge, 6)
        })
        .collect();
    Some(Histogram { edges, counts })
}

/// The statistics of `outcomes` (in scenario order) of a forecast prepared as `prepared`.
pub fn results(prepared: &Prepared, outcomes: &[Outcome]) -> ForecastResults {
    let n = outcomes.len();
    let tvpis: Vec<Decimal> = outcomes.iter().filter_map(|o| o.net_tvpi).collect();
    let irrs: Vec<Decimal> = outcomes.iter().filter_map(|o| o.net_irr).collect();
    let count = |f: &dyn Fn(&Decimal) -> bool| tvpis.iter().filter(|v| f(v)).count();
    let probabilities = Probabilities {
        net_tvpi_below_1: share(count(&|v| *v < Decimal::ONE), n),
        net_tvpi_at_least_2: share(count(&|v| *v >= Decimal::TWO), n),
        net_tvpi_at_least_3: share(count(&|v| *v >= Decimal::from(3)), n),
        carry_positive: share(outcomes.iter().filter(|o| o.gp_carry_cents > 0).count(), n),
    };
    let j_curve = prepared
        .year_ends
        .iter()
        .enumerate()
        .filter_map(|(i, date)| {
            let mut values: Vec<Decimal> = outcomes
                .iter()
                .filter_map(|o| ratio(*o.net_cash_cents.get(i)?, prepared.size_cents))
                .collect();
            if values.is_empty() {
                return None;
            }
            values.sort();
            Some(JCurvePoint {
                date: *date,
                p10: nearest_rank(&values, 10),
                p50: nearest_rank(&values, 50),
                p90: nearest_rank(&values, 90),
            })
        })
        .collect();
    ForecastResults {
        scenarios: n as u64,
        histogram: histogram(&tvpis),
        net_tvpi: ratio_summary(tvpis),
        irr_undefined: (n - irrs.len()) as u64,
        net_irr: ratio_summary(irrs),
        gross_tvpi: ratio_summary(outcomes.iter().filter_map(|o| o.gross_tvpi).collect()),
        gp_carry_cents: cents_summary(outcomes.iter().map(|o| o.gp_carry_cents).collect()),
        probabilities,
        j_curve,
    }
}
