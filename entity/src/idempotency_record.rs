use sea_orm::entity::prelude::*;

/// The recorded response of a creating request (SPEC §4). Written once, in the same transaction as the
/// business rows; deleted by the reaper after `expires_at`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_records")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The route and its parent resource.
    pub scope: String,
    pub idempotency_key: String,
    /// SHA-256 hex of the canonical request.
    pub fingerprint: String,
    pub principal_id: Option<Uuid>,
    pub status_code: i16,
    /// The response body exactly as sent.
    pub response_body: Vec<u8>,
    pub location: Option<String>,
    pub expires_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

no_relations!();
