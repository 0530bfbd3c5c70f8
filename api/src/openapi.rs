//! The OpenAPI description, generated from the route macros (utoipa-actix-web), and the table of known
//! paths used to answer 405 with `Allow`.

use actix_web::App;
use utoipa::Number;
use utoipa::OpenApi;
use utoipa::openapi::{PathItem, RefOr, Schema};
use utoipa_actix_web::AppExt;

use crate::problem::{FieldProblem, Problem};
use crate::responses::ErrorResponses;
use crate::routes;
use crate::routes::api_keys::CreatedApiKey;
use crate::routes::reserves::ReservePlan;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Updog API",
        description = "Venture-capital fund modelling: funds, portfolio companies, investments and purchase \
                       lots, lot-level MOIC, follow-on reserve planning and reproducible forecast snapshots.\n\n\
                       Money is integer cents (`_cents`, int64). Exact decimals are JSON strings. Errors are \
                       RFC 9457 `application/problem+json`.",
        license(name = "MIT", identifier = "MIT")
    ),
    // Schemas that operations reference only through `Created<T>`/`Versioned<T>` are listed here: those
    // responses carry a reference, not the schema (a test fails on any dangling reference).
    components(schemas(Problem, FieldProblem, CreatedApiKey, ReservePlan)),
    modifiers(&BearerAuth, &ErrorResponses),
    // Every operation needs an API key unless it says otherwise (`/healthz`, `/readyz`).
    security(("bearer" = [])),
    tags(
        (name = "ops", description = "Liveness, readiness and documentation."),
        (name = "funds", description = "Venture funds."),
        (name = "companies", description = "A fund's portfolio companies, their marks and exit assumptions."),
        (name = "investments", description = "Investments of a fund in its companies."),
        (name = "marks", description = "A company's dated valuations: every figure asked for a date uses the mark in effect on it."),
        (name = "lots", description = "Purchase lots of an investment: the unit of cost basis."),
        (name = "distributions", description = "Realized proceeds."),
        (name = "metrics", description = "Lot-level MOIC and gross fund metrics."),
        (name = "returns", description = "Net returns to the LPs: management fees, the European or American waterfall, DPI, RVPI, TVPI and net IRR, and the ledger every figure comes from."),
        (name = "forecasts", description = "Fund forecasts: every scenario of a matrix run through the fund's own history, fees and waterfall, computed in the background."),
        (name = "reserves", description = "Follow-on reserve rankings and the reserve plan."),
        (name = "snapshots", description = "Reproducible forecast snapshots, calculated in the background."),
        (name = "api_keys", description = "API keys (admin only)."),
        (name = "optimizations", description = "Bucket weights that maximise return or minimise tail risk over a scenario matrix (a two-pass linear program, solved in the background)."),
        (name = "matrices", description = "Monte-Carlo scenario matrices and their two-tier cache (Redis or in-process, then the database)."),
    )
)]
struct ApiDoc;

/// Declares the `bearer` security scheme: `Authorization: Bearer <api key>`.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.description = Some("An Updog API key, e.g. `updog_…`.".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// Every 64-bit integer of the document is bounded by ±(2^53 − 1), where JavaScript still reads it
/// exactly (SPEC §2), unless its own bounds are tighter; the server refuses a larger input with a 422
/// naming the field ([`crate::extract::json_body`]). Applied once, after every schema is collected.
struct SafeIntegers;

impl utoipa::Modify for SafeIntegers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.schemas.values_mut().for_each(bound_integers);
        }
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                for parameter in operation.parameters.iter_mut().flatten() {
                    if let RefOr::T(parameter) = parameter {
                        parameter.schema.iter_mut().for_each(bound_integers);
                    }
                }
            }
        }
    }
}

fn bound_integers(schema: &mut RefOr<Schema>) {
    use utoipa::openapi::schema::{AdditionalProperties, ArrayItems, KnownFormat, SchemaFormat};
    let RefOr::T(schema) = schema else { return };
    match schema {
        Schema::Object(object) => {
            if matches!(
                object.format,
                Some(SchemaFormat::KnownFormat(KnownFormat::Int64))
            ) {
                let safe = crate::extract::MAX_SAFE_INTEGER as isize;
                object.minimum.get_or_insert(Number::Int(-safe));
                object.maximum.get_or_insert(Number::Int(safe));
            }
            object.properties.values_mut().for_each(bound_integers);
            if let Some(extra) = object.additional_properties.as_deref_mut()
                && let AdditionalProperties::RefOr(extra) = extra
            {
                bound_integers(extra);
            }
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                bound_integers(items);
            }
        }
        Schema::OneOf(one) => one.items.iter_mut().for_each(bound_integers),
        Schema::AllOf(all) => all.items.iter_mut().for_each(bound_integers),
        Schema::AnyOf(any) => any.items.iter_mut().for_each(bound_integers),
        _ => {}
    }
}

/// The whole OpenAPI document, exactly as `/openapi.json` serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut spec) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes::configure)
        .split_for_parts();
    // utoipa fills `info.version` etc. from Cargo metadata; contact is not ours to set.
    spec.info.contact = None;
    // After the routes' schemas and parameters have joined the document.
    utoipa::Modify::modify(&SafeIntegers, &mut spec);
    spec
}

/// The known path templates and their methods, for 405 answers.
#[derive(Clone, Debug, Default)]
pub struct RouteTable {
    routes: Vec<(Vec<Segment>, Vec<String>)>,
}

#[derive(Clone, Debug)]
enum Segment {
    Literal(String),
    Param,
}

impl RouteTable {
    pub fn from_spec(spec: &utoipa::openapi::OpenApi) -> Self {
        let mut routes = Vec::new();
        for (template, item) in spec.paths.paths.iter() {
            let segments = template
                .trim_matches('/')
                .split('/')
                .map(|s| {
                    if s.starts_with('{') {
                        Segment::Param
                    } else {
                        Segment::Literal(s.to_owned())
                    }
                })
                .collect();
            routes.push((segments, methods(item)));
        }
        // Documentation endpoints served outside the spec.
        routes.push((
            vec![Segment::Literal("openapi.json".into())],
            vec!["GET".into()],
        ));
        Self { routes }
    }

    /// The methods allowed on `path`, or `None` when no route matches it. Where templates with a
    /// literal and a `{param}` in the same place both match (`…/distributions/summary` and
    /// `…/distributions/{distribution_id}`), the path is the literal one's: only the templates with
    /// the most literal segments count.
    pub fn allowed(&self, path: &str) -> Option<Vec<String>> {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let literals = |segments: &[Segment]| {
            segments
                .iter()
                .filter(|s| matches!(s, Segment::Literal(_)))
                .count()
        };
        let matching: Vec<&(Vec<Segment>, Vec<String>)> = self
            .routes
            .iter()
            .filter(|(segments, _)| {
                segments.len() == parts.len()
                    && segments.iter().zip(&parts).all(|(s, p)| match s {
                        Segment::Literal(l) => l == p,
                        Segment::Param => !p.is_empty(),
                    })
            })
            .collect();
        let most = matching.iter().map(|(s, _)| literals(s)).max()?;
        let mut allowed: Vec<String> = matching
            .into_iter()
            .filter(|(s, _)| literals(s) == most)
            .flat_map(|(_, methods)| methods.iter().cloned())
            .collect();
        if allowed.is_empty() {
            return None;
        }
        if allowed.iter().any(|m| m == "GET") {
            allowed.push("HEAD".into());
        }
        allowed.sort();
        allowed.dedup();
        Some(allowed)
    }
}

fn methods(item: &PathItem) -> Vec<String> {
    let mut out = Vec::new();
    let ops = [
        ("GET", &item.get),
        ("POST", &item.post),
        ("PUT", &item.put),
        ("PATCH", &item.patch),
        ("DELETE", &item.delete),
        ("HEAD", &item.head),
        ("OPTIONS", &item.options),
    ];
    for (name, op) in ops {
        if op.is_some() {
            out.push(name.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_path_lists_its_methods_and_an_unknown_one_none() {
        let table = RouteTable::from_spec(&openapi());
        assert_eq!(
            table.allowed("/healthz"),
            Some(vec!["GET".to_owned(), "HEAD".to_owned()])
        );
        assert_eq!(table.allowed("/nothing/here"), None);
    }

    #[test]
    fn a_literal_segment_is_its_own_path_and_not_its_parameter_siblings() {
        let table = RouteTable::from_spec(&openapi());
        let get = Some(vec!["GET".to_owned(), "HEAD".to_owned()]);
        assert_eq!(table.allowed("/api/v1/funds/1/distributions/summary"), get);
        assert_eq!(
            table.allowed("/api/v1/funds/1/distributions/7"),
            Some(vec![
                "DELETE".to_owned(),
                "GET".to_owned(),
                "HEAD".to_owned()
            ])
        );
    }
}
