//! The lookups over an [`Api`] (one GET to Vault, a log line), mirroring Airflow's `VaultBackend`.
//!
//! - Each base path of the kind is tried in order: a 404 (nothing stored, or a deleted kv 2 version) moves on
//!   to the next, the first secret found ends the search (an empty one too, as in Airflow), and any other
//!   status stops the lookup with its error.
//! - A connection is the secret's `conn_uri` when that is set, else the whole secret as Python's `json.dumps`
//!   writes it (Airflow then deserializes it as the JSON form); a variable or config value is the `value`
//!   field (`str()` of it when it is not a string, Airflow's value printed). A secret without `value` is not
//!   found, with Airflow's warning.
//! - Flyte's `get-secret(group, key)` reads field `key` of the secret `group` under the mount.
//! - Errors carry Vault's own error messages (which name paths and reasons, never a stored value) and never
//!   a field of a secret.

use airflow_compat::pyjson::{self, PyObject};
use wasm_secrets_provider_common::live::Kind;
use wasm_secrets_provider_common::provider::{Lookups, connection_from_value};
use wasm_secrets_provider_common::{LookupError, http::Response};

use crate::config::BackendConfig;
use crate::path::{names_a_team_namespace, request_path, split_key, team_paths};

/// Severity of a log record sent to the host.
pub use wasm_secrets_provider_common::Level;

/// What a lookup needs from the host: one GET below the Vault server (the host adds the token and decides
/// which server that is) and a log line.
pub trait Api {
    /// `GET <path_and_query>` on the Vault server, the whole answer.
    fn get(&mut self, path_and_query: &str) -> Result<Response, LookupError>;
    /// Records a log line on the host (never a secret value).
    fn log(&mut self, level: Level, message: &str);
}

impl<A: Api + ?Sized> Api for &mut A {
    fn get(&mut self, path_and_query: &str) -> Result<Response, LookupError> {
        (**self).get(path_and_query)
    }
    fn log(&mut self, level: Level, message: &str) {
        (**self).log(level, message);
    }
}

/// The lookups of one call over `api`.
pub struct Backend<'c, A> {
    config: &'c BackendConfig,
    api: A,
}

/// A secret's fields, in the order Vault's answer gives them (Vault sorts them by name).
type Fields = Vec<(String, PyObject)>;

/// The longest part of Vault's error messages quoted in an error.
const MAX_VAULT_MESSAGE: usize = 300;

impl<'c, A: Api> Backend<'c, A> {
    /// Lookups with `config` over `api`.
    pub fn new(config: &'c BackendConfig, api: A) -> Self {
        Self { config, api }
    }

    /// The first secret found under `bases` for `key` (`_get_secret`), or `None`.
    fn find(&mut self, bases: &[String], key: &str) -> Result<Option<Fields>, LookupError> {
        for base in bases {
            // Airflow's client turns a path it cannot split into "not found" and tries the next base.
            let Some(path) = request_path(self.config, base, key) else {
                continue;
            };
            if let Some(fields) = self.read(&path)? {
                return Ok(Some(fields));
            }
        }
        Ok(None)
    }

    /// A kind's lookup with Airflow's team rules: `None` without a request for a disabled kind or a key the team
    /// guard refuses.
    fn find_for(
        &mut self,
        paths: Option<&[String]>,
        key: &str,
        team: Option<&str>,
    ) -> Result<Option<Fields>, LookupError> {
        let Some(paths) = paths.filter(|p| !p.is_empty()) else {
            return Ok(None);
        };
        if names_a_team_namespace(self.config, key, team) {
            self.api.log(
                Level::Warning,
                &format!(
                    "Secret id {} contains '/' and is looked up with no team. In multi-team mode it can resolve a \
                     team's secret under the base path, so it is not looked up. Returning None.",
                    pyjson::str_repr(key)
                ),
            );
            return Ok(None);
        }
        let bases = team_paths(self.config, paths, team);
        self.find(&bases, key)
    }

    /// One read: the secret's fields, `None` when nothing is stored there.
    fn read(&mut self, path: &str) -> Result<Option<Fields>, LookupError> {
        let response = self.api.get(path)?;
        match response.status {
            200 => self.data(&response.body, path),
            404 => Ok(None),
            status => Err(status_error(status, &response.body, path)),
        }
    }

    /// The secret of a 200 answer: `data` (kv 1) or `data.data` (kv 2; `null` there is not found).
    fn data(&self, body: &[u8], path: &str) -> Result<Option<Fields>, LookupError> {
        let unreadable = |what: &str| LookupError::Upstream(format!("Vault's answer for {path} {what}"));
        let text = std::str::from_utf8(body).map_err(|_| unreadable("is not UTF-8"))?;
        let answer = pyjson::loads(text).map_err(|_| unreadable("is not JSON"))?;
        let mut data = field(&answer, "data").ok_or_else(|| unreadable("has no `data`"))?;
        if self.config.kv_engine_version.0 == 2 {
            data = field(data, "data").ok_or_else(|| unreadable("has no `data.data`"))?;
        }
        match data {
            PyObject::None => Ok(None),
            PyObject::Dict(fields) => Ok(Some(fields.clone())),
            _ => Err(LookupError::MalformedPayload(format!("the secret at {path} is not a JSON object"))),
        }
    }

    /// `get_variable` / `get_config`: the `value` field.
    fn value_of(&mut self, fields: Option<Fields>, what: &str, key: &str) -> Option<String> {
        let fields = fields.filter(|f| !f.is_empty())?;
        match fields.into_iter().rev().find(|(name, _)| name == "value") {
            Some((_, PyObject::None)) => None,
            Some((_, value)) => Some(value.py_str()),
            None => {
                self.api.log(
                    Level::Warning,
                    &format!("Vault {what} {key} fetched but does not have required key \"value\""),
                );
                None
            }
        }
    }
}

fn field<'a>(object: &'a PyObject, name: &str) -> Option<&'a PyObject> {
    match object {
        PyObject::Dict(items) => items.iter().find(|(k, _)| k == name).map(|(_, v)| v),
        _ => None,
    }
}

/// The error of a status other than 200 and 404, with Vault's messages (cut, escaped).
fn status_error(status: u16, body: &[u8], path: &str) -> LookupError {
    let errors: Vec<String> = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("errors").and_then(|e| e.as_array()).cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e.as_str().map(|s| s.split_whitespace().collect::<Vec<_>>().join(" ")))
        .collect();
    let joined = errors.join("; ");
    let mut said: String = joined.chars().take(MAX_VAULT_MESSAGE).flat_map(char::escape_default).collect();
    if joined.chars().count() > MAX_VAULT_MESSAGE {
        said.push('…');
    }
    let said = if said.is_empty() { String::new() } else { format!(": {said}") };
    let message = format!("Vault answered HTTP {status} for GET {path}{said}");
    match status {
        401 | 403 => LookupError::AccessDenied(message),
        400 => LookupError::InvalidRequest(message),
        429 | 502..=504 => LookupError::Unavailable(message),
        _ => LookupError::Upstream(message),
    }
}

impl<A: Api> Lookups for Backend<'_, A> {
    fn get_conn_value(&mut self, conn_id: &str, team_name: Option<&str>) -> Result<Option<String>, LookupError> {
        let paths = self.config.connections_path.0.clone();
        let Some(fields) = self.find_for(paths.as_deref(), conn_id, team_name)? else {
            return Ok(None);
        };
        match fields.iter().rev().find(|(name, _)| name == "conn_uri").map(|(_, v)| v) {
            Some(PyObject::Str(uri)) if !uri.is_empty() => Ok(Some(uri.clone())),
            Some(other) if other.is_truthy() => Err(LookupError::MalformedPayload(format!(
                "connection `{conn_id}`: `conn_uri` in the Vault secret is not a string"
            ))),
            _ => Ok(Some(pyjson::dumps(&PyObject::Dict(fields)))),
        }
    }

    fn get_connection(
        &mut self,
        conn_id: &str,
        team_name: Option<&str>,
    ) -> Result<Option<airflow_compat::Connection>, LookupError> {
        let value = self.get_conn_value(conn_id, team_name)?;
        connection_from_value(conn_id, value, self.config.dialect)
    }

    fn get_variable(&mut self, key: &str, team_name: Option<&str>) -> Result<Option<String>, LookupError> {
        let paths = self.config.variables_path.0.clone();
        let fields = self.find_for(paths.as_deref(), key, team_name)?;
        Ok(self.value_of(fields, "secret", key))
    }

    fn get_config(&mut self, key: &str) -> Result<Option<String>, LookupError> {
        let paths = self.config.config_path.0.clone().unwrap_or_default();
        let fields = self.find(&paths, key)?;
        Ok(self.value_of(fields, "config", key))
    }

    /// Field `key` of the secret `group` read under the mount with no base path (with no fixed mount, the
    /// group's first segment is the mount). A field that is not a string is its `str()`.
    fn get_secret(&mut self, group: &str, key: &str) -> Result<Option<String>, LookupError> {
        if split_key(self.config, group).is_none() {
            return Ok(None);
        }
        let Some(fields) = self.find(&[String::new()], group)? else {
            return Ok(None);
        };
        Ok(fields.into_iter().rev().find(|(name, _)| name == key).and_then(|(_, v)| match v {
            PyObject::None => None,
            v => Some(v.py_str()),
        }))
    }

    /// Vault lists keys only with its `LIST` method, which the host does not allow a provider (it only reads):
    /// the listing fails, naming why, rather than listing nothing (a chain's listing logs it and lists the
    /// other providers'). A disabled kind lists nothing.
    fn list_ids(
        &mut self,
        kind: Kind,
        _team_name: Option<&str>,
        _listed: &mut dyn FnMut(&str) -> bool,
    ) -> Result<(), LookupError> {
        let paths = match kind {
            Kind::Connection => &self.config.connections_path,
            Kind::Variable => &self.config.variables_path,
            Kind::Config => &self.config.config_path,
        };
        if paths.0.as_ref().is_none_or(Vec::is_empty) {
            return Ok(());
        }
        Err(LookupError::InvalidRequest(
            "the Vault provider cannot list ids: that takes Vault's LIST method, and the host lets a provider only \
             read"
                .to_owned(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use wasm_secrets_provider_common::FromKwargs;

    use super::*;

    /// A Vault holding `secrets` (request path to data JSON), recording requests and logs.
    #[derive(Default)]
    struct Vault {
        secrets: HashMap<String, (u16, String)>,
        requests: Vec<String>,
        logs: Vec<(Level, String)>,
    }

    impl Vault {
        fn with(mut self, path: &str, data: &str) -> Self {
            let body = if path.contains("/data/") {
                format!(r#"{{"request_id":"x","data":{{"data":{data},"metadata":{{"version":1}}}},"warnings":null}}"#)
            } else {
                format!(r#"{{"request_id":"x","data":{data}}}"#)
            };
            self.secrets.insert(path.to_owned(), (200, body));
            self
        }
        fn answering(mut self, path: &str, status: u16, body: &str) -> Self {
            self.secrets.insert(path.to_owned(), (status, body.to_owned()));
            self
        }
    }

    impl Api for Vault {
        fn get(&mut self, path: &str) -> Result<Response, LookupError> {
            self.requests.push(path.to_owned());
            let (status, body) = self.secrets.get(path).cloned().unwrap_or((404, r#"{"errors":[]}"#.to_owned()));
            Ok(Response { status, body: body.into_bytes() })
        }
        fn log(&mut self, level: Level, message: &str) {
            self.logs.push((level, message.to_owned()));
        }
    }

    const URI: &str = "postgresql://user:p%40ss@db.example.com:5432/mydb?sslmode=require";

    fn config(text: &str) -> BackendConfig {
        BackendConfig::from_json(text).unwrap()
    }

    #[test]
    fn connections_are_the_uri_else_the_secret_as_json() {
        let mut vault = Vault::default()
            .with("/v1/secret/data/connections/uri", &format!(r#"{{"conn_uri":"{URI}"}}"#))
            .with("/v1/secret/data/connections/fields", r#"{"zeta":"1","host":"hé","alpha":null,"port":5432}"#)
            .with("/v1/secret/data/connections/extra", r#"{"conn_type":"http","extra":{"timeout":10,"verify":false}}"#)
            .with("/v1/secret/data/connections/empty_uri", r#"{"conn_uri":"","host":"h"}"#)
            .with("/v1/secret/data/connections/number_uri", r#"{"conn_uri":5}"#)
            .with("/v1/secret/data/connections/empty", "{}");
        let c = config("");
        let mut backend = Backend::new(&c, &mut vault);
        assert_eq!(backend.get_conn_value("uri", None).unwrap().as_deref(), Some(URI));
        assert_eq!(
            backend.get_conn_value("fields", None).unwrap().as_deref(),
            Some(r#"{"zeta": "1", "host": "h\u00e9", "alpha": null, "port": 5432}"#)
        );
        assert_eq!(
            backend.get_conn_value("extra", None).unwrap().as_deref(),
            Some(r#"{"conn_type": "http", "extra": {"timeout": 10, "verify": false}}"#)
        );
        assert_eq!(
            backend.get_conn_value("empty_uri", None).unwrap().as_deref(),
            Some(r#"{"conn_uri": "", "host": "h"}"#)
        );
        assert_eq!(backend.get_conn_value("empty", None).unwrap().as_deref(), Some("{}"));
        assert_eq!(backend.get_conn_value("missing", None).unwrap(), None);
        let err = backend.get_conn_value("number_uri", None).unwrap_err();
        assert_eq!(
            err,
            LookupError::MalformedPayload(
                "connection `number_uri`: `conn_uri` in the Vault secret is not a string".into()
            )
        );
        let conn = backend.get_connection("extra", None).unwrap().unwrap();
        assert_eq!(
            (conn.conn_type.as_deref(), conn.extra.as_deref()),
            (Some("http"), Some(r#"{"timeout": 10, "verify": false}"#))
        );
    }

    #[test]
    fn fallback_paths_stop_at_the_first_secret_and_on_errors() {
        let c = config(r#"{"connections_path": ["a", "b"], "variables_path": ["v1", "v2"], "kv_engine_version": 1}"#);
        let mut vault = Vault::default()
            .with("/v1/secret/b/found", &format!(r#"{{"conn_uri":"{URI}"}}"#))
            .with("/v1/secret/a/empty", "{}")
            .with("/v1/secret/b/empty", &format!(r#"{{"conn_uri":"{URI}"}}"#))
            .with("/v1/secret/v1/x", "{}")
            .with("/v1/secret/v2/x", r#"{"value":"no"}"#)
            .answering("/v1/secret/a/denied", 403, r#"{"errors":["1 error occurred:\n\t* permission denied\n\n"]}"#);
        let mut backend = Backend::new(&c, &mut vault);
        assert_eq!(backend.get_conn_value("found", None).unwrap().as_deref(), Some(URI));
        assert_eq!(backend.get_conn_value("empty", None).unwrap().as_deref(), Some("{}"));
        assert_eq!(backend.get_variable("x", None).unwrap(), None, "an empty secret ends the search");
        assert_eq!(
            backend.get_conn_value("denied", None).unwrap_err(),
            LookupError::AccessDenied(
                "Vault answered HTTP 403 for GET /v1/secret/a/denied: 1 error occurred: * permission denied".into()
            )
        );
        assert_eq!(
            vault.requests,
            [
                "/v1/secret/a/found",
                "/v1/secret/b/found",
                "/v1/secret/a/empty",
                "/v1/secret/v1/x",
                "/v1/secret/a/denied"
            ]
        );
    }

    #[test]
    fn variables_and_config_are_the_value_field() {
        let c = config(r#"{"config_path": ["cfg/a", "cfg/common"]}"#);
        let mut vault = Vault::default()
            .with("/v1/secret/data/variables/hello", r#"{"value":"world\n"}"#)
            .with("/v1/secret/data/variables/number", r#"{"value":42}"#)
            .with("/v1/secret/data/variables/flag", r#"{"value":true}"#)
            .with("/v1/secret/data/variables/null", r#"{"value":null}"#)
            .with("/v1/secret/data/variables/other", r#"{"val":"world"}"#)
            .with("/v1/secret/data/cfg/common/k", r#"{"value":"v"}"#)
            .with("/v1/secret/data/cfg/a/nokey", r#"{"x":"v"}"#);
        let mut backend = Backend::new(&c, &mut vault);
        assert_eq!(backend.get_variable("hello", None).unwrap().as_deref(), Some("world\n"));
        assert_eq!(backend.get_variable("number", None).unwrap().as_deref(), Some("42"));
        assert_eq!(backend.get_variable("flag", None).unwrap().as_deref(), Some("True"));
        assert_eq!(backend.get_variable("null", None).unwrap(), None);
        assert_eq!(backend.get_variable("other", None).unwrap(), None);
        assert_eq!(backend.get_config("k").unwrap().as_deref(), Some("v"));
        assert_eq!(backend.get_config("nokey").unwrap(), None);
        assert_eq!(
            vault.logs,
            [
                (Level::Warning, "Vault secret other fetched but does not have required key \"value\"".to_owned()),
                (Level::Warning, "Vault config nokey fetched but does not have required key \"value\"".to_owned()),
            ]
        );
    }

    #[test]
    fn disabled_kinds_keyless_ids_and_the_team_guard_send_nothing() {
        let off = config(r#"{"connections_path": null, "variables_path": [], "config_path": null}"#);
        let mut vault = Vault::default();
        let mut backend = Backend::new(&off, &mut vault);
        assert_eq!(backend.get_conn_value("a", None).unwrap(), None);
        assert_eq!(backend.get_variable("a", None).unwrap(), None);
        assert_eq!(backend.get_config("a").unwrap(), None);
        let mut listed = |_: &str| true;
        assert_eq!(backend.list_ids(Kind::Connection, None, &mut listed), Ok(()));
        // A base under which Airflow's client cannot split the path is skipped, not the end of the search.
        let mut skipping = Vault::default().with("/v1/conns/data/x", r#"{"value":"v"}"#);
        let fallbacks = config(r#"{"mount_point": null, "variables_path": ["", "conns"]}"#);
        assert_eq!(Backend::new(&fallbacks, &mut skipping).get_variable("/x", None).unwrap().as_deref(), Some("v"));
        assert_eq!(skipping.requests, ["/v1/conns/data/x"]);
        let by_key = config(r#"{"mount_point": null, "multi_team": true}"#);
        let mut backend = Backend::new(&by_key, &mut vault);
        assert_eq!(backend.get_conn_value("my_db", None).unwrap(), None);
        assert_eq!(backend.get_conn_value("airflow/team_a/my_db", None).unwrap(), None);
        assert!(vault.requests.is_empty(), "{:?}", vault.requests);
        assert_eq!(
            vault.logs,
            [(
                Level::Warning,
                "Secret id 'airflow/team_a/my_db' contains '/' and is looked up with no team. In multi-team mode it \
                 can resolve a team's secret under the base path, so it is not looked up. Returning None."
                    .to_owned()
            )]
        );
    }

    #[test]
    fn teams_read_under_their_path_and_flyte_reads_a_field() {
        let multi = config(r#"{"multi_team": true, "connections_path": ["connections/team1", "connections/common"]}"#);
        let mut vault = Vault::default()
            .with("/v1/secret/data/connections/common/team_a/my_db", &format!(r#"{{"conn_uri":"{URI}"}}"#))
            .with("/v1/secret/data/flyte/db", r#"{"password":"pw","port":5432}"#);
        let mut backend = Backend::new(&multi, &mut vault);
        assert_eq!(backend.get_conn_value("my_db", Some("team_a")).unwrap().as_deref(), Some(URI));
        assert_eq!(backend.get_secret("flyte/db", "password").unwrap().as_deref(), Some("pw"));
        assert_eq!(backend.get_secret("flyte/db", "port").unwrap().as_deref(), Some("5432"));
        assert_eq!(backend.get_secret("flyte/db", "user").unwrap(), None);
        assert_eq!(
            vault.requests,
            [
                "/v1/secret/data/connections/team1/team_a/my_db",
                "/v1/secret/data/connections/common/team_a/my_db",
                "/v1/secret/data/flyte/db",
                "/v1/secret/data/flyte/db",
                "/v1/secret/data/flyte/db",
            ]
        );
    }

    #[test]
    fn statuses_map_to_error_kinds_and_bad_answers_are_upstream() {
        let c = config("");
        let long = format!(r#"{{"errors":["{}"]}}"#, "x".repeat(1000));
        let mut vault = Vault::default()
            .answering("/v1/secret/data/variables/a", 400, r#"{"errors":["bad"]}"#)
            .answering("/v1/secret/data/variables/b", 503, r#"{"errors":["Vault is sealed"]}"#)
            .answering("/v1/secret/data/variables/c", 500, &long)
            .answering("/v1/secret/data/variables/d", 200, "not json")
            .answering("/v1/secret/data/variables/e", 200, r#"{"data":{"data":[1]}}"#)
            .answering("/v1/secret/data/variables/f", 200, r#"{"data":{"data":null}}"#)
            .answering("/v1/secret/data/variables/g", 401, "");
        let mut backend = Backend::new(&c, &mut vault);
        let kind = |r: Result<Option<String>, LookupError>| r.map_err(|e| e.wit_case().unwrap_or("?"));
        assert_eq!(kind(backend.get_variable("a", None)), Err("invalid-request"));
        assert_eq!(kind(backend.get_variable("b", None)), Err("unavailable"));
        let message = backend.get_variable("c", None).unwrap_err().to_string();
        assert!(message.len() < 400 && message.ends_with('…'), "{message}");
        assert_eq!(kind(backend.get_variable("d", None)), Err("upstream"));
        assert_eq!(kind(backend.get_variable("e", None)), Err("malformed-payload"));
        assert_eq!(backend.get_variable("f", None), Ok(None));
        assert_eq!(
            backend.get_variable("g", None).unwrap_err(),
            LookupError::AccessDenied("Vault answered HTTP 401 for GET /v1/secret/data/variables/g".into())
        );
    }
}
