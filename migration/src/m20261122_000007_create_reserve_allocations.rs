//! `reserve_allocations`: a snapshot's planned follow-on reserves per company (SPEC §3, §6.5, §7).

use sea_orm_migration::prelude::*;

use crate::common::*;

const T: &str = "reserve_allocations";

create_table_migration!(T);

fn table(backend: DbBackend) -> Schema {
    let mut t = fund_owned(T, id_uuid());
    t.col(ColumnDef::new("snapshot_id").uuid().not_null())
        .col(ref_bigint("company_id"))
        .col(cents("planned_reserve_cents"))
        .col(exact_decimal(backend, "allocation_score", 20, 6).null())
        .col(ColumnDef::new("priority").integer().not_null())
        .col(ColumnDef::new("rationale").text().null())
        .col(varchar("source", 16))
        .foreign_key(&mut same_fund_fk(
            T,
            "snapshot",
            "snapshot_id",
            "forecast_snapshots",
        ))
        .foreign_key(&mut same_fund_fk(
            T,
            "company",
            "company_id",
            "portfolio_companies",
        ))
        .check(check(
            T,
            "planned_reserve_non_negative",
            "planned_reserve_cents >= 0",
        ))
        .check(check(T, "priority_positive", "priority >= 1"))
        .check(check(T, "source", &one_of("source", &["engine", "manual"])));
    // A complete snapshot's allocations are immutable.
    timestamps(&mut t, T, false);
    (
        t,
        vec![
            index(T, "snapshot_company", &["snapshot_id", "company_id"], true),
            index(T, "snapshot_priority", &["snapshot_id", "priority"], false),
            index(T, "company", &["company_id"], false),
        ],
    )
}
