//! Funds (SPEC §3, §12): creation (idempotent, admin only), reads, lists and versioned updates.

use chrono::{Datelike, NaiveDate};
use entity::fund::{self, FeeBasis, FundStatus, WaterfallKind};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, ExprTrait, QueryFilter,
};

use crate::auth::Principal;
use crate::calc::money::Cents;
use crate::context::Service;
use crate::db::now;
use crate::error::{Error, ResourceRef, Result};
use crate::fields::{Problems, bps_ok, name_ok};
use crate::idempotency::{self, Idempotency, KeyedBy, Outcome, keyed};
use crate::pagination::{self, Page, PageRequest};

#[derive(Clone, Debug)]
pub struct NewFund {
    pub name: String,
    pub size_cents: Cents,
    pub vintage_year: i32,
    pub management_fee_bps: i32,
    pub carry_bps: i32,
    pub reserve_ratio_bps: i32,
    pub base_currency: String,
    pub terms: NewTerms,
}

/// The terms of SPEC §6.6 a new fund is created with (`Default`: §6.6's defaults).
#[derive(Clone, Debug)]
pub struct NewTerms {
    /// `None`: 1 January of the vintage year.
    pub first_close_on: Option<NaiveDate>,
    pub commitment_period_years: i32,
    pub term_years: i32,
    /// `None`: the management fee.
    pub post_period_fee_bps: Option<i32>,
    pub post_period_fee_basis: FeeBasis,
    pub hurdle_bps: i32,
    pub catch_up_bps: i32,
    pub waterfall: WaterfallKind,
}

impl Default for NewTerms {
    fn default() -> Self {
        Self {
            first_close_on: None,
            commitment_period_years: 5,
            term_years: 10,
            post_period_fee_bps: None,
            post_period_fee_basis: FeeBasis::NetInvestedCapital,
            hurdle_bps: 0,
            catch_up_bps: 10_000,
            waterfall: WaterfallKind::European,
        }
    }
}

/// The fields a `PATCH` may change; `None` leaves a field as it is (`Some(None)` clears a nullable one).
#[derive(Clone, Debug, Default)]
pub struct FundPatch {
    pub name: Option<String>,
    pub size_cents: Option<Cents>,
    pub vintage_year: Option<i32>,
    pub management_fee_bps: Option<i32>,
    pub carry_bps: Option<i32>,
    pub reserve_ratio_bps: Option<i32>,
    pub base_currency: Option<String>,
    pub status: Option<FundStatus>,
    pub first_close_on: Option<Option<NaiveDate>>,
    pub commitment_period_years: Option<i32>,
    pub term_years: Option<i32>,
    pub post_period_fee_bps: Option<Option<i32>>,
    pub post_period_fee_basis: Option<FeeBasis>,
    pub hurdle_bps: Option<i32>,
    pub catch_up_bps: Option<i32>,
    pub waterfall: Option<WaterfallKind>,
}

/// The terms that constrain each other, as they will be once a create or a `PATCH` is applied.
struct TiedTerms {
    carry_bps: i32,
    hurdle_bps: i32,
    catch_up_bps: i32,
    waterfall: WaterfallKind,
    commitment_period_years: i32,
    term_years: i32,
}

impl TiedTerms {
    /// The rules between terms (SPEC §6.6), each a 422 naming the field to change; the database holds
    /// the same rules as CHECKs.
    fn check(&self, p: &mut Problems) {
        p.check(
            self.hurdle_bps == 0 || self.catch_up_bps > self.carry_bps,
            "/catch_up_bps",
            &format!(
                "must exceed carry_bps ({}) when there is a hurdle: the catch-up could never give \
                 the GP its carry",
                self.carry_bps
            ),
        );
        p.check(
            self.waterfall == WaterfallKind::European || self.hurdle_bps == 0,
            "/hurdle_bps",
            "must be 0 with an american (deal-by-deal) waterfall, which has no preferred return",
        );
        p.check(
            self.commitment_period_years <= self.term_years,
            "/commitment_period_years",
            &format!(
                "must not exceed term_years ({}): the commitment period lies within the fund's term",
                self.term_years
            ),
        );
    }

    /// The terms of `current` with the patch's changes.
    fn patched(current: &fund::Model, patch: &FundPatch) -> Self {
        Self {
            carry_bps: patch.carry_bps.unwrap_or(current.carry_bps),
            hurdle_bps: patch.hurdle_bps.unwrap_or(current.hurdle_bps),
            catch_up_bps: patch.catch_up_bps.unwrap_or(current.catch_up_bps),
            waterfall: patch.waterfall.unwrap_or(current.waterfall),
            commitment_period_years: patch
                .commitment_period_years
                .unwrap_or(current.commitment_period_years),
            term_years: patch.term_years.unwrap_or(current.term_years),
        }
    }
}

impl FundPatch {
    fn validate(&self) -> Result<()> {
        let mut p = Problems::default();
        if let Some(name) = &self.name {
            p.check(name_ok(name), "/name", "must be 1 to 255 characters");
        }
        if let Some(size) = self.size_cents {
            p.check(size > Cents::ZERO, "/size_cents", "must be greater than 0");
        }
        if let Some(year) = self.vintage_year {
            p.check(
                (1900..=2200).contains(&year),
                "/vintage_year",
                "must be between 1900 and 2200",
            );
        }
        for (value, pointer) in [
            (self.management_fee_bps, "/management_fee_bps"),
            (self.carry_bps, "/carry_bps"),
            (self.reserve_ratio_bps, "/reserve_ratio_bps"),
            (self.post_period_fee_bps.flatten(), "/post_period_fee_bps"),
            (self.hurdle_bps, "/hurdle_bps"),
            (self.catch_up_bps, "/catch_up_bps"),
        ] {
            if let Some(bps) = value {
                p.check(
                    bps_ok(bps),
                    pointer,
                    "must be between 0 and 10000 basis points",
                );
            }
        }
        if let Some(Some(on)) = self.first_close_on {
            p.check(
                (1900..=2200).contains(&on.year()),
                "/first_close_on",
                "must be a date in the years 1900 to 2200",
            );
        }
        if let Some(years) = self.commitment_period_years {
            p.check(
                (1..=15).contains(&years),
                "/commitment_period_years",
                "must be between 1 and 15 years",
            );
        }
        if let Some(years) = self.term_years {
            p.check(
                (1..=30).contains(&years),
                "/term_years",
                "must be between 1 and 30 years",
            );
        }
        if let Some(currency) = &self.base_currency {
            p.check(
                currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase()),
                "/base_currency",
                "must be an ISO 4217 code of three upper-case letters",
            );
        }
        p.finish()
    }

    /// An active model holding only the fields to change.
    fn into_active(self) -> fund::ActiveModel {
        let mut model = <fund::ActiveModel as Default>::default();
        if let Some(v) = self.name {
            model.name = Set(v.trim().to_owned());
        }
        if let Some(v) = self.size_cents {
            model.size_cents = Set(v.get());
        }
        if let Some(v) = self.vintage_year {
            model.vintage_year = Set(v);
        }
        if let Some(v) = self.management_fee_bps {
            model.management_fee_bps = Set(v);
        }
        if let Some(v) = self.carry_bps {
            model.carry_bps = Set(v);
        }
        if let Some(v) = self.reserve_ratio_bps {
            model.reserve_ratio_bps = Set(v);
        }
        if let Some(v) = self.base_currency {
            model.base_currency = Set(v);
        }
        if let Some(v) = self.status {
            model.status = Set(v);
        }
        if let Some(v) = self.first_close_on {
            model.first_close_on = Set(v);
        }
        if let Some(v) = self.commitment_period_years {
            model.commitment_period_years = Set(v);
        }
        if let Some(v) = self.term_years {
            model.term_years = Set(v);
        }
        if let Some(v) = self.post_period_fee_bps {
            model.post_period_fee_bps = Set(v);
        }
        if let Some(v) = self.post_period_fee_basis {
            model.post_period_fee_basis = Set(v);
        }
        if let Some(v) = self.hurdle_bps {
            model.hurdle_bps = Set(v);
        }
        if let Some(v) = self.catch_up_bps {
            model.catch_up_bps = Set(v);
        }
        if let Some(v) = self.waterfall {
            model.waterfall = Set(v);
        }
        model
    }
}

impl From<NewFund> for FundPatch {
    fn from(f: NewFund) -> Self {
        let t = f.terms;
        Self {
            name: Some(f.name),
            size_cents: Some(f.size_cents),
            vintage_year: Some(f.vintage_year),
            management_fee_bps: Some(f.management_fee_bps),
            carry_bps: Some(f.carry_bps),
            reserve_ratio_bps: Some(f.reserve_ratio_bps),
            base_currency: Some(f.base_currency),
            status: Some(FundStatus::Active),
            first_close_on: Some(t.first_close_on),
            commitment_period_years: Some(t.commitment_period_years),
            term_years: Some(t.term_years),
            post_period_fee_bps: Some(t.post_period_fee_bps),
            post_period_fee_basis: Some(t.post_period_fee_basis),
            hurdle_bps: Some(t.hurdle_bps),
            catch_up_bps: Some(t.catch_up_bps),
            waterfall: Some(t.waterfall),
        }
    }
}

keyed!(fund, FUND_KEY, |f| ResourceRef::Fund(f.id));

/// Creates a fund (admin only: a new fund is outside every scoped key).
#[tracing::instrument(skip_all)]
pub async fn create_fund(
    svc: &Service,
    principal: &Principal,
    input: NewFund,
    idem: Option<Idempotency>,
) -> Result<Outcome<fund::Model>> {
    principal.require_admin()?;
    let tied = TiedTerms {
        carry_bps: input.carry_bps,
        hurdle_bps: input.terms.hurdle_bps,
        catch_up_bps: input.terms.catch_up_bps,
        waterfall: input.terms.waterfall,
        commitment_period_years: input.terms.commitment_period_years,
        term_years: input.terms.term_years,
    };
    let fields = FundPatch::from(input);
    fields.validate()?;
    let mut p = Problems::default();
    tied.check(&mut p);
    p.finish()?;
    let mut row = fields.into_active();
    let at = now();
    row.reserve_plan_version = Set(1);
    row.idempotency_key = Set(idem.as_ref().map(|i| i.key.as_str().to_owned()));
    row.created_at = Set(at);
    row.updated_at = Set(at);
    row.version = Set(1);
    // The fund state's first version (the column's default, set here because the one-statement
    // creation answers from this row without reading it back).
    row.state_version = Set(1);
    row.holdings_version = Set(1);
    idempotency::create_row(
        svc,
        idem,
        KeyedBy::<fund::Entity>::top(),
        row,
        idempotency::no_checks,
    )
    .await
}

#[tracing::instrument(skip_all, fields(fund_id = id))]
pub async fn get_fund(svc: &Service, principal: &Principal, id: i64) -> Result<fund::Model> {
    principal.require_read(id)?;
    require(svc.db.connection(), id).await
}

/// The funds the caller may read, newest first.
#[tracing::instrument(skip_all)]
pub async fn list_funds(
    svc: &Service,
    principal: &Principal,
    page: PageRequest,
) -> Result<Page<fund::Model>> {
    let mut query = fund::Entity::find();
    if let Some(funds) = principal.fund_filter() {
        query = query.filter(fund::Column::Id.is_in(funds.to_vec()));
    }
    pagination::by_id(query, fund::Column::Id, &page, svc.db.connection(), |f| {
        f.id
    })
    .await
}

#[tracing::instrument(skip_all, fields(fund_id = id))]
pub async fn update_fund(
    svc: &Service,
    principal: &Principal,
    id: i64,
    expected_version: i64,
    patch: FundPatch,
) -> Result<fund::Model> {
    principal.require_write(id)?;
    patch.validate()?;
    let conn = svc.db.connection();
    // The rules between terms are checked on the row as the patch leaves it. The update below only
    // applies to the version read here, so the row checked is the row changed.
    let current = require(conn, id).await?;
    if current.version != expected_version {
        return Err(Error::missing_or_stale("fund", id, Some(current.version)));
    }
    let mut p = Problems::default();
    TiedTerms::patched(&current, &patch).check(&mut p);
    p.finish()?;
    let mut model = patch.into_active();
    model.updated_at = Set(now());
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
    match current {
        Some(fund) if result.rows_affected == 1 => Ok(fund),
        other => Err(Error::missing_or_stale(
            "fund",
            id,
            other.map(|f| f.version),
        )),
    }
}

/// Deletes a fund and everything it owns (admin only).
#[tracing::instrument(skip_all, fields(fund_id = id))]
pub async fn delete_fund(
    svc: &Service,
    principal: &Principal,
    id: i64,
    expected_version: i64,
) -> Result<()> {
    principal.require_admin()?;
    let conn = svc.db.connection();
    // The fund's matrices go with it (cascade); their first-tier entries are cleared after.
    let matrix_keys = crate::matrices::store::keys_of_fund(conn, id).await?;
    let result = fund::Entity::delete_many()
        .filter(fund::Column::Id.eq(id))
        .filter(fund::Column::Version.eq(expected_version))
        .exec(conn)
        .await?;
    if result.rows_affected == 1 {
        return crate::matrices::clearing::forget_fund(svc, matrix_keys).await;
    }
    let current = fund::Entity::find_by_id(id).one(conn).await?;
    Err(Error::missing_or_stale(
        "fund",
        id,
        current.map(|f| f.version),
    ))
}

/// The fund, or `NotFound`: the check that a fund-scoped read or create starts with.
pub(crate) async fn require<C: ConnectionTrait>(conn: &C, fund_id: i64) -> Result<fund::Model> {
    fund::Entity::find_by_id(fund_id)
        .one(conn)
        .await?
        .ok_or_else(|| Error::not_found("fund", fund_id))
}
