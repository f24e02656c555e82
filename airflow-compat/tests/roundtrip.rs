//! Property: for connections outside the known lossy cases of `get_uri()` (reference §11: port 0, upper-case
//! hosts, `/` in the schema, non-string or JSON-looking extra values, `""`-vs-`None` fields), parsing the URI
//! that `get_uri()` produces gives back the same connection, in both dialects. This is what the worker's
//! secrets cache relies on (it stores `get_uri()` and re-parses it).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use airflow_compat::{Dialect, parse_connection, parse_connection_uri};
use proptest::prelude::*;

/// A JSON-form connection value with fields that survive the round trip.
fn connection_json() -> impl Strategy<Value = String> {
    (
        "[a-z][a-z0-9]{0,8}",
        "[a-z0-9]([a-z0-9.-]{0,15}[a-z0-9])?",
        proptest::option::of(("[ -~\u{e9}\u{20ac}\u{1f600}]{1,12}", proptest::option::of("[ -~\u{e9}\u{20ac}]{1,12}"))),
        "[a-zA-Z0-9_.-]{0,10}",
        proptest::option::of(1u16..=65535),
        proptest::collection::vec(("[a-z][a-z0-9_]{0,6}", "v[a-zA-Z0-9 _.,:/@-]{0,10}"), 0..4),
    )
        .prop_filter("the conn type must not be renamed", |(t, ..)| t != "postgresql")
        .prop_map(|(conn_type, host, credentials, schema, port, extra)| {
            let mut doc = serde_json::json!({"conn_type": conn_type, "host": host, "schema": schema});
            if let Some((login, password)) = credentials {
                doc["login"] = serde_json::Value::String(login);
                if let Some(password) = password {
                    doc["password"] = serde_json::Value::String(password);
                }
            }
            if let Some(port) = port {
                doc["port"] = serde_json::Value::from(port);
            }
            if !extra.is_empty() {
                let map: serde_json::Map<String, serde_json::Value> =
                    extra.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
                doc["extra"] = serde_json::Value::Object(map);
            }
            doc.to_string()
        })
}

fn roundtrip(value: &str, dialect: Dialect) -> Result<(), TestCaseError> {
    let conn = parse_connection(value, dialect).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let uri = conn.get_uri(dialect);
    let reparsed = parse_connection_uri(&uri, dialect).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&reparsed.conn_type, &conn.conn_type, "conn_type via {}", uri);
    prop_assert_eq!(&reparsed.host, &conn.host, "host via {}", uri);
    prop_assert_eq!(&reparsed.schema, &conn.schema, "schema via {}", uri);
    prop_assert_eq!(&reparsed.login, &conn.login, "login via {}", uri);
    prop_assert_eq!(&reparsed.password, &conn.password, "password via {}", uri);
    prop_assert_eq!(reparsed.port, conn.port, "port via {}", uri);
    prop_assert_eq!(&reparsed.extra, &conn.extra, "extra via {}", uri);
    prop_assert_eq!(&reparsed.description, &conn.description);
    prop_assert!(reparsed == conn);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn get_uri_roundtrips_in_the_server_dialect(value in connection_json()) {
        roundtrip(&value, Dialect::Server)?;
    }

    #[test]
    fn get_uri_roundtrips_in_the_worker_dialect(value in connection_json()) {
        roundtrip(&value, Dialect::Worker)?;
    }
}

#[test]
fn a_known_lossy_case_is_excluded_for_a_reason() {
    // Port 0 is dropped by get_uri (`if self.port:`), so the generator never produces it.
    let conn =
        parse_connection(r#"{"conn_type": "http", "host": "h", "schema": "", "port": 0}"#, Dialect::Server).unwrap();
    assert_eq!(conn.get_uri(Dialect::Server), "http://h");
    assert_eq!(parse_connection_uri("http://h", Dialect::Server).unwrap().port, None);
}
