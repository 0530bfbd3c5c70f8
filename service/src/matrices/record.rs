//! A stored matrix as every tier holds it: its metadata ([`MatrixRecord`]) and, once complete, its
//! compressed bytes ([`Entry`]).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use entity::scenario_matrix::{self, MatrixStatus};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// A matrix's row without its payload: what a metadata read answers with, and what the first tier keeps
/// beside the bytes (so that a hit needs no database round trip).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatrixRecord {
    pub id: Uuid,
    pub matrix_key: String,
    pub fund_id: i64,
    pub taxonomy_version: String,
    pub matrix_type: String,
    pub status: MatrixStatus,
    pub num_scenarios: i32,
    pub bucket_count: i32,
    /// The canonical config the key is the hash of.
    pub config: Value,
    pub compression_codec: Option<String>,
    pub matrix_layout: Option<String>,
    /// Uncompressed size, bytes (S × B × 4).
    pub raw_bytes: Option<i64>,
    /// Compressed size as stored, bytes.
    pub stored_bytes: Option<i64>,
    pub error_message: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

impl MatrixRecord {
    pub fn of(m: &scenario_matrix::Model) -> Self {
        Self {
            id: m.id,
            matrix_key: m.matrix_key.clone(),
            fund_id: m.fund_id,
            taxonomy_version: m.taxonomy_version.clone(),
            matrix_type: m.matrix_type.clone(),
            status: m.status,
            num_scenarios: m.num_scenarios,
            bucket_count: m.bucket_count,
            config: m.config.clone(),
            compression_codec: m.compression_codec.clone(),
            matrix_layout: m.matrix_layout.clone(),
            raw_bytes: m.raw_bytes,
            stored_bytes: m.matrix.as_ref().map(|b| b.len() as i64),
            error_message: m.error_message.clone(),
            created_at: m.created_at,
            updated_at: m.updated_at,
            version: m.version,
        }
    }

    /// A listed matrix's record: its stored size is not read with it (`None`).
    pub fn listed(m: scenario_matrix::Listed) -> Self {
        Self {
            id: m.id,
            matrix_key: m.matrix_key,
            fund_id: m.fund_id,
            taxonomy_version: m.taxonomy_version,
            matrix_type: m.matrix_type,
            status: m.status,
            num_scenarios: m.num_scenarios,
            bucket_count: m.bucket_count,
            config: m.config,
            compression_codec: m.compression_codec,
            matrix_layout: m.matrix_layout,
            raw_bytes: m.raw_bytes,
            stored_bytes: None,
            error_message: m.error_message,
            created_at: m.created_at,
            updated_at: m.updated_at,
            version: m.version,
        }
    }

    /// A matrix with an uncapped bucket of alpha ≤ 1 has no finite mean to forecast or optimise with
    /// (SPEC §9): a 422 at `pointer` naming the bucket.
    pub fn refuse_unbounded(&self, pointer: &str) -> crate::error::Result<()> {
        let Some(config) = super::from_canonical(&self.config) else {
            return Ok(());
        };
        match config.buckets.iter().find(|b| b.unbounded()) {
            None => Ok(()),
            Some(b) => Err(crate::error::Error::invalid(
                pointer,
                format!(
                    "the matrix's bucket {:?} has moic_p90 / moic_median = {:.3} (alpha {:.3} ≤ 1): \
                     its distribution has no finite mean, so no average of its scenarios means \
                     anything; generate the matrix with a moic_cap for that bucket",
                    b.name,
                    b.moic_p90 / b.moic_median,
                    b.alpha()
                ),
            )),
        }
    }

    /// The user's plan (issue #27): each bucket's `capital_allocation_pct` ÷ 100, in column order;
    /// `None` if the stored config cannot be read.
    pub fn plan_weights(&self) -> Option<Vec<f64>> {
        let config = super::from_canonical(&self.config)?;
        Some(
            config
                .buckets
                .iter()
                .map(|b| b.capital_allocation_pct / 100.0)
                .collect(),
        )
    }

    /// The plan's risk and return over `values` (this matrix's, in column order), with CVaR and VaR at
    /// `alpha`: what an optimization reports of its optimum.
    pub fn plan_figures(
        &self,
        values: &[f32],
        alpha: f64,
    ) -> Option<crate::calc::optimizer::Metrics> {
        use crate::calc::optimizer::{Model, Objective, Scenarios, evaluate};
        let weights = self.plan_weights()?;
        if values.is_empty() {
            return None;
        }
        let model = Model {
            objective: Objective::MaximizeReturn,
            bounds: vec![(0.0, 1.0); weights.len()],
            cvar_confidence: alpha,
            cvar_limit: None,
            min_expected_moic: None,
            epsilon: None,
        };
        let scenarios = Scenarios {
            buckets: weights.len(),
            values,
        };
        Some(evaluate(&scenarios, &model, &weights))
    }

    /// The bucket names in column order (the canonical config's order).
    pub fn buckets(&self) -> Vec<String> {
        self.config
            .get("buckets")
            .and_then(Value::as_array)
            .map(|buckets| {
                buckets
                    .iter()
                    .filter_map(|b| b.get("name").and_then(Value::as_str).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A complete matrix as the first tier holds it: the record and the values uncompressed (little-endian
/// `f32`, row-major). The database keeps them compressed; the first tier trades the 10 % that zstd saves
/// on these near-random floats for a hit without decompression (docs/DECISIONS.md, BENCHMARKS.md).
#[derive(Clone, Debug)]
pub struct Entry {
    pub record: MatrixRecord,
    pub raw: Arc<Vec<u8>>,
}

impl Entry {
    pub fn new(record: MatrixRecord, values: &[f32]) -> Self {
        Self {
            record,
            raw: Arc::new(super::codec::to_raw(values)),
        }
    }

    /// The values, if the bytes are exactly the record's S × B valid cells.
    pub fn values(&self) -> crate::error::Result<Vec<f32>> {
        super::codec::from_raw(
            &self.raw,
            self.record.num_scenarios as usize,
            self.record.bucket_count as usize,
        )
    }
}
