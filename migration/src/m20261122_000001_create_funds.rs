//! `funds`: the root of every fund-owned row (SPEC §3).

use sea_orm_migration::prelude::*;

use crate::common::*;

const T: &str = "funds";

create_table_migration!(T);

fn table(_backend: DbBackend) -> Schema {
    let mut t = table_with_id(T, id_bigint());
    t.col(varchar("name", 255))
        .col(cents("size_cents"))
        .col(ColumnDef::new("vintage_year").integer().not_null())
        .col(int_from("management_fee_bps", 0))
        .col(ColumnDef::new("carry_bps").integer().not_null().default(0))
        .col(int_from("reserve_ratio_bps", 0))
        .col(
            ColumnDef::new("base_currency")
                .string_len(3)
                .not_null()
                .default("USD"),
        )
        .col(status_column("active"))
        // The reserve plan's own version (SPEC §7.5), separate from the fund row's `version`.
        .col(
            ColumnDef::new("reserve_plan_version")
                .big_integer()
                .not_null()
                .default(1),
        )
        .col(idempotency_key_column())
        .check(check(T, "name_length", &length_between("name", 1, 255)))
        .check(check(T, "size_positive", "size_cents > 0"))
        .check(check(
            T,
            "vintage_year_range",
            "vintage_year BETWEEN 1900 AND 2200",
        ))
        .check(check(
            T,
            "management_fee_bps_range",
            "management_fee_bps BETWEEN 0 AND 10000",
        ))
        .check(check(T, "carry_bps_range", "carry_bps BETWEEN 0 AND 10000"))
        .check(check(
            T,
            "reserve_ratio_bps_range",
            "reserve_ratio_bps BETWEEN 0 AND 10000",
        ))
        .check(check(
            T,
            "base_currency_iso",
            "length(base_currency) = 3 AND base_currency = upper(base_currency)",
        ))
        .check(check(T, "status", &one_of("status", &["active", "closed"])))
        .check(check(
            T,
            "reserve_plan_version_positive",
            "reserve_plan_version >= 1",
        ))
        .check(key_length_check(T));
    timestamps(&mut t, T, true);
    (t, vec![key_index(T, None)])
}
