//! `investment_lots`: purchase lots of an investment, the unit of cost basis and MOIC (SPEC §3, §6.1).

use sea_orm_migration::prelude::*;

use crate::common::*;

const T: &str = "investment_lots";

create_table_migration!(T);

fn table(backend: DbBackend) -> Schema {
    let mut t = fund_owned(T, id_uuid());
    t.col(ref_bigint("investment_id"))
        .col(varchar("lot_type", 16))
        .col(cents("share_price_cents"))
        .col(exact_decimal(backend, "shares_acquired", 18, 8).not_null())
        .col(cents("cost_basis_cents"))
        .col(ColumnDef::new("acquired_on").date().not_null())
        .col(idempotency_key_column())
        .col(ColumnDef::new("request_fingerprint").char_len(64).null())
        .foreign_key(&mut same_fund_fk(
            T,
            "investment",
            "investment_id",
            "investments",
        ))
        .check(check(
            T,
            "lot_type",
            &one_of(
                "lot_type",
                &["initial", "follow_on", "secondary", "conversion"],
            ),
        ))
        .check(check(
            T,
            "share_price_non_negative",
            "share_price_cents >= 0",
        ))
        .check(check(
            T,
            "shares_positive",
            &decimal_cond(backend, "shares_acquired", "> 0"),
        ))
        .check(check(T, "cost_basis_non_negative", "cost_basis_cents >= 0"))
        .check(key_length_check(T))
        .check(check(
            T,
            "request_fingerprint_sha256",
            &sha256_hex(backend, "request_fingerprint"),
        ));
    // Lots are immutable once written: no updated_at, no version.
    timestamps(&mut t, T, false);
    (
        t,
        vec![
            key_index(T, Some("investment_id")),
            cursor_index(T, "investment_id", "created_at"),
            cursor_index(T, "fund_id", "created_at"),
        ],
    )
}
