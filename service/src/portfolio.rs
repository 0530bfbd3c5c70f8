//! Funds, portfolio companies, investments, lots and distributions: creation (idempotent), reads,
//! keyset-paginated lists and versioned updates. Every query is scoped by `fund_id`.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use entity::ExactDecimal;
use entity::distribution::{self, DistributionKind};
use entity::fund::{self, FundStatus};
use entity::investment;
use entity::investment_lot::{self, LotType};
use entity::portfolio_company::{self, CompanyStatus, Stage};
use rust_decimal::Decimal;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    ExprTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::{Error, FieldError, ResourceRef, Result, unique_violation};
use crate::idempotency::{self, Idempotency, Outcome, Rendered};
use crate::money::{COST_BASIS_TOLERANCE_CENTS, SHARE_SCALE, cost_basis_cents};
use crate::pagination::{Cursor, Page, PageRequest};
use crate::{Service, now};

// ---------------------------------------------------------------------------------------------
// Validation helpers. Pointers name the JSON fields of the request body.

#[derive(Default)]
struct Problems(Vec<FieldError>);

impl Problems {
    fn check(&mut self, ok: bool, pointer: &str, message: &str) {
        if !ok {
            self.0.push(FieldError::new(pointer, message));
        }
    }

    fn finish(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self.0))
        }
    }
}

fn name_ok(name: &str) -> bool {
    !name.trim().is_empty() && name.chars().count() <= 255
}

fn bps_ok(bps: i32) -> bool {
    (0..=10_000).contains(&bps)
}

/// Parses a share quantity: a plain decimal string, greater than zero, at most 8 decimal places.
pub fn parse_shares(text: &str, pointer: &str) -> Result<Decimal> {
    let value = Decimal::from_str(text.trim()).map_err(|_| {
        Error::invalid(
            pointer,
            "must be a decimal number written as a string, e.g. \"1000.5\"",
        )
    })?;
    if value <= Decimal::ZERO {
        return Err(Error::invalid(pointer, "must be greater than 0"));
    }
    if value.normalize().scale() > SHARE_SCALE {
        return Err(Error::invalid(
            pointer,
            "must have at most 8 decimal places",
        ));
    }
    // numeric(18, 8): at most 10 digits before the point.
    if value >= Decimal::from(10_000_000_000i64) {
        return Err(Error::invalid(pointer, "must be less than 10000000000"));
    }
    Ok(value.normalize())
}

/// Parses a probability: a decimal string in [0, 1] with at most 6 decimal places.
pub fn parse_probability(text: &str, pointer: &str) -> Result<Decimal> {
    let value = Decimal::from_str(text.trim()).map_err(|_| {
        Error::invalid(
            pointer,
            "must be a decimal number written as a string, e.g. \"0.25\"",
        )
    })?;
    if value < Decimal::ZERO || value > Decimal::ONE {
        return Err(Error::invalid(pointer, "must be between 0 and 1"));
    }
    if value.normalize().scale() > 6 {
        return Err(Error::invalid(
            pointer,
            "must have at most 6 decimal places",
        ));
    }
    Ok(value.normalize())
}

/// Classifies a versioned write that touched no row: the row is missing, or its version moved on.
async fn missing_or_conflict<C: ConnectionTrait>(
    conn: &C,
    resource: &'static str,
    id: String,
    current_version: Option<i64>,
) -> Error {
    let _ = conn;
    match current_version {
        None => Error::not_found(resource, id),
        Some(v) => Error::VersionConflict { current_version: v },
    }
}

/// Completes an `IdempotencyKeyExpired` refusal with the row its key created, so that the answer can
/// point at it (`Location`, SPEC §4.7); every other outcome passes through unchanged.
async fn point_at_existing<Fut>(
    outcome: Result<Outcome>,
    idem: Option<&Idempotency>,
    find: impl FnOnce(String) -> Fut,
) -> Result<Outcome>
where
    Fut: std::future::Future<Output = Result<Option<ResourceRef>>>,
{
    match (outcome, idem) {
        (Err(Error::IdempotencyKeyExpired { .. }), Some(i)) => Err(Error::IdempotencyKeyExpired {
            existing: find(i.key.as_str().to_owned()).await?,
        }),
        (other, _) => other,
    }
}

fn keyset_by_id<Q: QueryFilter>(
    query: Q,
    id_col: impl ColumnTrait,
    page: &PageRequest,
) -> Result<Q> {
    Ok(match page.after {
        Some(c) => query.filter(id_col.lt(c.as_id()?)),
        None => query,
    })
}

// ---------------------------------------------------------------------------------------------
// Funds

#[derive(Clone, Debug)]
pub struct NewFund {
    pub name: String,
    pub size_cents: i64,
    pub vintage_year: i32,
    pub management_fee_bps: i32,
    pub carry_bps: i32,
    pub reserve_ratio_bps: i32,
    pub base_currency: String,
}

#[derive(Clone, Debug, Default)]
pub struct FundPatch {
    pub name: Option<String>,
    pub size_cents: Option<i64>,
    pub vintage_year: Option<i32>,
    pub management_fee_bps: Option<i32>,
    pub carry_bps: Option<i32>,
    pub reserve_ratio_bps: Option<i32>,
    pub base_currency: Option<String>,
    pub status: Option<FundStatus>,
}

fn validate_fund_fields(p: &mut Problems, f: &FundPatch) {
    if let Some(name) = &f.name {
        p.check(name_ok(name), "/name", "must be 1 to 255 characters");
    }
    if let Some(size) = f.size_cents {
        p.check(size > 0, "/size_cents", "must be greater than 0");
    }
    if let Some(year) = f.vintage_year {
        p.check(
            (1900..=2200).contains(&year),
            "/vintage_year",
            "must be between 1900 and 2200",
        );
    }
    for (value, pointer) in [
        (f.management_fee_bps, "/management_fee_bps"),
        (f.carry_bps, "/carry_bps"),
        (f.reserve_ratio_bps, "/reserve_ratio_bps"),
    ] {
        if let Some(bps) = value {
            p.check(
                bps_ok(bps),
                pointer,
                "must be between 0 and 10000 basis points",
            );
        }
    }
    if let Some(currency) = &f.base_currency {
        p.check(
            currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase()),
            "/base_currency",
            "must be an ISO 4217 code of three upper-case letters",
        );
    }
}

impl NewFund {
    fn validate(&self) -> Result<()> {
        let mut p = Problems::default();
        validate_fund_fields(
            &mut p,
            &FundPatch {
                name: Some(self.name.clone()),
                size_cents: Some(self.size_cents),
                vintage_year: Some(self.vintage_year),
                management_fee_bps: Some(self.management_fee_bps),
                carry_bps: Some(self.carry_bps),
                reserve_ratio_bps: Some(self.reserve_ratio_bps),
                base_currency: Some(self.base_currency.clone()),
                status: None,
            },
        );
        p.finish()
    }
}

/// Creates a fund (admin only: a new fund is outside every scoped key).
pub async fn create_fund(
    svc: &Service,
    principal: &Principal,
    input: NewFund,
    idem: Option<&Idempotency>,
    render: impl FnOnce(&fund::Model) -> Rendered + Send,
) -> Result<Outcome> {
    principal.require_admin()?;
    input.validate()?;
    let key = idem.map(|i| i.key.as_str().to_owned());
    let outcome = idempotency::execute(
        &svc.db,
        idem,
        svc.idempotency_ttl,
        move |txn| {
            Box::pin(async move {
                let at = now();
                let model = fund::ActiveModel {
                    name: Set(input.name.trim().to_owned()),
                    size_cents: Set(input.size_cents),
                    vintage_year: Set(input.vintage_year),
                    management_fee_bps: Set(input.management_fee_bps),
                    carry_bps: Set(input.carry_bps),
                    reserve_ratio_bps: Set(input.reserve_ratio_bps),
                    base_currency: Set(input.base_currency),
                    status: Set(FundStatus::Active),
                    reserve_plan_version: Set(1),
                    idempotency_key: Set(key),
                    created_at: Set(at),
                    updated_at: Set(at),
                    version: Set(1),
                    ..Default::default()
                };
                Ok(model.insert(txn).await?)
            })
        },
        render,
    )
    .await;
    let db = svc.db.connection();
    point_at_existing(outcome, idem, |key| async move {
        Ok(fund::Entity::find()
            .filter(fund::Column::IdempotencyKey.eq(key))
            .one(db)
            .await?
            .map(|f| ResourceRef::Fund(f.id)))
    })
    .await
}

pub async fn get_fund(svc: &Service, principal: &Principal, id: i64) -> Result<fund::Model> {
    principal.require_read(id)?;
    fund::Entity::find_by_id(id)
        .one(svc.db.connection())
        .await?
        .ok_or_else(|| Error::not_found("fund", id))
}

pub async fn list_funds(
    svc: &Service,
    principal: &Principal,
    page: PageRequest,
) -> Result<Page<fund::Model>> {
    let mut query = fund::Entity::find()
        .order_by_desc(fund::Column::Id)
        .limit(page.limit + 1);
    if let Some(funds) = principal.fund_filter() {
        query = query.filter(fund::Column::Id.is_in(funds.to_vec()));
    }
    let query = keyset_by_id(query, fund::Column::Id, &page)?;
    let rows = query.all(svc.db.connection()).await?;
    Ok(Page::from_rows(rows, page.limit, |f| Cursor::Id(f.id)))
}

pub async fn update_fund(
    svc: &Service,
    principal: &Principal,
    id: i64,
    expected_version: i64,
    patch: FundPatch,
) -> Result<fund::Model> {
    principal.require_write(id)?;
    let mut p = Problems::default();
    validate_fund_fields(&mut p, &patch);
    p.finish()?;
    let mut model = <fund::ActiveModel as Default>::default();
    if let Some(v) = patch.name {
        model.name = Set(v.trim().to_owned());
    }
    if let Some(v) = patch.size_cents {
        model.size_cents = Set(v);
    }
    if let Some(v) = patch.vintage_year {
        model.vintage_year = Set(v);
    }
    if let Some(v) = patch.management_fee_bps {
        model.management_fee_bps = Set(v);
    }
    if let Some(v) = patch.carry_bps {
        model.carry_bps = Set(v);
    }
    if let Some(v) = patch.reserve_ratio_bps {
        model.reserve_ratio_bps = Set(v);
    }
    if let Some(v) = patch.base_currency {
        model.base_currency = Set(v);
    }
    if let Some(v) = patch.status {
        model.status = Set(v);
    }
    model.updated_at = Set(now());
    let conn = svc.db.connection();
    let result = fund::Entity::update_many()
        .set(model)
        .col_expr(
            fund::Column::Version,
            Expr::col(fund::Column::Version).add(1),
        )
        .filter(fund::Column::Id.eq(id))
        .filter(fund::Column::Version.eq(expected_version))
        .exec(conn)
        .await?;
    let current = fund::Entity::find_by_id(id).one(conn).await?;
    if result.rows_affected == 0 {
        return Err(
            missing_or_conflict(conn, "fund", id.to_string(), current.map(|f| f.version)).await,
        );
    }
    current.ok_or_else(|| Error::not_found("fund", id))
}

/// Deletes a fund and everything it owns (admin only).
pub async fn delete_fund(
    svc: &Service,
    principal: &Principal,
    id: i64,
    expected_version: i64,
) -> Result<()> {
    principal.require_admin()?;
    let conn = svc.db.connection();
    let result = fund::Entity::delete_many()
        .filter(fund::Column::Id.eq(id))
        .filter(fund::Column::Version.eq(expected_version))
        .exec(conn)
        .await?;
    if result.rows_affected == 1 {
        return Ok(());
    }
    let current = fund::Entity::find_by_id(id).one(conn).await?;
    Err(missing_or_conflict(conn, "fund", id.to_string(), current.map(|f| f.version)).await)
}

async fn require_fund<C: ConnectionTrait>(conn: &C, fund_id: i64) -> Result<fund::Model> {
    fund::Entity::find_by_id(fund_id)
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found("fund", fund_id))
}

// ---------------------------------------------------------------------------------------------
// Portfolio companies

/// Fields of a company; on creation `name` and `stage` are required, on update everything is optional.
/// `Some(None)` clears a nullable field.
#[derive(Clone, Debug, Default)]
pub struct CompanyFields {
    pub name: Option<String>,
    pub sector: Option<Option<String>>,
    pub stage: Option<Stage>,
    pub status: Option<CompanyStatus>,
    pub current_share_price_cents: Option<Option<i64>>,
    pub marked_at: Option<Option<DateTime<Utc>>>,
    pub exit_moic_bps: Option<Option<i64>>,
    pub exit_probability: Option<Option<String>>,
    pub reserve_exit_moic_bps: Option<Option<i64>>,
    pub planned_reserves_cents: Option<i64>,
    pub allocation_cap_cents: Option<Option<i64>>,
}

impl CompanyFields {
    /// Validates and converts into an active model holding only the given fields.
    fn into_active(self) -> Result<portfolio_company::ActiveModel> {
        let mut p = Problems::default();
        let mut m = <portfolio_company::ActiveModel as Default>::default();
        if let Some(name) = self.name {
            p.check(name_ok(&name), "/name", "must be 1 to 255 characters");
            m.name = Set(name.trim().to_owned());
        }
        if let Some(sector) = self.sector {
            if let Some(s) = &sector {
                p.check(name_ok(s), "/sector", "must be 1 to 255 characters");
            }
            m.sector = Set(sector.map(|s| s.trim().to_owned()));
        }
        if let Some(stage) = self.stage {
            m.stage = Set(stage);
        }
        if let Some(status) = self.status {
            m.status = Set(status);
        }
        for (value, pointer, slot) in [
            (
                self.current_share_price_cents,
                "/current_share_price_cents",
                &mut m.current_share_price_cents,
            ),
            (self.exit_moic_bps, "/exit_moic_bps", &mut m.exit_moic_bps),
            (
                self.reserve_exit_moic_bps,
                "/reserve_exit_moic_bps",
                &mut m.reserve_exit_moic_bps,
            ),
            (
                self.allocation_cap_cents,
                "/allocation_cap_cents",
                &mut m.allocation_cap_cents,
            ),
        ] {
            if let Some(v) = value {
                p.check(v.is_none_or(|x| x >= 0), pointer, "must be 0 or more");
                *slot = Set(v);
            }
        }
        if let Some(v) = self.planned_reserves_cents {
            p.check(v >= 0, "/planned_reserves_cents", "must be 0 or more");
            m.planned_reserves_cents = Set(v);
        }
        if let Some(v) = self.marked_at {
            m.marked_at = Set(v);
        }
        if let Some(v) = self.exit_probability {
            match v {
                None => m.exit_probability = Set(None),
                Some(text) => match parse_probability(&text, "/exit_probability") {
                    Ok(d) => m.exit_probability = Set(Some(ExactDecimal(d))),
                    Err(Error::Validation(mut errs)) => p.0.append(&mut errs),
                    Err(e) => return Err(e),
                },
            }
        }
        p.finish()?;
        Ok(m)
    }
}

fn company_conflict(err: Error, name_hint: Option<&str>) -> Error {
    match &err {
        Error::Database(db) if unique_violation(db).is_some_and(|m| m.contains("name")) => {
            Error::Conflict {
                code: "company_name_taken",
                message: format!(
                    "the fund already has a company named {:?}",
                    name_hint.unwrap_or_default()
                ),
            }
        }
        _ => err,
    }
}

pub async fn create_company(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    fields: CompanyFields,
    idem: Option<&Idempotency>,
    render: impl FnOnce(&portfolio_company::Model) -> Rendered + Send,
) -> Result<Outcome> {
    principal.require_write(fund_id)?;
    let mut p = Problems::default();
    p.check(fields.name.is_some(), "/name", "is required");
    p.check(fields.stage.is_some(), "/stage", "is required");
    p.finish()?;
    let name = fields.name.clone();
    let mut model = fields.into_active()?;
    let key = idem.map(|i| i.key.as_str().to_owned());
    let outcome = idempotency::execute(
        &svc.db,
        idem,
        svc.idempotency_ttl,
        move |txn| {
            Box::pin(async move {
                require_fund(txn, fund_id).await?;
                let at = now();
                model.fund_id = Set(fund_id);
                if model.status.is_not_set() {
                    model.status = Set(CompanyStatus::Active);
                }
                if model.planned_reserves_cents.is_not_set() {
                    model.planned_reserves_cents = Set(0);
                }
                model.idempotency_key = Set(key);
                model.created_at = Set(at);
                model.updated_at = Set(at);
                model.version = Set(1);
                Ok(model.insert(txn).await?)
            })
        },
        render,
    )
    .await;
    let db = svc.db.connection();
    point_at_existing(outcome, idem, |key| async move {
        Ok(portfolio_company::Entity::find()
            .filter(portfolio_company::Column::FundId.eq(fund_id))
            .filter(portfolio_company::Column::IdempotencyKey.eq(key))
            .one(db)
            .await?
            .map(|c| ResourceRef::Company { fund_id, id: c.id }))
    })
    .await
    .map_err(|e| company_conflict(e, name.as_deref()))
}

pub async fn get_company(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    id: i64,
) -> Result<portfolio_company::Model> {
    principal.require_read(fund_id)?;
    portfolio_company::Entity::find_by_id(id)
        .filter(portfolio_company::Column::FundId.eq(fund_id))
        .one(svc.db.connection())
        .await?
        .ok_or_else(|| Error::not_found("company", id))
}

pub async fn list_companies(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    page: PageRequest,
) -> Result<Page<portfolio_company::Model>> {
    principal.require_read(fund_id)?;
    let conn = svc.db.connection();
    require_fund(conn, fund_id).await?;
    let query = portfolio_company::Entity::find()
        .filter(portfolio_company::Column::FundId.eq(fund_id))
        .order_by_desc(portfolio_company::Column::Id)
        .limit(page.limit + 1);
    let rows = keyset_by_id(query, portfolio_company::Column::Id, &page)?
        .all(conn)
        .await?;
    Ok(Page::from_rows(rows, page.limit, |c| Cursor::Id(c.id)))
}

pub async fn update_company(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    id: i64,
    expected_version: i64,
    fields: CompanyFields,
) -> Result<portfolio_company::Model> {
    principal.require_write(fund_id)?;
    let name = fields.name.clone();
    let mut model = fields.into_active()?;
    model.updated_at = Set(now());
    let conn = svc.db.connection();
    let result = portfolio_company::Entity::update_many()
        .set(model)
        .col_expr(
            portfolio_company::Column::Version,
            Expr::col(portfolio_company::Column::Version).add(1),
        )
        .filter(portfolio_company::Column::Id.eq(id))
        .filter(portfolio_company::Column::FundId.eq(fund_id))
        .filter(portfolio_company::Column::Version.eq(expected_version))
        .exec(conn)
        .await
        .map_err(|e| company_conflict(e.into(), name.as_deref()))?;
    let current = portfolio_company::Entity::find_by_id(id)
        .filter(portfolio_company::Column::FundId.eq(fund_id))
        .one(conn)
        .await?;
    if result.rows_affected == 0 {
        return Err(missing_or_conflict(
            conn,
            "company",
            id.to_string(),
            current.map(|c| c.version),
        )
        .await);
    }
    current.ok_or_else(|| Error::not_found("company", id))
}

pub async fn delete_company(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    id: i64,
    expected_version: i64,
) -> Result<()> {
    principal.require_write(fund_id)?;
    let conn = svc.db.connection();
    let result = portfolio_company::Entity::delete_many()
        .filter(portfolio_company::Column::Id.eq(id))
        .filter(portfolio_company::Column::FundId.eq(fund_id))
        .filter(portfolio_company::Column::Version.eq(expected_version))
        .exec(conn)
        .await?;
    if result.rows_affected == 1 {
        return Ok(());
    }
    let current = portfolio_company::Entity::find_by_id(id)
        .filter(portfolio_company::Column::FundId.eq(fund_id))
        .one(conn)
        .await?;
    Err(missing_or_conflict(conn, "company", id.to_string(), current.map(|c| c.version)).await)
}

// ---------------------------------------------------------------------------------------------
// Investments

#[derive(Clone, Debug)]
pub struct NewInvestment {
    pub company_id: i64,
    pub round_name: String,
    pub invested_on: NaiveDate,
}

pub async fn create_investment(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    input: NewInvestment,
    idem: Option<&Idempotency>,
    render: impl FnOnce(&investment::Model) -> Rendered + Send,
) -> Result<Outcome> {
    principal.require_write(fund_id)?;
    let mut p = Problems::default();
    p.check(
        name_ok(&input.round_name),
        "/round_name",
        "must be 1 to 255 characters",
    );
    p.check(input.company_id > 0, "/company_id", "must be a positive id");
    p.finish()?;
    let key = idem.map(|i| i.key.as_str().to_owned());
    let outcome = idempotency::execute(
        &svc.db,
        idem,
        svc.idempotency_ttl,
        move |txn| {
            Box::pin(async move {
                require_fund(txn, fund_id).await?;
                let company = portfolio_company::Entity::find_by_id(input.company_id)
                    .filter(portfolio_company::Column::FundId.eq(fund_id))
                    .one(txn)
                    .await?;
                if company.is_none() {
                    return Err(Error::invalid(
                        "/company_id",
                        format!("fund {fund_id} has no company {}", input.company_id),
                    ));
                }
                let at = now();
                let model = investment::ActiveModel {
                    fund_id: Set(fund_id),
                    company_id: Set(input.company_id),
                    round_name: Set(input.round_name.trim().to_owned()),
                    invested_on: Set(input.invested_on),
                    idempotency_key: Set(key),
                    created_at: Set(at),
                    updated_at: Set(at),
                    version: Set(1),
                    ..Default::default()
                };
                Ok(model.insert(txn).await?)
            })
        },
        render,
    )
    .await;
    let db = svc.db.connection();
    point_at_existing(outcome, idem, |key| async move {
        Ok(investment::Entity::find()
            .filter(investment::Column::FundId.eq(fund_id))
            .filter(investment::Column::IdempotencyKey.eq(key))
            .one(db)
            .await?
            .map(|m| ResourceRef::Investment { fund_id, id: m.id }))
    })
    .await
}

pub async fn get_investment(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    id: i64,
) -> Result<investment::Model> {
    principal.require_read(fund_id)?;
    investment::Entity::find_by_id(id)
        .filter(investment::Column::FundId.eq(fund_id))
        .one(svc.db.connection())
        .await?
        .ok_or_else(|| Error::not_found("investment", id))
}

pub async fn list_investments(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    page: PageRequest,
) -> Result<Page<investment::Model>> {
    principal.require_read(fund_id)?;
    let conn = svc.db.connection();
    require_fund(conn, fund_id).await?;
    let query = investment::Entity::find()
        .filter(investment::Column::FundId.eq(fund_id))
        .order_by_desc(investment::Column::Id)
        .limit(page.limit + 1);
    let rows = keyset_by_id(query, investment::Column::Id, &page)?
        .all(conn)
        .await?;
    Ok(Page::from_rows(rows, page.limit, |i| Cursor::Id(i.id)))
}

// ---------------------------------------------------------------------------------------------
// Lots

#[derive(Clone, Debug)]
pub struct NewLot {
    pub lot_type: LotType,
    pub share_price_cents: i64,
    /// Shares as sent (a decimal string), validated here.
    pub shares_acquired: String,
    /// Cost including fees; computed from price × shares when absent.
    pub cost_basis_cents: Option<i64>,
    pub acquired_on: NaiveDate,
}

pub async fn create_lot(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    investment_id: i64,
    input: NewLot,
    idem: Option<&Idempotency>,
    render: impl FnOnce(&investment_lot::Model) -> Rendered + Send,
) -> Result<Outcome> {
    principal.require_write(fund_id)?;
    let mut p = Problems::default();
    p.check(
        input.share_price_cents >= 0,
        "/share_price_cents",
        "must be 0 or more",
    );
    if let Some(c) = input.cost_basis_cents {
        p.check(c >= 0, "/cost_basis_cents", "must be 0 or more");
    }
    let shares = match parse_shares(&input.shares_acquired, "/shares_acquired") {
        Ok(s) => Some(s),
        Err(Error::Validation(mut errs)) => {
            p.0.append(&mut errs);
            None
        }
        Err(e) => return Err(e),
    };
    p.finish()?;
    let shares = shares.ok_or_else(|| Error::Invariant("shares validated".into()))?;
    let expected = cost_basis_cents(input.share_price_cents, shares).ok_or_else(|| {
        Error::invalid(
            "/share_price_cents",
            "share price × shares exceeds the largest amount of cents (2^63 − 1)",
        )
    })?;
    let cost = match input.cost_basis_cents {
        None => expected,
        Some(given) => {
            if given.abs_diff(expected) > COST_BASIS_TOLERANCE_CENTS as u64 {
                return Err(Error::CostBasisMismatch {
                    expected,
                    given,
                    tolerance: COST_BASIS_TOLERANCE_CENTS,
                });
            }
            given
        }
    };
    let key = idem.map(|i| i.key.as_str().to_owned());
    let fingerprint = idem.map(|i| i.fingerprint.clone());
    let outcome = idempotency::execute(
        &svc.db,
        idem,
        svc.idempotency_ttl,
        move |txn| {
            Box::pin(async move {
                // The investment must be this fund's: another fund's investment is simply not found here.
                investment::Entity::find_by_id(investment_id)
                    .filter(investment::Column::FundId.eq(fund_id))
                    .one(txn)
                    .await?
                    .ok_or_else(|| Error::not_found("investment", investment_id))?;
                let model = investment_lot::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    fund_id: Set(fund_id),
                    investment_id: Set(investment_id),
                    lot_type: Set(input.lot_type),
                    share_price_cents: Set(input.share_price_cents),
                    shares_acquired: Set(ExactDecimal(shares)),
                    cost_basis_cents: Set(cost),
                    acquired_on: Set(input.acquired_on),
                    idempotency_key: Set(key),
                    request_fingerprint: Set(fingerprint),
                    created_at: Set(now()),
                };
                Ok(model.insert(txn).await?)
            })
        },
        render,
    )
    .await;
    let db = svc.db.connection();
    point_at_existing(outcome, idem, |key| async move {
        Ok(investment_lot::Entity::find()
            .filter(investment_lot::Column::InvestmentId.eq(investment_id))
            .filter(investment_lot::Column::IdempotencyKey.eq(key))
            .one(db)
            .await?
            .map(|l| ResourceRef::Lot { fund_id, id: l.id }))
    })
    .await
}

pub async fn get_lot(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    id: Uuid,
) -> Result<investment_lot::Model> {
    principal.require_read(fund_id)?;
    investment_lot::Entity::find_by_id(id)
        .filter(investment_lot::Column::FundId.eq(fund_id))
        .one(svc.db.connection())
        .await?
        .ok_or_else(|| Error::not_found("lot", id))
}

#[derive(Clone, Copy, Debug, Default)]
pub struct LotFilter {
    pub investment_id: Option<i64>,
    pub lot_type: Option<LotType>,
}

/// The fund's lots, newest first. Always filtered by the fund in the path.
pub async fn list_lots(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    filter: LotFilter,
    page: PageRequest,
) -> Result<Page<investment_lot::Model>> {
    principal.require_read(fund_id)?;
    let conn = svc.db.connection();
    require_fund(conn, fund_id).await?;
    let mut query = investment_lot::Entity::find()
        .filter(investment_lot::Column::FundId.eq(fund_id))
        .order_by_desc(investment_lot::Column::CreatedAt)
        .order_by_desc(investment_lot::Column::Id)
        .limit(page.limit + 1);
    if let Some(i) = filter.investment_id {
        query = query.filter(investment_lot::Column::InvestmentId.eq(i));
    }
    if let Some(t) = filter.lot_type {
        query = query.filter(investment_lot::Column::LotType.eq(t));
    }
    if let Some(cursor) = page.after {
        let (t, id) = cursor.as_time_uuid()?;
        query = query.filter(
            Condition::any()
                .add(investment_lot::Column::CreatedAt.lt(t))
                .add(
                    Condition::all()
                        .add(investment_lot::Column::CreatedAt.eq(t))
                        .add(investment_lot::Column::Id.lt(id)),
                ),
        );
    }
    let rows = query.all(conn).await?;
    Ok(Page::from_rows(rows, page.limit, |l| {
        Cursor::TimeUuid(l.created_at, l.id)
    }))
}

// ---------------------------------------------------------------------------------------------
// Distributions

#[derive(Clone, Debug)]
pub struct NewDistribution {
    pub company_id: i64,
    pub distributed_on: NaiveDate,
    pub amount_cents: i64,
    pub kind: DistributionKind,
    pub shares_sold: Option<String>,
}

pub async fn create_distribution(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    input: NewDistribution,
    idem: Option<&Idempotency>,
    render: impl FnOnce(&distribution::Model) -> Rendered + Send,
) -> Result<Outcome> {
    principal.require_write(fund_id)?;
    let mut p = Problems::default();
    p.check(
        input.amount_cents > 0,
        "/amount_cents",
        "must be greater than 0",
    );
    p.check(input.company_id > 0, "/company_id", "must be a positive id");
    let shares_sold = match input
        .shares_sold
        .as_deref()
        .map(|s| parse_shares(s, "/shares_sold"))
        .transpose()
    {
        Ok(s) => s,
        Err(Error::Validation(mut errs)) => {
            p.0.append(&mut errs);
            None
        }
        Err(e) => return Err(e),
    };
    p.finish()?;
    let key = idem.map(|i| i.key.as_str().to_owned());
    let outcome = idempotency::execute(
        &svc.db,
        idem,
        svc.idempotency_ttl,
        move |txn| {
            Box::pin(async move {
                require_fund(txn, fund_id).await?;
                portfolio_company::Entity::find_by_id(input.company_id)
                    .filter(portfolio_company::Column::FundId.eq(fund_id))
                    .one(txn)
                    .await?
                    .ok_or_else(|| {
                        Error::invalid(
                            "/company_id",
                            format!("fund {fund_id} has no company {}", input.company_id),
                        )
                    })?;
                let model = distribution::ActiveModel {
                    fund_id: Set(fund_id),
                    company_id: Set(input.company_id),
                    distributed_on: Set(input.distributed_on),
                    amount_cents: Set(input.amount_cents),
                    kind: Set(input.kind),
                    shares_sold: Set(shares_sold.map(ExactDecimal)),
                    idempotency_key: Set(key),
                    created_at: Set(now()),
                    ..Default::default()
                };
                Ok(model.insert(txn).await?)
            })
        },
        render,
    )
    .await;
    let db = svc.db.connection();
    point_at_existing(outcome, idem, |key| async move {
        Ok(distribution::Entity::find()
            .filter(distribution::Column::FundId.eq(fund_id))
            .filter(distribution::Column::IdempotencyKey.eq(key))
            .one(db)
            .await?
            .map(|d| ResourceRef::Distribution { fund_id, id: d.id }))
    })
    .await
}

pub async fn list_distributions(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    page: PageRequest,
) -> Result<Page<distribution::Model>> {
    principal.require_read(fund_id)?;
    let conn = svc.db.connection();
    require_fund(conn, fund_id).await?;
    let query = distribution::Entity::find()
        .filter(distribution::Column::FundId.eq(fund_id))
        .order_by_desc(distribution::Column::Id)
        .limit(page.limit + 1);
    let rows = keyset_by_id(query, distribution::Column::Id, &page)?
        .all(conn)
        .await?;
    Ok(Page::from_rows(rows, page.limit, |d| Cursor::Id(d.id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_need_a_positive_value_with_at_most_eight_decimals() {
        assert_eq!(
            parse_shares("1000.12345678", "/s").unwrap().to_string(),
            "1000.12345678"
        );
        assert_eq!(parse_shares("1.50000000", "/s").unwrap().to_string(), "1.5");
        assert!(parse_shares("0.123456789", "/s").is_err());
        assert!(parse_shares("0", "/s").is_err());
        assert!(parse_shares("-1", "/s").is_err());
        assert!(parse_shares("abc", "/s").is_err());
        assert!(parse_shares("10000000000", "/s").is_err());
    }

    #[test]
    fn probabilities_lie_in_zero_to_one() {
        assert!(parse_probability("0.5", "/p").is_ok());
        assert!(parse_probability("1", "/p").is_ok());
        assert!(parse_probability("1.000001", "/p").is_err());
        assert!(parse_probability("0.1234567", "/p").is_err());
    }
}
