//! `matrix_key` (SPEC §9): the SHA-256 of a config's canonical form, so that equal configs share one
//! matrix. The canonical form carries a key version, sorts the buckets by name (bytewise), rounds every
//! number to 5 decimals, writes disabled recycling one way, and keeps the seed.

use serde_json::{Value, json};

use crate::calc::scenarios::{Bucket, MatrixConfig, units_of_five_decimals};
use crate::canonical::canonical_sha256;
use crate::error::Result;

/// Changes whenever the canonical form does, so that no key of one form is read as the other.
pub const KEY_VERSION: u32 = 1;

/// A number rounded to 5 decimals, written as a decimal string (not a float, so that no
/// float formatting can change a key).
fn five(v: f64) -> Value {
    let units = units_of_five_decimals(v);
    let sign = if units < 0 { "-" } else { "" };
    let units = units.unsigned_abs();
    Value::String(format!("{sign}{}.{:05}", units / 100_000, units % 100_000))
}

/// The canonical config: what the key is the hash of, and what is stored with the matrix (a hit whose
/// stored canonical config differs from the request's is never served).
pub fn canonical_config(config: &MatrixConfig) -> Value {
    let mut buckets: Vec<&Bucket> = config.buckets.iter().collect();
    buckets.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    let recycling = if config.recycling.enabled {
        json!({
            "enabled": true,
            "mode": config.recycling.mode,
            "reinvestment_rate": config.recycling.reinvestment_rate.map(five),
        })
    } else {
        json!({"enabled": false})
    };
    json!({
        "key_version": KEY_VERSION,
        "fund_id": config.fund_id,
        "taxonomy_version": config.taxonomy_version,
        "num_scenarios": config.num_scenarios,
        // A string: a u64 seed beyond 2^53 would not survive a JSON number.
        "seed": config.seed.to_string(),
        "buckets": buckets.iter().map(|b| {
            let mut bucket = json!({
                "name": b.name,
                "capital_allocation_pct": five(b.capital_allocation_pct),
                "moic_median": five(b.moic_median),
                "moic_p90": five(b.moic_p90),
            });
            // Only when set: an uncapped bucket keeps the key it had before caps existed.
            if let Some(cap) = b.moic_cap {
                bucket["moic_cap"] = json!(five(cap));
            }
            bucket
        }).collect::<Vec<_>>(),
        "correlation_weights": {
            "macro": five(config.correlation_weights.macro_),
            "systematic": five(config.correlation_weights.systematic),
            "idiosyncratic": five(config.correlation_weights.idiosyncratic),
        },
        "recycling": recycling,
    })
}

/// The matrix key: lowercase hex SHA-256 of the canonical config's RFC 8785 form.
pub fn matrix_key(config: &MatrixConfig) -> Result<String> {
    canonical_sha256(&canonical_config(config))
}

/// The config that a canonical form stands for: buckets in key order, numbers at 5 decimals. Reads what
/// [`canonical_config`] wrote (a stored matrix's config); `None` if it is not such a form.
pub fn from_canonical(value: &Value) -> Option<MatrixConfig> {
    use super::{Bucket, CorrelationWeights, Recycling};
    let number = |v: &Value| v.as_str()?.parse::<f64>().ok();
    if value.get("key_version")?.as_u64()? != u64::from(KEY_VERSION) {
        return None;
    }
    let buckets = value
        .get("buckets")?
        .as_array()?
        .iter()
        .map(|b| {
            Some(Bucket {
                name: b.get("name")?.as_str()?.to_owned(),
                capital_allocation_pct: number(b.get("capital_allocation_pct")?)?,
                moic_median: number(b.get("moic_median")?)?,
                moic_p90: number(b.get("moic_p90")?)?,
                moic_cap: match b.get("moic_cap") {
                    Some(cap) => Some(number(cap)?),
                    None => None,
                },
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let w = value.get("correlation_weights")?;
    let r = value.get("recycling")?;
    let enabled = r.get("enabled")?.as_bool()?;
    Some(MatrixConfig {
        fund_id: value.get("fund_id")?.as_i64()?,
        taxonomy_version: value.get("taxonomy_version")?.as_str()?.to_owned(),
        num_scenarios: u32::try_from(value.get("num_scenarios")?.as_u64()?).ok()?,
        seed: value.get("seed")?.as_str()?.parse().ok()?,
        buckets,
        correlation_weights: CorrelationWeights {
            macro_: number(w.get("macro")?)?,
            systematic: number(w.get("systematic")?)?,
            idiosyncratic: number(w.get("idiosyncratic")?)?,
        },
        recycling: Recycling {
            enabled,
            mode: if enabled {
                r.get("mode")?.as_str().map(str::to_owned)
            } else {
                None
            },
            reinvestment_rate: if enabled {
                r.get("reinvestment_rate").and_then(number)
            } else {
                None
            },
        },
    })
}
