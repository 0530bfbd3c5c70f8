//! What every fund-owned resource does the same way — get one, list a page, delete one — written once,
//! always scoped by the fund in the path (SPEC §3, §13): another fund's row is simply not found. A
//! resource opts in with an [`InFund`] impl beside it; its creates, updates and anything it does its own
//! way stay in its module.

use std::fmt::Display;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::auth::Principal;
use crate::context::Service;
use crate::error::{Error, Result};
use crate::funds;
use crate::pagination::{self, Page, PageRequest};

/// A resource whose rows belong to one fund and are addressed by `(fund_id, id)`.
pub trait InFund: EntityTrait {
    /// Its name in a not-found answer ("distribution").
    const NAME: &'static str;
    type Id: Into<sea_orm::Value> + Display + Copy + Send + Sync;
    fn fund_column() -> Self::Column;
    fn id_column() -> Self::Column;
    fn id_of(row: &Self::Model) -> Self::Id;
}

/// Declares a resource's [`InFund`] impl: its entity module, its name in a not-found answer and its id
/// type (the columns are `fund_id` and `id`): `in_fund!(distribution, "distribution", i64)`.
macro_rules! in_fund {
    ($entity:ident, $name:literal, $id:ty) => {
        impl $crate::in_fund::InFund for $entity::Entity {
            const NAME: &'static str = $name;
            type Id = $id;
            fn fund_column() -> $entity::Column {
                $entity::Column::FundId
            }
            fn id_column() -> $entity::Column {
                $entity::Column::Id
            }
            fn id_of(row: &$entity::Model) -> $id {
                row.id
            }
        }
    };
}
pub(crate) use in_fund;

/// The row `id` of the fund, if it is the fund's.
pub async fn find<E: InFund, C: ConnectionTrait>(
    conn: &C,
    fund_id: i64,
    id: E::Id,
) -> Result<Option<E::Model>> {
    Ok(E::find()
        .filter(E::id_column().eq(id))
        .filter(E::fund_column().eq(fund_id))
        .one(conn)
        .await?)
}

/// One row of the fund (reading it needs read access to the fund).
#[tracing::instrument(skip_all, fields(resource = E::NAME, fund_id = fund_id, id = %id))]
pub async fn get<E: InFund>(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    id: E::Id,
) -> Result<E::Model> {
    principal.require_read(fund_id)?;
    find::<E, _>(svc.db.connection(), fund_id, id)
        .await?
        .ok_or_else(|| Error::not_found(E::NAME, id))
}

/// A page of the fund's rows, newest first (by their sequence id); a fund that does not exist is not
/// found, rather than an empty page.
#[tracing::instrument(skip_all, fields(resource = E::NAME, fund_id = fund_id))]
pub async fn list<E>(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    page: PageRequest,
) -> Result<Page<E::Model>>
where
    E: InFund<Id = i64>,
    E::Model: Send + Sync,
{
    principal.require_read(fund_id)?;
    let conn = svc.db.connection();
    funds::require(conn, fund_id).await?;
    let query = E::find().filter(E::fund_column().eq(fund_id));
    pagination::by_id(query, E::id_column(), &page, conn, E::id_of).await
}

/// Deletes the fund's row `id` (a mistyped immutable row, or a resource whose dependents go with it by
/// cascade). Snapshots keep what they captured.
#[tracing::instrument(skip_all, fields(resource = E::NAME, fund_id = fund_id, id = %id))]
pub async fn delete<E: InFund>(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    id: E::Id,
) -> Result<()> {
    principal.require_write(fund_id)?;
    let result = E::delete_many()
        .filter(E::id_column().eq(id))
        .filter(E::fund_column().eq(fund_id))
        .exec(svc.db.connection())
        .await?;
    if result.rows_affected == 1 {
        Ok(())
    } else {
        Err(Error::not_found(E::NAME, id))
    }
}
