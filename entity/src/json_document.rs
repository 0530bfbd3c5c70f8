//! `JsonDocument`: a JSON document stored as what it is (issue #25) — its canonical bytes (RFC 8785)
//! in one zstd frame carrying its content checksum, in a `bytea` (PostgreSQL) or BLOB (SQLite) column,
//! labelled by the row's `document_codec` (`zstd`). The database never parses it.
//!
//! Read, it is unpacked and checked to be JSON at once, so that whoever holds one holds valid JSON text
//! (a corrupt document fails the read as a type error, like any value that is not what its column
//! says). [`pack`] is the one way to write one.

use std::io::Write;
use std::sync::Arc;

use sea_orm::sea_query::{ArrayType, ColumnType, Nullable, ValueType, ValueTypeErr};
use sea_orm::{ColIdx, DbErr, QueryResult, TryGetError, TryGetable, Value};
use serde_json::value::RawValue;

/// The label of the only codec there is (`document_codec`).
pub const CODEC: &str = "zstd";

/// zstd's level: fast to write (a capture is on a request's path), 4–6× smaller than the text.
const LEVEL: i32 = 3;

/// A stored JSON document, unpacked (shared: an answer embeds it without copying megabytes).
#[derive(Clone, Debug)]
pub struct JsonDocument(Arc<RawValue>);

impl JsonDocument {
    /// The document's JSON text, as stored (canonical).
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// The document, for embedding as it is in an answer.
    pub fn raw(&self) -> &RawValue {
        &self.0
    }
}

impl serde::Serialize for JsonDocument {
    /// The document as it is stored, embedded without being parsed again.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (*self.0).serialize(serializer)
    }
}

impl PartialEq for JsonDocument {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Eq for JsonDocument {}

fn packing_failed(e: std::io::Error) -> DbErr {
    DbErr::Type(format!("packing a JSON document: {e}"))
}

/// Packs a document as its text is written into it, so that the text need not be held whole. A
/// serializer writes token by token: the buffer hands zstd 64 KB at a time.
pub struct Packer(std::io::BufWriter<zstd::stream::Encoder<'static, Vec<u8>>>);

impl Packer {
    pub fn new() -> Result<Self, DbErr> {
        let mut encoder = zstd::stream::Encoder::new(Vec::new(), LEVEL).map_err(packing_failed)?;
        encoder.include_checksum(true).map_err(packing_failed)?;
        Ok(Self(std::io::BufWriter::with_capacity(64 * 1024, encoder)))
    }

    /// The stored bytes of everything written.
    pub fn finish(self) -> Result<Vec<u8>, DbErr> {
        let encoder = self
            .0
            .into_inner()
            .map_err(|e| packing_failed(e.into_error()))?;
        encoder.finish().map_err(packing_failed)
    }
}

impl Write for Packer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// The stored bytes of a document's canonical text.
pub fn pack(canonical: &str) -> Result<Vec<u8>, DbErr> {
    let mut packer = Packer::new()?;
    packer
        .write_all(canonical.as_bytes())
        .map_err(packing_failed)?;
    packer.finish()
}

/// The JSON text of stored bytes, checked (zstd's checksum, UTF-8, JSON).
pub fn unpack(stored: &[u8]) -> Result<String, DbErr> {
    let bytes = zstd::stream::decode_all(stored).map_err(|e| {
        DbErr::Type(format!(
            "a stored JSON document is not a {CODEC} frame: {e}"
        ))
    })?;
    String::from_utf8(bytes)
        .map_err(|e| DbErr::Type(format!("a stored JSON document is not UTF-8: {e}")))
}

/// A stored document as stored, not unpacked: what an answer streams ([`PackedDocument::chunks`]), so
/// that a large document (the 35 MB of metrics of a 100,000-lot snapshot) is never held whole as text.
/// Its text is checked as it is unpacked (zstd's checksum at the end of the frame); it was canonical
/// JSON when packed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackedDocument(Arc<[u8]>);

/// How much text a chunk of [`PackedDocument::chunks`] holds at most.
const CHUNK: usize = 64 * 1024;

impl PackedDocument {
    /// The document's text, unpacked a chunk at a time; an error ends it (a damaged frame).
    pub fn chunks(&self) -> impl Iterator<Item = std::io::Result<Vec<u8>>> + Send + 'static {
        use std::io::Read;
        let mut decoder = zstd::stream::read::Decoder::new(std::io::Cursor::new(self.0.clone()));
        let mut done = false;
        std::iter::from_fn(move || {
            if done {
                return None;
            }
            let decoder = match &mut decoder {
                Ok(d) => d,
                Err(e) => {
                    done = true;
                    return Some(Err(std::io::Error::new(e.kind(), e.to_string())));
                }
            };
            let mut chunk = Vec::with_capacity(CHUNK);
            match decoder.by_ref().take(CHUNK as u64).read_to_end(&mut chunk) {
                Ok(0) => {
                    done = true;
                    None
                }
                Ok(_) => Some(Ok(chunk)),
                Err(e) => {
                    done = true;
                    Some(Err(e))
                }
            }
        })
    }
}

impl serde::Serialize for PackedDocument {
    /// The document unpacked whole and embedded as it is (an answer that can stream it streams
    /// [`PackedDocument::chunks`] instead).
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error as _;
        let text = unpack(&self.0).map_err(S::Error::custom)?;
        let raw = RawValue::from_string(text).map_err(S::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl TryGetable for PackedDocument {
    fn try_get_by<I: ColIdx>(res: &QueryResult, idx: I) -> Result<Self, TryGetError> {
        let stored = Vec::<u8>::try_get_by(res, idx)?;
        if !stored.starts_with(&ZSTD_MAGIC) {
            return Err(TryGetError::DbErr(DbErr::Type(format!(
                "a stored JSON document is not a {CODEC} frame"
            ))));
        }
        Ok(Self(Arc::from(stored)))
    }
}

/// The first four bytes of every zstd frame.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

impl TryGetable for JsonDocument {
    fn try_get_by<I: ColIdx>(res: &QueryResult, idx: I) -> Result<Self, TryGetError> {
        let stored = Vec::<u8>::try_get_by(res, idx)?;
        let text = unpack(&stored).map_err(TryGetError::DbErr)?;
        RawValue::from_string(text)
            .map(|raw| Self(Arc::from(raw)))
            .map_err(|e| {
                TryGetError::DbErr(DbErr::Type(format!("a stored document is not JSON: {e}")))
            })
    }
}

impl From<JsonDocument> for Value {
    /// Its stored bytes; NULL if they cannot be made (never with a valid level: zstd fails only on
    /// parameters), which the schema's CHECKs then refuse loudly.
    fn from(document: JsonDocument) -> Self {
        Value::Bytes(pack(document.get()).ok())
    }
}

impl ValueType for JsonDocument {
    fn try_from(v: Value) -> Result<Self, ValueTypeErr> {
        match v {
            Value::Bytes(Some(bytes)) => unpack(&bytes)
                .ok()
                .and_then(|text| RawValue::from_string(text).ok())
                .map(|raw| Self(Arc::from(raw)))
                .ok_or(ValueTypeErr),
            _ => Err(ValueTypeErr),
        }
    }

    fn type_name() -> String {
        "JsonDocument".to_owned()
    }

    fn array_type() -> ArrayType {
        ArrayType::Bytes
    }

    fn column_type() -> ColumnType {
        ColumnType::VarBinary(sea_orm::sea_query::StringLen::None)
    }
}

impl Nullable for JsonDocument {
    fn null() -> Value {
        Value::Bytes(None)
    }
}

impl sea_orm::IntoActiveValue<JsonDocument> for JsonDocument {
    fn into_active_value(self) -> sea_orm::ActiveValue<JsonDocument> {
        sea_orm::ActiveValue::Set(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_unpacks_to_the_text_it_was_packed_from() {
        let text = r#"{"a":[1,"two",null],"b":{"c":true}}"#;
        let stored = pack(text).unwrap();
        assert_eq!(&stored[..4], &ZSTD_MAGIC, "a zstd frame");
        assert_eq!(unpack(&stored).unwrap(), text);
    }

    #[test]
    fn a_packed_document_unpacks_chunk_by_chunk_to_its_text() {
        let text = format!("[{}1]", "1234567890,".repeat(20_000));
        let packed = PackedDocument(Arc::from(pack(&text).unwrap()));
        let chunks: Vec<Vec<u8>> = packed.chunks().map(Result::unwrap).collect();
        assert!(chunks.len() > 1 && chunks.iter().all(|c| c.len() <= CHUNK));
        assert_eq!(chunks.concat(), text.as_bytes());
    }

    #[test]
    fn a_damaged_packed_document_ends_its_chunks_with_an_error() {
        let mut stored = pack(&"[1,2,3]".repeat(100)).unwrap();
        let last = stored.len() - 1;
        stored[last] ^= 0xff;
        let packed = PackedDocument(Arc::from(stored));
        assert!(packed.chunks().any(|c| c.is_err()));
    }

    #[test]
    fn a_damaged_frame_is_refused_by_its_checksum() {
        let mut stored = pack(&"[1,2,3]".repeat(100)).unwrap();
        let last = stored.len() - 1;
        stored[last] ^= 0xff;
        assert!(unpack(&stored).is_err());
    }
}
