//! Property: whatever headers, bodies and proofs are thrown at the Prelude routes, every
//! answer is a well-formed Prelude success or error: never a 5xx, a non-JSON error, an empty
//! 200, or a hang.

mod common;

use std::time::Duration;

use common::{Key, b64};
use prelude_mock_server::{MockServer, Route};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const HEADER_NAMES: [&str; 8] = [
    "DPoP",
    "X-Refresh-Token",
    "Authorization",
    "Content-Type",
    "Cookie",
    "X-Verification-Token",
    "Origin",
    "X-SDK-User-Agent",
];

fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[ -~]{0,300}".prop_map(String::into_bytes),
        "Bearer [A-Za-z0-9._-]{0,200}".prop_map(String::into_bytes),
        "[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_-]{0,120}\\.[A-Za-z0-9_-]{0,90}"
            .prop_map(String::into_bytes),
        proptest::collection::vec(0x20u8..=0xff, 0..120)
            .prop_map(|v| v.into_iter().filter(|b| *b != 0x7f).collect()),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "[ -~]{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("challenge_token".to_owned()),
                    Just("code".to_owned()),
                    Just("identifier".to_owned()),
                    Just("password".to_owned()),
                    Just("step_up_token".to_owned()),
                    Just("code_verifier".to_owned()),
                    "[a-z_]{1,12}",
                ],
                inner,
                0..5,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        proptest::collection::vec(any::<u8>(), 0..512),
        json_value().prop_map(|v| v.to_string().into_bytes()),
    ]
}

/// A signed proof with arbitrary header and claim members: structurally close to valid.
fn proof_parts() -> impl Strategy<Value = (Map<String, Value>, Map<String, Value>)> {
    let header_member = prop_oneof![
        Just(("typ".to_owned(), json!("dpop+jwt"))),
        Just(("alg".to_owned(), json!("ES256"))),
        ("typ|alg|jwk|kid".prop_map(String::from), json_value()),
    ];
    let claim_member = prop_oneof![
        (
            "jti|htm|htu|nonce".prop_map(String::from),
            "[ -~]{0,40}".prop_map(Value::String)
        ),
        Just(("iat".to_owned(), json!(common::NOW))),
        (
            "jti|htm|htu|iat|nonce|ath".prop_map(String::from),
            json_value()
        ),
    ];
    (
        proptest::collection::vec(header_member, 0..5),
        proptest::collection::vec(claim_member, 0..7),
    )
        .prop_map(|(h, c)| (h.into_iter().collect(), c.into_iter().collect()))
}

#[derive(Debug, Clone)]
struct Request {
    method: &'static str,
    path: String,
    headers: Vec<(usize, Vec<u8>)>,
    proof: Option<(Map<String, Value>, Map<String, Value>)>,
    body: Vec<u8>,
}

fn request() -> impl Strategy<Value = Request> {
    let paths: Vec<String> = Route::ALL.iter().map(|r| r.path().to_owned()).collect();
    (
        prop_oneof![Just("GET"), Just("POST"), Just("PUT"), Just("DELETE"), Just("OPTIONS")],
        prop_oneof![
            9 => proptest::sample::select(paths).prop_flat_map(|p| {
                prop_oneof![Just(p.clone()), "(\\?[a-z_]{1,10}=[ -~&&[^#]]{0,20}){0,3}".prop_map(move |q| format!("{p}{q}"))]
            }),
            1 => "/[a-z/._-]{0,40}",
        ],
        proptest::collection::vec((0..HEADER_NAMES.len(), header_value()), 0..5),
        proptest::option::of(proof_parts()),
        body(),
    )
        .prop_map(|(method, path, headers, proof, body)| Request { method, path, headers, proof, body })
}

async fn check(
    server: &MockServer,
    key: &Key,
    client: &reqwest::Client,
    request: Request,
) -> Result<(), String> {
    let url = format!("{}{}", server.url(), request.path);
    let method =
        reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|e| e.to_string())?;
    let mut builder = client.request(method, &url).body(request.body);
    for (index, value) in request.headers {
        if let Ok(value) = reqwest::header::HeaderValue::from_bytes(&value) {
            builder = builder.header(HEADER_NAMES[index], value);
        }
    }
    if let Some((mut header, claims)) = request.proof {
        header.entry("jwk").or_insert_with(|| key.jwk());
        let input = format!(
            "{}.{}",
            b64(Value::Object(header).to_string()),
            b64(Value::Object(claims).to_string())
        );
        builder = builder.header("DPoP", format!("{input}.{}", key.sign(&input)));
    }
    let response = builder
        .send()
        .await
        .map_err(|e| format!("no answer: {e}"))?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(|e| format!("body: {e}"))?;
    if status.is_server_error() {
        return Err(format!("{status}: {}", String::from_utf8_lossy(&bytes)));
    }
    if status == reqwest::StatusCode::NO_CONTENT {
        return if bytes.is_empty() {
            Ok(())
        } else {
            Err("204 with a body".into())
        };
    }
    let body: Value = serde_json::from_slice(&bytes).map_err(|_| {
        format!(
            "{status} with a non-JSON body: {}",
            String::from_utf8_lossy(&bytes)
        )
    })?;
    if status.is_success() {
        return if body.is_object() {
            Ok(())
        } else {
            Err(format!("{status} body is not an object"))
        };
    }
    for member in ["code", "message", "type"] {
        if body[member].as_str().is_none_or(str::is_empty) {
            return Err(format!("{status} error without {member}: {body}"));
        }
    }
    Ok(())
}

#[test]
fn every_answer_to_arbitrary_input_is_a_well_formed_prelude_answer() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = runtime.block_on(common::server());
    let key = Key::new();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    // A live session, so some random tokens land next to real state.
    runtime.block_on(common::login(&server, "ada@example.com"));
    let config = ProptestConfig {
        cases: 400,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(request in request())| {
        let outcome = runtime.block_on(check(&server, &key, &client, request));
        prop_assert!(outcome.is_ok(), "{}", outcome.err().unwrap_or_default());
    });
}
