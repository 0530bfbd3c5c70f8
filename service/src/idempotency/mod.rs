//! Idempotent creation (SPEC §4), one mechanism for every creating `POST`.
//!
//! The business rows and the recorded response are written in one transaction, and the database's
//! unique indexes arbitrate between concurrent requests — never a check-then-insert, never a lock in
//! Redis:
//!
//! 1. A live record for `(scope, key)` exists → same fingerprint: replay it byte for byte; different
//!    fingerprint: `IdempotencyKeyReused`. Nothing is written.
//! 2. Otherwise the work runs in a transaction, the API's [`Recorder`] writes the reply to its outcome,
//!    and the record is inserted in the same transaction. A concurrent request with the same key
//!    blocks on the unique index (the business row's partial index or the record's) until the first
//!    commits, then fails with a unique violation; it rolls back and goes back to step 1, which now
//!    replays.
//! 3. A unique violation with no record left means the record expired while the business row remains:
//!    `IdempotencyKeyExpired`, never a second row.
//!
//! Requests refused before or during the work (validation, authorization, business rules) roll back and
//! leave no record, so a corrected retry with the same key executes.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use entity::idempotency_record;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter,
    TransactionTrait,
};
use uuid::Uuid;

use crate::context::Service;
use crate::db::{Database, now};
use crate::error::{Error, ResourceRef, Result, UniqueIndex, is_unique_violation, unique};

mod key;
mod one_statement;
pub mod outcome;
pub mod recorded;
pub use key::{Idempotency, IdempotencyKey};
pub use one_statement::create_row;
pub use outcome::{Fresh, Outcome, Recordable, Recorder, Reply, Resource};
pub use recorded::{RecordCache, Recorded};

pub type TxFuture<'c, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'c>>;

/// How long records are kept by default (SPEC §4.7: at least 24 hours, default 7 days).
pub const DEFAULT_TTL_HOURS: i64 = 24 * 7;

/// A resource whose own row keeps the idempotency key that created it, under a partial unique index over
/// its parent and the key (which stops a second row even after the record expired): the index, the
/// columns to find the row by, and how to point at it (`Location`). One impl per resource, beside it.
pub trait Keyed: EntityTrait {
    /// The partial unique index over (parent, key), as `service::error::unique` names it.
    const KEY_INDEX: UniqueIndex;
    fn key_column() -> Self::Column;
    /// The column of the parent that scopes the key (`fund_id`), if the route has one.
    fn parent_column() -> Option<Self::Column>;
    fn locate(row: &Self::Model) -> ResourceRef;
}

/// Declares a resource's [`Keyed`] impl: its entity module, its key index (a `unique::` name), the
/// parent column that scopes the key (left out when there is none), and how a row is located:
/// `keyed!(snapshot, SNAPSHOT_KEY, FundId, |s| ResourceRef::Snapshot(s.id))`; a fund-owned resource
/// located as `ResourceRef::Company { fund_id, id }` says `in_fund Company` instead of the closure.
macro_rules! keyed {
    ($entity:ident, $index:ident, $parent:ident, in_fund $variant:ident) => {
        $crate::idempotency::keyed!($entity, $index, $parent, |row| {
            $crate::error::ResourceRef::$variant {
                fund_id: row.fund_id,
                id: row.id,
            }
        });
    };
    ($entity:ident, $index:ident, $parent:ident, $locate:expr) => {
        $crate::idempotency::keyed!(@impl $entity, $index, Some($entity::Column::$parent), $locate);
    };
    ($entity:ident, $index:ident, $locate:expr) => {
        $crate::idempotency::keyed!(@impl $entity, $index, None, $locate);
    };
    (@impl $entity:ident, $index:ident, $parent:expr, $locate:expr) => {
        impl $crate::idempotency::Keyed for $entity::Entity {
            const KEY_INDEX: $crate::error::UniqueIndex = $crate::error::unique::$index;
            fn key_column() -> $entity::Column {
                $entity::Column::IdempotencyKey
            }
            fn parent_column() -> Option<$entity::Column> {
                $parent
            }
            fn locate(row: &$entity::Model) -> $crate::error::ResourceRef {
                let locate: fn(&$entity::Model) -> $crate::error::ResourceRef = $locate;
                locate(row)
            }
        }
    };
}
pub(crate) use keyed;

/// The keyed row of one create: its entity and the parent id scoping its key.
pub struct KeyedBy<E> {
    parent: Option<sea_orm::Value>,
    entity: PhantomData<E>,
}

impl<E: Keyed> KeyedBy<E> {
    /// Keyed under the parent `id` (the entity's [`Keyed::parent_column`]).
    pub fn under(id: impl Into<sea_orm::Value>) -> Self {
        Self {
            parent: Some(id.into()),
            entity: PhantomData,
        }
    }

    /// Keyed without a parent (API keys).
    pub fn top() -> Self {
        Self {
            parent: None,
            entity: PhantomData,
        }
    }

    /// The row that `key` created under this parent, if it still exists.
    pub async fn existing(&self, db: &Database, key: &str) -> Result<Option<ResourceRef>> {
        let mut query = E::find().filter(E::key_column().eq(key));
        if let (Some(column), Some(id)) = (E::parent_column(), &self.parent) {
            query = query.filter(column.eq(id.clone()));
        }
        Ok(query.one(db.connection()).await?.map(|m| E::locate(&m)))
    }
}

/// What tells a unique violation of a create's own key apart, and finds the row the key made.
pub trait KeyLookup: Send + Sync {
    fn violated_by(&self, err: &sea_orm::DbErr) -> bool;
    fn existing(
        &self,
        db: &Database,
        key: &str,
    ) -> impl Future<Output = Result<Option<ResourceRef>>> + Send;
}

impl<E: Keyed> KeyLookup for KeyedBy<E>
where
    E::Model: Sync,
{
    fn violated_by(&self, err: &sea_orm::DbErr) -> bool {
        E::KEY_INDEX.violated_by(err)
    }

    async fn existing(&self, db: &Database, key: &str) -> Result<Option<ResourceRef>> {
        KeyedBy::existing(self, db, key).await
    }
}

/// A resource keyed by its content (scenario matrices): no row keeps the idempotency key.
pub struct ByContent;

impl KeyLookup for ByContent {
    fn violated_by(&self, _: &sea_orm::DbErr) -> bool {
        false
    }

    async fn existing(&self, _: &Database, _: &str) -> Result<Option<ResourceRef>> {
        Ok(None)
    }
}

/// The one create path (SPEC §4): runs `work` in a transaction and, for a request with a key, records
/// the reply to its outcome (written by [`Service::recorder`]) in the same transaction. `work` receives
/// the key to store on the business row. See the module documentation for the protocol; `keyed_by` names
/// the business row's key index, so that a violation of it is told apart from every other unique index.
#[tracing::instrument(skip_all, fields(scope = idempotency.as_ref().map(|i| i.scope.as_str())))]
pub async fn create<K, T, W>(
    svc: &Service,
    idempotency: Option<Idempotency>,
    keyed_by: K,
    work: W,
) -> Result<Outcome<T>>
where
    K: KeyLookup,
    T: Recordable + Send,
    W: for<'c> FnOnce(&'c DatabaseTransaction, Option<String>) -> TxFuture<'c, Outcome<T>> + Send,
{
    let db = &svc.db;
    if let Some(idem) = &idempotency
        && let Some(outcome) = replay(svc, idem).await?
    {
        return Ok(outcome);
    }

    let txn = db.connection().begin().await?;
    let key = idempotency.as_ref().map(|i| i.key.as_str().to_owned());
    let attempt: Result<Outcome<T>> = async {
        let outcome = work(&txn, key).await?;
        if let Some(idem) = &idempotency {
            let reply = reply_to(svc, &outcome)?;
            record(&txn, idem, reply, svc.idempotency_ttl).await?;
        }
        Ok(outcome)
    }
    .await;
    let err = match attempt {
        Ok(outcome) => {
            txn.commit().await?;
            return Ok(outcome);
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
    if unique::IDEMPOTENCY_RECORD.violated_by(db_err) || keyed_by.violated_by(db_err) {
        // The key's row exists but its record has expired: never a second row; point at the row.
        let existing = keyed_by.existing(db, idem.key.as_str()).await?;
        return Err(Error::IdempotencyKeyExpired { existing });
    }
    Err(err)
}

/// The reply the recorder writes for a fresh outcome.
fn reply_to<T: Recordable>(svc: &Service, outcome: &Outcome<T>) -> Result<Reply> {
    let (fresh, value) = outcome
        .fresh()
        .ok_or_else(|| Error::Invariant("a create's work answered with a replay".into()))?;
    svc.recorder.reply(fresh, value.resource())
}

/// The recorded reply for this request, if a live record exists; `IdempotencyKeyReused` if the key
/// was used for a different request.
async fn replay<T>(svc: &Service, idem: &Idempotency) -> Result<Option<Outcome<T>>> {
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
            reply: Reply {
                status_code: record.status_code,
                body: record.response_body,
                location: record.location,
            },
            expires_at: record.expires_at,
        },
    )
    .map(Some)
}

/// The replay of a record kept in process after an earlier replay, if there is one.
fn replay_kept<T>(svc: &Service, idem: &Idempotency) -> Option<Result<Outcome<T>>> {
    svc.replays
        .get(idem)
        .map(|kept| outcome_of_record(idem, &kept))
}

/// The replay of a live record read from the database; kept in process for the next retry.
fn replay_live<T>(svc: &Service, idem: &Idempotency, record: Recorded) -> Result<Outcome<T>> {
    let outcome = outcome_of_record(idem, &record)?;
    svc.replays.put(idem, record);
    Ok(outcome)
}

/// The replay of a live record: its reply if the request is the recorded one, `IdempotencyKeyReused`
/// if the key was used for a different request.
fn outcome_of_record<T>(idem: &Idempotency, record: &Recorded) -> Result<Outcome<T>> {
    if record.fingerprint != idem.fingerprint {
        return Err(Error::IdempotencyKeyReused);
    }
    Ok(Outcome::Replayed(record.reply.clone()))
}

/// The record of a reply, as both create paths write it, kept for `ttl`.
fn new_record(
    idem: &Idempotency,
    reply: Reply,
    ttl: chrono::Duration,
) -> idempotency_record::Model {
    let created_at = now();
    idempotency_record::Model {
        id: Uuid::now_v7(),
        scope: idem.scope.clone(),
        idempotency_key: idem.key.as_str().to_owned(),
        fingerprint: idem.fingerprint.clone(),
        principal_id: idem.principal,
        status_code: reply.status_code,
        response_body: reply.body,
        location: reply.location,
        expires_at: created_at + ttl,
        created_at,
    }
}

async fn record(
    txn: &DatabaseTransaction,
    idem: &Idempotency,
    reply: Reply,
    ttl: chrono::Duration,
) -> Result<()> {
    new_record(idem, reply, ttl)
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
