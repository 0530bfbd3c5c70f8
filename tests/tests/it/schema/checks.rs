//! Every CHECK constraint of the data model (SPEC §3) refuses a violating row, on both backends, with
//! raw SQL: the database is never guarded by the service alone.

use updog_tests::{TestDb, backends};

use crate::fixtures::{self, Row, portfolio};

/// Asserts that the database refuses `row`, naming `constraint` in its error.
async fn assert_refused(db: &TestDb, row: &Row, constraint: &str) {
    match row.insert(db).await {
        Ok(_) => panic!(
            "[{:?}] the database accepted a row violating {constraint}: {}",
            db.backend,
            row.sql()
        ),
        Err(e) => assert!(
            e.contains(constraint),
            "[{:?}] expected a violation of {constraint}, got: {e}\n  for {}",
            db.backend,
            row.sql()
        ),
    }
}

#[tokio::test]
async fn every_check_constraint_refuses_a_violating_row() {
    for backend in backends() {
        let db = TestDb::migrated(backend).await;
        let p = portfolio(&db, 1).await;
        let snapshot_id = db.uuid();
        let matrix_id = db.uuid();
        let fund = fixtures::fund(2);
        let company = fixtures::company(20, 1);
        let investment = fixtures::investment(200, 1, p.company);
        let lot = fixtures::lot(&db, 1, p.investment);
        let distribution = fixtures::distribution(1, p.company);
        let snapshot = fixtures::snapshot(&db, &snapshot_id, 1)
            .with("source_hash", &format!("'{}'", db.sha('e')));
        let allocation = fixtures::allocation(&db, 1, &p.snapshot, p.company);
        let job = fixtures::job(&db, 1);
        let matrix =
            fixtures::matrix(&db, &matrix_id, 1).with("matrix_key", &format!("'{}'", db.sha('f')));
        let optimization = fixtures::optimization(&db, 1, &p.matrix);
        let record = fixtures::idempotency_record(&db);
        let key = fixtures::api_key(&db);

        let cases: Vec<(Row, &str)> = vec![
            (fund.with("name", "''"), "ck_funds_name_length"),
            (fund.with("size_cents", "0"), "ck_funds_size_positive"),
            (
                fund.with("vintage_year", "1800"),
                "ck_funds_vintage_year_range",
            ),
            (
                fund.with("management_fee_bps", "10001"),
                "ck_funds_management_fee_bps_range",
            ),
            (fund.with("carry_bps", "-1"), "ck_funds_carry_bps_range"),
            (
                fund.with("reserve_ratio_bps", "20000"),
                "ck_funds_reserve_ratio_bps_range",
            ),
            (
                fund.with("base_currency", "'usd'"),
                "ck_funds_base_currency_iso",
            ),
            (fund.with("status", "'open'"), "ck_funds_status"),
            (
                fund.with("reserve_plan_version", "0"),
                "ck_funds_reserve_plan_version_positive",
            ),
            (fund.with("version", "0"), "ck_funds_version_positive"),
            (
                fund.with("first_close_on", "'1899-12-31'"),
                "ck_funds_first_close_on",
            ),
            (
                fund.with("commitment_period_years", "16"),
                "ck_funds_commitment_period_years",
            ),
            (fund.with("term_years", "31"), "ck_funds_term_years"),
            (
                fund.with("commitment_period_years", "8")
                    .with("term_years", "7"),
                "ck_funds_term_years",
            ),
            (
                fund.with("post_period_fee_bps", "10001"),
                "ck_funds_post_period_fee_bps",
            ),
            (
                fund.with("post_period_fee_basis", "'nav'"),
                "ck_funds_post_period_fee_basis",
            ),
            (fund.with("hurdle_bps", "-1"), "ck_funds_hurdle_bps"),
            (
                fund.with("hurdle_bps", "800")
                    .with("carry_bps", "2000")
                    .with("catch_up_bps", "2000"),
                "ck_funds_catch_up_bps",
            ),
            (
                fund.with("hurdle_bps", "800")
                    .with("waterfall", "'american'"),
                "ck_funds_waterfall",
            ),
            (fund.with("waterfall", "'swiss'"), "ck_funds_waterfall"),
            (
                fund.with("idempotency_key", "''"),
                "ck_funds_idempotency_key_length",
            ),
            (
                company.with("name", "''"),
                "ck_portfolio_companies_name_length",
            ),
            (
                company.with("stage", "'series_z'"),
                "ck_portfolio_companies_stage",
            ),
            (
                company.with("status", "'zombie'"),
                "ck_portfolio_companies_status",
            ),
            (
                company.with("current_share_price_cents", "-1"),
                "ck_portfolio_companies_share_price_non_negative",
            ),
            (
                company.with("exit_moic_bps", "-1"),
                "ck_portfolio_companies_exit_moic_bps_non_negative",
            ),
            (
                company.with("exit_probability", "'1.000001'"),
                "ck_portfolio_companies_exit_probability_range",
            ),
            (
                company.with("exit_probability", "'-0.1'"),
                "ck_portfolio_companies_exit_probability_range",
            ),
            (
                company.with("reserve_exit_moic_bps", "-5"),
                "ck_portfolio_companies_reserve_exit_moic_bps_non_negative",
            ),
            (
                company.with("planned_reserves_cents", "-1"),
                "ck_portfolio_companies_planned_reserves_non_negative",
            ),
            (
                company.with("allocation_cap_cents", "-1"),
                "ck_portfolio_companies_allocation_cap_non_negative",
            ),
            (
                company.with("version", "0"),
                "ck_portfolio_companies_version_positive",
            ),
            (
                investment.with("round_name", "''"),
                "ck_investments_round_name_length",
            ),
            (
                investment.with("version", "0"),
                "ck_investments_version_positive",
            ),
            (
                lot.with("lot_type", "'gift'"),
                "ck_investment_lots_lot_type",
            ),
            (
                lot.with("share_price_cents", "-1"),
                "ck_investment_lots_share_price_non_negative",
            ),
            (
                lot.with("shares_acquired", "'0'"),
                "ck_investment_lots_shares_positive",
            ),
            (
                lot.with("cost_basis_cents", "-1"),
                "ck_investment_lots_cost_basis_non_negative",
            ),
            (
                lot.with("idempotency_key", "''"),
                "ck_investment_lots_idempotency_key_length",
            ),
            (
                lot.with("request_fingerprint", "'ABC'"),
                "ck_investment_lots_request_fingerprint_sha256",
            ),
            (
                lot.with("request_fingerprint", &format!("'{}'", db.sha('F'))),
                "ck_investment_lots_request_fingerprint_sha256",
            ),
            (
                distribution.with("amount_cents", "0"),
                "ck_distributions_amount_positive",
            ),
            (distribution.with("kind", "'gift'"), "ck_distributions_kind"),
            (
                distribution.with("shares_sold", "'-1'"),
                "ck_distributions_shares_sold_positive",
            ),
            (
                snapshot.with("name", "''"),
                "ck_forecast_snapshots_name_length",
            ),
            (
                snapshot.with("status", "'done'"),
                "ck_forecast_snapshots_status",
            ),
            (
                snapshot.with("source_hash", "'xyz'"),
                "ck_forecast_snapshots_source_hash_sha256",
            ),
            (
                snapshot.with("status", "'complete'"),
                "ck_forecast_snapshots_metrics_iff_complete",
            ),
            (
                snapshot.with("calculated_metrics", "'{}'"),
                "ck_forecast_snapshots_metrics_iff_complete",
            ),
            (
                snapshot.with("document_codec", "'gzip'"),
                "ck_forecast_snapshots_document_codec",
            ),
            (
                snapshot
                    .with("progress_done", "5")
                    .with("progress_total", "2"),
                "ck_forecast_snapshots_progress_range",
            ),
            (
                allocation.with("planned_reserve_cents", "-1"),
                "ck_reserve_allocations_planned_reserve_non_negative",
            ),
            (
                allocation.with("priority", "0"),
                "ck_reserve_allocations_priority_positive",
            ),
            (
                allocation.with("source", "'robot'"),
                "ck_reserve_allocations_source",
            ),
            (job.with("status", "'running'"), "ck_job_outbox_status"),
            (
                job.with("max_attempts", "0"),
                "ck_job_outbox_attempts_range",
            ),
            (job.with("job_type", "''"), "ck_job_outbox_job_type_length"),
            (
                job.with("status", "'processing'"),
                "ck_job_outbox_processing_is_locked",
            ),
            (
                matrix.with("matrix_key", "'nothex'"),
                "ck_scenario_matrices_matrix_key_sha256",
            ),
            (
                matrix.with("status", "'ready'"),
                "ck_scenario_matrices_status",
            ),
            (
                matrix.with("compression_codec", "'zlib'"),
                "ck_scenario_matrices_compression_codec",
            ),
            (
                matrix.with("matrix_layout", "'column_major'"),
                "ck_scenario_matrices_matrix_layout",
            ),
            (
                matrix.with("num_scenarios", "0"),
                "ck_scenario_matrices_num_scenarios_range",
            ),
            (
                matrix.with("num_scenarios", "100001"),
                "ck_scenario_matrices_num_scenarios_range",
            ),
            (
                matrix.with("bucket_count", "51"),
                "ck_scenario_matrices_bucket_count_range",
            ),
            (
                matrix.with("status", "'complete'"),
                "ck_scenario_matrices_complete_has_payload",
            ),
            (
                optimization.with("status", "'solved'"),
                "ck_optimization_sessions_status",
            ),
            (
                optimization.with("status", "'completed'"),
                "ck_optimization_sessions_completed_has_result",
            ),
            (
                optimization.with("pass1_iterations", "-1"),
                "ck_optimization_sessions_iterations_non_negative",
            ),
            (
                record.with("status_code", "99"),
                "ck_idempotency_records_status_code_range",
            ),
            (
                record.with("fingerprint", "'short'"),
                "ck_idempotency_records_fingerprint_sha256",
            ),
            (
                record.with("idempotency_key", "''"),
                "ck_idempotency_records_key_length",
            ),
            (
                record.with("expires_at", "'2000-01-01T00:00:00Z'"),
                "ck_idempotency_records_expires_after_created",
            ),
            (key.with("role", "'root'"), "ck_api_keys_role"),
            (
                key.with("key_digest", "'plain-text-key'"),
                "ck_api_keys_key_digest_sha256",
            ),
        ];
        for (row, constraint) in &cases {
            assert_refused(&db, row, constraint).await;
        }

        // The unaltered rows are valid, so each refusal above is due to the one altered column.
        for row in [
            &fund,
            &company,
            &investment,
            &lot,
            &distribution,
            &snapshot,
            &job,
            &matrix,
            &record,
            &key,
        ] {
            row.insert(&db)
                .await
                .unwrap_or_else(|e| panic!("[{backend:?}] valid {} row refused: {e}", row.table));
        }
        // These two would collide with the portfolio's own rows, so they go in with fresh parents.
        allocation
            .with("snapshot_id", &snapshot_id)
            .insert(&db)
            .await
            .expect("valid allocation");
        optimization
            .with("matrix_id", &matrix_id)
            .insert(&db)
            .await
            .expect("valid optimization session");
        let complete = fixtures::snapshot(&db, &db.uuid(), 1)
            .with("source_hash", &format!("'{}'", db.sha('9')))
            .with("status", "'complete'")
            .with("calculated_metrics", "'{\"gross_moic\": \"1.000000\"}'");
        complete
            .insert(&db)
            .await
            .expect("a complete snapshot with metrics is valid");
    }
}
