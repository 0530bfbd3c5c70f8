//! A fund's portfolio companies (SPEC §3, §12): creation (idempotent), reads, lists and versioned
//! updates. Every query is scoped by `fund_id`; a company's name is unique within its fund.

use chrono::{DateTime, Utc};
use entity::ExactDecimal;
use entity::portfolio_company::{self, CompanyStatus, Stage};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, ExprTrait,
    QueryFilter, TransactionTrait,
};

use crate::auth::Principal;
use crate::context::Service;
use crate::db::now;
use crate::error::{ConflictCode, Error, Result, unique};
use crate::fields::{Problems, name_ok, parse_probability};
use crate::funds;
use crate::idempotency::{self, Idempotency, KeyedBy, Outcome, TxFuture, keyed};
use crate::in_fund::{self, in_fund};
use crate::marks::{self, Bump};
use crate::reserves;

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
                Some(text) => {
                    if let Some(d) = p.absorb(parse_probability(&text, "/exit_probability"))? {
                        m.exit_probability = Set(Some(ExactDecimal(d)));
                    }
                }
            }
        }
        p.finish()?;
        Ok(m)
    }
}

/// Whether a company carries reserve-plan figures (planned reserves or a cap): creating or deleting such
/// a company changes the plan, and so moves its version (SPEC §7.5), as changing either figure does.
fn in_the_plan(planned_reserves_cents: i64, allocation_cap_cents: Option<i64>) -> bool {
    planned_reserves_cents != 0 || allocation_cap_cents.is_some()
}

/// A violation of the company-name index becomes `company_name_taken`; any other error passes.
fn name_taken(err: Error, name: Option<&str>) -> Error {
    match &err {
        Error::Database(db) if unique::COMPANY_NAME.violated_by(db) => Error::Conflict {
            code: ConflictCode::CompanyNameTaken,
            message: format!(
                "the fund already has a company named {:?}",
                name.unwrap_or_default()
            ),
        },
        _ => err,
    }
}

in_fund!(portfolio_company, "company", i64);

keyed!(portfolio_company, COMPANY_KEY, FundId, in_fund Company);

#[tracing::instrument(skip_all, fields(fund_id = fund_id))]
pub async fn create_company(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    fields: CompanyFields,
    idem: Option<Idempotency>,
) -> Result<Outcome<portfolio_company::Model>> {
    principal.require_write(fund_id)?;
    let mut p = Problems::default();
    p.check(fields.name.is_some(), "/name", "is required");
    p.check(fields.stage.is_some(), "/stage", "is required");
    p.finish()?;
    let name = fields.name.clone();
    let mut row = fields.into_active()?;
    let at = now();
    row.fund_id = Set(fund_id);
    if row.status.is_not_set() {
        row.status = Set(CompanyStatus::Active);
    }
    let planned_reserves_cents = row.planned_reserves_cents.take().unwrap_or(0);
    row.planned_reserves_cents = Set(planned_reserves_cents);
    // An optional field not sent is null: the whole row is known before it is written.
    let allocation_cap_cents = row.allocation_cap_cents.take().flatten();
    row.allocation_cap_cents = Set(allocation_cap_cents);
    row.sector = Set(row.sector.take().flatten());
    row.current_share_price_cents = Set(row.current_share_price_cents.take().flatten());
    row.marked_at = Set(row.marked_at.take().flatten());
    row.exit_moic_bps = Set(row.exit_moic_bps.take().flatten());
    row.exit_probability = Set(row.exit_probability.take().flatten());
    row.reserve_exit_moic_bps = Set(row.reserve_exit_moic_bps.take().flatten());
    row.idempotency_key = Set(idem.as_ref().map(|i| i.key.as_str().to_owned()));
    row.created_at = Set(at);
    row.updated_at = Set(at);
    row.version = Set(1);
    let keyed_by = KeyedBy::<portfolio_company::Entity>::under(fund_id);
    let written_off = row.status.as_ref() == &CompanyStatus::WrittenOff;
    let marked_at = row.marked_at.clone().unwrap();
    if written_off && marked_at.is_none() {
        return Err(undated_write_off());
    }
    let mark = marks::implied_mark(
        row.current_share_price_cents.clone().unwrap(),
        marked_at,
        written_off,
    )?;
    let planned = in_the_plan(planned_reserves_cents, allocation_cap_cents);
    let outcome = if planned || mark.is_some() {
        // A company in the reserve plan moves the plan's version in the same transaction; a company
        // with a price gets its first mark in it.
        idempotency::create(svc, idem, keyed_by, move |txn, _key| {
            Box::pin(async move {
                funds::require(txn, fund_id).await?;
                let company = row.insert(txn).await?;
                if planned {
                    reserves::check_cap(&company, "/allocation_cap_cents")?;
                    reserves::bump_version(txn, fund_id).await?;
                }
                let Some((on, price, source)) = mark else {
                    return Ok(Outcome::Created(company));
                };
                marks::replace_mark(txn, fund_id, company.id, on, price, source).await?;
                marks::follow_marks(txn, fund_id, company.id, marked_at, None, Bump::No).await?;
                let company =
                    in_fund::find::<portfolio_company::Entity, _>(txn, fund_id, company.id)
                        .await?
                        .ok_or_else(|| Error::Invariant("a company just written".into()))?;
                Ok(Outcome::Created(company))
            })
        })
        .await
    } else {
        idempotency::create_row(svc, idem, keyed_by, row, move |txn| {
            Box::pin(async move { funds::require(txn, fund_id).await.map(drop) })
        })
        .await
    };
    outcome.map_err(|e| name_taken(e, name.as_deref()))
}

/// The checks of a create under a fund that names one of its companies: the fund exists (404) and the
/// company is the fund's (422 naming `/company_id`). Run on the transaction path of `create_row`.
pub(crate) fn fund_and_company(
    fund_id: i64,
    company_id: i64,
) -> impl for<'c> FnOnce(&'c DatabaseTransaction) -> TxFuture<'c, ()> + Send + 'static {
    move |txn: &DatabaseTransaction| -> TxFuture<'_, ()> {
        Box::pin(async move {
            funds::require(txn, fund_id).await?;
            require_named(txn, fund_id, company_id).await
        })
    }
}

/// A company named in a request body must be the fund's: otherwise the body's `/company_id` is invalid.
pub(crate) async fn require_named<C: sea_orm::ConnectionTrait>(
    conn: &C,
    fund_id: i64,
    company_id: i64,
) -> Result<()> {
    portfolio_company::Entity::find_by_id(company_id)
        .filter(portfolio_company::Column::FundId.eq(fund_id))
        .one(conn)
        .await?
        .map(|_| ())
        .ok_or_else(|| {
            Error::invalid(
                "/company_id",
                format!("fund {fund_id} has no company {company_id}"),
            )
        })
}

#[tracing::instrument(skip_all, fields(fund_id = fund_id, company_id = id))]
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
    // A price is changed by recording a mark (SPEC §6.4): it cannot be cleared, and `marked_at` dates a
    // new price or a write-off.
    let written_off = fields.status == Some(CompanyStatus::WrittenOff);
    let price = match fields.current_share_price_cents {
        Some(None) => {
            return Err(Error::invalid(
                "/current_share_price_cents",
                "cannot be cleared: the price is the company's latest mark; delete marks with \
                 DELETE /api/v1/funds/{fund_id}/companies/{company_id}/marks/{mark_id}",
            ));
        }
        Some(Some(p)) => Some(p),
        None => None,
    };
    let marked_at = fields.marked_at.flatten();
    if fields.marked_at.is_some() && price.is_none() && !written_off {
        return Err(Error::invalid(
            "/marked_at",
            "dates a new price or a write-off: send it with current_share_price_cents or status \
             written_off",
        ));
    }
    let mark = marks::implied_mark(price, marked_at, written_off)?;
    let txn = svc.db.connection().begin().await?;
    // A write-off is dated (SPEC §6.6): setting the status needs `marked_at`, unless the company is
    // already written off, when its write-off mark stands and no new one is recorded.
    let mark = if written_off && marked_at.is_none() {
        let current = in_fund::find::<portfolio_company::Entity, _>(&txn, fund_id, id).await?;
        match current {
            Some(c) if c.status == CompanyStatus::WrittenOff => None,
            Some(_) => return Err(undated_write_off()),
            // The versioned update below answers 404.
            None => mark,
        }
    } else {
        mark
    };
    // Planned reserves and the cap are inputs of the fund's reserve plan, versioned with it.
    let changes_plan =
        fields.planned_reserves_cents.is_some() || fields.allocation_cap_cents.is_some();
    let mut model = fields.into_active()?;
    model.updated_at = Set(now());
    let result = portfolio_company::Entity::update_many()
        .set(model)
        .col_expr(
            portfolio_company::Column::Version,
            Expr::col(portfolio_company::Column::Version).add(1),
        )
        .filter(portfolio_company::Column::Id.eq(id))
        .filter(portfolio_company::Column::FundId.eq(fund_id))
        .filter(portfolio_company::Column::Version.eq(expected_version))
        .exec(&txn)
        .await
        .map_err(|e| name_taken(e.into(), name.as_deref()))?;
    let company = match in_fund::find::<portfolio_company::Entity, _>(&txn, fund_id, id).await? {
        Some(company) if result.rows_affected == 1 => company,
        other => {
            return Err(Error::missing_or_stale(
                "company",
                id,
                other.map(|c| c.version),
            ));
        }
    };
    if changes_plan {
        // Dropping the transaction on an error rolls the update back: nothing is written.
        reserves::check_cap(&company, "/allocation_cap_cents")?;
        reserves::bump_version(&txn, fund_id).await?;
    }
    let company = match mark {
        None => company,
        Some((on, price, source)) => {
            marks::replace_mark(&txn, fund_id, id, on, price, source).await?;
            marks::follow_marks(&txn, fund_id, id, marked_at, None, Bump::No).await?;
            in_fund::find::<portfolio_company::Entity, _>(&txn, fund_id, id)
                .await?
                .ok_or_else(|| Error::Invariant("a company just updated".into()))?
        }
    };
    txn.commit().await?;
    Ok(company)
}

/// The 422 of a write-off without its date.
fn undated_write_off() -> Error {
    Error::invalid(
        "/marked_at",
        "is required when setting status written_off: the company is worth 0 from that date, and \
         the fee basis and the waterfall count its cost as written off from it",
    )
}

#[tracing::instrument(skip_all, fields(fund_id = fund_id, company_id = id))]
pub async fn delete_company(
    svc: &Service,
    principal: &Principal,
    fund_id: i64,
    id: i64,
    expected_version: i64,
) -> Result<()> {
    principal.require_write(fund_id)?;
    let txn = svc.db.connection().begin().await?;
    let planned = in_fund::find::<portfolio_company::Entity, _>(&txn, fund_id, id)
        .await?
        .is_some_and(|c| in_the_plan(c.planned_reserves_cents, c.allocation_cap_cents));
    let result = portfolio_company::Entity::delete_many()
        .filter(portfolio_company::Column::Id.eq(id))
        .filter(portfolio_company::Column::FundId.eq(fund_id))
        .filter(portfolio_company::Column::Version.eq(expected_version))
        .exec(&txn)
        .await?;
    if result.rows_affected == 1 {
        if planned {
            reserves::bump_version(&txn, fund_id).await?;
        }
        txn.commit().await?;
        return Ok(());
    }
    let current = in_fund::find::<portfolio_company::Entity, _>(&txn, fund_id, id).await?;
    Err(Error::missing_or_stale(
        "company",
        id,
        current.map(|c| c.version),
    ))
}
