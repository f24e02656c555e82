//! Airflow connections: parsing a secret value (URI or JSON form) and serialising back with `get_uri`.

mod constructor;
mod json;
mod serialize;
mod uri;

use std::fmt;
use std::str::FromStr;

use crate::error::ConnectionError;
use crate::pyjson::{self, PyObject};
use crate::pystr;

pub use constructor::CoreArguments;

/// Which Airflow `Connection` class parses the value. The two classes share most of the algorithm but
/// differ in a few places (query-value JSON decoding, `""` passwords, extra validation, the `uri` JSON field
/// and `team_name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Dialect {
    /// airflow-core `airflow.models.connection.Connection`: `airflow connections get` and server code.
    #[default]
    Server,
    /// Task SDK `airflow.sdk.definitions.connection.Connection`: task runner, triggerer, `BaseHook`.
    Worker,
}

impl Dialect {
    /// The lowercase name: `"server"` or `"worker"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Server => "server",
            Self::Worker => "worker",
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The string is neither `server` nor `worker`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown dialect: expected `server` or `worker`")]
pub struct UnknownDialect;

impl FromStr for Dialect {
    type Err = UnknownDialect;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "server" => Ok(Self::Server),
            "worker" => Ok(Self::Worker),
            _ => Err(UnknownDialect),
        }
    }
}

/// An Airflow connection as the Airflow classes hold it after parsing.
///
/// `None` and `Some("")` differ, exactly as Airflow's `None` and `""` do (the URI form yields `""` for a
/// missing host or schema, the JSON form `None`). `Debug` never shows the password or the extra.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Connection {
    /// Normalised connection type (`postgresql` becomes `postgres`, `-` becomes `_`).
    pub conn_type: Option<String>,
    /// Free-text description (JSON form only).
    pub description: Option<String>,
    /// Host (may carry a nested `protocol://`).
    pub host: Option<String>,
    /// Schema (the URI path without its first character).
    pub schema: Option<String>,
    /// Login.
    pub login: Option<String>,
    /// Password.
    pub password: Option<String>,
    /// Port (the JSON form allows any integer, the URI form `0..=65535`).
    pub port: Option<i64>,
    /// The raw `extra` string, as Airflow's `extra` attribute.
    pub extra: Option<String>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |v: &Option<String>| v.as_ref().map(|_| "***");
        f.debug_struct("Connection")
            .field("conn_type", &self.conn_type)
            .field("description", &self.description)
            .field("host", &self.host)
            .field("schema", &self.schema)
            .field("login", &self.login)
            .field("password", &redacted(&self.password))
            .field("port", &self.port)
            .field("extra", &redacted(&self.extra))
            .finish()
    }
}

impl Connection {
    /// Airflow's `Connection.get_uri()` in the given dialect.
    ///
    /// ```
    /// use airflow_compat::{parse_connection, Dialect};
    /// let c = parse_connection(r#"{"conn_type": "postgres", "host": "h", "extra": {"a": "1"}}"#, Dialect::Server)
    ///     .unwrap();
    /// assert_eq!(c.get_uri(Dialect::Server), "postgres://h/?a=1");
    /// ```
    pub fn get_uri(&self, dialect: Dialect) -> String {
        serialize::get_uri(self, dialect)
    }

    /// Airflow's `extra_dejson` as the exact Python value: the parsed extra when it is valid JSON, else an
    /// empty dict. A JSON extra that is not an object (possible in the worker dialect) is returned as is.
    pub fn extra_dejson_py(&self) -> PyObject {
        match self.extra.as_deref() {
            Some(extra) if !extra.is_empty() => pyjson::loads(extra).unwrap_or_else(|_| PyObject::Dict(Vec::new())),
            _ => PyObject::Dict(Vec::new()),
        }
    }

    /// Airflow's `extra_dejson` as a [`serde_json::Value`] (see [`Connection::extra_dejson_py`]).
    ///
    /// JSON cannot hold Python's `nan`/`inf` (they become `null`) nor integers beyond 64 bits (they become
    /// floats); use [`Connection::extra_dejson_py`] or [`Connection::extra_dejson_repr`] when that matters.
    pub fn extra_dejson(&self) -> serde_json::Value {
        self.extra_dejson_py().to_json_value()
    }

    /// `str(extra_dejson)` as `airflow connections get` prints it, e.g. `{'sslmode': 'require'}`.
    pub fn extra_dejson_repr(&self) -> String {
        self.extra_dejson_py().repr()
    }
}

/// Airflow's `_normalize_conn_type`: `postgresql` becomes `postgres`, otherwise `-` becomes `_`.
fn normalize_conn_type(conn_type: &str) -> String {
    if conn_type == "postgresql" { "postgres".to_owned() } else { conn_type.replace('-', "_") }
}

/// Server dialect: core's `_validate_extra`, run for every truthy extra.
fn validate_extra_server(extra: Option<&str>) -> Result<(), ConnectionError> {
    match extra {
        Some(extra) if !extra.is_empty() => match pyjson::loads(extra) {
            Ok(PyObject::Dict(_)) => Ok(()),
            Ok(_) => Err(ConnectionError::ExtraNotObject),
            Err(_) => Err(ConnectionError::ExtraNotJson),
        },
        _ => Ok(()),
    }
}

/// What `BaseSecretsBackend.deserialize_connection` does with a secret value: Python `str.strip()`, then
/// the JSON form when the value starts with `{`, else the URI form.
///
/// An empty or whitespace-only value is an error ([`ConnectionError::EmptyValue`]); Airflow treats `""`
/// as "not found" and raises `IndexError` for whitespace.
///
/// ```
/// use airflow_compat::{parse_connection, Dialect};
/// let c = parse_connection(" postgresql://user:p%40ss@DB.example:5432/mydb?sslmode=require\n", Dialect::Server)
///     .unwrap();
/// assert_eq!(c.conn_type.as_deref(), Some("postgres"));
/// assert_eq!(c.host.as_deref(), Some("db.example"));
/// assert_eq!(c.password.as_deref(), Some("p@ss"));
/// assert_eq!(c.extra.as_deref(), Some(r#"{"sslmode": "require"}"#));
/// ```
pub fn parse_connection(value: &str, dialect: Dialect) -> Result<Connection, ConnectionError> {
    let value = pystr::strip(value);
    if value.is_empty() {
        return Err(ConnectionError::EmptyValue);
    }
    if value.starts_with('{') { json::parse_json(value, dialect) } else { uri::parse_uri(value, dialect) }
}

/// Airflow's URI constructor alone (`Connection(uri=...)` in core, `Connection.from_uri` in the Task SDK),
/// without the stripping and JSON detection of [`parse_connection`]. This is how the worker's secrets cache
/// re-parses the `get_uri()` string it stored.
pub fn parse_connection_uri(uri: &str, dialect: Dialect) -> Result<Connection, ConnectionError> {
    uri::parse_uri(uri, dialect)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_secrets() {
        let c = Connection {
            password: Some("hunter2".into()),
            extra: Some(r#"{"token": "abc"}"#.into()),
            login: Some("user".into()),
            ..Connection::default()
        };
        let debug = format!("{c:?}");
        assert!(!debug.contains("hunter2"));
        assert!(!debug.contains("abc"));
        assert!(debug.contains(r#"password: Some("***")"#));
        assert!(debug.contains("port: None"));
    }

    #[test]
    fn dialect_from_str() {
        assert_eq!("server".parse(), Ok(Dialect::Server));
        assert_eq!("worker".parse(), Ok(Dialect::Worker));
        assert!("Server".parse::<Dialect>().is_err());
        assert_eq!(Dialect::default(), Dialect::Server);
        assert_eq!(Dialect::Worker.to_string(), "worker");
    }

    #[test]
    fn whitespace_only_is_an_error() {
        assert_eq!(parse_connection(" \u{3000}\n", Dialect::Server), Err(ConnectionError::EmptyValue));
        assert_eq!(parse_connection("", Dialect::Worker), Err(ConnectionError::EmptyValue));
    }

    /// Deterministic pseudo-random inputs built from URL/JSON delimiters and multi-byte characters: nothing
    /// may panic, and an error must never echo the input.
    #[test]
    fn never_panics_on_odd_input() {
        const PIECES: &[&str] = &[
            "x",
            "://",
            "//",
            ":",
            "@",
            "/",
            "?",
            "#",
            "&",
            "=",
            "%",
            "%4",
            "%C3",
            "%A9",
            "[",
            "]",
            "::1",
            "v1.",
            "%25",
            "\t",
            "\n",
            " ",
            "\u{0}",
            "é",
            "\u{2100}",
            "\u{1c89}",
            "Σ",
            "😀",
            "{",
            "}",
            "\"",
            "\\",
            ",",
            "0",
            "65536",
            "__extra__",
            "NaN",
            "[1",
            "\"port\"",
            "\"uri\"",
            "\"extra\"",
            "\u{3000}",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let len = next() % 12;
            let mut value = String::new();
            for _ in 0..len {
                let idx = usize::try_from(next() % PIECES.len() as u64).unwrap();
                value.push_str(PIECES[idx]);
            }
            for dialect in [Dialect::Server, Dialect::Worker] {
                match parse_connection(&value, dialect) {
                    Ok(c) => {
                        let uri = c.get_uri(dialect);
                        let _ = parse_connection_uri(&uri, dialect);
                        let _ = c.extra_dejson();
                        let _ = c.extra_dejson_repr();
                    }
                    Err(e) => {
                        let shown = format!("{e} {e:?}");
                        if value.chars().count() >= 6 {
                            assert!(!shown.contains(&value), "{shown}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn extra_dejson_non_dict_in_worker() {
        let c = parse_connection("x://h?__extra__=%5B1%2C2%5D", Dialect::Worker).unwrap();
        assert_eq!(c.extra_dejson(), serde_json::json!([1, 2]));
        let c = parse_connection("x://h?__extra__=nope", Dialect::Worker).unwrap();
        assert_eq!(c.extra_dejson(), serde_json::json!({}));
        assert!(parse_connection("x://h?__extra__=%5B1%5D", Dialect::Server).is_err());
        assert!(parse_connection("x://h?__extra__=nope", Dialect::Server).is_err());
    }
}
