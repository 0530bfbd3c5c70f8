//! `scenario_matrices`: the durable tier of the Monte-Carlo scenario cache (SPEC §9).

use sea_orm_migration::prelude::*;

use crate::common::*;

const T: &str = "scenario_matrices";

create_table_migration!(T);

fn table(backend: DbBackend) -> Schema {
    let mut t = table_with_id(T, id_uuid());
    t.col(ColumnDef::new("matrix_key").char_len(64).not_null())
        .col(ref_bigint("fund_id"))
        .col(varchar("taxonomy_version", 64))
        .col(
            ColumnDef::new("matrix_type")
                .string_len(32)
                .not_null()
                .default("moic"),
        )
        .col(ColumnDef::new("matrix").blob().null())
        .col(varchar_null("compression_codec", 16))
        .col(varchar_null("matrix_layout", 32))
        .col(ColumnDef::new("num_scenarios").integer().not_null())
        .col(ColumnDef::new("bucket_count").integer().not_null())
        // Size of the uncompressed matrix in bytes (S × B × 4).
        .col(ColumnDef::new("raw_bytes").big_integer().null())
        .col(ColumnDef::new("config").json_binary().not_null())
        .col(status_column("pending"))
        .col(ColumnDef::new("error_message").text().null())
        .foreign_key(&mut fund_fk(T))
        .check(check(
            T,
            "matrix_key_sha256",
            &sha256_hex(backend, "matrix_key"),
        ))
        .check(check(
            T,
            "status",
            &one_of(
                "status",
                &["pending", "processing", "complete", "failed", "invalidated"],
            ),
        ))
        .check(check(
            T,
            "compression_codec",
            &one_of("compression_codec", &["zstd"]),
        ))
        .check(check(
            T,
            "matrix_layout",
            &one_of("matrix_layout", &["row_major_f32_le"]),
        ))
        .check(check(
            T,
            "num_scenarios_range",
            "num_scenarios BETWEEN 1 AND 100000",
        ))
        .check(check(
            T,
            "bucket_count_range",
            "bucket_count BETWEEN 1 AND 50",
        ))
        // A complete matrix always carries its payload and says how it is encoded.
        .check(check(
            T,
            "complete_has_payload",
            "status <> 'complete' OR (matrix IS NOT NULL AND compression_codec IS NOT NULL \
                 AND matrix_layout IS NOT NULL AND raw_bytes IS NOT NULL)",
        ));
    timestamps(&mut t, T, true);
    (
        t,
        vec![
            index(T, "matrix_key", &["matrix_key"], true),
            index(T, "id_fund", &["id", "fund_id"], true),
            index(
                T,
                "fund_taxonomy_status",
                &["fund_id", "taxonomy_version", "status"],
                false,
            ),
        ],
    )
}
