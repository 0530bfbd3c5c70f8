use sea_orm::entity::prelude::*;

text_enum! {
    pub enum Role in "String(StringLen::N(16))" {
        Admin,
        Writer,
        Reader,
    }
}

/// An API key. Only the SHA-256 digest of the key is stored.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub key_digest: String,
    pub key_prefix: String,
    pub role: Role,
    /// JSON array of the fund ids the key may use (ignored for admin keys).
    pub fund_scope: Json,
    pub revoked_at: Option<DateTimeUtc>,
    pub last_used_at: Option<DateTimeUtc>,
    pub idempotency_key: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

no_relations!();
