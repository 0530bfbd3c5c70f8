//! RFC 8785 JSON Canonicalization Scheme (JCS) and SHA-256 fingerprints.
//!
//! The canonical form is: no insignificant whitespace, object members sorted by their names compared
//! as UTF-16 code units, strings with the minimal JSON escapes, and numbers in their shortest
//! round-tripping form (integers as integers). Fingerprints of requests (SPEC §4) and snapshot source
//! hashes (SPEC §7) are the SHA-256 of this form, so that key order and whitespace never change a hash.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The canonical JSON text of `value`.
pub fn to_canonical_string(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, &mut out);
    out
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Lowercase hex SHA-256 of the canonical form of `value`.
pub fn canonical_sha256(value: &Value) -> String {
    sha256_hex(to_canonical_string(value).as_bytes())
}

fn write_value(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, (name, member)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(name, out);
                out.push(':');
                write_value(member, out);
            }
            out.push('}');
        }
    }
}

fn write_number(n: &serde_json::Number, out: &mut String) {
    if let Some(i) = n.as_i64() {
        out.push_str(&i.to_string());
    } else if let Some(u) = n.as_u64() {
        out.push_str(&u.to_string());
    } else if let Some(f) = n.as_f64() {
        // ECMAScript formatting: integral values without a fraction, otherwise the shortest
        // representation that round-trips (which is what Rust's float `Display` produces), with
        // exponents for very large or small magnitudes as ECMAScript does.
        if f == f.trunc() && f.abs() < 1e21 {
            out.push_str(&format!("{f:.0}"));
        } else if f.abs() >= 1e21 || f.abs() < 1e-6 {
            let s = format!("{f:e}");
            // Rust writes `1e21` / `1.5e-7`; ECMAScript writes `1e+21` / `1.5e-7`.
            match s.split_once('e') {
                Some((mantissa, exp)) if !exp.starts_with('-') => {
                    out.push_str(&format!("{mantissa}e+{exp}"))
                }
                _ => out.push_str(&s),
            }
        } else {
            out.push_str(&f.to_string());
        }
    }
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0C}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn members_are_sorted_and_whitespace_is_dropped() {
        let value: Value =
            serde_json::from_str(r#"{ "b": [1, 2, {"z": null, "a": true}], "a": "x" }"#).unwrap();
        assert_eq!(
            to_canonical_string(&value),
            r#"{"a":"x","b":[1,2,{"a":true,"z":null}]}"#
        );
    }

    #[test]
    fn key_order_does_not_change_the_hash() {
        let a = json!({"name": "Fund I", "size_cents": 100, "nested": {"x": 1, "y": 2}});
        let b: Value =
            serde_json::from_str(r#"{"nested":{"y":2,"x":1},"size_cents":100,"name":"Fund I"}"#)
                .unwrap();
        assert_eq!(canonical_sha256(&a), canonical_sha256(&b));
        assert_ne!(
            canonical_sha256(&a),
            canonical_sha256(&json!({"name": "Fund II", "size_cents": 100}))
        );
    }

    #[test]
    fn names_sort_by_utf16_code_units_as_rfc_8785_requires() {
        // U+FB33 sorts before U+1F600 by code point (and in UTF-8), but after it in UTF-16, where U+1F600
        // is the surrogate pair D83D DE00. JCS uses UTF-16 order.
        let value = json!({"\u{fb33}": 1, "\u{1f600}": 2, "a": 3, "\r": 4, "\u{20ac}": 5});
        assert_eq!(
            to_canonical_string(&value),
            "{\"\\r\":4,\"a\":3,\"\u{20ac}\":5,\"\u{1f600}\":2,\"\u{fb33}\":1}"
        );
    }

    #[test]
    fn strings_use_minimal_escapes_and_numbers_their_shortest_form() {
        let value = json!({"s": "tab\there \"q\" \u{0001} é", "i": -42, "f": 1.5, "big": 1e21, "e": 4.5e-7, "z": 10.0});
        assert_eq!(
            to_canonical_string(&value),
            "{\"big\":1e+21,\"e\":4.5e-7,\"f\":1.5,\"i\":-42,\"s\":\"tab\\there \\\"q\\\" \\u0001 é\",\"z\":10}"
        );
    }

    #[test]
    fn the_sha256_of_a_known_text_is_the_published_one() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
