//! Hand-written JSON for the largest responses.
//!
//! A fund's MOIC carries every lot: ten thousand lots are three megabytes of JSON, and serde_json spends
//! most of its time there escaping field names it already knows to be plain and formatting decimals
//! through `Display`. The types implementing [`WriteJson`] write the same document directly: static
//! keys, integers by `itoa`, decimals from their integer mantissa. Strings that come from users and enum
//! names still go through serde_json, so escaping and renaming stay serde's.
//!
//! Every implementation must produce exactly what `#[derive(Serialize)]` on the same type produces (that
//! derive also feeds the OpenAPI schema); `tests` compares the two on documents with every variant.

use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

/// A value that can write itself as JSON into a byte buffer.
pub trait WriteJson {
    fn write_json(&self, out: &mut JsonOut);
}

/// The buffer being written, with the few primitives the encoders need.
pub struct JsonOut {
    buf: Vec<u8>,
}

impl JsonOut {
    pub fn with_capacity(bytes: usize) -> Self {
        Self {
            buf: Vec::with_capacity(bytes),
        }
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Raw bytes: punctuation and `"key":` literals written by the encoders themselves.
    pub fn raw(&mut self, bytes: &str) {
        self.buf.extend_from_slice(bytes.as_bytes());
    }

    pub fn int(&mut self, value: i64) {
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    /// A decimal as a JSON string showing exactly its own scale (`DecimalText` has fixed it already).
    pub fn decimal(&mut self, value: Decimal) {
        self.buf.push(b'"');
        push_decimal(&mut self.buf, value);
        self.buf.push(b'"');
    }

    pub fn uuid(&mut self, value: Uuid) {
        self.buf.push(b'"');
        let mut text = Uuid::encode_buffer();
        self.buf
            .extend_from_slice(value.hyphenated().encode_lower(&mut text).as_bytes());
        self.buf.push(b'"');
    }

    /// Anything else (user-supplied strings, enums, dates, small nested objects), through serde_json.
    pub fn serde<T: Serialize + ?Sized>(&mut self, value: &T) {
        // Writing into a Vec cannot fail, and our DTOs have no fallible Serialize impls.
        let _ = serde_json::to_writer(&mut self.buf, value);
    }

    /// `[a,b,…]` of items written by their own encoder.
    pub fn array<T: WriteJson>(&mut self, items: &[T]) {
        self.buf.push(b'[');
        self.items(items);
        self.buf.push(b']');
    }

    /// `a,b,…`: the inside of an array.
    pub fn items<T: WriteJson>(&mut self, items: &[T]) {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.buf.push(b',');
            }
            item.write_json(self);
        }
    }

    /// `[a,b,…]` of many items, the second half written on another thread (a 10,000-lot array takes a
    /// few milliseconds to write).
    pub fn array_in_parallel<T: WriteJson + Sync>(&mut self, items: &[T]) {
        let (first, second) = items.split_at(items.len() / 2);
        self.buf.push(b'[');
        let room = self.buf.capacity().saturating_sub(self.buf.len()) / 2;
        std::thread::scope(|scope| {
            let later = scope.spawn(move || {
                let mut tail = JsonOut::with_capacity(room);
                tail.items(second);
                tail
            });
            self.items(first);
            // Writing JSON cannot panic short of a bug; if it did, it is propagated as such.
            let tail = later
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e));
            if !first.is_empty() && !second.is_empty() {
                self.buf.push(b',');
            }
            self.buf.extend_from_slice(&tail.buf);
        });
        self.buf.push(b']');
    }
}

/// Writes `value` in plain decimal notation with exactly its scale: `2.000000`, `-0.500000`, `1000.5`.
/// Zero is never signed. Identical to `Decimal`'s `Display` for every value our DTOs hold.
pub fn push_decimal(out: &mut Vec<u8>, value: Decimal) {
    let mantissa = value.mantissa();
    let scale = value.scale() as usize;
    if mantissa < 0 {
        out.push(b'-');
    }
    let mut digits_buf = itoa::Buffer::new();
    let magnitude = mantissa.unsigned_abs();
    // 128-bit formatting divides in software; almost every value fits in 64 bits.
    let digits = match u64::try_from(magnitude) {
        Ok(small) => digits_buf.format(small),
        Err(_) => digits_buf.format(magnitude),
    }
    .as_bytes();
    if scale == 0 {
        out.extend_from_slice(digits);
    } else if digits.len() > scale {
        let (whole, fraction) = digits.split_at(digits.len() - scale);
        out.extend_from_slice(whole);
        out.push(b'.');
        out.extend_from_slice(fraction);
    } else {
        out.extend_from_slice(b"0.");
        out.resize(out.len() + scale - digits.len(), b'0');
        out.extend_from_slice(digits);
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn text(value: &str) -> String {
        let mut out = Vec::new();
        push_decimal(&mut out, Decimal::from_str(value).unwrap());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn decimals_are_written_in_plain_notation_with_their_scale() {
        assert_eq!(text("2.000000"), "2.000000");
        assert_eq!(text("1000.5"), "1000.5");
        assert_eq!(text("0.000001"), "0.000001");
        assert_eq!(text("-0.500000"), "-0.500000");
        assert_eq!(
            text("12345678901234567890.12345678"),
            "12345678901234567890.12345678"
        );
        assert_eq!(text("42"), "42");
        assert_eq!(text("-0.000000"), "0.000000");
    }

    #[test]
    fn decimals_match_display_for_many_values() {
        for m in [-1_234_567_891i64, -1, 0, 1, 7, 99, 100_000_000, i64::MAX] {
            for scale in [0u32, 1, 6, 8, 12] {
                let d = Decimal::new(m, scale);
                let mut out = Vec::new();
                push_decimal(&mut out, d);
                assert_eq!(
                    String::from_utf8(out).unwrap(),
                    d.to_string(),
                    "{m} scale {scale}"
                );
            }
        }
    }
}
