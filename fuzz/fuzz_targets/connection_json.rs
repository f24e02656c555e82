//! A stored connection value as Airflow's `deserialize_connection` reads it (`str.strip()`, then the JSON form
//! when it starts with `{`, else the URI form), driven towards the JSON form: every input is read once as
//! given and once behind a `{`.
//!
//! Properties: no panic; an error quotes no input but the name of an unknown key; `Debug` never shows the
//! password or the extra; `extra_dejson` and `get_uri()` are computed.
#![no_main]

use airflow_compat::{ConnectionError, Dialect, parse_connection};
use libfuzzer_sys::fuzz_target;
use wasm_secrets_fuzz::{expand, holds};

fuzz_target!(|data: &[u8]| {
    let Some(input) = expand(data) else { return };
    for value in [input.data.clone(), format!("{{{}", input.data)] {
        for dialect in [Dialect::Server, Dialect::Worker] {
            match parse_connection(&value, dialect) {
                Ok(conn) => {
                    let shown = [&conn.conn_type, &conn.host, &conn.schema, &conn.login, &conn.description];
                    input.check(&format!("{conn:?}"), "Debug of a parsed connection", |i| {
                        shown.iter().any(|f| f.as_deref().is_some_and(|s| holds(s, i)))
                    });
                    let _ = conn.extra_dejson_repr();
                    let _ = conn.get_uri(dialect);
                }
                // The only input an error may quote is the unknown key, exactly.
                Err(ConnectionError::UnknownField(key)) => {
                    let message = ConnectionError::UnknownField(key.clone()).to_string();
                    assert_eq!(message, format!("unknown field `{key}` in the connection JSON"));
                }
                Err(e) => input.check_none(&e.to_string(), "a connection parse error"),
            }
        }
    }
});
