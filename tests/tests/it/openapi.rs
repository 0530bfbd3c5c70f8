//! The committed `openapi.yaml` is exactly what the code generates. When this fails, regenerate it with
//! `cargo run -q -p api -- openapi > openapi.yaml` and review the diff.

#[test]
fn the_committed_openapi_yaml_matches_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.yaml");
    let committed =
        std::fs::read_to_string(&path).expect("openapi.yaml is committed at the repository root");
    let generated = api::openapi::openapi()
        .to_yaml()
        .expect("render the OpenAPI description");
    assert!(
        committed == generated,
        "openapi.yaml is out of date: run `cargo run -q -p api -- openapi > openapi.yaml`"
    );
}

/// Every `$ref` of the document names a component it declares: a dangling reference leaves clients
/// and fuzzers without the schema (found once, when a response was declared through `Versioned<T>`
/// for a schema nothing else referenced).
#[test]
fn every_reference_in_the_document_resolves() {
    let spec = serde_json::to_value(api::openapi::openapi()).expect("the document as JSON");
    let mut refs = Vec::new();
    collect_refs(&spec, &mut refs);
    assert!(
        refs.len() > 50,
        "the walk finds the references ({})",
        refs.len()
    );
    for reference in refs {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{reference} is not local"));
        assert!(
            spec.pointer(pointer).is_some(),
            "{reference} names no component"
        );
    }
}

fn collect_refs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(members) => {
            for (k, v) in members {
                match (k.as_str(), v) {
                    ("$ref", serde_json::Value::String(r)) => out.push(r.clone()),
                    _ => collect_refs(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// The cursor patterns of the document are the ones the server decodes: any cursor that matches names a
/// position, so a client (or a fuzzer) that follows the schema is never refused.
#[test]
fn the_cursor_patterns_are_the_servers() {
    use service::pagination::{ID_CURSOR_PATTERN, TIME_UUID_CURSOR_PATTERN, UUID_CURSOR_PATTERN};
    let spec = serde_json::to_value(api::openapi::openapi()).expect("the document as JSON");
    let mut seen = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for parameter in item["get"]["parameters"].as_array().into_iter().flatten() {
            if parameter["name"] == "cursor" {
                let expected = if path.ends_with("/moic/lots") {
                    UUID_CURSOR_PATTERN
                } else if path.ends_with("/lots")
                    || path.ends_with("/snapshots")
                    || path.ends_with("/marks")
                    || path.ends_with("/forecasts")
                    || path.ends_with("/scenario-matrices")
                {
                    TIME_UUID_CURSOR_PATTERN
                } else {
                    ID_CURSOR_PATTERN
                };
                assert_eq!(parameter["schema"]["pattern"], expected, "{path}");
                seen += 1;
            }
        }
    }
    assert_eq!(seen, 10, "every list has a cursor");
}

/// Every documented path whose literal segment stands where a sibling path has a `{param}` — such as
/// `…/distributions/summary` beside `…/distributions/{distribution_id}` — reaches its own handler: actix
/// tries routes in registration order, and a literal registered after its `{param}` sibling would be
/// captured by it and answered 400 (the parameter does not parse). Each such `GET` is sent with the ids
/// of a real fund and must not be a 400.
#[tokio::test]
async fn no_literal_path_segment_is_captured_by_a_parameter_sibling() {
    let spec = serde_json::to_value(api::openapi::openapi()).expect("the document as JSON");
    let paths: Vec<(String, Vec<String>)> = spec["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .map(|(p, item)| {
            let methods = item.as_object().map(|m| m.keys().cloned().collect());
            (p.clone(), methods.unwrap_or_default())
        })
        .collect();
    let segments = |p: &str| p.split('/').map(str::to_owned).collect::<Vec<_>>();
    let is_param = |s: &str| s.starts_with('{');
    let shadowed: Vec<&(String, Vec<String>)> = paths
        .iter()
        .filter(|(p, methods)| {
            let mine = segments(p);
            methods.iter().any(|m| m == "get")
                && paths.iter().any(|(q, _)| {
                    let theirs = segments(q);
                    theirs.len() == mine.len()
                        && (0..mine.len()).any(|i| {
                            !is_param(&mine[i])
                                && is_param(&theirs[i])
                                && mine[..i] == theirs[..i]
                                && mine[i + 1..] == theirs[i + 1..]
                        })
                })
        })
        .collect();
    assert!(
        shadowed
            .iter()
            .any(|(p, _)| p.ends_with("/distributions/summary")),
        "the walk finds the literal siblings: {shadowed:?}"
    );

    let app = updog_tests::TestApp::spawn(service::Backend::Sqlite).await;
    let fund = app.fund("Fund").await;
    for (path, methods) in shadowed {
        let concrete = path.replace("{fund_id}", &fund.to_string());
        let answer = app.get_as(&concrete, &app.admin).await;
        assert_ne!(
            answer.status(),
            reqwest::StatusCode::BAD_REQUEST,
            "{path} is captured by a parameter sibling: register it first"
        );
        // A method the literal path does not allow is a 405 naming its own methods, even where its
        // parameter sibling has that method.
        if methods.iter().any(|m| m == "delete") {
            continue;
        }
        let delete = reqwest::Method::DELETE;
        let refused = app.send(delete, &concrete, &app.admin, None, None).await;
        assert_eq!(
            refused.status(),
            reqwest::StatusCode::METHOD_NOT_ALLOWED,
            "{path}"
        );
        assert_eq!(refused.headers()["allow"], "GET, HEAD", "{path}");
    }
}
