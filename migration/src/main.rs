//! The migration CLI: `cargo run -p migration -- <up|down|status|fresh|refresh|reset> [-u URL]`.
//! `DATABASE_URL` (or `-u/--database-url`) selects the database.

use sea_orm_migration::prelude::*;

#[tokio::main]
async fn main() {
    cli::run_cli(migration::Migrator).await;
}
