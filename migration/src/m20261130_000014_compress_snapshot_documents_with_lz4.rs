//! Snapshot documents (`forecast_snapshots.inputs` and `calculated_metrics`, megabytes of JSON for a
//! large fund) compressed with lz4 instead of PostgreSQL's default pglz: at 10,000 lots writing a
//! 2.9 MB `inputs` took 66–100 ms with pglz and 34 ms with lz4 (the same as no compression), for a
//! stored size of 0.71 and 0.75 MB (BENCHMARKS.md, snapshots).
//!
//! - `SET COMPRESSION` changes only the catalogue: existing values stay as they are (and readable), new
//!   values are written with lz4. The lock it takes is brief; no row is rewritten.
//! - A PostgreSQL built without lz4 answers `feature_not_supported`; the `DO` block then keeps pglz and
//!   says so in a notice, so that the migration applies everywhere the schema does.
//! - SQLite has no TOAST: nothing to do there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn compression(method: &str) -> String {
    format!(
        "DO $$ BEGIN \
           ALTER TABLE forecast_snapshots \
             ALTER COLUMN inputs SET COMPRESSION {method}, \
             ALTER COLUMN calculated_metrics SET COMPRESSION {method}; \
         EXCEPTION WHEN feature_not_supported THEN \
           RAISE NOTICE 'this PostgreSQL has no {method} compression; snapshot documents keep the default'; \
         END $$"
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared(&compression("lz4"))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared(&compression("default"))
            .await?;
        Ok(())
    }
}
