//! The worker's side of a queued matrix (larger than 10,000 × 10): pending → processing → complete,
//! generated from the row's own canonical config. Idempotent: a row that is no longer pending or
//! processing (complete, invalidated meanwhile, replaced) is left alone.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use entity::job_outbox;
use entity::scenario_matrix::{self, MatrixStatus};
use serde::{Deserialize, Serialize};

use super::MatrixConfig;
use super::key::{from_canonical, generator_of};
use super::stats::Stats;
use super::store::{self, JOB_GENERATE, Payload};
use crate::blocking::off_the_async_workers;
use crate::calc::scenarios::{GeneratorKind, generate_with};
use crate::db::Database;
use crate::error::{Error, Result};
use crate::outbox::Job;

pub struct Generator {
    stats: Arc<Stats>,
}

/// Generates and encodes a config's matrix on the blocking pool (up to 100,000 × 50 cells); returns the
/// stored form and the values.
pub(super) async fn generate_payload(
    stats: &Stats,
    config: MatrixConfig,
    generator: GeneratorKind,
) -> Result<(Payload, Vec<f32>)> {
    let started = Instant::now();
    let generated = off_the_async_workers("the generator", move || {
        let values = generate_with(&config, generator).values;
        Payload::encode(&values).map(|payload| (payload, values))
    })
    .await??;
    stats.generated(started.elapsed());
    Ok(generated)
}

/// The matrix a job generates.
#[derive(Debug, Serialize, Deserialize)]
pub struct GenerateMatrix {
    pub matrix_key: String,
}

impl Generator {
    pub fn new(stats: Arc<Stats>) -> Self {
        Self { stats }
    }

    async fn generate(&self, db: &Database, key: &str) -> Result<()> {
        let conn = db.connection();
        let Some(row) = store::find(conn, key).await? else {
            return Ok(());
        };
        match row.status {
            MatrixStatus::Pending => {
                store::transition(
                    conn,
                    key,
                    MatrixStatus::Pending,
                    MatrixStatus::Processing,
                    None,
                    None,
                )
                .await?;
            }
            // A retry after a worker stopped mid-way.
            MatrixStatus::Processing => {}
            _ => return Ok(()),
        }
        let (config, generator) = from_canonical(&row.config)
            .zip(generator_of(&row.config))
            .ok_or_else(|| {
                Error::CorruptMatrix(format!("the stored config of {key} is unreadable"))
            })?;
        let (payload, _) = generate_payload(&self.stats, config, generator).await?;
        store::transition(
            conn,
            key,
            MatrixStatus::Processing,
            MatrixStatus::Complete,
            Some(payload),
            None,
        )
        .await?;
        Ok(())
    }
}

/// Moves the matrix to `failed` with `message`, from wherever it stopped; a matrix already complete,
/// invalidated or replaced is left as it is.
async fn fail(db: &Database, key: &str, message: &str) -> Result<()> {
    for from in [MatrixStatus::Processing, MatrixStatus::Pending] {
        let failed = Some(message.to_owned());
        store::transition(
            db.connection(),
            key,
            from,
            MatrixStatus::Failed,
            None,
            failed,
        )
        .await?;
    }
    Ok(())
}

/// The outbox row that has a queued matrix generated (SPEC §8), deduplicated by key and row version.
pub fn generation_job(
    row: &scenario_matrix::Model,
    at: DateTime<Utc>,
) -> Result<job_outbox::ActiveModel> {
    let payload = GenerateMatrix {
        matrix_key: row.matrix_key.clone(),
    };
    let dedupe = Some(format!("{}:{}", row.matrix_key, row.version));
    crate::outbox::queue::<Generator>(Some(row.fund_id), dedupe, &payload, at)
}

impl Job for Generator {
    const NAME: &'static str = JOB_GENERATE;
    const MAX_ATTEMPTS: i32 = 5;
    type Payload = GenerateMatrix;
    type Error = Error;

    async fn run(&self, db: &Database, job: &GenerateMatrix) -> Result<()> {
        self.generate(db, &job.matrix_key).await
    }

    async fn give_up(&self, db: &Database, job: &GenerateMatrix, reason: &str) -> Result<()> {
        fail(db, &job.matrix_key, reason).await
    }
}
