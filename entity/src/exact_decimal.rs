//! `ExactDecimal`: a `rust_decimal::Decimal` that survives both backends unchanged.
//!
//! PostgreSQL stores it as `numeric(p, s)` and decodes it to `Decimal` exactly. SQLite has no exact
//! decimal type, so the migrations store the text form there; SeaORM binds a `Decimal` to SQLite as text
//! but decodes only through `f64`, which fails on a TEXT value (and would lose digits on a REAL one).
//! This type decodes `Decimal` first and falls back to parsing the column's text.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use sea_orm::sea_query::{ArrayType, ColumnType, Nullable, ValueType, ValueTypeErr};
use sea_orm::{ColIdx, DbErr, QueryResult, TryGetError, TryGetable, Value};
use serde::{Deserialize, Serialize};

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct ExactDecimal(pub Decimal);

impl ExactDecimal {
    pub fn new(value: Decimal) -> Self {
        Self(value)
    }

    pub fn get(self) -> Decimal {
        self.0
    }
}

impl From<Decimal> for ExactDecimal {
    fn from(value: Decimal) -> Self {
        Self(value)
    }
}

impl From<ExactDecimal> for Decimal {
    fn from(value: ExactDecimal) -> Self {
        value.0
    }
}

impl fmt::Display for ExactDecimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<ExactDecimal> for Value {
    fn from(value: ExactDecimal) -> Self {
        Value::Decimal(Some(value.0))
    }
}

impl TryGetable for ExactDecimal {
    fn try_get_by<I: ColIdx>(res: &QueryResult, idx: I) -> Result<Self, TryGetError> {
        match Decimal::try_get_by(res, idx) {
            Ok(value) => Ok(Self(value)),
            Err(TryGetError::Null(column)) => Err(TryGetError::Null(column)),
            // SQLite: the column holds the decimal's text form.
            Err(decimal_err) => match String::try_get_by(res, idx) {
                Ok(text) => Decimal::from_str(&text).map(Self).map_err(|e| {
                    TryGetError::DbErr(DbErr::Type(format!("not an exact decimal: {text:?} ({e})")))
                }),
                Err(_) => Err(decimal_err),
            },
        }
    }
}

impl ValueType for ExactDecimal {
    fn try_from(v: Value) -> Result<Self, ValueTypeErr> {
        match v {
            Value::Decimal(Some(d)) => Ok(Self(d)),
            Value::String(Some(s)) => Decimal::from_str(&s).map(Self).map_err(|_| ValueTypeErr),
            _ => Err(ValueTypeErr),
        }
    }

    fn type_name() -> String {
        "ExactDecimal".to_owned()
    }

    fn array_type() -> ArrayType {
        ArrayType::Decimal
    }

    fn column_type() -> ColumnType {
        ColumnType::Decimal(None)
    }
}

impl Nullable for ExactDecimal {
    fn null() -> Value {
        Value::Decimal(None)
    }
}

impl sea_orm::IntoActiveValue<ExactDecimal> for ExactDecimal {
    fn into_active_value(self) -> sea_orm::ActiveValue<ExactDecimal> {
        sea_orm::ActiveValue::Set(self)
    }
}
