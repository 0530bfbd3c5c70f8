//! The OpenAPI description, generated from the route macros (utoipa-actix-web), and the table of known
//! paths used to answer 405 with `Allow`.

use actix_web::App;
use utoipa::OpenApi;
use utoipa::openapi::PathItem;
use utoipa_actix_web::AppExt;

use crate::problem::{FieldProblem, Problem};
use crate::responses::ErrorResponses;
use crate::routes;
use crate::routes::api_keys::CreatedApiKey;

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
    components(schemas(Problem, FieldProblem, CreatedApiKey)),
    modifiers(&BearerAuth, &ErrorResponses),
    // Every operation needs an API key unless it says otherwise (`/healthz`, `/readyz`).
    security(("bearer" = [])),
    tags(
        (name = "ops", description = "Liveness, readiness and documentation."),
        (name = "funds", description = "Venture funds."),
        (name = "companies", description = "A fund's portfolio companies, their marks and exit assumptions."),
        (name = "investments", description = "Investments of a fund in its companies."),
        (name = "lots", description = "Purchase lots of an investment: the unit of cost basis."),
        (name = "distributions", description = "Realized proceeds."),
        (name = "metrics", description = "Lot-level MOIC and gross fund metrics."),
        (name = "reserves", description = "Follow-on reserve rankings and the reserve plan."),
        (name = "snapshots", description = "Reproducible forecast snapshots, calculated in the background."),
        (name = "api_keys", description = "API keys (admin only)."),
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

/// The whole OpenAPI document, exactly as `/openapi.json` serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut spec) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes::configure)
        .split_for_parts();
    // utoipa fills `info.version` etc. from Cargo metadata; contact is not ours to set.
    spec.info.contact = None;
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

    /// The methods allowed on `path`, or `None` when no route matches it.
    pub fn allowed(&self, path: &str) -> Option<Vec<String>> {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let mut allowed: Vec<String> = Vec::new();
        for (segments, methods) in &self.routes {
            let matches = segments.len() == parts.len()
                && segments.iter().zip(&parts).all(|(s, p)| match s {
                    Segment::Literal(l) => l == p,
                    Segment::Param => !p.is_empty(),
                });
            if matches {
                allowed.extend(methods.iter().cloned());
            }
        }
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
}
