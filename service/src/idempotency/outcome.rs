//! What a create answers, in the domain's words (SPEC §1): the service says *what happened* — created,
//! already there, queued, or a retry of a request already answered — and the API chooses the status,
//! the headers and the bytes.
//!
//! One exception is structural: a retry is answered with the bytes recorded for its key (SPEC §4), and
//! those are written by the API. The service obtains them through one trait, [`Recorder`], that it calls
//! inside the create's transaction (only for a request that carries a key), stores them with the record,
//! and hands them back untouched as [`Outcome::Replayed`]. It never reads them.

use entity::{
    api_key, company_mark, distribution, forecast_snapshot, fund, fund_forecast, investment,
    investment_lot, optimization_session, portfolio_company,
};

use crate::error::Result;
use crate::matrices::record::MatrixRecord;

/// What a create did.
#[derive(Debug)]
pub enum Outcome<T> {
    /// Written by this request.
    Created(T),
    /// Already there: this request wrote nothing new (a stored matrix, a snapshot of the same state).
    Existing(T),
    /// Written by this request, with work queued for a worker (poll it).
    Queued(T),
    /// A retry of a request already answered: the reply recorded then, to send again as it was.
    Replayed(Reply),
}

/// The three fresh outcomes, without their value: what the reply to one depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fresh {
    Created,
    Existing,
    Queued,
}

impl<T> Outcome<T> {
    /// The value and how it came, unless this is a replay.
    pub fn fresh(&self) -> Option<(Fresh, &T)> {
        match self {
            Self::Created(v) => Some((Fresh::Created, v)),
            Self::Existing(v) => Some((Fresh::Existing, v)),
            Self::Queued(v) => Some((Fresh::Queued, v)),
            Self::Replayed(_) => None,
        }
    }

    /// The value and how it came, or the reply of a replay.
    pub fn into_fresh(self) -> std::result::Result<(Fresh, T), Reply> {
        match self {
            Self::Created(v) => Ok((Fresh::Created, v)),
            Self::Existing(v) => Ok((Fresh::Existing, v)),
            Self::Queued(v) => Ok((Fresh::Queued, v)),
            Self::Replayed(r) => Err(r),
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Outcome<U> {
        match self {
            Self::Created(v) => Outcome::Created(f(v)),
            Self::Existing(v) => Outcome::Existing(f(v)),
            Self::Queued(v) => Outcome::Queued(f(v)),
            Self::Replayed(r) => Outcome::Replayed(r),
        }
    }

    /// Whether this request queued work (a worker should look now).
    pub fn queued(&self) -> bool {
        matches!(self, Self::Queued(_))
    }
}

/// A reply as the API wrote it for an idempotency record, and as the record keeps it: the columns
/// `status_code`, `response_body` and `location` of `idempotency_records`. Opaque to the service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub status_code: i16,
    pub body: Vec<u8>,
    pub location: Option<String>,
}

/// Everything a create can answer with, for the [`Recorder`]: one variant per created type, so that a new
/// one does not compile until the API writes its reply.
#[derive(Clone, Copy, Debug)]
pub enum Resource<'a> {
    Fund(&'a fund::Model),
    Company(&'a portfolio_company::Model),
    Investment(&'a investment::Model),
    Lot(&'a investment_lot::Model),
    Distribution(&'a distribution::Model),
    Mark(&'a company_mark::Model),
    Snapshot(&'a forecast_snapshot::Summary),
    Forecast(&'a fund_forecast::Summary),
    /// The key's row: its secret never reaches the record (SPEC §4.9).
    ApiKey(&'a api_key::Model),
    Matrix(&'a MatrixRecord),
    Optimization(&'a optimization_session::Model),
}

/// A value a create answers with.
pub trait Recordable {
    fn resource(&self) -> Resource<'_>;
}

/// Writes the reply that an idempotency record keeps (SPEC §1, §4). Implemented once, by the API; held by
/// [`Service`](crate::Service) and called by the create path inside the create's transaction. The reply
/// must not hold a secret (SPEC §4.9): a replay sends exactly these bytes.
pub trait Recorder: Send + Sync {
    fn reply(&self, fresh: Fresh, resource: Resource<'_>) -> Result<Reply>;
}

macro_rules! recordable {
    ($($ty:ty => $variant:ident),* $(,)?) => {$(
        impl Recordable for $ty {
            fn resource(&self) -> Resource<'_> {
                Resource::$variant(self)
            }
        }
    )*};
}

recordable! {
    fund::Model => Fund,
    portfolio_company::Model => Company,
    investment::Model => Investment,
    investment_lot::Model => Lot,
    distribution::Model => Distribution,
    company_mark::Model => Mark,
    forecast_snapshot::Summary => Snapshot,
    fund_forecast::Summary => Forecast,
    api_key::Model => ApiKey,
    MatrixRecord => Matrix,
    optimization_session::Model => Optimization,
}
