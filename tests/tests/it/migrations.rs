//! Migrations apply, roll back and re-apply cleanly, and each `down` restores exactly the schema that
//! existed before its `up` (SPEC §11), on both backends.

use migration::{Migrator, MigratorTrait};
use service::Backend;
use updog_tests::{TestDb, backends};

/// The schema as the database itself describes it, one line per column, constraint, index,
/// sequence, trigger and function, sorted (the migrations' bookkeeping table excluded).
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
               SELECT 'compression ' || attrelid::regclass::text || '.' || attname || ' ' || attcompression::text \
               FROM pg_attribute \
               WHERE attrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r') \
                 AND attnum > 0 AND NOT attisdropped AND attcompression::text <> '' \
               UNION ALL \
               SELECT 'trigger ' || tgrelid::regclass::text || ' ' || pg_get_triggerdef(oid) FROM pg_trigger \
               WHERE NOT tgisinternal \
               UNION ALL \
               SELECT 'function ' || proname || ' ' || md5(prosrc) FROM pg_proc \
               WHERE pronamespace = 'public'::regnamespace \
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
            // A migration for one backend only (lz4 compression is PostgreSQL's) sends nothing to the
            // other, and changes nothing there.
            let migration = &Migrator::migrations()[step];
            let sea_backend = match db.backend {
                Backend::Postgres => sea_orm::DbBackend::Postgres,
                Backend::Sqlite => sea_orm::DbBackend::Sqlite,
            };
            let sends_nothing = migration::safety::render(migration.as_ref(), sea_backend)
                .await
                .unwrap()
                .is_empty();
            if sends_nothing {
                assert_eq!(
                    &schema,
                    schemas.last().unwrap(),
                    "[{backend:?}] up step {step}"
                );
            } else {
                assert_ne!(
                    &schema,
                    schemas.last().unwrap(),
                    "[{backend:?}] up step {step} changed nothing"
                );
            }
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
    let tables = updog_tests::TABLES;
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

mod safety {
    use migration::MigratorTrait;
    use migration::safety::{self, ChecksumState, Drift};
    use sea_orm::ConnectionTrait;
    use service::Backend;
    use updog_tests::{TestDb, backends};

    async fn tamper(db: &TestDb, name: &str) {
        db.exec(&format!(
            "UPDATE updog_migration_checksums SET checksum = '{}' WHERE version = '{name}'",
            "0".repeat(64)
        ))
        .await
        .expect("edit the checksum table by hand");
    }

    #[tokio::test]
    async fn migrating_records_a_checksum_for_every_migration() {
        for backend in backends() {
            let db = TestDb::migrated(backend).await;
            let status = safety::status(db.conn()).await.unwrap();
            assert_eq!(status.len(), migration::Migrator::migrations().len());
            assert!(
                status.iter().all(|s| s.state == ChecksumState::Ok),
                "[{backend:?}] {status:?}"
            );
            assert_eq!(
                db.count("updog_migration_checksums").await,
                status.len() as i64
            );
        }
    }

    #[tokio::test]
    async fn a_changed_migration_is_refused_by_up_and_at_server_start_naming_both_checksums() {
        for backend in backends() {
            let db = TestDb::migrated(backend).await;
            let name = "m20261122_000004_create_investment_lots";
            tamper(&db, name).await;

            let drift = safety::drift(db.conn()).await.unwrap();
            assert_eq!(drift.len(), 1, "[{backend:?}]");
            let Drift::Changed {
                name: drifted,
                recorded,
                current,
            } = &drift[0]
            else {
                panic!("{drift:?}")
            };
            assert_eq!(drifted, name);
            assert_eq!(recorded, &"0".repeat(64));
            let message = db.db.migrate().await.expect_err("up refuses").to_string()
                + &format!("{:?}", db.db.migrate().await.expect_err("up refuses"));
            assert!(
                message.contains(name)
                    && message.contains(&"0".repeat(64))
                    && message.contains(current.as_str()),
                "{message}"
            );

            // The server refuses to start on it too, migrating or not.
            for migrate_on_start in [true, false] {
                let mut config = api::Config::from_lookup(|_| None).unwrap();
                config.database_url = db.url.clone();
                config.bind = "127.0.0.1:0".parse().unwrap();
                config.migrate_on_start = migrate_on_start;
                let err = api::Application::build(&config)
                    .await
                    .err()
                    .expect("start refused");
                assert!(
                    api::error::error_chain(&err).contains(name),
                    "[{backend:?}] {err:?}"
                );
            }

            // A reviewed change is accepted deliberately.
            safety::accept_checksum(db.conn(), name).await.unwrap();
            assert!(safety::drift(db.conn()).await.unwrap().is_empty());
            db.db.migrate().await.expect("up works again");
        }
    }

    #[tokio::test]
    async fn an_applied_migration_missing_from_the_build_is_named() {
        for backend in backends() {
            let db = TestDb::migrated(backend).await;
            db.exec("INSERT INTO seaql_migrations (version, applied_at) VALUES ('m20990101_000000_ghost', 0)").await.unwrap();
            let drift = safety::drift(db.conn()).await.unwrap();
            assert_eq!(
                drift,
                vec![Drift::Missing {
                    name: "m20990101_000000_ghost".into()
                }],
                "[{backend:?}]"
            );
            let err = db.db.migrate().await.expect_err("refused");
            assert!(
                format!("{err:?}").contains("m20990101_000000_ghost"),
                "{err:?}"
            );
        }
    }

    #[tokio::test]
    async fn two_migrators_starting_together_apply_each_migration_once() {
        // The advisory lock is PostgreSQL's; the embedded SQLite database serves one process.
        for backend in backends().into_iter().filter(|b| *b == Backend::Postgres) {
            let db = TestDb::empty(backend).await;
            let second = service::Database::connect(&db.url).await.unwrap();
            let (a, b) = tokio::join!(db.db.migrate(), second.migrate());
            a.unwrap_or_else(|e| panic!("[{backend:?}] first migrator: {e:?}"));
            b.unwrap_or_else(|e| panic!("[{backend:?}] second migrator: {e:?}"));
            let count = migration::Migrator::migrations().len() as i64;
            assert_eq!(db.count("seaql_migrations").await, count, "[{backend:?}]");
            assert_eq!(
                db.count("updog_migration_checksums").await,
                count,
                "[{backend:?}]"
            );
        }
    }

    #[tokio::test]
    async fn a_dry_run_prints_the_pending_sql_and_executes_nothing() {
        for backend in backends() {
            let db = TestDb::empty(backend).await;
            let plan = safety::dry_run_pending(db.conn()).await.unwrap();
            assert_eq!(plan.len(), migration::Migrator::migrations().len());
            assert!(
                plan[0].1[0].starts_with(r#"CREATE TABLE "funds""#),
                "{:?}",
                plan[0].1[0]
            );
            let concurrently = plan
                .iter()
                .flat_map(|(_, s)| s)
                .any(|s| s.contains("CONCURRENTLY"));
            assert_eq!(
                concurrently,
                backend == Backend::Postgres,
                "[{backend:?}] CONCURRENTLY only on PostgreSQL"
            );
            let tables = match backend {
                Backend::Sqlite => {
                    "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'funds'"
                }
                Backend::Postgres => {
                    "SELECT COUNT(*) AS n FROM pg_tables WHERE tablename = 'funds'"
                }
            };
            let rows = db
                .conn()
                .query_all_raw(sea_orm::Statement::from_string(db.db_backend(), tables))
                .await
                .unwrap();
            assert_eq!(
                rows[0].try_get::<i64>("", "n").unwrap(),
                0,
                "[{backend:?}] nothing executed"
            );
        }
    }

    #[tokio::test]
    async fn every_migration_scores_within_the_risk_threshold_or_is_acknowledged() {
        for report in migration::lint_all().await.unwrap() {
            assert!(
                report.score <= migration::lint::DEFAULT_THRESHOLD
                    || report.acknowledgement.is_some(),
                "{} scores {}: {:?}",
                report.migration,
                report.score,
                report.findings
            );
        }
    }
}

/// Issue #25, item 2: a snapshot written as `jsonb` (what `down` restores, and what the code before
/// wrote) reads back byte for byte the same through the API once its documents are packed canonical
/// bytes, and `source_hash` is still the SHA-256 of the canonical inputs.
#[tokio::test]
async fn a_snapshot_reads_back_byte_identical_through_the_api_across_the_move_to_packed_documents()
{
    use sha2::Digest;
    for backend in backends() {
        let app = updog_tests::TestApp::spawn(backend).await;
        let p = app.portfolio().await;
        let created = app
            .post(
                &format!("/api/v1/funds/{}/snapshots", p.fund),
                &app.admin,
                &serde_json::json!({"name": "Q4"}),
                None,
            )
            .await;
        assert_eq!(
            created.status(),
            reqwest::StatusCode::ACCEPTED,
            "[{backend:?}]"
        );
        let id = created.json::<serde_json::Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        app.run_jobs().await;
        let read = || async {
            let response = app
                .get_as(&format!("/api/v1/snapshots/{id}"), &app.admin)
                .await;
            assert_eq!(response.status(), reqwest::StatusCode::OK);
            response.text().await.unwrap()
        };
        let packed = read().await;
        assert!(
            packed.contains(r#""status":"complete""#),
            "[{backend:?}] {packed}"
        );

        // The documents as the code before this change stored them.
        let conn = app.db.conn();
        // Down through every migration after the packing one, and that one.
        let names: Vec<String> = Migrator::migrations()
            .iter()
            .map(|m| m.name().to_owned())
            .collect();
        let packing = names
            .iter()
            .position(|n| n == "m20261202_000021_store_snapshot_documents_as_zstd")
            .expect("the packing migration");
        let steps = u32::try_from(names.len() - packing).unwrap();
        Migrator::down(conn, Some(steps))
            .await
            .expect("down to jsonb");
        let sql = match backend {
            Backend::Postgres => format!(
                "SELECT inputs::text AS inputs, calculated_metrics::text AS metrics, source_hash \
                 FROM forecast_snapshots WHERE id = '{id}'"
            ),
            Backend::Sqlite => "SELECT inputs, calculated_metrics AS metrics, source_hash \
                                FROM forecast_snapshots"
                .to_owned(),
        };
        let row = &app.db.query(&sql).await[0];
        let text = |c: &str| row.try_get::<String>("", c).expect(c);
        let inputs: serde_json::Value = serde_json::from_str(&text("inputs")).unwrap();
        let canonical = service::canonical::to_canonical_string(&inputs).unwrap();
        assert_eq!(
            hex::encode(sha2::Sha256::digest(canonical.as_bytes())),
            text("source_hash"),
            "[{backend:?}] the unpacked inputs are what was hashed"
        );
        // What the code before answered: the stored document through `serde_json::Value`.
        let metrics: serde_json::Value = serde_json::from_str(&text("metrics")).unwrap();
        let before = serde_json::to_string(&metrics).unwrap();
        assert!(
            packed.contains(&format!(r#""calculated_metrics":{before},"#)),
            "[{backend:?}] the packed document is answered as the jsonb one was"
        );

        Migrator::up(conn, None).await.expect("up again");
        assert_eq!(read().await, packed, "[{backend:?}] byte-identical");
    }
}
