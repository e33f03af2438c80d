//! The committed JSON Schema of the adapter protocol is the one the types generate.
//! Regenerate it with `UPDATE_SCHEMA=1 cargo test -p prelude-conformance --test schema`.

use std::path::Path;

#[test]
fn the_committed_adapter_protocol_schema_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/adapter-protocol.schema.json");
    let generated = prelude_conformance::protocol::schema();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).expect("schema written");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is stale: run `UPDATE_SCHEMA=1 cargo test -p prelude-conformance --test schema` and commit it",
        path.display()
    );
}

#[test]
fn the_schema_describes_every_op_and_its_result() {
    let schema: serde_json::Value =
        serde_json::from_str(&prelude_conformance::protocol::schema()).expect("JSON");
    let results = &schema["properties"]["results"];
    let text = schema.to_string();
    for op in ["hello", "refresh", "list_sessions", "events", "otp_check"] {
        assert!(text.contains(&format!("\"{op}\"")), "{op} missing");
    }
    assert!(!results.is_null() || text.contains("Results"), "{text}");
}
