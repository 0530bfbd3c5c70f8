//! How a matrix is stored (SPEC §9): its `f32` values little-endian, row-major, compressed with zstd,
//! and labelled so. Reading checks the label, the size and the values: a wrong label, corrupt or
//! truncated bytes, or a value a generator cannot produce is an error (which makes the caller
//! regenerate), never a panic or wrong numbers.

use crate::error::{Error, Result};

/// The codec label stored beside the bytes: the only one written, the only one read.
pub const CODEC: &str = "zstd";
/// The layout label stored beside the bytes.
pub const LAYOUT: &str = "row_major_f32_le";
/// zstd's level: fast to write, and matrices are read far more often than written.
const LEVEL: i32 = 3;

fn corrupt(reason: impl Into<String>) -> Error {
    Error::CorruptMatrix(reason.into())
}

/// The values as little-endian bytes, row-major: the uncompressed layout (what the first tier holds).
pub fn to_raw(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// The values of uncompressed bytes of a `scenarios × buckets` matrix, if they are exactly that many
/// valid cells.
pub fn from_raw(raw: &[u8], scenarios: usize, buckets: usize) -> Result<Vec<f32>> {
    let expected = expected_len(scenarios, buckets)?;
    if raw.len() != expected {
        return Err(corrupt(format!("{} bytes, expected {expected}", raw.len())));
    }
    let (cells, _) = raw.as_chunks::<4>();
    let words: Vec<u32> = cells.iter().map(|c| u32::from_le_bytes(*c)).collect();
    // A finite, non-negative `f32` has its sign bit clear and an exponent below all-ones: its bits are
    // below those of +∞. One branch-free maximum checks every cell (a hit's hot loop, BENCHMARKS.md).
    if words.iter().copied().max().unwrap_or(0) >= f32::INFINITY.to_bits() {
        return Err(corrupt("a cell that is negative or not finite"));
    }
    Ok(words.into_iter().map(f32::from_bits).collect())
}

fn expected_len(scenarios: usize, buckets: usize) -> Result<usize> {
    scenarios
        .checked_mul(buckets)
        .and_then(|cells| cells.checked_mul(4))
        .ok_or_else(|| corrupt("dimensions overflow"))
}

/// The stored bytes of `values` (row-major `f32`): one zstd frame carrying its content checksum, so that
/// a changed byte is detected on read instead of decoding to other numbers.
pub fn encode(values: &[f32]) -> Result<Vec<u8>> {
    let raw = to_raw(values);
    let zstd_error = |e: std::io::Error| Error::Invariant(format!("zstd: {e}"));
    let mut compressor = zstd::bulk::Compressor::new(LEVEL).map_err(zstd_error)?;
    compressor.include_checksum(true).map_err(zstd_error)?;
    compressor.compress(&raw).map_err(zstd_error)
}

/// The values of a stored matrix of `scenarios × buckets`, if `codec` is ours and the bytes hold
/// exactly that many valid cells.
pub fn decode(codec: &str, bytes: &[u8], scenarios: usize, buckets: usize) -> Result<Vec<f32>> {
    if codec != CODEC {
        return Err(corrupt(format!("codec {codec:?}, expected {CODEC:?}")));
    }
    let expected = expected_len(scenarios, buckets)?;
    // Decompressing into at most the expected size: a larger payload is an error, not an allocation.
    let raw = zstd::bulk::decompress(bytes, expected).map_err(|e| corrupt(format!("zstd: {e}")))?;
    from_raw(&raw, scenarios, buckets)
}
