//! A fund's investments in its companies (SPEC §3, §12): creation (idempotent), reads and lists.

use chrono::NaiveDate;
use entity::investment;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use crate::auth::Principal;
use crate::companies;
use crate::context::Service;
use crate::db::now;
use crate::error::{Error, Result};
use crate::fields::{Problems, name_ok};
use crate::idempotency::{self, Idempotency, KeyedBy, Outcome, keyed};
use crate::in_fund::{self, in_fund};

#[derive(Clone, Debug)]
pub struct NewInvestment {
    pub company_id: i64,
    pub round_name: String,
    pub invested_on: NaiveDate,
}

in_fund!(investment, "investment", i64);

keyed!(investment, INVESTMENT_KEY, FundId, in_fund Investment);

#[tracing::instrument(skip_all, fields(fund_id = fund_id))]
pub async fn create_investment(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    input: NewInvestment,
    idem: Option<Idempotency>,
) -> Result<Outcome<investment::Model>> {
    principal.require_write(fund_id)?;
    let mut p = Problems::default();
    p.check(
        name_ok(&input.round_name),
        "/round_name",
        "must be 1 to 255 characters",
    );
    p.check(input.company_id > 0, "/company_id", "must be a positive id");
    p.finish()?;
    let at = now();
    let row = investment::ActiveModel {
        fund_id: Set(fund_id),
        company_id: Set(input.company_id),
        round_name: Set(input.round_name.trim().to_owned()),
        invested_on: Set(input.invested_on),
        idempotency_key: Set(idem.as_ref().map(|i| i.key.as_str().to_owned())),
        created_at: Set(at),
        updated_at: Set(at),
        version: Set(1),
        ..Default::default()
    };
    idempotency::create_row(
        svc,
        idem,
        KeyedBy::<investment::Entity>::under(fund_id),
        row,
        companies::fund_and_company(fund_id, input.company_id),
    )
    .await
}

/// What a correction of an investment may change; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct InvestmentChanges {
    pub company_id: Option<i64>,
    pub round_name: Option<String>,
    pub invested_on: Option<NaiveDate>,
}

/// Corrects an investment (SPEC §5: at `expected_version`); its lots follow it to another company.
#[tracing::instrument(skip_all, fields(fund_id = fund_id, investment_id = id))]
pub async fn update_investment(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    id: i64,
    expected_version: i64,
    changes: InvestmentChanges,
) -> Result<investment::Model> {
    use sea_orm::TransactionTrait;
    use sea_orm::sea_query::{Expr, ExprTrait};
    principal.require_write(fund_id)?;
    let mut p = Problems::default();
    p.check(
        changes.company_id.is_some()
            || changes.round_name.is_some()
            || changes.invested_on.is_some(),
        "",
        "must change at least one of company_id, round_name, invested_on",
    );
    if let Some(name) = &changes.round_name {
        p.check(name_ok(name), "/round_name", "must be 1 to 255 characters");
    }
    if let Some(company) = changes.company_id {
        p.check(company > 0, "/company_id", "must be a positive id");
    }
    p.finish()?;
    let txn = svc.db.connection().begin().await?;
    if let Some(company) = changes.company_id {
        companies::require_named(&txn, fund_id, company).await?;
    }
    let mut update = investment::Entity::update_many()
        .col_expr(investment::Column::UpdatedAt, Expr::value(now()))
        .col_expr(
            investment::Column::Version,
            Expr::col(investment::Column::Version).add(1),
        );
    if let Some(company) = changes.company_id {
        update = update.col_expr(investment::Column::CompanyId, Expr::value(company));
    }
    if let Some(name) = changes.round_name {
        update = update.col_expr(
            investment::Column::RoundName,
            Expr::value(name.trim().to_owned()),
        );
    }
    if let Some(date) = changes.invested_on {
        update = update.col_expr(investment::Column::InvestedOn, Expr::value(date));
    }
    let result = update
        .filter(investment::Column::Id.eq(id))
        .filter(investment::Column::FundId.eq(fund_id))
        .filter(investment::Column::Version.eq(expected_version))
        .exec(&txn)
        .await?;
    let current = investment::Entity::find_by_id(id)
        .filter(investment::Column::FundId.eq(fund_id))
        .one(&txn)
        .await?;
    match current {
        Some(found) if result.rows_affected == 1 => {
            txn.commit().await?;
            Ok(found)
        }
        other => Err(Error::missing_or_stale(
            "investment",
            id,
            other.map(|i| i.version),
        )),
    }
}

/// Deletes an investment with its lots (SPEC §5: at `expected_version`). Snapshots keep what they
/// captured.
#[tracing::instrument(skip_all, fields(fund_id = fund_id, investment_id = id))]
pub async fn delete_investment(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    id: i64,
    expected_version: i64,
) -> Result<()> {
    principal.require_write(fund_id)?;
    let conn = svc.db.connection();
    let result = investment::Entity::delete_many()
        .filter(investment::Column::Id.eq(id))
        .filter(investment::Column::FundId.eq(fund_id))
        .filter(investment::Column::Version.eq(expected_version))
        .exec(conn)
        .await?;
    if result.rows_affected == 1 {
        return Ok(());
    }
    let current = in_fund::find::<investment::Entity, _>(conn, fund_id, id).await?;
    Err(Error::missing_or_stale(
        "investment",
        id,
        current.map(|i| i.version),
    ))
}
