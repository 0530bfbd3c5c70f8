//! Idempotent creation (SPEC §4), one mechanism for every creating `POST`.
//!
//! The business rows and the recorded response are written in one transaction, and the database's
//! unique indexes arbitrate between concurrent requests — never a check-then-insert, never a lock in
//! Redis:
//!
//! 1. A live record for `(scope, key)` exists → same fingerprint: replay it byte for byte; different
//!    fingerprint: `IdempotencyKeyReused`. Nothing is written.
//! 2. Otherwise the work runs in a transaction, the response is rendered, and the record is inserted in
//!    the same transaction. A concurrent request with the same key blocks on the unique index (the
//!    business row's partial index or the record's) until the first commits, then fails with a unique
//!    violation; it rolls back and goes back to step 1, which now replays.
//! 3. A unique violation with no record left means the record expired while the business row remains:
//!    `IdempotencyKeyExpired`, never a second row.
//!
//! Requests refused before or during the work (validation, authorization, business rules) roll back and
//! leave no record, so a corrected retry with the same key executes.

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use entity::idempotency_record;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    TransactionTrait,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::canonical::canonical_sha256;
use crate::error::{Error, Result, unique_violation};
use crate::{Database, now};

/// An `Idempotency-Key` header value: 1..255 visible ASCII characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_LEN: usize = 255;

    pub fn parse(raw: &str) -> std::result::Result<Self, String> {
        if raw.is_empty() {
            return Err("must not be empty".into());
        }
        if raw.len() > Self::MAX_LEN {
            return Err(format!("must be at most {} characters", Self::MAX_LEN));
        }
        if !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("must contain only visible ASCII characters (no spaces)".into());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What identifies one idempotent request.
#[derive(Clone, Debug)]
pub struct Idempotency {
    /// The route and its parent resource, e.g. `POST /api/v1/funds/1/investments/5/lots`.
    pub scope: String,
    pub key: IdempotencyKey,
    /// SHA-256 of the canonical request: scope, principal and canonical body.
    pub fingerprint: String,
    pub principal: Option<Uuid>,
}

impl Idempotency {
    pub fn new(scope: String, key: IdempotencyKey, principal: Option<Uuid>, body: &Value) -> Self {
        let fingerprint = canonical_sha256(&json!({
            "scope": scope,
            "principal": principal.map(|p| p.to_string()),
            "body": body,
        }));
        Self {
            scope,
            key,
            fingerprint,
            principal,
        }
    }
}

/// A response as recorded and sent: status, exact body bytes and `Location`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub status: u16,
    pub body: Vec<u8>,
    pub location: Option<String>,
}

/// The response to send, and whether it is a replay of a recorded one.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub response: Rendered,
    pub replayed: bool,
}

pub type TxFuture<'c, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'c>>;

/// How long records are kept by default (SPEC §4.7: at least 24 hours, default 7 days).
pub const DEFAULT_TTL_HOURS: i64 = 24 * 7;

/// Runs `work` in a transaction and records its rendered response under `idempotency` (if any), in the
/// same transaction. See the module documentation for the protocol.
pub async fn execute<T, F, R>(
    db: &Database,
    idempotency: Option<&Idempotency>,
    ttl: chrono::Duration,
    work: F,
    render: R,
) -> Result<Outcome>
where
    T: Send,
    F: for<'c> FnOnce(&'c DatabaseTransaction) -> TxFuture<'c, T> + Send,
    R: FnOnce(&T) -> Rendered + Send,
{
    let conn = db.connection();
    if let Some(idem) = idempotency
        && let Some(outcome) = replay(db, idem).await?
    {
        return Ok(outcome);
    }

    let txn = conn.begin().await?;
    let attempt: Result<Rendered> = async {
        let value = work(&txn).await?;
        let rendered = render(&value);
        if let Some(idem) = idempotency {
            record(&txn, idem, &rendered, ttl).await?;
        }
        Ok(rendered)
    }
    .await;
    match attempt {
        Ok(rendered) => {
            txn.commit().await?;
            Ok(Outcome {
                response: rendered,
                replayed: false,
            })
        }
        Err(err) => {
            let _ = txn.rollback().await;
            match (idempotency, &err) {
                (Some(idem), Error::Database(db_err))
                    if unique_violation(db_err).is_some_and(|m| m.contains("idempotency")) =>
                {
                    // Someone else committed this key first: replay their response, or, if its record has
                    // expired, refuse to create a second row.
                    match replay(db, idem).await? {
                        Some(outcome) => Ok(outcome),
                        None => Err(Error::IdempotencyKeyExpired { existing: None }),
                    }
                }
                _ => Err(err),
            }
        }
    }
}

/// The recorded response for this request, if a live record exists; `IdempotencyKeyReused` if the key
/// was used for a different request.
async fn replay(db: &Database, idem: &Idempotency) -> Result<Option<Outcome>> {
    let found = idempotency_record::Entity::find()
        .filter(idempotency_record::Column::Scope.eq(&idem.scope))
        .filter(idempotency_record::Column::IdempotencyKey.eq(idem.key.as_str()))
        .one(db.connection())
        .await?;
    let Some(record) = found else { return Ok(None) };
    if record.expires_at <= now() {
        // Expired but not yet reaped: it no longer speaks for the key; remove it so that it cannot
        // collide with a new record (the business row's own index still stops a duplicate).
        idempotency_record::Entity::delete_by_id(record.id)
            .exec(db.connection())
            .await?;
        return Ok(None);
    }
    if record.fingerprint != idem.fingerprint {
        return Err(Error::IdempotencyKeyReused);
    }
    let status = u16::try_from(record.status_code)
        .map_err(|_| Error::Invariant(format!("stored status code {}", record.status_code)))?;
    Ok(Some(Outcome {
        response: Rendered {
            status,
            body: record.response_body,
            location: record.location,
        },
        replayed: true,
    }))
}

async fn record(
    txn: &DatabaseTransaction,
    idem: &Idempotency,
    rendered: &Rendered,
    ttl: chrono::Duration,
) -> Result<()> {
    let created_at = now();
    idempotency_record::ActiveModel {
        id: Set(Uuid::now_v7()),
        scope: Set(idem.scope.clone()),
        idempotency_key: Set(idem.key.as_str().to_owned()),
        fingerprint: Set(idem.fingerprint.clone()),
        principal_id: Set(idem.principal),
        status_code: Set(rendered.status as i16),
        response_body: Set(rendered.body.clone()),
        location: Set(rendered.location.clone()),
        expires_at: Set(created_at + ttl),
        created_at: Set(created_at),
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// Deletes records that expired before `at`; returns how many.
pub async fn reap_expired(db: &Database, at: DateTime<Utc>) -> Result<u64> {
    let result = idempotency_record::Entity::delete_many()
        .filter(idempotency_record::Column::ExpiresAt.lt(at))
        .exec(db.connection())
        .await?;
    Ok(result.rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_must_be_one_to_255_visible_ascii_characters() {
        assert!(IdempotencyKey::parse("a").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_err());
        assert!(IdempotencyKey::parse("has space").is_err());
        assert!(IdempotencyKey::parse("tab\t").is_err());
        assert!(IdempotencyKey::parse("é").is_err());
    }

    #[test]
    fn the_fingerprint_ignores_key_order_but_not_content_scope_or_principal() {
        let key = IdempotencyKey::parse("k").unwrap();
        let p = Some(Uuid::now_v7());
        let a = Idempotency::new("POST /x".into(), key.clone(), p, &json!({"a": 1, "b": 2}));
        let b = Idempotency::new(
            "POST /x".into(),
            key.clone(),
            p,
            &serde_json::from_str(r#"{"b":2,"a":1}"#).unwrap(),
        );
        assert_eq!(a.fingerprint, b.fingerprint);
        let other_body =
            Idempotency::new("POST /x".into(), key.clone(), p, &json!({"a": 1, "b": 3}));
        let other_scope =
            Idempotency::new("POST /y".into(), key.clone(), p, &json!({"a": 1, "b": 2}));
        let other_principal = Idempotency::new(
            "POST /x".into(),
            key,
            Some(Uuid::now_v7()),
            &json!({"a": 1, "b": 2}),
        );
        assert_ne!(a.fingerprint, other_body.fingerprint);
        assert_ne!(a.fingerprint, other_scope.fingerprint);
        assert_ne!(a.fingerprint, other_principal.fingerprint);
    }
}
