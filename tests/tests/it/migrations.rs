//! Migrations apply, roll back and re-apply cleanly, and each `down` restores exactly the schema that
//! existed before its `up` (SPEC §11), on both backends.

use migration::{Migrator, MigratorTrait};
use service::Backend;
use updog_tests::{TestDb, backends};

/// The schema as the database itself describes it, one line per column, constraint, index and
/// sequence, sorted (the migrations' bookkeeping table excluded).
async fn introspect(db: &TestDb) -> Vec<String> {
    let sql = match db.backend {
        Backend::Sqlite => {
            "SELECT type || ' ' || name || ' ' || coalesce(sql, '') AS line FROM sqlite_master \
             WHERE name NOT LIKE 'sqlite_%' AND tbl_name <> 'seaql_migrations' ORDER BY 1"
        }
        Backend::Postgres => {
            "SELECT line FROM ( \
               SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type \
                 || coalesce('(' || character_maximum_length || ')', '') \
                 || coalesce(' p' || numeric_precision || ',' || numeric_scale, '') \
                 || ' nullable=' || is_nullable || ' default=' || coalesce(column_default, '') AS line \
               FROM information_schema.columns \
               WHERE table_schema = 'public' AND table_name <> 'seaql_migrations' \
               UNION ALL \
               SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) \
               FROM pg_constraint \
               WHERE connamespace = 'public'::regnamespace AND conrelid::regclass::text <> 'seaql_migrations' \
               UNION ALL \
               SELECT 'index ' || indexname || ' ' || indexdef FROM pg_indexes \
               WHERE schemaname = 'public' AND tablename <> 'seaql_migrations' \
               UNION ALL \
               SELECT 'sequence ' || relname FROM pg_class \
               WHERE relkind = 'S' AND relnamespace = 'public'::regnamespace \
             ) AS schema ORDER BY line"
        }
    };
    db.query(sql)
        .await
        .iter()
        .map(|row| row.try_get::<String>("", "line").expect("schema line"))
        .collect()
}

#[tokio::test]
async fn each_down_restores_exactly_the_schema_before_its_up_and_up_again_rebuilds_it() {
    for backend in backends() {
        let db = TestDb::empty(backend).await;
        let conn = db.conn();
        let count = Migrator::migrations().len();
        assert!(count >= 12, "every table of SPEC §3 has its migration");

        // Up one step at a time, recording the schema after each.
        let mut schemas = vec![introspect(&db).await];
        assert!(
            schemas[0].is_empty(),
            "[{backend:?}] a fresh database has no tables: {:?}",
            schemas[0]
        );
        for step in 0..count {
            Migrator::up(conn, Some(1))
                .await
                .unwrap_or_else(|e| panic!("[{backend:?}] up step {step}: {e}"));
            let schema = introspect(&db).await;
            assert_ne!(
                &schema,
                schemas.last().unwrap(),
                "[{backend:?}] up step {step} changed nothing"
            );
            schemas.push(schema);
        }
        assert!(
            Migrator::get_pending_migrations(conn)
                .await
                .unwrap()
                .is_empty()
        );

        // Down one step at a time: each must land exactly on the schema recorded before its up.
        for step in (0..count).rev() {
            Migrator::down(conn, Some(1))
                .await
                .unwrap_or_else(|e| panic!("[{backend:?}] down step {step}: {e}"));
            let schema = introspect(&db).await;
            assert_eq!(
                schema, schemas[step],
                "[{backend:?}] down of migration {step} did not restore the schema"
            );
        }

        // And up again gives the same schema as the first time.
        Migrator::up(conn, None)
            .await
            .unwrap_or_else(|e| panic!("[{backend:?}] second up: {e}"));
        assert_eq!(
            introspect(&db).await,
            schemas[count],
            "[{backend:?}] up → down → up changed the schema"
        );
        assert_eq!(
            Migrator::get_applied_migrations(conn).await.unwrap().len(),
            count
        );
    }
}

#[tokio::test]
async fn every_table_of_the_data_model_exists_after_migrating() {
    let tables = [
        "funds",
        "portfolio_companies",
        "investments",
        "investment_lots",
        "distributions",
        "forecast_snapshots",
        "reserve_allocations",
        "job_outbox",
        "scenario_matrices",
        "optimization_sessions",
        "idempotency_records",
        "api_keys",
    ];
    for backend in backends() {
        let db = TestDb::migrated(backend).await;
        for table in tables {
            assert_eq!(
                db.count(table).await,
                0,
                "[{backend:?}] {table} exists and is empty"
            );
        }
    }
}
