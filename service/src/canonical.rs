//! RFC 8785 JSON Canonicalization Scheme (JCS) and SHA-256 fingerprints.
//!
//! The canonical form (no insignificant whitespace, members sorted by their UTF-16 code units, minimal
//! string escapes, numbers in ECMAScript's shortest form) comes from the maintained
//! `serde_json_canonicalizer` crate (docs/DECISIONS.md). Fingerprints of requests (SPEC §4) and snapshot
//! source hashes (SPEC §7) are the SHA-256 of this form, so that key order and whitespace never change
//! a hash. The tests below hold the crate to the RFC's rules, so that a change of crate cannot change
//! a stored hash unnoticed.
//!
//! - `canon-json`, 1.4–1.8× faster, was tried and refused: it breaks ECMAScript's ties between two
//!   shortest forms the other way (the double -902822567248892.25 as `…892.3`, where ECMAScript writes
//!   `…892.2`), which would change the key of a matrix whose config holds such a number.
//! - RFC 8785 numbers are IEEE doubles: two integers beyond ±(2^53 − 1) may print alike. The API refuses
//!   such integers (422, SPEC §2), so that every fingerprinted document keeps each integer exact.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The canonical JSON text of `value` (a `serde_json::Value`, or any serializable value: the text is the
/// same as that of the `Value` it would convert to).
pub fn to_canonical_string<T: Serialize>(value: &T) -> Result<String> {
    serde_json_canonicalizer::to_string(value)
        .map_err(|e| Error::Invariant(format!("canonical JSON: {e}")))
}

/// Writes `value` as `serde_json` writes it, into `out`, and returns the SHA-256 (lowercase hex) of what
/// it wrote — for types whose serialization *is* canonical: every struct inside declares its fields in
/// RFC 8785 order, every map is sorted by its keys' names (`option_map_by_name`), and no float or
/// integer beyond ±(2^53 − 1) occurs. Streamed, where the canonicalizer buffers every member of every
/// object until the object ends (the whole document, for its outermost one: tens of megabytes for a
/// 100,000-lot fund). Debug builds, and so every test, check the claim against the canonicalizer on
/// every call, so that a field declared out of order cannot change a hash unnoticed.
pub fn write_in_declared_order<T: Serialize, W: std::io::Write>(
    value: &T,
    out: &mut W,
) -> Result<String> {
    #[cfg(debug_assertions)]
    {
        let declared = serde_json::to_string(value)
            .map_err(|e| Error::Invariant(format!("declared-order JSON: {e}")))?;
        if declared != to_canonical_string(value)? {
            return Err(Error::Invariant(format!(
                "{} does not serialize in canonical order: {declared:.300}",
                std::any::type_name::<T>()
            )));
        }
    }
    let mut hashing = Hashing {
        sha: Sha256::new(),
        out,
    };
    serde_json::to_writer(&mut hashing, value)
        .map_err(|e| Error::Invariant(format!("declared-order JSON: {e}")))?;
    Ok(hex::encode(hashing.sha.finalize()))
}

/// Serializes an optional map in the order of its keys' JSON names (RFC 8785's member order), whatever
/// the keys' own order — e.g. a map by `Stage`, whose variants are not in the order of their names.
pub fn option_map_by_name<K, V, S>(
    map: &Option<std::collections::BTreeMap<K, V>>,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error>
where
    K: Serialize,
    V: Serialize,
    S: serde::Serializer,
{
    use serde::ser::Error as _;
    struct ByName<'a, V>(Vec<(String, &'a V)>);
    impl<V: Serialize> Serialize for ByName<'_, V> {
        fn serialize<S: serde::Serializer>(
            &self,
            serializer: S,
        ) -> std::result::Result<S::Ok, S::Error> {
            serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
        }
    }
    let Some(map) = map else {
        return serializer.serialize_none();
    };
    let mut named = Vec::with_capacity(map.len());
    for (key, value) in map {
        match serde_json::to_value(key).map_err(S::Error::custom)? {
            serde_json::Value::String(name) => named.push((name, value)),
            other => return Err(S::Error::custom(format!("a map key named {other}"))),
        }
    }
    named.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
    serializer.serialize_some(&ByName(named))
}

/// Passes what is written on to `out` and hashes it.
struct Hashing<'a, W> {
    sha: Sha256,
    out: &'a mut W,
}

impl<W: std::io::Write> std::io::Write for Hashing<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.sha.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Lowercase hex SHA-256 of the canonical form of `value`.
pub fn canonical_sha256<T: Serialize>(value: &T) -> Result<String> {
    Ok(sha256_hex(to_canonical_string(value)?.as_bytes()))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn members_are_sorted_and_whitespace_is_dropped() {
        let value: Value =
            serde_json::from_str(r#"{ "b": [1, 2, {"z": null, "a": true}], "a": "x" }"#).unwrap();
        assert_eq!(
            to_canonical_string(&value).unwrap(),
            r#"{"a":"x","b":[1,2,{"a":true,"z":null}]}"#
        );
    }

    #[test]
    fn key_order_does_not_change_the_hash() {
        let a = json!({"name": "Fund I", "size_cents": 100, "nested": {"x": 1, "y": 2}});
        let b: Value =
            serde_json::from_str(r#"{"nested":{"y":2,"x":1},"size_cents":100,"name":"Fund I"}"#)
                .unwrap();
        assert_eq!(canonical_sha256(&a).unwrap(), canonical_sha256(&b).unwrap());
        assert_ne!(
            canonical_sha256(&a).unwrap(),
            canonical_sha256(&json!({"name": "Fund II", "size_cents": 100})).unwrap()
        );
    }

    #[test]
    fn names_sort_by_utf16_code_units_as_rfc_8785_requires() {
        // U+FB33 sorts before U+1F600 by code point (and in UTF-8), but after it in UTF-16, where U+1F600
        // is the surrogate pair D83D DE00. JCS uses UTF-16 order.
        let value = json!({"\u{fb33}": 1, "\u{1f600}": 2, "a": 3, "\r": 4, "\u{20ac}": 5});
        assert_eq!(
            to_canonical_string(&value).unwrap(),
            "{\"\\r\":4,\"a\":3,\"\u{20ac}\":5,\"\u{1f600}\":2,\"\u{fb33}\":1}"
        );
    }

    #[test]
    fn strings_use_minimal_escapes_and_numbers_their_shortest_form() {
        let value = json!({"s": "tab\there \"q\" \u{0001} é", "i": -42, "f": 1.5, "big": 1e21, "e": 4.5e-7, "z": 10.0});
        assert_eq!(
            to_canonical_string(&value).unwrap(),
            "{\"big\":1e+21,\"e\":4.5e-7,\"f\":1.5,\"i\":-42,\"s\":\"tab\\there \\\"q\\\" \\u0001 é\",\"z\":10}"
        );
    }

    #[test]
    fn the_largest_safe_integers_keep_every_digit_and_their_own_fingerprint() {
        let max = 9_007_199_254_740_991_i64; // 2^53 − 1, the largest integer the API accepts
        let a = json!({"amount_cents": max, "other": -max});
        let b = json!({"amount_cents": max - 1, "other": -max});
        assert_eq!(
            to_canonical_string(&a).unwrap(),
            r#"{"amount_cents":9007199254740991,"other":-9007199254740991}"#
        );
        assert_ne!(canonical_sha256(&a).unwrap(), canonical_sha256(&b).unwrap());
    }

    #[test]
    fn a_double_halfway_between_two_shortest_forms_is_written_as_ecmascript_writes_it() {
        // -902822567248892.25 exactly: `String(-902822567248892.2)` in JavaScript is "-902822567248892.2".
        let value = json!([-902_822_567_248_892.2_f64]);
        assert_eq!(to_canonical_string(&value).unwrap(), "[-902822567248892.2]");
    }

    #[test]
    fn the_sha256_of_a_known_text_is_the_published_one() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;
    use serde_json::{Map, Value};

    use super::*;

    /// Arbitrary JSON: nulls, booleans, integers, finite floats, strings (any Unicode), arrays, objects.
    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            "\\PC{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                prop::collection::vec(("\\PC{0,8}", inner), 0..6)
                    .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
            ]
        })
    }

    /// The same value with every object's members inserted in reverse order.
    fn reordered(v: &Value) -> Value {
        match v {
            Value::Array(items) => Value::Array(items.iter().map(reordered).collect()),
            Value::Object(members) => {
                let mut out = Map::new();
                for (k, v) in members.iter().rev() {
                    out.insert(k.clone(), reordered(v));
                }
                Value::Object(out)
            }
            other => other.clone(),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// Any JSON value has one canonical form and fingerprint, whatever its members' order, and its
        /// canonical text parses back to the same value.
        #[test]
        fn any_json_has_one_fingerprint(value in json()) {
            let text = to_canonical_string(&value).unwrap();
            prop_assert_eq!(to_canonical_string(&reordered(&value)).unwrap(), text.clone());
            prop_assert_eq!(
                canonical_sha256(&reordered(&value)).unwrap(),
                canonical_sha256(&value).unwrap()
            );
            let back: Value = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(to_canonical_string(&back).unwrap(), text);
        }
    }
}
