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
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter,
    TransactionTrait,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::canonical::canonical_sha256;
use crate::context::Service;
use crate::db::{Database, now};
use crate::error::{Error, ResourceRef, Result, UniqueIndex, is_unique_violation, unique};

mod one_statement;
mod recorded;
pub use one_statement::create_row;
pub use recorded::{RecordCache, Recorded};

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
    pub fn new(
        scope: String,
        key: IdempotencyKey,
        principal: Option<Uuid>,
        body: &Value,
    ) -> Result<Self> {
        let fingerprint = canonical_sha256(&json!({
            "scope": scope,
            "principal": principal.map(|p| p.to_string()),
            "body": body,
        }))?;
        Ok(Self {
            scope,
            key,
            fingerprint,
            principal,
        })
    }
}

/// A response as sent: status, exact body bytes and `Location`; and what is recorded for replays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub status: u16,
    pub body: Vec<u8>,
    pub location: Option<String>,
    /// The body to record instead of `body`, when the sent one holds a secret that no table may keep
    /// (SPEC §4.9): a replay answers with this form.
    pub recorded_body: Option<Vec<u8>>,
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

/// Where a resource's own row keeps the idempotency key: the partial unique index over its parent and
/// the key (which stops a second row even after the record expired), the columns to find the row by,
/// and how to point at it (`Location`).
pub struct KeyedBy<E: EntityTrait> {
    pub index: UniqueIndex,
    pub key_column: E::Column,
    /// The parent that scopes the key (`fund_id = 3`), if the route has one.
    pub parent: Option<(E::Column, sea_orm::Value)>,
    pub locate: fn(&E::Model) -> ResourceRef,
}

/// The one create path (SPEC §4): runs `work` in a transaction, renders its result and records the
/// rendered response under `idempotency` (if any) in the same transaction. `work` receives the key to
/// store on the business row. See the module documentation for the protocol; `keyed_by` names the
/// business row's key index, so that a violation of it is told apart from every other unique index
/// (`None` for a resource whose rows are keyed by their content, as scenario matrices are).
#[tracing::instrument(skip_all, fields(scope = idempotency.as_ref().map(|i| i.scope.as_str())))]
pub async fn create<E, T, W, R>(
    svc: &Service,
    idempotency: Option<Idempotency>,
    keyed_by: Option<KeyedBy<E>>,
    work: W,
    render: R,
) -> Result<Outcome>
where
    E: EntityTrait,
    T: Send,
    W: for<'c> FnOnce(&'c DatabaseTransaction, Option<String>) -> TxFuture<'c, T> + Send,
    R: FnOnce(&T) -> Result<Rendered> + Send,
{
    let db = &svc.db;
    if let Some(idem) = &idempotency
        && let Some(outcome) = replay(svc, idem).await?
    {
        return Ok(outcome);
    }

    let txn = db.connection().begin().await?;
    let key = idempotency.as_ref().map(|i| i.key.as_str().to_owned());
    let attempt: Result<Rendered> = async {
        let value = work(&txn, key).await?;
        let rendered = render(&value)?;
        if let Some(idem) = &idempotency {
            record(&txn, idem, &rendered, svc.idempotency_ttl).await?;
        }
        Ok(rendered)
    }
    .await;
    let err = match attempt {
        Ok(rendered) => {
            txn.commit().await?;
            return Ok(Outcome {
                response: rendered,
                replayed: false,
            });
        }
        Err(err) => err,
    };
    let _ = txn.rollback().await;
    let Some(idem) = idempotency else {
        return Err(err);
    };
    let Error::Database(db_err) = &err else {
        return Err(err);
    };
    if !is_unique_violation(db_err) {
        return Err(err);
    }
    // A unique index stopped this request. If a request with the same key committed first, whichever
    // index stopped us (the key's own, the record's, or another that the first request's rows took,
    // such as a company's name), its response is the answer (SPEC §4.8).
    if let Some(outcome) = replay(svc, &idem).await? {
        return Ok(outcome);
    }
    let by_key = keyed_by
        .as_ref()
        .is_some_and(|k| k.index.violated_by(db_err));
    if unique::IDEMPOTENCY_RECORD.violated_by(db_err) || by_key {
        // The key's row exists but its record has expired: never a second row; point at the row.
        let existing = match &keyed_by {
            Some(k) => k.existing(db, idem.key.as_str()).await?,
            None => None,
        };
        return Err(Error::IdempotencyKeyExpired { existing });
    }
    Err(err)
}

impl<E: EntityTrait> KeyedBy<E> {
    /// The row that `key` created under this parent, if it still exists.
    async fn existing(&self, db: &Database, key: &str) -> Result<Option<ResourceRef>> {
        let mut query = E::find().filter(self.key_column.eq(key));
        if let Some((column, id)) = &self.parent {
            query = query.filter(column.eq(id.clone()));
        }
        Ok(query.one(db.connection()).await?.map(|m| (self.locate)(&m)))
    }
}

/// The recorded response for this request, if a live record exists; `IdempotencyKeyReused` if the key
/// was used for a different request.
async fn replay(svc: &Service, idem: &Idempotency) -> Result<Option<Outcome>> {
    if let Some(hit) = replay_kept(svc, idem) {
        return hit.map(Some);
    }
    let db = &svc.db;
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
    replay_live(
        svc,
        idem,
        Recorded {
            fingerprint: record.fingerprint,
            status_code: record.status_code,
            body: record.response_body,
            location: record.location,
            expires_at: record.expires_at,
        },
    )
    .map(Some)
}

/// The replay of a record kept in process after an earlier replay, if there is one.
fn replay_kept(svc: &Service, idem: &Idempotency) -> Option<Result<Outcome>> {
    svc.replays
        .get(idem)
        .map(|kept| outcome_of_record(idem, &kept))
}

/// The replay of a live record read from the database; kept in process for the next retry.
fn replay_live(svc: &Service, idem: &Idempotency, record: Recorded) -> Result<Outcome> {
    let outcome = outcome_of_record(idem, &record)?;
    svc.replays.put(idem, record);
    Ok(outcome)
}

/// The replay of a live record: its response if the request is the recorded one, `IdempotencyKeyReused`
/// if the key was used for a different request.
fn outcome_of_record(idem: &Idempotency, record: &Recorded) -> Result<Outcome> {
    if record.fingerprint != idem.fingerprint {
        return Err(Error::IdempotencyKeyReused);
    }
    let status = u16::try_from(record.status_code)
        .map_err(|_| Error::Invariant(format!("stored status code {}", record.status_code)))?;
    Ok(Outcome {
        response: Rendered {
            status,
            body: record.body.clone(),
            location: record.location.clone(),
            recorded_body: None,
        },
        replayed: true,
    })
}

/// The record of a rendered response, as both create paths write it: the body without any secret
/// (`recorded_body`), kept for `ttl`.
fn new_record(
    idem: &Idempotency,
    rendered: &Rendered,
    ttl: chrono::Duration,
) -> idempotency_record::Model {
    let created_at = now();
    idempotency_record::Model {
        id: Uuid::now_v7(),
        scope: idem.scope.clone(),
        idempotency_key: idem.key.as_str().to_owned(),
        fingerprint: idem.fingerprint.clone(),
        principal_id: idem.principal,
        status_code: rendered.status as i16,
        response_body: rendered
            .recorded_body
            .clone()
            .unwrap_or_else(|| rendered.body.clone()),
        location: rendered.location.clone(),
        expires_at: created_at + ttl,
        created_at,
    }
}

async fn record(
    txn: &DatabaseTransaction,
    idem: &Idempotency,
    rendered: &Rendered,
    ttl: chrono::Duration,
) -> Result<()> {
    new_record(idem, rendered, ttl)
        .into_active_model()
        .insert(txn)
        .await?;
    Ok(())
}

/// A create with nothing to check before its insert (no parent whose absence needs naming).
pub fn no_checks(_: &DatabaseTransaction) -> TxFuture<'_, ()> {
    Box::pin(async { Ok(()) })
}

/// Deletes records that expired before `at`; returns how many.
#[tracing::instrument(skip_all)]
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
        let a =
            Idempotency::new("POST /x".into(), key.clone(), p, &json!({"a": 1, "b": 2})).unwrap();
        let b = Idempotency::new(
            "POST /x".into(),
            key.clone(),
            p,
            &serde_json::from_str(r#"{"b":2,"a":1}"#).unwrap(),
        )
        .unwrap();
        assert_eq!(a.fingerprint, b.fingerprint);
        let other_body =
            Idempotency::new("POST /x".into(), key.clone(), p, &json!({"a": 1, "b": 3})).unwrap();
        let other_scope =
            Idempotency::new("POST /y".into(), key.clone(), p, &json!({"a": 1, "b": 2})).unwrap();
        let other_principal = Idempotency::new(
            "POST /x".into(),
            key,
            Some(Uuid::now_v7()),
            &json!({"a": 1, "b": 2}),
        )
        .unwrap();
        assert_ne!(a.fingerprint, other_body.fingerprint);
        assert_ne!(a.fingerprint, other_scope.fingerprint);
        assert_ne!(a.fingerprint, other_principal.fingerprint);
    }
}
