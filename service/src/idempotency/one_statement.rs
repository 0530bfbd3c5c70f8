//! One round trip per create (issue #14), with SPEC §4's contract unchanged.
//!
//! Where a creating route's business row is known in full before it is written (its id drawn in Rust or
//! from its sequence, its timestamps from [`now`](crate::db::now)), its reply is written first (by the
//! [`Recorder`](super::Recorder)) and the row and its idempotency record are written by **one
//! statement** on PostgreSQL:
//!
//! ```sql
//! WITH new_row    AS (INSERT INTO <table> (…) VALUES (…) ON CONFLICT DO NOTHING RETURNING 1),
//!      new_record AS (INSERT INTO idempotency_records (…) SELECT … FROM new_row RETURNING 1)
//! SELECT (SELECT count(*) FROM new_record), r.fingerprint, r.status_code, …
//! FROM (SELECT 1) AS one LEFT JOIN idempotency_records r ON r.scope = … AND r.idempotency_key = …
//! ```
//!
//! Its answer is one of three:
//! - **created** (the record was written, so the row was too — one statement is one transaction);
//! - **a live record of the key** that the statement's snapshot saw: the row collided with its own
//!   earlier row (the key's partial unique index) and nothing was written; replay it (or 422 when the
//!   fingerprint differs), exactly as the transaction path's first look-up would;
//! - **anything else** — the row collided with another unique index (a company's name), a foreign key
//!   refused it (the fund or company is not there), a request with the same key committed while this one
//!   waited on the index (its record is newer than the statement's snapshot), the record expired, or the
//!   record exists without its row (the row was deleted): nothing was written, and the request goes the
//!   transaction path ([`create`](super::create)), whose explicit checks and classification by constraint
//!   name give the same answers as before. These are the rare paths; the common ones — a create and a
//!   replay — cost one round trip each.
//!
//! `ON CONFLICT DO NOTHING` without a target covers every unique index of the row, so that no collision
//! raises an error (which would abort the statement and lose the replay it can already answer). A
//! collision on an index other than the key's finds no record and goes the transaction path, which raises
//! and classifies it.
//!
//! SQLite cannot write from a `WITH` clause; there every create goes the transaction path.

use chrono::{DateTime, Utc};
use entity::idempotency_record;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ConnectionTrait, DatabaseTransaction, DbBackend,
    EntityTrait, IntoActiveModel, Iterable, PrimaryKeyToColumn, QueryTrait, Statement,
    TryIntoModel, Value,
};

use super::outcome::{Fresh, Outcome, Recordable, Reply};
use super::{
    Idempotency, Keyed, KeyedBy, Recorded, TxFuture, create, new_record, replay_kept, replay_live,
};
use crate::context::Service;
use crate::db::{Backend, now};
use crate::error::{Error, Result};

/// The columns of `idempotency_records` written by the one statement, in the order of its values.
const RECORD_COLUMNS: &str = "id, scope, idempotency_key, fingerprint, principal_id, status_code, \
                              response_body, location, expires_at, created_at";

/// Creates `row` (every column set, except a sequence-drawn id, which may be left unset) and records
/// the reply to its creation under `idempotency`, in one round trip where the database allows it (see
/// the module documentation); otherwise, and on every unusual answer, through [`create`] with `checks`
/// (the existence checks whose failures are 404s or 422s rather than foreign-key violations) run before
/// the insert. The row must already carry the idempotency key, if any.
pub async fn create_row<E, C>(
    svc: &Service,
    idempotency: Option<Idempotency>,
    keyed_by: KeyedBy<E>,
    mut row: E::ActiveModel,
    checks: C,
) -> Result<Outcome<E::Model>>
where
    E: Keyed,
    E::Model: IntoActiveModel<E::ActiveModel> + Recordable + Send + Sync,
    E::ActiveModel: ActiveModelTrait<Entity = E>
        + ActiveModelBehavior
        + TryIntoModel<E::Model>
        + Send
        + Clone
        + 'static,
    C: for<'c> FnOnce(&'c DatabaseTransaction) -> TxFuture<'c, ()> + Send + 'static,
{
    if svc.db.backend() == Backend::Postgres {
        // A key replayed lately is answered before anything is drawn or sent (the transaction path
        // looks there first too).
        if let Some(idem) = &idempotency
            && let Some(hit) = replay_kept(svc, idem)
        {
            return hit;
        }
        draw_id::<E>(svc, &mut row).await?;
        if let Some(outcome) = one_statement::<E>(svc, idempotency.as_ref(), &row).await? {
            return Ok(outcome);
        }
    }
    create(svc, idempotency, keyed_by, move |txn, _key| {
        Box::pin(async move {
            checks(txn).await?;
            Ok(Outcome::Created(row.insert(txn).await?))
        })
    })
    .await
}

/// Sets a sequence-drawn primary key that `row` leaves unset, from the table's own sequence, so that the
/// response (which shows the id) can be rendered before the row is written.
async fn draw_id<E: EntityTrait>(svc: &Service, row: &mut E::ActiveModel) -> Result<()>
where
    E::ActiveModel: ActiveModelTrait<Entity = E>,
{
    let Some(pk) = E::PrimaryKey::iter().next() else {
        return Err(Error::Invariant("an entity without a primary key".into()));
    };
    let column = pk.into_column();
    if !row.get(column).is_not_set() {
        return Ok(());
    }
    let table = E::default().table_name().to_owned();
    let name = sea_orm::IdenStatic::as_str(&column).to_owned();
    let found = svc
        .db
        .connection()
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT nextval(pg_get_serial_sequence($1, $2))",
            [Value::from(table), Value::from(name)],
        ))
        .await?
        .ok_or_else(|| Error::Invariant("nextval returned no row".into()))?;
    let id: i64 = found.try_get_by_index(0)?;
    row.set(column, Value::from(id));
    Ok(())
}

/// The one statement; `None` when its answer is one that the transaction path must settle.
async fn one_statement<E>(
    svc: &Service,
    idempotency: Option<&Idempotency>,
    row: &E::ActiveModel,
) -> Result<Option<Outcome<E::Model>>>
where
    E: EntityTrait,
    E::Model: Recordable,
    E::ActiveModel: ActiveModelTrait<Entity = E> + TryIntoModel<E::Model> + Clone,
{
    let model = row.clone().try_into_model()?;
    let Some(idem) = idempotency else {
        // No key, nothing to record: the insert alone. A refusal (a foreign key, a name taken) goes the
        // transaction path, which raises it by name.
        let insert = E::insert(row.clone()).build(DbBackend::Postgres);
        return Ok(match svc.db.connection().execute_raw(insert).await {
            Ok(_) => Some(Outcome::Created(model)),
            Err(_) => None,
        });
    };
    let reply = svc.recorder.reply(Fresh::Created, model.resource())?;
    let insert = E::insert(row.clone())
        .on_conflict(OnConflict::new().do_nothing().to_owned())
        .build(DbBackend::Postgres);
    let mut values = insert.values.map(|v| v.0).unwrap_or_default();
    let base = values.len();
    values.extend(record_values(new_record(idem, reply, svc.idempotency_ttl)));
    let p = |i: usize| format!("${}", base + i);
    let sql = format!(
        "WITH new_row AS ({insert} RETURNING 1), \
         new_record AS (INSERT INTO idempotency_records ({RECORD_COLUMNS}) \
         SELECT {values} FROM new_row RETURNING 1) \
         SELECT (SELECT count(*) FROM new_record) AS created, r.fingerprint, r.status_code, \
         r.response_body, r.location, r.expires_at \
         FROM (SELECT 1) AS one LEFT JOIN idempotency_records AS r \
         ON r.scope = {scope} AND r.idempotency_key = {key}",
        insert = insert.sql,
        values = (1..=10).map(p).collect::<Vec<_>>().join(", "),
        scope = p(2),
        key = p(3),
    );
    let answer = svc
        .db
        .connection()
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
        .await;
    let Ok(Some(answer)) = answer else {
        // Refused (a foreign key, or the record exists while its row does not): the transaction path
        // runs the checks and classifies the refusal.
        return Ok(None);
    };
    if answer.try_get_by_index::<i64>(0)? == 1 {
        return Ok(Some(Outcome::Created(model)));
    }
    let Some(fingerprint) = answer.try_get_by_index::<Option<String>>(1)? else {
        return Ok(None);
    };
    let expires_at: DateTime<Utc> = answer.try_get_by_index(5)?;
    if expires_at <= now() {
        return Ok(None);
    }
    replay_live(
        svc,
        idem,
        Recorded {
            fingerprint,
            reply: Reply {
                status_code: answer.try_get_by_index(2)?,
                body: answer.try_get_by_index(3)?,
                location: answer.try_get_by_index(4)?,
            },
            expires_at,
        },
    )
    .map(Some)
}

/// The record's values in the order of [`RECORD_COLUMNS`].
fn record_values(r: idempotency_record::Model) -> [Value; 10] {
    [
        Value::from(r.id),
        Value::from(r.scope),
        Value::from(r.idempotency_key),
        Value::from(r.fingerprint),
        Value::from(r.principal_id),
        Value::from(r.status_code),
        Value::from(r.response_body),
        Value::from(r.location),
        Value::from(r.expires_at),
        Value::from(r.created_at),
    ]
}
