//! Raw-SQL rows for schema tests: one valid row per table, which a test can alter one column at a time.

use updog_tests::TestDb;

/// A row to insert: table and column → SQL literal.
#[derive(Clone)]
pub struct Row {
    pub table: &'static str,
    pub cols: Vec<(&'static str, String)>,
}

impl Row {
    pub fn new(table: &'static str, cols: &[(&'static str, &str)]) -> Self {
        Self {
            table,
            cols: cols.iter().map(|(c, v)| (*c, v.to_string())).collect(),
        }
    }

    /// The same row with one column replaced (or added).
    pub fn with(&self, col: &'static str, value: &str) -> Self {
        let mut row = self.clone();
        match row.cols.iter_mut().find(|(c, _)| *c == col) {
            Some(slot) => slot.1 = value.to_owned(),
            None => row.cols.push((col, value.to_owned())),
        }
        row
    }

    pub fn sql(&self) -> String {
        let names: Vec<&str> = self.cols.iter().map(|(c, _)| *c).collect();
        let values: Vec<&str> = self.cols.iter().map(|(_, v)| v.as_str()).collect();
        format!(
            "INSERT INTO {} ({}) VALUES ({})",
            self.table,
            names.join(", "),
            values.join(", ")
        )
    }

    pub async fn insert(&self, db: &TestDb) -> Result<u64, String> {
        db.exec(&self.sql()).await
    }
}

/// Ids of a fund with one row in every fund-owned table, and the valid rows themselves.
pub struct Portfolio {
    pub fund: i64,
    pub company: i64,
    pub investment: i64,
    pub snapshot: String,
    pub matrix: String,
}

pub const T0: &str = "'2026-01-01T00:00:00Z'";

pub fn fund(id: i64) -> Row {
    Row::new(
        "funds",
        &[
            ("id", &id.to_string()),
            ("name", &format!("'Fund {id}'")),
            ("size_cents", "10000000000"),
            ("vintage_year", "2024"),
            ("management_fee_bps", "200"),
            ("carry_bps", "2000"),
            ("reserve_ratio_bps", "4000"),
        ],
    )
}

pub fn company(id: i64, fund: i64) -> Row {
    Row::new(
        "portfolio_companies",
        &[
            ("id", &id.to_string()),
            ("fund_id", &fund.to_string()),
            ("name", &format!("'Company {id}'")),
            ("stage", "'seed'"),
            ("exit_probability", "'0.500000'"),
        ],
    )
}

pub fn investment(id: i64, fund: i64, company: i64) -> Row {
    Row::new(
        "investments",
        &[
            ("id", &id.to_string()),
            ("fund_id", &fund.to_string()),
            ("company_id", &company.to_string()),
            ("round_name", "'Seed'"),
            ("invested_on", "'2024-01-15'"),
        ],
    )
}

pub fn lot(db: &TestDb, fund: i64, investment: i64) -> Row {
    Row::new(
        "investment_lots",
        &[
            ("id", &db.uuid()),
            ("fund_id", &fund.to_string()),
            ("investment_id", &investment.to_string()),
            ("lot_type", "'initial'"),
            ("share_price_cents", "250000"),
            ("shares_acquired", "'1000.00000000'"),
            ("cost_basis_cents", "250000000"),
            ("acquired_on", "'2024-01-15'"),
        ],
    )
}

pub fn distribution(fund: i64, company: i64) -> Row {
    Row::new(
        "distributions",
        &[
            ("fund_id", &fund.to_string()),
            ("company_id", &company.to_string()),
            ("distributed_on", "'2025-06-30'"),
            ("amount_cents", "500000"),
            ("kind", "'partial_sale'"),
            ("shares_sold", "'10.00000000'"),
        ],
    )
}

pub fn snapshot(db: &TestDb, id: &str, fund: i64) -> Row {
    Row::new(
        "forecast_snapshots",
        &[
            ("id", id),
            ("fund_id", &fund.to_string()),
            ("name", "'Q4 plan'"),
            ("source_hash", &format!("'{}'", db.sha('a'))),
            ("inputs", "'{}'"),
            ("snapshot_time", T0),
        ],
    )
}

pub fn allocation(db: &TestDb, fund: i64, snapshot: &str, company: i64) -> Row {
    Row::new(
        "reserve_allocations",
        &[
            ("id", &db.uuid()),
            ("fund_id", &fund.to_string()),
            ("snapshot_id", snapshot),
            ("company_id", &company.to_string()),
            ("planned_reserve_cents", "100000"),
            ("allocation_score", "'2.000000'"),
            ("priority", "1"),
            ("source", "'engine'"),
        ],
    )
}

pub fn job(db: &TestDb, fund: i64) -> Row {
    Row::new(
        "job_outbox",
        &[
            ("id", &db.uuid()),
            ("job_type", "'snapshot.calculate'"),
            ("fund_id", &fund.to_string()),
            ("payload", "'{}'"),
        ],
    )
}

pub fn matrix(db: &TestDb, id: &str, fund: i64) -> Row {
    Row::new(
        "scenario_matrices",
        &[
            ("id", id),
            ("matrix_key", &format!("'{}'", db.sha('b'))),
            ("fund_id", &fund.to_string()),
            ("taxonomy_version", "'v1'"),
            ("num_scenarios", "100"),
            ("bucket_count", "3"),
            ("config", "'{}'"),
        ],
    )
}

pub fn optimization(db: &TestDb, fund: i64, matrix: &str) -> Row {
    Row::new(
        "optimization_sessions",
        &[
            ("id", &db.uuid()),
            ("fund_id", &fund.to_string()),
            ("matrix_id", matrix),
            ("config", "'{}'"),
        ],
    )
}

pub fn idempotency_record(db: &TestDb) -> Row {
    Row::new(
        "idempotency_records",
        &[
            ("id", &db.uuid()),
            ("scope", "'POST /api/v1/funds'"),
            ("idempotency_key", "'key-1'"),
            ("fingerprint", &format!("'{}'", db.sha('c'))),
            ("status_code", "201"),
            ("response_body", db.bytes_literal()),
            ("expires_at", "'2099-01-01T00:00:00Z'"),
        ],
    )
}

pub fn api_key(db: &TestDb) -> Row {
    Row::new(
        "api_keys",
        &[
            ("id", &db.uuid()),
            ("name", "'ci'"),
            ("key_digest", &format!("'{}'", db.sha('d'))),
            ("key_prefix", "'updog_ab'"),
            ("role", "'writer'"),
            ("fund_scope", "'[1]'"),
        ],
    )
}

/// Inserts fund `fund` with one row in each fund-owned table (ids derived from `fund`).
pub async fn portfolio(db: &TestDb, fund_id: i64) -> Portfolio {
    let (company_id, investment_id) = (fund_id * 10, fund_id * 100);
    let snapshot_id = db.uuid();
    let matrix_id = db.uuid();
    let rows = vec![
        fund(fund_id),
        company(company_id, fund_id),
        investment(investment_id, fund_id, company_id),
        lot(db, fund_id, investment_id),
        distribution(fund_id, company_id),
        snapshot(db, &snapshot_id, fund_id),
        allocation(db, fund_id, &snapshot_id, company_id),
        job(db, fund_id),
        matrix(db, &matrix_id, fund_id)
            .with("matrix_key", &format!("'{}'", db.sha(hex_digit(fund_id)))),
        optimization(db, fund_id, &matrix_id),
    ];
    for row in rows {
        row.insert(db)
            .await
            .unwrap_or_else(|e| panic!("valid {} row refused: {e}", row.table));
    }
    Portfolio {
        fund: fund_id,
        company: company_id,
        investment: investment_id,
        snapshot: snapshot_id,
        matrix: matrix_id,
    }
}

fn hex_digit(n: i64) -> char {
    char::from_digit((n % 16) as u32, 16).unwrap_or('0')
}
