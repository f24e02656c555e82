//! Airflow-exact connection handling for the wasm-secrets Kubernetes secrets provider.
//!
//! Apache Airflow's `KubernetesSecretsBackend` returns the base64-decoded secret value, and Airflow then
//! turns that string into a `Connection`. What a user sees (`airflow connections get`, a hook's
//! `conn.password`, the worker's cached `get_uri()`) is therefore defined by Python code, and much of it by
//! CPython quirks rather than by any URL or JSON standard: `urllib.parse.urlsplit` lowercases only part of
//! the host, splits the userinfo at the last `@`, strips TAB/CR/LF; `unquote` replaces invalid UTF-8;
//! `base64.b64decode` silently drops unknown characters and stops at padding; `json.dumps` writes
//! `", "`/`": "` separators, `\uXXXX` escapes and `NaN`. This crate reproduces that behaviour for Airflow
//! 3.3.2 (airflow-core), Task SDK 1.3.2 and CPython 3.11.7, as pure functions usable both in the
//! WebAssembly guest and on the native host.
//!
//! Two [`Dialect`]s exist because Airflow has two `Connection` classes that parse the same value slightly
//! differently: [`Dialect::Server`] (airflow-core, used by `airflow connections get`) and
//! [`Dialect::Worker`] (Task SDK, used by tasks and triggerers).
//!
//! No error produced here contains any part of the secret value.
//!
//! Deliberate deviations, for inputs Airflow accepts but cannot use consistently:
//! - a JSON-form field that must be text (`host`, `login`, ...) but holds a number, boolean, list or
//!   object is rejected ([`ConnectionError::FieldType`]); Airflow stores it untyped and fails later, e.g.
//!   in `get_uri()`;
//! - a JSON-form `port` beyond the `i64` range is rejected ([`ConnectionError::JsonPortTooLarge`]);
//! - JSON `\ud800`-style lone surrogate escapes decode to U+FFFD, and nesting deeper than
//!   [`pyjson::MAX_DEPTH`] is rejected (Python: `RecursionError`);
//! - [`Connection::extra_dejson`] returns a [`serde_json::Value`], which cannot hold `nan`/`inf`
//!   ([`Connection::extra_dejson_py`] is exact).
//!
//! ```
//! use airflow_compat::{parse_connection, pybase64::decode_secret_value, Dialect};
//!
//! // `data.value` of a Kubernetes Secret, with a line break as `kubectl` users sometimes leave.
//! let value = decode_secret_value("cG9zdGdyZXNxbDovL3U6cCU0MHNzQERCLmV4YW1w\nbGUvbXlkYj9uPTE=").unwrap();
//! assert_eq!(value, "postgresql://u:p%40ss@DB.example/mydb?n=1");
//!
//! let server = parse_connection(&value, Dialect::Server).unwrap();
//! assert_eq!(server.conn_type.as_deref(), Some("postgres"));
//! assert_eq!(server.host.as_deref(), Some("db.example"));
//! assert_eq!(server.password.as_deref(), Some("p@ss"));
//! assert_eq!(server.extra.as_deref(), Some(r#"{"n": 1}"#)); // core JSON-decodes query values
//! assert_eq!(server.get_uri(Dialect::Server), "postgres://u:p%40ss@db.example/mydb?__extra__=%7B%22n%22%3A+1%7D");
//!
//! let worker = parse_connection(&value, Dialect::Worker).unwrap();
//! assert_eq!(worker.extra.as_deref(), Some(r#"{"n": "1"}"#)); // the Task SDK keeps strings
//! assert_eq!(worker.get_uri(Dialect::Worker), "postgres://u:p%40ss@db.example/mydb?n=1");
//! ```

pub mod connection;
pub mod error;
pub mod pybase64;
pub mod pyjson;
pub mod pystr;
pub mod pyurllib;

pub use connection::{Connection, Dialect, UnknownDialect, parse_connection, parse_connection_uri};
pub use error::{Base64Error, ConnectionError, JsonField, JsonSyntaxError, UriProblem, ValueDecodeError};
pub use pybase64::{b64decode, decode_secret_value};
pub use pyjson::PyObject;
