//! `portfolio_companies`: the companies a fund holds, with their marks and exit assumptions (SPEC §3).

use sea_orm_migration::prelude::*;

use crate::common::*;

const T: &str = "portfolio_companies";

create_table_migration!(T);

fn table(backend: DbBackend) -> Schema {
    let mut t = fund_owned(T, id_bigint());
    t.col(varchar("name", 255))
        .col(varchar_null("sector", 255))
        .col(varchar("stage", 16))
        .col(status_column("active"))
        .col(cents_null("current_share_price_cents"))
        .col(timestamp_null("marked_at"))
        // Multiples in basis points: 10000 = 1.00x.
        .col(ColumnDef::new("exit_moic_bps").big_integer().null())
        .col(exact_decimal(backend, "exit_probability", 7, 6).null())
        .col(ColumnDef::new("reserve_exit_moic_bps").big_integer().null())
        .col(
            ColumnDef::new("planned_reserves_cents")
                .big_integer()
                .not_null()
                .default(0),
        )
        .col(cents_null("allocation_cap_cents"))
        .col(idempotency_key_column())
        .foreign_key(&mut fund_fk(T))
        .check(check(T, "name_length", &length_between("name", 1, 255)))
        .check(check(
            T,
            "stage",
            &one_of(
                "stage",
                &[
                    "pre_seed", "seed", "series_a", "series_b", "series_c", "growth",
                ],
            ),
        ))
        .check(check(
            T,
            "status",
            &one_of("status", &["active", "exited", "written_off"]),
        ))
        .check(check(
            T,
            "share_price_non_negative",
            "current_share_price_cents >= 0",
        ))
        .check(check(T, "exit_moic_bps_non_negative", "exit_moic_bps >= 0"))
        .check(check(
            T,
            "exit_probability_range",
            &decimal_cond(backend, "exit_probability", "BETWEEN 0 AND 1"),
        ))
        .check(check(
            T,
            "reserve_exit_moic_bps_non_negative",
            "reserve_exit_moic_bps >= 0",
        ))
        .check(check(
            T,
            "planned_reserves_non_negative",
            "planned_reserves_cents >= 0",
        ))
        .check(check(
            T,
            "allocation_cap_non_negative",
            "allocation_cap_cents >= 0",
        ))
        .check(key_length_check(T));
    timestamps(&mut t, T, true);
    (
        t,
        vec![
            index(T, "fund_name", &["fund_id", "name"], true),
            // Target of the composite foreign keys that keep children in their company's fund.
            index(T, "id_fund", &["id", "fund_id"], true),
            key_index(T, Some("fund_id")),
        ],
    )
}
