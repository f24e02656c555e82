//! Airflow's connection URI parser, in both dialects (server: `Connection(uri=...)`; worker: the Task SDK's
//! `Connection.from_uri`).
//!
//! Properties: no panic; an error never shows a secret; a parsed connection's `Debug` never shows a secret
//! unless that canary is in a field `Debug` shows (type, host, schema, login, description); what `get_uri()`
//! writes, the parser reads back, keeping the login and the password, and `get_uri()` settles after one round
//! (Airflow's own normalisations, such as a lower-cased host, happen once).
#![no_main]

use airflow_compat::{Dialect, parse_connection_uri};
use libfuzzer_sys::fuzz_target;
use wasm_secrets_fuzz::{expand, holds};

fuzz_target!(|data: &[u8]| {
    let Some(input) = expand(data) else { return };
    for dialect in [Dialect::Server, Dialect::Worker] {
        match parse_connection_uri(&input.data, dialect) {
            Ok(conn) => {
                let shown = [&conn.conn_type, &conn.host, &conn.schema, &conn.login, &conn.description];
                input.check(&format!("{conn:?}"), "Debug of a parsed connection", |i| {
                    shown.iter().any(|f| f.as_deref().is_some_and(|s| holds(s, i)))
                });
                // Airflow's get_uri() writes a host with a nested protocol as `type://protocol://` followed by the
                // credentials and the rest of the host, which its own parser may then refuse ("Invalid connection
                // string" when an `@` or `:` comes before the nested protocol): kept identical, so connections
                // whose host holds `://` are not re-read.
                if conn.host.as_deref().is_some_and(|h| h.contains("://")) {
                    continue;
                }
                let reread = |uri: &str| {
                    parse_connection_uri(uri, dialect)
                        .unwrap_or_else(|e| panic!("{dialect:?}: get_uri() wrote a URI the parser refuses: {e}"))
                };
                let first = reread(&conn.get_uri(dialect));
                // The credentials survive the round trip (Airflow quotes them with no safe characters); an
                // empty one may come back as none.
                let same =
                    |a: &Option<String>, b: &Option<String>| a.as_deref().unwrap_or("") == b.as_deref().unwrap_or("");
                assert!(same(&first.login, &conn.login), "{dialect:?}: the login changed through get_uri()");
                assert!(same(&first.password, &conn.password), "{dialect:?}: the password changed through get_uri()");
                let once = first.get_uri(dialect);
                assert_eq!(
                    reread(&once).get_uri(dialect),
                    once,
                    "{dialect:?}: get_uri() does not settle after one round"
                );
            }
            Err(e) => input.check_none(&e.to_string(), "a URI parse error"),
        }
    }
});
