//! `investments`: a fund's investment in a company in one round (SPEC §3).

use sea_orm_migration::prelude::*;

use crate::common::*;

const T: &str = "investments";

create_table_migration!(T);

fn table(_backend: DbBackend) -> Schema {
    let mut t = fund_owned(T, id_bigint());
    t.col(ref_bigint("company_id"))
        .col(varchar("round_name", 255))
        .col(ColumnDef::new("invested_on").date().not_null())
        .col(idempotency_key_column())
        .foreign_key(&mut fund_fk(T))
        // The company must belong to the same fund as the investment.
        .foreign_key(&mut same_fund_fk(
            T,
            "company",
            "company_id",
            "portfolio_companies",
        ))
        .check(check(
            T,
            "round_name_length",
            &length_between("round_name", 1, 255),
        ))
        .check(key_length_check(T));
    timestamps(&mut t, T, true);
    (
        t,
        vec![
            index(T, "id_fund", &["id", "fund_id"], true),
            index(T, "company", &["company_id"], false),
            cursor_index(T, "fund_id", "created_at"),
            key_index(T, Some("fund_id")),
        ],
    )
}
