//! The wire form of a matrix config (SPEC §9): what a client posts, and the canonical form a stored
//! matrix shows; numbers as decimal strings, so that no float formatting changes a key.

use serde::{Deserialize, Serialize};
use service::fields::{Problems, parse_matrix_number};
use service::matrices::{self, MatrixConfig};
use utoipa::ToSchema;

/// One bucket (a column of the matrix): a stage or strategy and its MOIC distribution.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatrixBucket {
    /// 1 to 255 characters, unique in the config; columns are in bytewise name order.
    #[schema(min_length = 1, max_length = 255, pattern = r"\S")]
    pub name: String,
    /// Share of capital, percent; the buckets sum to 100 (± 0.01).
    #[schema(pattern = r"^[0-9]{1,6}(\.[0-9]{1,10})?$", example = "40")]
    pub capital_allocation_pct: String,
    /// Median MOIC, greater than 0.
    #[schema(pattern = r"^[0-9]{1,6}(\.[0-9]{1,10})?$", example = "1.5")]
    pub moic_median: String,
    /// 90th-percentile MOIC, greater than the median.
    #[schema(pattern = r"^[0-9]{1,6}(\.[0-9]{1,10})?$", example = "6")]
    pub moic_p90: String,
    /// The largest value a cell may take, greater than the median: cells above it are cut to it. Needed
    /// for a forecast or an optimization when moic_p90 / moic_median is 5 or more (alpha ≤ 1: no finite
    /// mean). Absent: uncapped (and the key is the one it was before caps existed).
    #[schema(pattern = r"^[0-9]{1,6}(\.[0-9]{1,10})?$", example = "50")]
    pub moic_cap: Option<String>,
}

/// How much of each cell's shock is common to all buckets, to the bucket, or the cell's own; sum 1
/// (± 0.01).
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrelationWeights {
    #[serde(rename = "macro")]
    #[schema(
        rename = "macro",
        pattern = r"^[0-9]{1,6}(\.[0-9]{1,10})?$",
        example = "0.3"
    )]
    pub macro_: String,
    #[schema(pattern = r"^[0-9]{1,6}(\.[0-9]{1,10})?$", example = "0.3")]
    pub systematic: String,
    #[schema(pattern = r"^[0-9]{1,6}(\.[0-9]{1,10})?$", example = "0.4")]
    pub idiosyncratic: String,
}

/// Recycling of proceeds; disabled recycling ignores its other fields (they do not change the key).
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Recycling {
    pub enabled: bool,
    #[schema(min_length = 1, max_length = 64)]
    pub mode: Option<String>,
    /// Share of proceeds reinvested, 0 to 1; required when enabled.
    #[schema(pattern = r"^[0-9]{1,6}(\.[0-9]{1,10})?$")]
    pub reinvestment_rate: Option<String>,
}

/// A matrix config (SPEC §9). Equal configs — up to bucket order and noise below 5 decimals — share one
/// matrix and one `matrix_key`.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateScenarioMatrix {
    #[schema(min_length = 1, max_length = 255, pattern = r"\S", example = "2026-q4")]
    pub taxonomy_version: String,
    /// Scenarios (rows), 1 to 100,000. Matrices of more than 100,000 cells (10,000 × 10) are generated
    /// by a worker: 202.
    #[schema(minimum = 1, maximum = 100000)]
    pub num_scenarios: u32,
    /// The generator's seed, an integer from 0 to 2^53 − 1: the same config and seed give the same
    /// matrix, bit for bit.
    #[schema(value_type = u64, minimum = 0)]
    pub seed: serde_json::Number,
    /// 1 to 50 buckets, names unique.
    #[schema(min_items = 1, max_items = 50)]
    pub buckets: Vec<MatrixBucket>,
    pub correlation_weights: CorrelationWeights,
    /// Default: disabled.
    pub recycling: Option<Recycling>,
}

impl CreateScenarioMatrix {
    /// The domain config; every number that is not a plain decimal is named.
    pub(super) fn into_config(self, fund_id: i64) -> service::Result<MatrixConfig> {
        let mut p = Problems::default();
        let mut number = |text: &str, pointer: String| {
            p.absorb(parse_matrix_number(text, &pointer))
                .map(|v| v.unwrap_or(f64::NAN))
        };
        let mut buckets = Vec::with_capacity(self.buckets.len());
        for (i, b) in self.buckets.into_iter().enumerate() {
            buckets.push(matrices::Bucket {
                capital_allocation_pct: number(
                    &b.capital_allocation_pct,
                    format!("/buckets/{i}/capital_allocation_pct"),
                )?,
                moic_median: number(&b.moic_median, format!("/buckets/{i}/moic_median"))?,
                moic_p90: number(&b.moic_p90, format!("/buckets/{i}/moic_p90"))?,
                moic_cap: match &b.moic_cap {
                    Some(cap) => Some(number(cap, format!("/buckets/{i}/moic_cap"))?),
                    None => None,
                },
                name: b.name,
            });
        }
        let w = &self.correlation_weights;
        let correlation_weights = matrices::CorrelationWeights {
            macro_: number(&w.macro_, "/correlation_weights/macro".into())?,
            systematic: number(&w.systematic, "/correlation_weights/systematic".into())?,
            idiosyncratic: number(
                &w.idiosyncratic,
                "/correlation_weights/idiosyncratic".into(),
            )?,
        };
        let recycling = match self.recycling {
            None => matrices::Recycling {
                enabled: false,
                mode: None,
                reinvestment_rate: None,
            },
            Some(r) => matrices::Recycling {
                enabled: r.enabled,
                mode: r.mode,
                reinvestment_rate: match r.reinvestment_rate {
                    Some(text) => Some(number(&text, "/recycling/reinvestment_rate".into())?),
                    None => None,
                },
            },
        };
        // Any JSON number is read, so that a negative or fractional seed is a 422 naming the field.
        let seed = self.seed.as_u64();
        p.check(
            seed.is_some(),
            "/seed",
            "must be an integer from 0 to 9007199254740991",
        );
        p.finish()?;
        Ok(MatrixConfig {
            fund_id,
            taxonomy_version: self.taxonomy_version,
            num_scenarios: self.num_scenarios,
            seed: seed.unwrap_or_default(),
            buckets,
            correlation_weights,
            recycling,
        })
    }
}

/// A stored matrix's bucket, as its canonical config holds it: numbers rounded to 5 decimals.
#[derive(ToSchema)]
#[allow(dead_code)] // The schema of `ScenarioMatrix::config`, which is sent as stored.
pub struct CanonicalBucket {
    pub name: String,
    pub capital_allocation_pct: String,
    pub moic_median: String,
    pub moic_p90: String,
    /// Present only when the bucket is capped.
    pub moic_cap: Option<String>,
}

/// The canonical config a matrix key is the SHA-256 of (RFC 8785 form): buckets sorted by name,
/// numbers as 5-decimal strings, the seed as a string, disabled recycling as `{"enabled": false}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CanonicalConfig {
    pub key_version: u32,
    pub fund_id: i64,
    pub taxonomy_version: String,
    pub num_scenarios: u32,
    pub seed: String,
    pub buckets: Vec<CanonicalBucket>,
    pub correlation_weights: CorrelationWeights,
    pub recycling: Recycling,
}
