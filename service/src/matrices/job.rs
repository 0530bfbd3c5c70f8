//! The worker's side of a queued matrix (larger than 10,000 × 10): pending → processing → complete,
//! generated from the row's own canonical config. Idempotent: a row that is no longer pending or
//! processing (complete, invalidated meanwhile, replaced) is left alone.

use std::sync::Arc;

use entity::job_outbox;
use entity::scenario_matrix::MatrixStatus;

use super::from_canonical;
use super::lookup::generate_payload;
use super::stats::Stats;
use super::store;
use crate::db::Database;
use crate::error::{Error, Result};
use crate::outbox::{Handler, HandlerFuture};

pub struct Generator {
    stats: Arc<Stats>,
}

impl Generator {
    pub fn handler(stats: Arc<Stats>) -> Arc<dyn Handler> {
        Arc::new(Self { stats })
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
        let config = from_canonical(&row.config).ok_or_else(|| {
            Error::CorruptMatrix(format!("the stored config of {key} is unreadable"))
        })?;
        let (payload, _) = generate_payload(&self.stats, config).await?;
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

fn key_of(job: &job_outbox::Model) -> Option<&str> {
    job.payload.get("matrix_key").and_then(|v| v.as_str())
}

async fn fail(db: &Database, key: &str, message: &str) {
    for from in [MatrixStatus::Processing, MatrixStatus::Pending] {
        let failed = store::transition(
            db.connection(),
            key,
            from,
            MatrixStatus::Failed,
            None,
            Some(message.to_owned()),
        )
        .await;
        if let Err(e) = failed {
            tracing::warn!(matrix_key = key, error = %e, "could not mark the matrix failed");
        }
    }
}

impl Handler for Generator {
    fn run<'a>(&'a self, db: &'a Database, job: &'a job_outbox::Model) -> HandlerFuture<'a> {
        Box::pin(async move {
            let Some(key) = key_of(job) else {
                return Err("the job names no matrix_key".to_owned());
            };
            match self.generate(db, key).await {
                Ok(()) => Ok(()),
                Err(e) => {
                    let message = e.to_string();
                    if job.attempt_count >= job.max_attempts {
                        fail(db, key, &message).await;
                    }
                    Err(message)
                }
            }
        })
    }

    fn give_up<'a>(
        &'a self,
        db: &'a Database,
        job: &'a job_outbox::Model,
        reason: &'a str,
    ) -> HandlerFuture<'a> {
        Box::pin(async move {
            if let Some(key) = key_of(job) {
                fail(db, key, reason).await;
            }
            Ok(())
        })
    }
}
