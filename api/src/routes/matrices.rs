//! Scenario matrices and their cache: `/api/v1/funds/{fund_id}/scenario-matrices`,
//! `/api/v1/scenario-matrices/{matrix_key}`, `/api/v1/cache/invalidate`, `/api/v1/cache/stats`.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use service::fields::{Problems, parse_matrix_number};
use service::matrices::{
    self, CacheStats, Invalidation, MatrixConfig, MatrixRecord, MatrixView, Percentiles, Scope,
};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::error::Error;
use crate::extract::{Caller, Creation, json_body, with_etag};
use crate::replies::{Written, poll_later};
use crate::responses::{CreateErrors, ReadErrors};
use crate::wire::{FundPath, IdempotencyKeyHeader, MatrixStatus};
use utoipa_actix_web::service_config::ServiceConfig;

/// One bucket (a column of the matrix): a stage or strategy and its MOIC distribution.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatrixBucket {
    /// 1 to 255 characters, unique in the config; columns are in bytewise name order.
    #[schema(min_length = 1, max_length = 255, pattern = r"\S")]
    pub name: String,
    /// Share of capital, percent; the buckets sum to 100 (± 0.01).
    #[schema(pattern = r"^[0-9]{1,6}(\.[0-9]{1,10})?$", example = "40")]
    pub capital_allocation_pct: String,
    /// Median MOIC, greater than 0.
    #[schema(pattern = r"^[0-9]{1,6}(\.[0-9]{1,10})?$", example = "1.5")]
    pub moic_median: String,
    /// 90th-percentile MOIC, greater than the median.
    #[schema(pattern = r"^[0-9]{1,6}(\.[0-9]{1,10})?$", example = "6")]
    pub moic_p90: String,
}

/// How much of each cell's shock is common to all buckets, to the bucket, or the cell's own; sum 1
/// (± 0.01).
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrelationWeights {
    #[serde(rename = "macro")]
    #[schema(
        rename = "macro",
        pattern = r"^[0-9]{1,6}(\.[0-9]{1,10})?$",
        example = "0.3"
    )]
    pub macro_: String,
    #[schema(pattern = r"^[0-9]{1,6}(\.[0-9]{1,10})?$", example = "0.3")]
    pub systematic: String,
    #[schema(pattern = r"^[0-9]{1,6}(\.[0-9]{1,10})?$", example = "0.4")]
    pub idiosyncratic: String,
}

/// Recycling of proceeds; disabled recycling ignores its other fields (they do not change the key).
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Recycling {
    pub enabled: bool,
    #[schema(min_length = 1, max_length = 64)]
    pub mode: Option<String>,
    /// Share of proceeds reinvested, 0 to 1; required when enabled.
    #[schema(pattern = r"^[0-9]{1,6}(\.[0-9]{1,10})?$")]
    pub reinvestment_rate: Option<String>,
}

/// A matrix config (SPEC §9). Equal configs — up to bucket order and noise below 5 decimals — share one
/// matrix and one `matrix_key`.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateScenarioMatrix {
    #[schema(min_length = 1, max_length = 255, pattern = r"\S", example = "2026-q4")]
    pub taxonomy_version: String,
    /// Scenarios (rows), 1 to 100,000. Matrices of more than 100,000 cells (10,000 × 10) are generated
    /// by a worker: 202.
    #[schema(minimum = 1, maximum = 100000)]
    pub num_scenarios: u32,
    /// The generator's seed, an integer from 0 to 2^53 − 1: the same config and seed give the same
    /// matrix, bit for bit.
    #[schema(value_type = u64, minimum = 0)]
    pub seed: serde_json::Number,
    /// 1 to 50 buckets, names unique.
    #[schema(min_items = 1, max_items = 50)]
    pub buckets: Vec<MatrixBucket>,
    pub correlation_weights: CorrelationWeights,
    /// Default: disabled.
    pub recycling: Option<Recycling>,
}

impl CreateScenarioMatrix {
    /// The domain config; every number that is not a plain decimal is named.
    fn into_config(self, fund_id: i64) -> service::Result<MatrixConfig> {
        let mut p = Problems::default();
        let mut number = |text: &str, pointer: String| {
            p.absorb(parse_matrix_number(text, &pointer))
                .map(|v| v.unwrap_or(f64::NAN))
        };
        let mut buckets = Vec::with_capacity(self.buckets.len());
        for (i, b) in self.buckets.into_iter().enumerate() {
            buckets.push(matrices::Bucket {
                capital_allocation_pct: number(
                    &b.capital_allocation_pct,
                    format!("/buckets/{i}/capital_allocation_pct"),
                )?,
                moic_median: number(&b.moic_median, format!("/buckets/{i}/moic_median"))?,
                moic_p90: number(&b.moic_p90, format!("/buckets/{i}/moic_p90"))?,
                name: b.name,
            });
        }
        let w = &self.correlation_weights;
        let correlation_weights = matrices::CorrelationWeights {
            macro_: number(&w.macro_, "/correlation_weights/macro".into())?,
            systematic: number(&w.systematic, "/correlation_weights/systematic".into())?,
            idiosyncratic: number(
                &w.idiosyncratic,
                "/correlation_weights/idiosyncratic".into(),
            )?,
        };
        let recycling = match self.recycling {
            None => matrices::Recycling {
                enabled: false,
                mode: None,
                reinvestment_rate: None,
            },
            Some(r) => matrices::Recycling {
                enabled: r.enabled,
                mode: r.mode,
                reinvestment_rate: match r.reinvestment_rate {
                    Some(text) => Some(number(&text, "/recycling/reinvestment_rate".into())?),
                    None => None,
                },
            },
        };
        // Any JSON number is read, so that a negative or fractional seed is a 422 naming the field.
        let seed = self.seed.as_u64();
        p.check(
            seed.is_some(),
            "/seed",
            "must be an integer from 0 to 9007199254740991",
        );
        p.finish()?;
        Ok(MatrixConfig {
            fund_id,
            taxonomy_version: self.taxonomy_version,
            num_scenarios: self.num_scenarios,
            seed: seed.unwrap_or_default(),
            buckets,
            correlation_weights,
            recycling,
        })
    }
}

/// A stored matrix's bucket, as its canonical config holds it: numbers rounded to 5 decimals.
#[derive(ToSchema)]
#[allow(dead_code)] // The schema of `ScenarioMatrix::config`, which is sent as stored.
pub struct CanonicalBucket {
    pub name: String,
    pub capital_allocation_pct: String,
    pub moic_median: String,
    pub moic_p90: String,
}

/// The canonical config a matrix key is the SHA-256 of (RFC 8785 form): buckets sorted by name,
/// numbers as 5-decimal strings, the seed as a string, disabled recycling as `{"enabled": false}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CanonicalConfig {
    pub key_version: u32,
    pub fund_id: i64,
    pub taxonomy_version: String,
    pub num_scenarios: u32,
    pub seed: String,
    pub buckets: Vec<CanonicalBucket>,
    pub correlation_weights: CorrelationWeights,
    pub recycling: Recycling,
}

/// A scenario matrix: S scenarios × B buckets of simulated MOIC.
#[derive(Serialize, ToSchema)]
pub struct ScenarioMatrix {
    /// SHA-256 (hex) of the canonical config.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub matrix_key: String,
    pub id: Uuid,
    pub fund_id: i64,
    pub taxonomy_version: String,
    /// `moic`.
    pub matrix_type: String,
    pub status: MatrixStatus,
    pub num_scenarios: i32,
    pub bucket_count: i32,
    /// Bucket names in column order.
    pub buckets: Vec<String>,
    #[schema(value_type = CanonicalConfig)]
    pub config: serde_json::Value,
    /// `zstd` once complete.
    pub compression_codec: Option<String>,
    /// `row_major_f32_le` once complete.
    pub matrix_layout: Option<String>,
    /// Uncompressed size, bytes (S × B × 4).
    pub raw_bytes: Option<i64>,
    /// Compressed size as stored, bytes.
    pub stored_bytes: Option<i64>,
    /// Why generation failed (`failed`).
    pub error_message: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// With `?include=matrix` on a complete matrix: S rows of B values (the stored `f32`s), columns in
    /// `buckets` order. Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matrix: Option<Vec<Vec<f32>>>,
}

impl ScenarioMatrix {
    fn of(record: &MatrixRecord, values: Option<Vec<f32>>) -> Self {
        let columns = record.bucket_count.max(1) as usize;
        Self {
            matrix_key: record.matrix_key.clone(),
            id: record.id,
            fund_id: record.fund_id,
            taxonomy_version: record.taxonomy_version.clone(),
            matrix_type: record.matrix_type.clone(),
            status: record.status.into(),
            num_scenarios: record.num_scenarios,
            bucket_count: record.bucket_count,
            buckets: record.buckets(),
            config: record.config.clone(),
            compression_codec: record.compression_codec.clone(),
            matrix_layout: record.matrix_layout.clone(),
            raw_bytes: record.raw_bytes,
            stored_bytes: record.stored_bytes,
            error_message: record.error_message.clone(),
            version: record.version,
            created_at: record.created_at,
            updated_at: record.updated_at,
            matrix: values.map(|v| v.chunks(columns).map(<[f32]>::to_vec).collect()),
        }
    }
}

impl Written for MatrixRecord {
    type Wire = ScenarioMatrix;
    fn wire(&self) -> ScenarioMatrix {
        ScenarioMatrix::of(self, None)
    }
    fn location(&self) -> String {
        format!("/api/v1/scenario-matrices/{}", self.matrix_key)
    }
}

/// Get or generate the fund's matrix of a config: 201 generated now, 200 already stored, 202 queued
/// (more than 10,000 × 10 cells) or still being generated — poll `Location`.
#[utoipa::path(
    tag = "matrices", operation_id = "create_scenario_matrix", request_body = CreateScenarioMatrix, params(FundPath, IdempotencyKeyHeader),
    responses(
        (status = 201, description = "Generated by this request and stored.", body = ScenarioMatrix, headers(("Location" = String, description = "The matrix."), ("Idempotent-Replayed" = String, description = "`true` on a replayed response."))),
        (status = 200, description = "Already stored.", body = ScenarioMatrix, headers(("Location" = String, description = "The matrix."), ("Idempotent-Replayed" = String, description = "`true` on a replayed response."))),
        (status = 202, description = "Queued for a worker: poll `Location`.", body = ScenarioMatrix, headers(("Location" = String, description = "The matrix."), ("Retry-After" = u32, description = "Seconds before polling."), ("Idempotent-Replayed" = String, description = "`true` on a replayed response."))),
        CreateErrors
    )
)]
#[post("/api/v1/funds/{fund_id}/scenario-matrices")]
pub async fn create_scenario_matrix(
    creation: Creation,
    path: web::Path<FundPath>,
) -> Result<HttpResponse, Error> {
    let fund_id = path.fund_id.0;
    let scope = format!("POST /api/v1/funds/{fund_id}/scenario-matrices");
    creation
        .run(
            scope,
            async |svc, principal, input: CreateScenarioMatrix, idem| {
                principal.require_write(fund_id)?;
                let config = input.into_config(fund_id)?;
                matrices::create_matrix(svc, principal, config, idem).await
            },
        )
        .await
}

/// `/scenario-matrices/{matrix_key}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct MatrixPath {
    /// The matrix key: SHA-256 hex of the canonical config.
    #[param(pattern = "^[0-9a-f]{64}$")]
    pub matrix_key: String,
}

/// What a matrix read adds to the metadata.
#[derive(Clone, Copy, Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatrixInclude {
    /// The values.
    Matrix,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MatrixQuery {
    /// `matrix` adds the values of a complete matrix.
    #[param(inline)]
    pub include: Option<MatrixInclude>,
}

/// A matrix's metadata and, with `?include=matrix`, its values; another fund's matrix is not found.
#[utoipa::path(
    tag = "matrices", operation_id = "get_scenario_matrix", params(MatrixPath, MatrixQuery),
    responses((status = 200, description = "The matrix.", body = ScenarioMatrix, headers(("ETag" = String, description = "The version, quoted."), ("Retry-After" = u32, description = "Present while pending or processing."))), ReadErrors)
)]
#[get("/api/v1/scenario-matrices/{matrix_key}")]
pub async fn get_scenario_matrix(
    caller: Caller,
    path: web::Path<MatrixPath>,
    query: web::Query<MatrixQuery>,
) -> Result<HttpResponse, Error> {
    let key = path.into_inner().matrix_key;
    if !is_matrix_key(&key) {
        return Err(service::Error::not_found("scenario matrix", key).into());
    }
    let include = matches!(query.include, Some(MatrixInclude::Matrix));
    let MatrixView { record, values } =
        matrices::get_matrix(caller.service(), &caller.principal, &key, include).await?;
    let pending = matches!(
        MatrixStatus::from(record.status),
        MatrixStatus::Pending | MatrixStatus::Processing
    );
    let mut response = with_etag(&ScenarioMatrix::of(&record, values), record.version);
    if pending {
        poll_later(&mut response);
    }
    Ok(response)
}

fn is_matrix_key(key: &str) -> bool {
    key.len() == 64 && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn true_only() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .enum_values(Some([true]))
        .description(Some("`true`: every matrix (admin only)."))
}

/// Exactly one of `matrix_key`, `fund_id` or `all`.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1, max_properties = 1)]
pub struct InvalidateCache {
    /// One matrix (write access to its fund).
    #[schema(pattern = "^[0-9a-f]{64}$", nullable = false)]
    pub matrix_key: Option<String>,
    /// Every matrix of a fund (write access to it).
    #[schema(minimum = 1, nullable = false)]
    pub fund_id: Option<i64>,
    #[schema(schema_with = true_only)]
    pub all: Option<bool>,
}

impl InvalidateCache {
    /// The scope of a body that names exactly one target (`raw`: the body as sent, where a member set to
    /// `null` still counts as named, and is refused).
    fn scope(self, raw: &serde_json::Value) -> service::Result<Scope> {
        let members = raw.as_object().map(|m| m.len()).unwrap_or_default();
        if let Some((name, _)) = raw
            .as_object()
            .and_then(|m| m.iter().find(|(_, v)| v.is_null()))
        {
            return Err(service::Error::invalid(
                &format!("/{name}"),
                "must not be null",
            ));
        }
        if members != 1 {
            return Err(service::Error::invalid(
                "",
                "must hold exactly one of matrix_key, fund_id or all",
            ));
        }
        match (self.matrix_key, self.fund_id, self.all) {
            (Some(key), _, _) if is_matrix_key(&key) => Ok(Scope::Matrix(key)),
            (Some(_), _, _) => Err(service::Error::invalid(
                "/matrix_key",
                "must be 64 lowercase hexadecimal characters",
            )),
            (_, Some(id), _) if id >= 1 => Ok(Scope::Fund(id)),
            (_, Some(_), _) => Err(service::Error::invalid("/fund_id", "must be 1 or more")),
            (_, _, Some(true)) => Ok(Scope::All),
            _ => Err(service::Error::invalid("/all", "must be true")),
        }
    }
}

/// What an invalidation did.
#[derive(Serialize, ToSchema)]
pub struct InvalidationResult {
    /// Stored matrices moved to `invalidated` (their payloads dropped); a later create regenerates.
    pub invalidated: u64,
    /// `redis` or `memory`.
    pub first_tier: &'static str,
    /// `true`: the first tier holds none of them any more; `false`: it was unreachable and its clearing
    /// is queued (it retries until the first tier answers).
    pub first_tier_cleared: bool,
}

/// Invalidate matrices in both tiers: one (`matrix_key`), a fund's (`fund_id`) or all (`all`, admin).
#[utoipa::path(
    tag = "matrices", operation_id = "invalidate_cache", request_body = InvalidateCache,
    responses((status = 200, description = "Invalidated.", body = InvalidationResult), CreateErrors)
)]
#[post("/api/v1/cache/invalidate")]
pub async fn invalidate_cache(
    caller: Caller,
    req: actix_web::HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let (input, raw) = json_body::<InvalidateCache>(&req, &body)?;
    let svc = caller.service();
    let Invalidation {
        rows,
        first_tier_cleared,
    } = matrices::invalidate(svc, &caller.principal, input.scope(&raw)?).await?;
    Ok(HttpResponse::Ok().json(InvalidationResult {
        invalidated: rows,
        first_tier: svc.matrices.first.name(),
        first_tier_cleared,
    }))
}

/// Lookup latency of one kind, microseconds.
#[derive(Serialize, ToSchema)]
pub struct LatencyPercentiles {
    pub count: u64,
    pub p50_us: u64,
    pub p95_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

impl From<Percentiles> for LatencyPercentiles {
    fn from(p: Percentiles) -> Self {
        Self {
            count: p.count,
            p50_us: p.p50_us,
            p95_us: p.p95_us,
            p99_us: p.p99_us,
            max_us: p.max_us,
        }
    }
}

/// Hits and misses of the first tier.
#[derive(Serialize, ToSchema)]
pub struct FirstTierStats {
    /// `redis` or `memory`.
    pub kind: &'static str,
    pub hits: u64,
    pub misses: u64,
    /// Lookups that found it unreachable or slow.
    pub errors: u64,
    /// Entries that failed their checks (removed, then served from the database).
    pub corrupt: u64,
    /// Compressed bytes held (the in-process tier only; Redis reports its own memory).
    pub bytes: Option<u64>,
}

/// Hits and misses of the database tier, and what it stores.
#[derive(Serialize, ToSchema)]
pub struct DatabaseTierStats {
    pub hits: u64,
    pub misses: u64,
    /// Payloads that failed their checks and were regenerated.
    pub corrupt: u64,
    /// Complete matrices stored.
    pub matrices: i64,
    /// Their compressed bytes.
    pub bytes: i64,
}

/// Generations by this process.
#[derive(Serialize, ToSchema)]
pub struct GenerationStats {
    pub count: u64,
    pub total_ms: u64,
}

/// Lookup latency by where the answer came from.
#[derive(Serialize, ToSchema)]
pub struct LatencyStats {
    pub first_tier_hit: LatencyPercentiles,
    pub database_hit: LatencyPercentiles,
    pub generated: LatencyPercentiles,
}

/// The matrix cache's statistics: counters of this process since it started, bytes from the database.
#[derive(Serialize, ToSchema)]
pub struct CacheStatistics {
    pub first_tier: FirstTierStats,
    pub database: DatabaseTierStats,
    pub generations: GenerationStats,
    /// Hits whose stored config differed from the request's or from their key: never served.
    pub collisions: u64,
    pub latency: LatencyStats,
}

impl From<CacheStats> for CacheStatistics {
    fn from(s: CacheStats) -> Self {
        let c = s.counters;
        Self {
            first_tier: FirstTierStats {
                kind: s.first_tier,
                hits: c.first_tier_hits,
                misses: c.first_tier_misses,
                errors: c.first_tier_errors,
                corrupt: c.first_tier_corrupt,
                bytes: s.memory_bytes,
            },
            database: DatabaseTierStats {
                hits: c.database_hits,
                misses: c.database_misses,
                corrupt: c.database_corrupt,
                matrices: s.database_rows,
                bytes: s.database_bytes,
            },
            generations: GenerationStats {
                count: c.generations,
                total_ms: c.generation_ms_total,
            },
            collisions: c.collisions,
            latency: LatencyStats {
                first_tier_hit: c.first_tier_hit_latency.into(),
                database_hit: c.database_hit_latency.into(),
                generated: c.generated_latency.into(),
            },
        }
    }
}

/// The matrix cache's statistics (admin: they cover every fund).
#[utoipa::path(
    tag = "matrices", operation_id = "get_cache_stats",
    responses((status = 200, description = "The statistics.", body = CacheStatistics), ReadErrors)
)]
#[get("/api/v1/cache/stats")]
pub async fn get_cache_stats(caller: Caller) -> Result<HttpResponse, Error> {
    let stats = matrices::cache_stats(caller.service(), &caller.principal).await?;
    Ok(HttpResponse::Ok().json(CacheStatistics::from(stats)))
}

/// Registers this module's routes. Order matters where a literal segment has a `{param}` sibling:
/// actix tries routes in registration order, so the literal one goes first (docs/ARCHITECTURE.md).
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_scenario_matrix)
        .service(get_scenario_matrix)
        .service(invalidate_cache)
        .service(get_cache_stats);
}
