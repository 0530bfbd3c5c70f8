//! The database itself enforces the data model (SPEC §3): every CHECK (in [`checks`]), foreign key,
//! partial unique index and cascade is exercised with raw SQL, so that the service is never the only guard.

mod checks;

use std::str::FromStr;

use rust_decimal::Decimal;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use updog_tests::{TestDb, backends};

use crate::fixtures::{self, portfolio};

#[tokio::test]
async fn composite_foreign_keys_keep_children_in_their_parents_fund() {
    for backend in backends() {
        let db = TestDb::migrated(backend).await;
        let one = portfolio(&db, 1).await;
        let two = portfolio(&db, 2).await;

        let cross_fund = [
            // An investment of fund 2 in a company of fund 1.
            fixtures::investment(900, two.fund, one.company),
            // A lot filed under fund 2 for an investment of fund 1.
            fixtures::lot(&db, two.fund, one.investment),
            fixtures::distribution(two.fund, one.company),
            fixtures::allocation(&db, two.fund, &one.snapshot, two.company),
            fixtures::allocation(&db, one.fund, &one.snapshot, two.company),
            fixtures::optimization(&db, two.fund, &one.matrix),
        ];
        for row in cross_fund {
            let err = row
                .insert(&db)
                .await
                .expect_err("a cross-fund row must be refused");
            assert!(
                err.to_lowercase().contains("foreign key"),
                "[{backend:?}] expected a foreign-key violation, got {err}\n  for {}",
                row.sql()
            );
        }
        // Orphans are refused too.
        let orphan = fixtures::lot(&db, one.fund, 999_999).insert(&db).await;
        assert!(
            orphan
                .expect_err("orphan lot")
                .to_lowercase()
                .contains("foreign key")
        );
    }
}

#[tokio::test]
async fn idempotency_keys_are_unique_under_one_parent_and_null_keys_are_not_keys() {
    for backend in backends() {
        let db = TestDb::migrated(backend).await;
        let p = portfolio(&db, 1).await;
        fixtures::investment(101, p.fund, p.company)
            .insert(&db)
            .await
            .expect("second investment");
        let lot = |investment: i64, key: &str| {
            fixtures::lot(&db, p.fund, investment).with("idempotency_key", key)
        };

        // Two lots without a key are two lots.
        fixtures::lot(&db, p.fund, p.investment)
            .insert(&db)
            .await
            .expect("first keyless lot");
        fixtures::lot(&db, p.fund, p.investment)
            .insert(&db)
            .await
            .expect("second keyless lot");

        lot(p.investment, "'retry-1'")
            .insert(&db)
            .await
            .expect("first keyed lot");
        let err = lot(p.investment, "'retry-1'")
            .insert(&db)
            .await
            .expect_err("the same key twice under one investment");
        assert!(
            err.to_lowercase().contains("unique"),
            "[{backend:?}] expected a unique violation, got {err}"
        );

        // The same key under another investment is another scope.
        lot(101, "'retry-1'")
            .insert(&db)
            .await
            .expect("same key, other investment");

        let rows = db
            .query(&format!(
                "SELECT COUNT(*) AS n FROM investment_lots WHERE investment_id = {}",
                p.investment
            ))
            .await;
        // One from the portfolio, two keyless, one keyed.
        assert_eq!(rows[0].try_get::<i64>("", "n").unwrap(), 4, "[{backend:?}]");

        // The same rule holds for every other keyed table, for example snapshots within a fund.
        let snap = |hash: char| {
            fixtures::snapshot(&db, &db.uuid(), p.fund)
                .with("source_hash", &format!("'{}'", db.sha(hash)))
                .with("idempotency_key", "'snap-1'")
        };
        snap('1').insert(&db).await.expect("first keyed snapshot");
        let err = snap('2')
            .insert(&db)
            .await
            .expect_err("the same snapshot key twice in one fund");
        assert!(
            err.to_lowercase().contains("unique"),
            "[{backend:?}] expected a unique violation, got {err}"
        );
    }
}

#[tokio::test]
async fn a_fund_state_has_one_live_snapshot_but_a_failed_one_does_not_block_a_retry() {
    for backend in backends() {
        let db = TestDb::migrated(backend).await;
        let p = portfolio(&db, 1).await;
        // The portfolio's snapshot has hash 'aaaa…' and is pending.
        let same_hash = fixtures::snapshot(&db, &db.uuid(), p.fund);
        let err = same_hash
            .insert(&db)
            .await
            .expect_err("two live snapshots of one state");
        assert!(err.to_lowercase().contains("unique"), "[{backend:?}] {err}");

        db.exec(&format!(
            "UPDATE forecast_snapshots SET status = 'error' WHERE id = {}",
            p.snapshot
        ))
        .await
        .unwrap();
        fixtures::snapshot(&db, &db.uuid(), p.fund)
            .insert(&db)
            .await
            .expect("a retry after an error");
    }
}

#[tokio::test]
async fn deleting_a_parent_deletes_its_children() {
    for backend in backends() {
        let db = TestDb::migrated(backend).await;
        let one = portfolio(&db, 1).await;
        let two = portfolio(&db, 2).await;
        let fund_owned = updog_tests::FUND_OWNED_TABLES;
        for table in fund_owned {
            assert_eq!(db.count(table).await, 2, "[{backend:?}] {table} before");
        }

        // Snapshot → allocations.
        db.exec(&format!(
            "DELETE FROM forecast_snapshots WHERE id = {}",
            two.snapshot
        ))
        .await
        .unwrap();
        assert_eq!(
            db.count("reserve_allocations").await,
            1,
            "[{backend:?}] allocations after snapshot delete"
        );

        // Matrix → optimization sessions.
        db.exec(&format!(
            "DELETE FROM scenario_matrices WHERE id = {}",
            two.matrix
        ))
        .await
        .unwrap();
        assert_eq!(
            db.count("optimization_sessions").await,
            1,
            "[{backend:?}] sessions after matrix delete"
        );

        // Investment → lots.
        db.exec(&format!(
            "DELETE FROM investments WHERE id = {}",
            two.investment
        ))
        .await
        .unwrap();
        assert_eq!(
            db.count("investment_lots").await,
            1,
            "[{backend:?}] lots after investment delete"
        );

        // Company → investments, lots, distributions, allocations.
        let extra = fixtures::investment(2001, two.fund, two.company);
        extra.insert(&db).await.unwrap();
        fixtures::lot(&db, two.fund, 2001)
            .insert(&db)
            .await
            .unwrap();
        db.exec(&format!(
            "DELETE FROM portfolio_companies WHERE id = {}",
            two.company
        ))
        .await
        .unwrap();
        assert_eq!(
            db.count("investments").await,
            1,
            "[{backend:?}] investments after company delete"
        );
        assert_eq!(
            db.count("investment_lots").await,
            1,
            "[{backend:?}] lots after company delete"
        );
        assert_eq!(
            db.count("distributions").await,
            1,
            "[{backend:?}] distributions after company delete"
        );

        // Fund → everything it owns; the other fund's remaining rows are untouched.
        let before: Vec<i64> = {
            let mut v = Vec::new();
            for table in fund_owned {
                v.push(db.count(table).await);
            }
            v
        };
        db.exec(&format!("DELETE FROM funds WHERE id = {}", one.fund))
            .await
            .unwrap();
        for (table, before) in fund_owned.iter().zip(before) {
            let rows = db
                .query(&format!(
                    "SELECT COUNT(*) AS n FROM {table} WHERE fund_id = {}",
                    one.fund
                ))
                .await;
            assert_eq!(
                rows[0].try_get::<i64>("", "n").unwrap(),
                0,
                "[{backend:?}] {table} of fund 1 remain"
            );
            let expected_left = before - 1;
            assert_eq!(
                db.count(table).await,
                expected_left,
                "[{backend:?}] {table} of fund 2 after deleting fund 1"
            );
        }
        assert_eq!(db.count("funds").await, 1, "[{backend:?}] fund 2 survives");
    }
}

#[tokio::test]
async fn decimals_round_trip_exactly_through_the_entities_on_both_backends() {
    use entity::{ExactDecimal, fund, investment, investment_lot, portfolio_company};

    for backend in backends() {
        let db = TestDb::migrated(backend).await;
        let conn = db.conn();
        let dec = |s: &str| ExactDecimal(Decimal::from_str(s).unwrap());

        let f = fund::ActiveModel {
            name: Set("Exact Fund".into()),
            size_cents: Set(9_000_000_000_000_000),
            vintage_year: Set(2024),
            management_fee_bps: Set(200),
            carry_bps: Set(2000),
            reserve_ratio_bps: Set(5000),
            base_currency: Set("USD".into()),
            status: Set(fund::FundStatus::Active),
            ..Default::default()
        }
        .insert(conn)
        .await
        .unwrap_or_else(|e| panic!("[{backend:?}] insert fund: {e}"));
        assert_eq!(f.version, 1, "[{backend:?}] versions start at 1");
        assert_eq!(f.size_cents, 9_000_000_000_000_000);

        let c = portfolio_company::ActiveModel {
            fund_id: Set(f.id),
            name: Set("Exact Co".into()),
            stage: Set(portfolio_company::Stage::SeriesA),
            status: Set(portfolio_company::CompanyStatus::Active),
            exit_probability: Set(Some(dec("0.123457"))),
            ..Default::default()
        }
        .insert(conn)
        .await
        .unwrap_or_else(|e| panic!("[{backend:?}] insert company: {e}"));

        let i = investment::ActiveModel {
            fund_id: Set(f.id),
            company_id: Set(c.id),
            round_name: Set("Series A".into()),
            invested_on: Set(chrono::NaiveDate::from_ymd_opt(2024, 3, 1).unwrap()),
            ..Default::default()
        }
        .insert(conn)
        .await
        .unwrap_or_else(|e| panic!("[{backend:?}] insert investment: {e}"));

        // The widest value numeric(18,8) holds, and the smallest positive one.
        for shares in ["9999999999.99999999", "0.00000001", "1000.12345678"] {
            let id = uuid::Uuid::now_v7();
            investment_lot::ActiveModel {
                id: Set(id),
                fund_id: Set(f.id),
                investment_id: Set(i.id),
                lot_type: Set(investment_lot::LotType::FollowOn),
                share_price_cents: Set(333_333),
                shares_acquired: Set(dec(shares)),
                cost_basis_cents: Set(333_374_433),
                acquired_on: Set(chrono::NaiveDate::from_ymd_opt(2024, 3, 1).unwrap()),
                ..Default::default()
            }
            .insert(conn)
            .await
            .unwrap_or_else(|e| panic!("[{backend:?}] insert lot: {e}"));
            let read = investment_lot::Entity::find_by_id(id)
                .one(conn)
                .await
                .unwrap()
                .expect("the lot");
            assert_eq!(
                read.shares_acquired,
                dec(shares),
                "[{backend:?}] shares {shares}"
            );
            assert_eq!(
                read.shares_acquired.to_string(),
                shares,
                "[{backend:?}] shares keep their scale"
            );
            assert_eq!(read.lot_type, investment_lot::LotType::FollowOn);
        }

        let read = portfolio_company::Entity::find_by_id(c.id)
            .one(conn)
            .await
            .unwrap()
            .expect("the company");
        assert_eq!(
            read.exit_probability,
            Some(dec("0.123457")),
            "[{backend:?}] probability"
        );
        assert_eq!(read.stage, portfolio_company::Stage::SeriesA);
    }
}

#[tokio::test]
async fn a_twenty_digit_ratio_survives_numeric_20_6_and_sqlite_text() {
    use entity::{ExactDecimal, reserve_allocation};

    for backend in backends() {
        let db = TestDb::migrated(backend).await;
        let p = portfolio(&db, 1).await;
        let score = ExactDecimal(Decimal::from_str("12345678901234.123456").unwrap());
        // A snapshot written with raw SQL, referred to by an entity row.
        let snapshot_id = uuid::Uuid::now_v7();
        let hash = format!("'{}'", db.sha('7'));
        fixtures::snapshot(&db, &db.uuid_literal(snapshot_id), p.fund)
            .with("source_hash", &hash)
            .insert(&db)
            .await
            .unwrap();
        let id = uuid::Uuid::now_v7();
        reserve_allocation::ActiveModel {
            id: Set(id),
            fund_id: Set(p.fund),
            snapshot_id: Set(snapshot_id),
            company_id: Set(p.company),
            planned_reserve_cents: Set(0),
            allocation_score: Set(Some(score)),
            priority: Set(1),
            rationale: Set(None),
            source: Set(reserve_allocation::AllocationSource::Manual),
            ..Default::default()
        }
        .insert(db.conn())
        .await
        .unwrap_or_else(|e| panic!("[{backend:?}] insert allocation: {e}"));
        let read = reserve_allocation::Entity::find_by_id(id)
            .one(db.conn())
            .await
            .unwrap()
            .expect("allocation");
        assert_eq!(read.allocation_score, Some(score), "[{backend:?}]");
        assert_eq!(
            read.allocation_score.unwrap().to_string(),
            "12345678901234.123456",
            "[{backend:?}]"
        );
    }
}

/// The service tells unique violations apart by index name (PostgreSQL) or column list (SQLite): each
/// name and list it knows must be the migrated schema's, or a violation would go unrecognised.
#[tokio::test]
async fn every_unique_index_the_service_names_exists_with_its_columns() {
    for backend in backends() {
        let db = TestDb::migrated(backend).await;
        for index in service::error::unique::ALL {
            let sql = match db.db_backend() {
                sea_orm::DbBackend::Postgres => format!(
                    "SELECT string_agg(i.indrelid::regclass::text || '.' || a.attname, ', ' ORDER BY k.ord) AS cols
                     FROM pg_index i
                     JOIN pg_class c ON c.oid = i.indexrelid
                     CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                     WHERE c.relname = '{}' AND i.indisunique",
                    index.name
                ),
                _ => format!(
                    "SELECT group_concat(m.tbl_name || '.' || p.name, ', ') AS cols
                     FROM sqlite_master m, pragma_index_info(m.name) p
                     WHERE m.type = 'index' AND m.name = '{}'",
                    index.name
                ),
            };
            let rows = db.query(&sql).await;
            let cols: Option<String> = rows
                .first()
                .and_then(|r| r.try_get::<Option<String>>("", "cols").ok())
                .flatten();
            assert_eq!(
                cols.as_deref(),
                Some(index.sqlite_columns),
                "[{backend:?}] unique index {} in the schema",
                index.name
            );
        }
    }
}
