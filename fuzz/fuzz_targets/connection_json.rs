//! A stored connection value as Airflow's `deserialize_connection` reads it (`str.strip()`, then the JSON form
//! when it starts with `{`, else the URI form), driven towards the JSON form: every input is read once as
//! given and once behind a `{`.
//!
//! Properties: no panic; an error names at most an unknown key, never a value; `Debug` never shows the
//! password or the extra.
#![no_main]

use airflow_compat::{ConnectionError, Dialect, parse_connection};
use libfuzzer_sys::fuzz_target;
use wasm_secrets_fuzz::{assert_no_leak, expand, leaks};

fuzz_target!(|data: &[u8]| {
    let Some(text) = expand(data) else { return };
    for value in [text.clone(), format!("{{{text}")] {
        for dialect in [Dialect::Server, Dialect::Worker] {
            match parse_connection(&value, dialect) {
                Ok(conn) => {
                    let shown = [&conn.conn_type, &conn.host, &conn.schema, &conn.login, &conn.description];
                    if !shown.iter().any(|f| f.as_deref().is_some_and(leaks)) {
                        assert_no_leak(&format!("{conn:?}"), "Debug of a parsed connection");
                    }
                    // The extra, when there is one, is what Airflow validated (server) or kept (worker): its
                    // Python and JSON forms are computed without panicking.
                    let _ = conn.extra_dejson_repr();
                    let _ = conn.get_uri(dialect);
                }
                // The unknown key is the only input text an error may quote (a key, not a value).
                Err(ConnectionError::UnknownField(key)) => {
                    if leaks(&key) {
                        let in_a_key = serde_json::from_str(&value)
                            .map_or(true, |v| wasm_secrets_fuzz::canary_in_json_names(&v, &[]));
                        assert!(in_a_key, "an unknown-field error quotes a value");
                    }
                }
                Err(e) => assert_no_leak(&e.to_string(), "a connection parse error"),
            }
        }
    }
});
