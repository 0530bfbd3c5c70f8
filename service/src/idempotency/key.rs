//! An `Idempotency-Key` and what it is bound to: the request's scope, principal and canonical body.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::canonical::canonical_sha256;
use crate::error::Result;

/// An `Idempotency-Key` header value: 1..255 visible ASCII characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_LEN: usize = 255;

    pub fn parse(raw: &str) -> std::result::Result<Self, String> {
        if raw.is_empty() {
            return Err("must not be empty".into());
        }
        if raw.len() > Self::MAX_LEN {
            return Err(format!("must be at most {} characters", Self::MAX_LEN));
        }
        if !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("must contain only visible ASCII characters (no spaces)".into());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What identifies one idempotent request.
#[derive(Clone, Debug)]
pub struct Idempotency {
    /// The route and its parent resource, e.g. `POST /api/v1/funds/1/investments/5/lots`.
    pub scope: String,
    pub key: IdempotencyKey,
    /// SHA-256 of the canonical request: scope, principal and canonical body.
    pub fingerprint: String,
    pub principal: Option<Uuid>,
}

impl Idempotency {
    pub fn new(
        scope: String,
        key: IdempotencyKey,
        principal: Option<Uuid>,
        body: &Value,
    ) -> Result<Self> {
        let fingerprint = canonical_sha256(&json!({
            "scope": scope,
            "principal": principal.map(|p| p.to_string()),
            "body": body,
        }))?;
        Ok(Self {
            scope,
            key,
            fingerprint,
            principal,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_must_be_one_to_255_visible_ascii_characters() {
        assert!(IdempotencyKey::parse("a").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_err());
        assert!(IdempotencyKey::parse("has space").is_err());
        assert!(IdempotencyKey::parse("tab\t").is_err());
        assert!(IdempotencyKey::parse("é").is_err());
    }

    #[test]
    fn the_fingerprint_ignores_key_order_but_not_content_scope_or_principal() {
        let key = IdempotencyKey::parse("k").unwrap();
        let p = Some(Uuid::now_v7());
        let a =
            Idempotency::new("POST /x".into(), key.clone(), p, &json!({"a": 1, "b": 2})).unwrap();
        let b = Idempotency::new(
            "POST /x".into(),
            key.clone(),
            p,
            &serde_json::from_str(r#"{"b":2,"a":1}"#).unwrap(),
        )
        .unwrap();
        assert_eq!(a.fingerprint, b.fingerprint);
        let other_body =
            Idempotency::new("POST /x".into(), key.clone(), p, &json!({"a": 1, "b": 3})).unwrap();
        let other_scope =
            Idempotency::new("POST /y".into(), key.clone(), p, &json!({"a": 1, "b": 2})).unwrap();
        let other_principal = Idempotency::new(
            "POST /x".into(),
            key,
            Some(Uuid::now_v7()),
            &json!({"a": 1, "b": 2}),
        )
        .unwrap();
        assert_ne!(a.fingerprint, other_body.fingerprint);
        assert_ne!(a.fingerprint, other_scope.fingerprint);
        assert_ne!(a.fingerprint, other_principal.fingerprint);
    }
}
