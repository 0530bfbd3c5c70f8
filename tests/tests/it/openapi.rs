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
