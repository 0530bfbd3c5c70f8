//! Content negotiation for the answers a spreadsheet wants (issue #16): JSON by default, `text/csv`
//! when the `Accept` header asks for it, 406 `not_acceptable` when it accepts neither.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

use crate::error::Error;

pub const CSV: &str = "text/csv; charset=utf-8";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

/// The format the request's `Accept` prefers among JSON and CSV: the highest `q`, the earlier on a tie;
/// no `Accept` is JSON.
pub fn negotiate(req: &HttpRequest) -> Result<Format, Error> {
    let Some(accept) = req.headers().get(header::ACCEPT) else {
        return Ok(Format::Json);
    };
    let accept = accept.to_str().unwrap_or("");
    let mut best: Option<(f32, Format)> = None;
    for item in accept.split(',') {
        let mut parts = item.split(';').map(str::trim);
        let range = parts.next().unwrap_or("").to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.strip_prefix("q="))
            .find_map(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let format = match range.as_str() {
            "application/json" | "application/*" | "*/*" => Format::Json,
            "text/csv" | "text/*" => Format::Csv,
            _ => continue,
        };
        if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
            best = Some((q, format));
        }
    }
    best.map(|(_, f)| f).ok_or(Error::NotAcceptable {
        available: "application/json, text/csv",
    })
}

/// `rows` as CSV: a header line of the field names, one line per row; absent values are empty cells.
/// An amount in cents written as the fund's currency with 2 places (`150000000` → `1500000.00`): how a
/// spreadsheet reads money (SPEC §2).
pub struct Money(pub i64);

impl serde::Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&rust_decimal::Decimal::new(self.0, 2))
    }
}

pub fn csv_response<T: Serialize>(rows: &[T], filename: &str) -> Result<HttpResponse, Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer
            .serialize(row)
            .map_err(|e| service::Error::Invariant(format!("CSV: {e}")))?;
    }
    let body = writer
        .into_inner()
        .map_err(|e| service::Error::Invariant(format!("CSV: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type(CSV)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .body(body))
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn with(accept: &str) -> Result<Format, Error> {
        negotiate(
            &TestRequest::default()
                .insert_header((header::ACCEPT, accept))
                .to_http_request(),
        )
    }

    #[test]
    fn accept_picks_json_or_csv_or_nothing() {
        assert_eq!(
            negotiate(&TestRequest::default().to_http_request()).unwrap(),
            Format::Json
        );
        assert_eq!(with("text/csv").unwrap(), Format::Csv);
        assert_eq!(with("application/json").unwrap(), Format::Json);
        assert_eq!(with("*/*").unwrap(), Format::Json);
        assert_eq!(
            with("application/json;q=0.5, text/csv").unwrap(),
            Format::Csv
        );
        assert_eq!(
            with("text/csv;q=0, application/json").unwrap(),
            Format::Json
        );
        assert!(matches!(
            with("application/xml"),
            Err(Error::NotAcceptable { .. })
        ));
        assert!(matches!(
            with("text/csv;q=0"),
            Err(Error::NotAcceptable { .. })
        ));
    }
}
