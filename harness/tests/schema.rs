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
fn the_schema_gives_every_op_a_result_type() {
    let schema: serde_json::Value =
        serde_json::from_str(&prelude_conformance::protocol::schema()).expect("JSON");
    let defs = &schema["$defs"];
    let mut ops: Vec<&str> = defs["Request"]["oneOf"]
        .as_array()
        .expect("requests are one of the ops")
        .iter()
        .filter_map(|variant| variant["properties"]["op"]["const"].as_str())
        .collect();
    let mut results: Vec<&str> = defs["Results"]["properties"]
        .as_object()
        .expect("results by op")
        .keys()
        .map(String::as_str)
        .collect();
    ops.sort_unstable();
    results.sort_unstable();
    assert_eq!(ops.len(), 21, "{ops:?}");
    assert_eq!(ops, results, "each op needs exactly one result entry");
}
