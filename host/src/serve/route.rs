//! The daemon's HTTP API, pure: a request's method, path and query to a [`Route`], and an answer to its status
//! and JSON body. docs/serve.md lists the endpoints.
//!
//! Ids are path segments, percent-decoded after the path is split on `/`, so an id holding `/` (Airflow allows
//! it) is sent as `%2F`. The daemon's own messages never quote an id or a value (the audit log names what was
//! asked); a failed lookup carries the chain's message, which names no value.

use std::sync::Arc;

use airflow_compat::{Connection, Dialect};
use serde_json::json;

use crate::cache::Value;
use crate::chain::ChainError;
use crate::error::LookupError;
use crate::provider::Lookup;
use crate::task::ConfigKey;

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /healthz`: the process is serving.
    Health,
    /// `GET /readyz`: the chain is open (and its live views listed), and the daemon is not draining.
    Ready,
    /// `GET /metrics`: Prometheus text.
    Metrics,
    /// A secret.
    Read {
        /// What is read.
        read: Read,
        /// `?team=`.
        team: Option<String>,
    },
}

/// The secret endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// `GET /v1/connections/{id}`: the connection's fields and URI.
    Connection(String),
    /// `GET /v1/connections/{id}/value`: the stored value, as Airflow's `get_conn_value` returns it.
    ConnValue(String),
    /// `GET /v1/connections/{id}/uri`: the connection's URI (`get_uri`, in the daemon's dialect).
    ConnUri(String),
    /// `GET /v1/variables/{key}`.
    Variable(String),
    /// `GET /v1/config/{key}`.
    Config(String),
    /// `GET /v1/secrets/{group}/{key}`.
    Secret {
        /// The group.
        group: String,
        /// The key.
        key: String,
    },
}

impl Read {
    /// The key grants are checked on (a connection's three endpoints are one key).
    pub fn grant_key(&self) -> ConfigKey {
        match self {
            Self::Connection(id) | Self::ConnValue(id) | Self::ConnUri(id) => ConfigKey::Connection(id.clone()),
            Self::Variable(key) => ConfigKey::Variable(key.clone()),
            Self::Config(key) => ConfigKey::Config(key.clone()),
            Self::Secret { group, key } => ConfigKey::Secret { group: group.clone(), key: key.clone() },
        }
    }

    /// The chain lookup that answers it.
    pub fn lookup<'a>(&'a self, team: Option<&'a str>) -> Lookup<'a> {
        match self {
            Self::Connection(id) | Self::ConnUri(id) => Lookup::Connection(id, team),
            Self::ConnValue(id) => Lookup::ConnValue(id, team),
            Self::Variable(key) => Lookup::Variable(key, team),
            Self::Config(key) => Lookup::Config(key),
            Self::Secret { group, key } => Lookup::Secret(group, key),
        }
    }

    /// The request target that asks for it (what [`Route::parse`] reads back): ids percent-encoded, every byte
    /// but unreserved ones.
    ///
    /// ```
    /// use wasm_secrets::serve::route::Read;
    /// assert_eq!(Read::ConnUri("a/b c".into()).target(Some("t")), "/v1/connections/a%2Fb%20c/uri?team=t");
    /// ```
    pub fn target(&self, team: Option<&str>) -> String {
        let mut target = match self {
            Self::Connection(id) => format!("/v1/connections/{}", encode(id)),
            Self::ConnValue(id) => format!("/v1/connections/{}/value", encode(id)),
            Self::ConnUri(id) => format!("/v1/connections/{}/uri", encode(id)),
            Self::Variable(key) => format!("/v1/variables/{}", encode(key)),
            Self::Config(key) => format!("/v1/config/{}", encode(key)),
            Self::Secret { group, key } => format!("/v1/secrets/{}/{}", encode(group), encode(key)),
        };
        if let Some(team) = team {
            target.push_str("?team=");
            target.push_str(&encode(team));
        }
        target
    }

    fn takes_team(&self) -> bool {
        !matches!(self, Self::Config(_) | Self::Secret { .. })
    }
}

/// A request the API does not serve: the status and a message (quoting no id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The HTTP status.
    pub status: u16,
    /// The error kind of the JSON body.
    pub kind: &'static str,
    /// The message.
    pub message: &'static str,
}

const fn reject(status: u16, kind: &'static str, message: &'static str) -> Rejection {
    Rejection { status, kind, message }
}

/// The longest request target (path and query) served, in bytes: ids are at most 1 KiB
/// ([`crate::task::MAX_TASK_ID_BYTES`]), percent-encoding triples them.
pub const MAX_TARGET_BYTES: usize = 8 * 1024;

impl Route {
    /// The route of `method` and `target` (path and optional query).
    ///
    /// ```
    /// use wasm_secrets::serve::route::{Read, Route};
    /// assert_eq!(
    ///     Route::parse("GET", "/v1/connections/a%2Fb/value?team=alpha"),
    ///     Ok(Route::Read { read: Read::ConnValue("a/b".into()), team: Some("alpha".into()) })
    /// );
    /// assert_eq!(Route::parse("POST", "/healthz").unwrap_err().status, 405);
    /// ```
    pub fn parse(method: &str, target: &str) -> Result<Self, Rejection> {
        if method != "GET" {
            return Err(reject(405, "method_not_allowed", "only GET is served"));
        }
        if target.len() > MAX_TARGET_BYTES {
            return Err(reject(414, "bad_request", "the request target is longer than 8 KiB"));
        }
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let team = team_of(query)?;
        let no_team = |route: Self| if team.is_some() { Err(unknown_parameter()) } else { Ok(route) };
        let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
        let read = match segments.as_slice() {
            ["healthz"] => return no_team(Self::Health),
            ["readyz"] => return no_team(Self::Ready),
            ["metrics"] => return no_team(Self::Metrics),
            ["v1", "connections", id] => Read::Connection(decode(id)?),
            ["v1", "connections", id, "value"] => Read::ConnValue(decode(id)?),
            ["v1", "connections", id, "uri"] => Read::ConnUri(decode(id)?),
            ["v1", "variables", key] => Read::Variable(decode(key)?),
            ["v1", "config", key] => Read::Config(decode(key)?),
            ["v1", "secrets", group, key] => Read::Secret { group: decode(group)?, key: decode(key)? },
            _ => return Err(reject(404, "no_such_endpoint", "no such endpoint (see docs/serve.md)")),
        };
        if team.is_some() && !read.takes_team() {
            return Err(reject(400, "bad_request", "configuration values and Flyte secrets have no team"));
        }
        Ok(Self::Read { read, team })
    }
}

fn unknown_parameter() -> Rejection {
    reject(400, "bad_request", "the only query parameter is `team`, on connections and variables")
}

/// `team` of the query, the only parameter there is (once, not empty).
fn team_of(query: &str) -> Result<Option<String>, Rejection> {
    let mut team = None;
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        if name != "team" || team.is_some() {
            return Err(unknown_parameter());
        }
        if value.is_empty() {
            return Err(reject(400, "bad_request", "`team` is empty"));
        }
        team = Some(value.into_owned());
    }
    Ok(team)
}

/// A percent-decoded path segment: UTF-8, not empty.
fn decode(segment: &str) -> Result<String, Rejection> {
    let bad = || reject(400, "bad_request", "a path segment is empty, badly percent-encoded or not UTF-8");
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).ok_or_else(bad)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok().filter(|s| !s.is_empty()).ok_or_else(bad)
}

/// Percent-encodes every byte but `A-Z a-z 0-9 - . _ ~`.
fn encode(text: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// A JSON answer: status and body.
#[derive(Clone, PartialEq, Eq)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body (may hold a secret: never shown by `Debug`).
    pub body: String,
}

/// Status and length only: the body may hold a secret.
impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Reply({}, {} bytes)", self.status, self.body.len())
    }
}

impl Reply {
    /// An error body: `{"error": kind, "message": ...}`.
    pub fn error(status: u16, kind: &str, message: &str) -> Self {
        Self { status, body: json!({ "error": kind, "message": message }).to_string() }
    }

    /// The answer to `read`, as the chain gave it (`dialect` for connection URIs).
    pub fn answer(read: &Read, value: &Value, dialect: Dialect) -> Self {
        let found = |body: serde_json::Value| Self { status: 200, body: body.to_string() };
        match (read, value) {
            (Read::Connection(id), Value::Connection(Some(conn))) => found(connection_json(id, conn, dialect)),
            (Read::ConnUri(_), Value::Connection(Some(conn))) => found(json!({ "uri": conn.get_uri(dialect) })),
            (_, Value::Text(Some(text))) => found(json!({ "value": &**text })),
            _ => Self::error(404, "not_found", not_found_message(read)),
        }
    }

    /// The answer to a lookup that failed: the error's kind, the provider and the chain's message (which
    /// names no value).
    pub fn failure(error: &ChainError) -> Self {
        let status = match &error.error {
            LookupError::InvalidRequest(_) => 400,
            LookupError::Unavailable(_) => 503,
            LookupError::Timeout(_) => 504,
            LookupError::AccessDenied(_) | LookupError::Upstream(_) | LookupError::MalformedPayload(_) => 502,
            _ => 500,
        };
        let body = json!({ "error": error.error.kind(), "provider": &error.provider, "message": error.to_string() })
            .to_string();
        Self { status, body }
    }
}

fn not_found_message(read: &Read) -> &'static str {
    match read {
        Read::Connection(_) | Read::ConnValue(_) | Read::ConnUri(_) => "no provider holds this connection",
        Read::Variable(_) => "no provider holds this variable",
        Read::Config(_) => "no provider holds this config value",
        Read::Secret { .. } => "no provider holds this secret",
    }
}

/// A connection's fields, Airflow's names, and its URI.
fn connection_json(id: &str, conn: &Arc<Connection>, dialect: Dialect) -> serde_json::Value {
    json!({
        "conn_id": id,
        "conn_type": conn.conn_type,
        "description": conn.description,
        "host": conn.host,
        "schema": conn.schema,
        "login": conn.login,
        "password": conn.password,
        "port": conn.port,
        "extra": conn.extra,
        "uri": conn.get_uri(dialect),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_parses() {
        let read = |target: &str| match Route::parse("GET", target) {
            Ok(Route::Read { read, team }) => (read, team),
            other => panic!("{target}: {other:?}"),
        };
        assert_eq!(read("/v1/connections/db"), (Read::Connection("db".into()), None));
        assert_eq!(read("/v1/connections/db/uri?team=a"), (Read::ConnUri("db".into()), Some("a".into())));
        assert_eq!(read("/v1/variables/k%C3%A9y"), (Read::Variable("kéy".into()), None));
        assert_eq!(read("/v1/config/sql_alchemy_conn"), (Read::Config("sql_alchemy_conn".into()), None));
        assert_eq!(read("/v1/secrets/aws/key"), (Read::Secret { group: "aws".into(), key: "key".into() }, None));
        assert_eq!(Route::parse("GET", "/healthz"), Ok(Route::Health));
        assert_eq!(Route::parse("GET", "/readyz"), Ok(Route::Ready));
        assert_eq!(Route::parse("GET", "/metrics"), Ok(Route::Metrics));
    }

    #[test]
    fn targets_parse_back_to_their_read() {
        let reads = [
            Read::Connection("a/b?c#d%e".into()),
            Read::ConnValue("ü ñ".into()),
            Read::ConnUri("x".into()),
            Read::Variable("k+=&".into()),
            Read::Config("c".into()),
            Read::Secret { group: "g".into(), key: "k/../x".into() },
        ];
        for read in reads {
            let team = read.takes_team().then(|| "te am&x=1".to_owned());
            let parsed = Route::parse("GET", &read.target(team.as_deref()));
            assert_eq!(parsed, Ok(Route::Read { read: read.clone(), team }), "{read:?}");
        }
    }

    #[test]
    fn bad_requests_are_rejected_with_their_status() {
        let status = |m: &str, t: &str| Route::parse(m, t).unwrap_err().status;
        assert_eq!(status("DELETE", "/v1/variables/x"), 405);
        assert_eq!(status("GET", "/v1/variables"), 404);
        assert_eq!(status("GET", "/v1/variables/x/y"), 404);
        assert_eq!(status("GET", "/v2/variables/x"), 404);
        assert_eq!(status("GET", "/v1/variables/"), 400);
        assert_eq!(status("GET", "/v1/variables/%zz"), 400);
        assert_eq!(status("GET", "/v1/variables/%ff"), 400);
        assert_eq!(status("GET", "/v1/variables/x?tema=a"), 400);
        assert_eq!(status("GET", "/v1/variables/x?team=a&team=b"), 400);
        assert_eq!(status("GET", "/v1/variables/x?team="), 400);
        assert_eq!(status("GET", "/v1/config/x?team=a"), 400);
        assert_eq!(status("GET", "/healthz?team=a"), 400);
        assert_eq!(status("GET", &format!("/v1/variables/{}", "a".repeat(MAX_TARGET_BYTES))), 414);
    }

    #[test]
    fn answers_are_json_and_debug_hides_them() {
        let conn = Arc::new(airflow_compat::parse_connection("postgres://u:p%40ss@h:5432/s", Dialect::Server).unwrap());
        let reply =
            Reply::answer(&Read::Connection("db".into()), &Value::Connection(Some(conn.clone())), Dialect::Server);
        assert_eq!(reply.status, 200);
        let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(body["password"], "p@ss");
        assert_eq!(body["port"], 5432);
        assert_eq!(body["uri"], "postgres://u:p%40ss@h:5432/s");
        assert_eq!(format!("{reply:?}"), format!("Reply(200, {} bytes)", reply.body.len()));
        let uri = Reply::answer(&Read::ConnUri("db".into()), &Value::Connection(Some(conn)), Dialect::Server);
        assert_eq!(uri.body, r#"{"uri":"postgres://u:p%40ss@h:5432/s"}"#);
        let text = Reply::answer(&Read::Variable("v".into()), &Value::Text(Some("x\"y".into())), Dialect::Server);
        assert_eq!(text.body, r#"{"value":"x\"y"}"#);
        let missing = Reply::answer(&Read::Variable("v".into()), &Value::Text(None), Dialect::Server);
        assert_eq!(
            (missing.status, missing.body.as_str()),
            (404, r#"{"error":"not_found","message":"no provider holds this variable"}"#)
        );
    }
}
