//! `distributions`: realized proceeds from a company (SPEC §3, §6.2).

use sea_orm_migration::prelude::*;

use crate::common::*;

const T: &str = "distributions";

create_table_migration!(T);

fn table(backend: DbBackend) -> Schema {
    let mut t = fund_owned(T, id_bigint());
    t.col(ref_bigint("company_id"))
        .col(ColumnDef::new("distributed_on").date().not_null())
        .col(cents("amount_cents"))
        .col(varchar("kind", 32))
        .col(exact_decimal(backend, "shares_sold", 18, 8).null())
        .col(idempotency_key_column())
        .foreign_key(&mut fund_fk(T))
        .foreign_key(&mut same_fund_fk(
            T,
            "company",
            "company_id",
            "portfolio_companies",
        ))
        .check(check(T, "amount_positive", "amount_cents > 0"))
        .check(check(
            T,
            "kind",
            &one_of(
                "kind",
                &["exit", "partial_sale", "dividend", "recapitalization"],
            ),
        ))
        .check(check(
            T,
            "shares_sold_positive",
            &decimal_cond(backend, "shares_sold", "> 0"),
        ))
        .check(key_length_check(T));
    // Distributions are immutable records of cash received.
    timestamps(&mut t, T, false);
    (
        t,
        vec![
            index(T, "company", &["company_id"], false),
            cursor_index(T, "fund_id", "created_at"),
            key_index(T, Some("fund_id")),
        ],
    )
}
