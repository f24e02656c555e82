//! The lookups of Airflow's `LocalFilesystemBackend` (airflow-core 3.3.2), over an injected file reader so
//! that they run natively in unit tests.
//!
//! Every lookup reads and parses its file afresh, as Airflow does (the properties `_local_connections`,
//! `_local_variables` and `_local_configs` reload on every access), so edits are seen without a restart.
//! `team_name` is ignored: airflow-core 3.3.2's `LocalFilesystemBackend` has no team handling.
//!
//! | lookup | Airflow | here |
//! |---|---|---|
//! | `get-connection` | `load_connections_dict(file).get(conn_id)` | the same |
//! | `get-conn-value` | not implemented (`NotImplementedError` from the base class) | the connection's `get_uri()` in the configured dialect |
//! | `get-variable` | `load_variables(file).get(key)` | the same; a value that is not a string is returned as its `json.dumps` (Airflow returns the object) |
//! | `get-config` | `load_configs_dict(file).get(key)` | the same, with the same rule for non-strings |
//! | `get-secret` | (Flyte) | always none |
//!
//! A `null` value is "not found", as `dict.get` returning `None` is for Airflow. A YAML timestamp is returned
//! as written (Airflow returns a `date` or `datetime`).

use airflow_compat::Connection;
use wasm_secrets_provider_common::Lookups;
use wasm_secrets_provider_common::live::Kind;
use wasm_secrets_provider_common::provider::listing_refused;

use crate::config::BackendConfig;
use crate::error::LookupError;
use crate::file::{Secrets, load_configs, load_connections, load_variables};
use crate::value::Value;

/// Why the host gave no file content (the WIT `file-error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileError {
    /// The path is granted but there is no file there.
    NotFound,
    /// The host did not grant this path.
    Denied(String),
    /// The file could not be read.
    Io(String),
}

/// Reads one whole file (the host's `read-file`).
pub trait Files {
    /// The content of the file at `path`.
    fn read_file(&mut self, path: &str) -> Result<Vec<u8>, FileError>;
}

impl<F: FnMut(&str) -> Result<Vec<u8>, FileError>> Files for F {
    fn read_file(&mut self, path: &str) -> Result<Vec<u8>, FileError> {
        self(path)
    }
}

/// The local-files provider for one configuration and one file reader.
pub struct Backend<'c, F> {
    config: &'c BackendConfig,
    files: F,
}

impl<'c, F: Files> Backend<'c, F> {
    /// A backend for `config` reading through `files`.
    pub fn new(config: &'c BackendConfig, files: F) -> Self {
        Self { config, files }
    }

    fn read(&mut self, path: &str) -> Result<Vec<u8>, LookupError> {
        self.files.read_file(path).map_err(|e| match e {
            FileError::NotFound => LookupError::InvalidConfiguration(format!(
                "File {path} was not found. Check the configuration of your Secrets backend."
            )),
            FileError::Denied(message) => LookupError::DeniedByHost(message),
            FileError::Io(message) => LookupError::Unavailable(message),
        })
    }
}

/// The WIT lookups over the granted files.
impl<F: Files> Lookups for Backend<'_, F> {
    /// Airflow's `get_connection`: the connection `conn_id` of the connections file. The whole file is
    /// loaded, so an invalid entry anywhere fails every lookup, as in Airflow.
    fn get_connection(&mut self, conn_id: &str, _team_name: Option<&str>) -> Result<Option<Connection>, LookupError> {
        let Some(path) = self.config.connections_file_path.as_deref() else {
            return Ok(None);
        };
        let bytes = self.read(path)?;
        let connections = load_connections(path, &bytes, self.config.dialect)?;
        Ok(connections.into_iter().find(|(k, _)| matches!(k, Value::Str(s) if s == conn_id)).map(|(_, c)| c))
    }

    /// The connection's `get_uri()` in the configured dialect (Airflow's `LocalFilesystemBackend` has no
    /// `get_conn_value`; this is the value another backend would store for the same connection).
    fn get_conn_value(&mut self, conn_id: &str, team_name: Option<&str>) -> Result<Option<String>, LookupError> {
        let dialect = self.config.dialect;
        Ok(self.get_connection(conn_id, team_name)?.map(|c| c.get_uri(dialect)))
    }

    /// Airflow's `get_variable`.
    fn get_variable(&mut self, key: &str, _team_name: Option<&str>) -> Result<Option<String>, LookupError> {
        let Some(path) = self.config.variables_file_path.as_deref() else {
            return Ok(None);
        };
        let bytes = self.read(path)?;
        Ok(lookup(load_variables(path, &bytes)?, key))
    }

    /// Airflow's `get_config`.
    fn get_config(&mut self, key: &str) -> Result<Option<String>, LookupError> {
        let Some(path) = self.config.configs_file_path.as_deref() else {
            return Ok(None);
        };
        let bytes = self.read(path)?;
        Ok(lookup(load_configs(path, &bytes)?, key))
    }

    /// Flyte secrets are not served from local files.
    fn get_secret(&mut self, _group: &str, _key: &str) -> Result<Option<String>, LookupError> {
        Ok(None)
    }

    /// The keys of the kind's file, loaded as a lookup loads it (so a file a lookup rejects fails the listing
    /// too); keys that are not strings cannot be looked up and are left out. No file configured: nothing.
    fn list_ids(
        &mut self,
        kind: Kind,
        _team_name: Option<&str>,
        listed: &mut dyn FnMut(&str) -> bool,
    ) -> Result<(), LookupError> {
        let path = match kind {
            Kind::Connection => self.config.connections_file_path.clone(),
            Kind::Variable => self.config.variables_file_path.clone(),
            Kind::Config => self.config.configs_file_path.clone(),
        };
        let Some(path) = path else {
            return Ok(());
        };
        let bytes = self.read(&path)?;
        let keys: Vec<Value> = match kind {
            Kind::Connection => {
                load_connections(&path, &bytes, self.config.dialect)?.into_iter().map(|(k, _)| k).collect()
            }
            Kind::Variable => load_variables(&path, &bytes)?.into_iter().map(|(k, _)| k).collect(),
            Kind::Config => load_configs(&path, &bytes)?.into_iter().map(|(k, _)| k).collect(),
        };
        for key in keys {
            if let Value::Str(id) = key
                && !listed(&id)
            {
                return Err(listing_refused());
            }
        }
        Ok(())
    }
}

/// `dict.get(key)` as text: `None` for a missing key or a `null` value, a string as is, a timestamp as
/// written, anything else as its `json.dumps`.
fn lookup(secrets: Secrets, key: &str) -> Option<String> {
    let (_, value) = secrets.into_iter().find(|(k, _)| matches!(k, Value::Str(s) if s == key))?;
    match value {
        Value::Null => None,
        Value::Str(s) | Value::Timestamp(s) => Some(s),
        other => Some(other.json_dumps()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use airflow_compat::Dialect;
    use wasm_secrets_provider_common::FromKwargs as _;

    use super::*;

    /// Files the fake host grants, and the reads it saw.
    #[derive(Default)]
    struct FakeFiles {
        files: HashMap<String, Vec<u8>>,
        reads: Vec<String>,
    }

    impl FakeFiles {
        fn with(files: &[(&str, &str)]) -> Self {
            Self {
                files: files.iter().map(|(p, c)| ((*p).to_owned(), c.as_bytes().to_vec())).collect(),
                reads: Vec::new(),
            }
        }
    }

    impl Files for &mut FakeFiles {
        fn read_file(&mut self, path: &str) -> Result<Vec<u8>, FileError> {
            self.reads.push(path.to_owned());
            match path {
                "/denied.env" => Err(FileError::Denied("the path /denied.env is not granted".into())),
                "/dir.env" => Err(FileError::Io("/dir.env is a directory".into())),
                _ => self.files.get(path).cloned().ok_or(FileError::NotFound),
            }
        }
    }

    fn config(json: &str) -> BackendConfig {
        BackendConfig::from_json(json).unwrap()
    }

    const CONNS_YAML: &str = "\
smtp_default: smtp://user:password@smtp.example.com:587
pg:
  conn_type: postgres
  host: db.example
  login: app
  password: s3cr3t
  port: 5432
  extra_dejson:
    sslmode: require
";

    #[test]
    fn list_ids_names_the_string_keys_of_the_kinds_file() {
        let vars = r#"{"b": "1", "a": null, "1": 2}"#;
        let mut files = FakeFiles::with(&[("/s/conns.yaml", CONNS_YAML), ("/s/vars.json", vars)]);
        let c = config(r#"{"connections_file_path": "/s/conns.yaml", "variables_file_path": "/s/vars.json"}"#);
        let mut list = |kind| {
            let mut ids = Vec::new();
            Backend::new(&c, &mut files)
                .list_ids(kind, Some("team"), &mut |id| {
                    ids.push(id.to_owned());
                    true
                })
                .map(|()| ids)
        };
        assert_eq!(list(Kind::Connection).unwrap(), ["smtp_default", "pg"]);
        // JSON keys are strings; a `null` value is listed and dropped by its lookup.
        assert_eq!(list(Kind::Variable).unwrap(), ["b", "a", "1"]);
        assert!(list(Kind::Config).unwrap().is_empty(), "no configs file");
        assert_eq!(files.reads, ["/s/conns.yaml", "/s/vars.json"]);

        let mut files = FakeFiles::with(&[("/s/conns.yaml", "pg: [")]);
        let c = config(r#"{"connections_file_path": "/s/conns.yaml"}"#);
        let error = Backend::new(&c, &mut files).list_ids(Kind::Connection, None, &mut |_| true).unwrap_err();
        assert!(matches!(error, LookupError::MalformedPayload(_)), "{error:?}");
        let mut files = FakeFiles::with(&[("/s/conns.yaml", CONNS_YAML)]);
        let error = Backend::new(&c, &mut files).list_ids(Kind::Connection, None, &mut |_| false).unwrap_err();
        assert_eq!(error, listing_refused());
    }

    #[test]
    fn connections_from_yaml() {
        let mut files = FakeFiles::with(&[("/s/conns.yaml", CONNS_YAML)]);
        let c = config(r#"{"connections_file_path": "/s/conns.yaml"}"#);
        let mut b = Backend::new(&c, &mut files);
        let smtp = b.get_connection("smtp_default", None).unwrap().unwrap();
        assert_eq!(smtp.conn_type.as_deref(), Some("smtp"));
        assert_eq!(smtp.host.as_deref(), Some("smtp.example.com"));
        assert_eq!(smtp.password.as_deref(), Some("password"));
        assert_eq!(smtp.port, Some(587));
        assert_eq!(smtp.schema.as_deref(), Some(""));
        let pg = b.get_connection("pg", Some("team")).unwrap().unwrap();
        assert_eq!(pg.extra.as_deref(), Some(r#"{"sslmode": "require"}"#));
        assert_eq!(pg.schema, None);
        assert_eq!(
            b.get_conn_value("pg", None).unwrap().as_deref(),
            Some("postgres://app:s3cr3t@db.example:5432/?sslmode=require")
        );
        assert_eq!(b.get_connection("missing", None).unwrap(), None);
        assert_eq!(b.get_variable("pg", None).unwrap(), None, "no variables file");
        assert_eq!(b.get_config("pg").unwrap(), None, "no configs file");
        assert_eq!(b.get_secret("pg", "password").unwrap(), None);
        assert_eq!(files.reads, vec!["/s/conns.yaml"; 4], "read afresh on every lookup, only when configured");
    }

    #[test]
    fn connections_from_env_and_json() {
        let mut files = FakeFiles::with(&[
            ("/c.env", "# comment\nMY_CONN=mysql://u:p@h:3306/db\n"),
            ("/c.json", r#"{"a": "x://h", "b": {"conn_type": "http", "host": "H", "port": 8080}}"#),
        ]);
        let env = config(r#"{"connections_file_path": "/c.env"}"#);
        let conn = Backend::new(&env, &mut files).get_connection("MY_CONN", None).unwrap().unwrap();
        assert_eq!(conn.conn_type.as_deref(), Some("mysql"));
        assert_eq!(conn.port, Some(3306));
        let json = config(r#"{"connections_file_path": "/c.json", "dialect": "worker"}"#);
        let mut b = Backend::new(&json, &mut files);
        assert_eq!(b.get_connection("b", None).unwrap().unwrap().host.as_deref(), Some("H"));
        assert_eq!(b.get_conn_value("a", None).unwrap().as_deref(), Some("x://h"));
    }

    #[test]
    fn one_bad_connection_fails_every_lookup() {
        let mut files = FakeFiles::with(&[("/c.json", r#"{"good": "x://h", "bad": {"hots": "h"}}"#)]);
        let c = config(r#"{"connections_file_path": "/c.json"}"#);
        let e = Backend::new(&c, &mut files).get_connection("good", None).unwrap_err();
        let LookupError::MalformedPayload(m) = e else { panic!("{e:?}") };
        assert!(m.starts_with(r#"/c.json: connection "bad": The object have illegal keys: "hots". "#), "{m}");
    }

    #[test]
    fn variables_and_configs() {
        let mut files = FakeFiles::with(&[
            ("/v.env", "KEY=value with = sign\nTRAILING=x \n"),
            (
                "/v.yaml",
                "s: text\nn: 012\nf: 1.5\nb: yes\nnil: ~\nl: [1, two]\nd: {k: v}\nt: 2024-01-01\nq: '012'\nml: |\n  line1\n  line2\n",
            ),
            ("/v.json", r#"{"a": "1", "b": 1e400, "c": {"x": [null, true]}, "é": "ü"}"#),
            ("/c.env", "core__parallelism=32\n"),
        ]);
        let env = config(r#"{"variables_file_path": "/v.env", "configs_file_path": "/c.env"}"#);
        let mut b = Backend::new(&env, &mut files);
        assert_eq!(b.get_variable("KEY", None).unwrap().as_deref(), Some("value with = sign"));
        assert_eq!(b.get_variable("TRAILING", None).unwrap().as_deref(), Some("x "));
        assert_eq!(b.get_variable("key", None).unwrap(), None, "keys are case-sensitive");
        assert_eq!(b.get_config("core__parallelism").unwrap().as_deref(), Some("32"));

        let yaml = config(r#"{"variables_file_path": "/v.yaml"}"#);
        let mut b = Backend::new(&yaml, &mut files);
        for (key, expected) in [
            ("s", Some("text")),
            ("n", Some("10")),
            ("f", Some("1.5")),
            ("b", Some("true")),
            ("nil", None),
            ("l", Some(r#"[1, "two"]"#)),
            ("d", Some(r#"{"k": "v"}"#)),
            ("t", Some("2024-01-01")),
            ("q", Some("012")),
            ("ml", Some("line1\nline2\n")),
            ("missing", None),
        ] {
            assert_eq!(b.get_variable(key, None).unwrap().as_deref(), expected, "{key}");
        }

        let json = config(r#"{"variables_file_path": "/v.json"}"#);
        let mut b = Backend::new(&json, &mut files);
        assert_eq!(b.get_variable("a", None).unwrap().as_deref(), Some("1"));
        assert_eq!(b.get_variable("b", None).unwrap().as_deref(), Some("Infinity"));
        assert_eq!(b.get_variable("c", None).unwrap().as_deref(), Some(r#"{"x": [null, true]}"#));
        assert_eq!(b.get_variable("é", None).unwrap().as_deref(), Some("ü"));
    }

    #[test]
    fn file_errors_say_who_is_at_fault() {
        let mut files = FakeFiles::default();
        for (path, expected) in [
            (
                "/missing.env",
                LookupError::InvalidConfiguration(
                    "File /missing.env was not found. Check the configuration of your Secrets backend.".into(),
                ),
            ),
            ("/denied.env", LookupError::DeniedByHost("the path /denied.env is not granted".into())),
            ("/dir.env", LookupError::Unavailable("/dir.env is a directory".into())),
        ] {
            let c = config(&format!(r#"{{"variables_file_path": "{path}"}}"#));
            assert_eq!(Backend::new(&c, &mut files).get_variable("x", None).unwrap_err(), expected);
        }
    }

    #[test]
    fn parse_errors_name_file_and_line() {
        let mut files = FakeFiles::with(&[
            ("/v.env", "A=1\n=orphan\nB=\n"),
            ("/v.yaml", "a: 1\nb: : 2\n"),
            ("/v.json", "{\"a\": 1,,}"),
        ]);
        let cases = [
            (
                "/v.env",
                "malformed secret payload: Failed to load the secret file /v.env: line 2: Invalid line format. Key is empty.; line 3: Invalid line format. Value is empty.",
            ),
            (
                "/v.yaml",
                "malformed secret payload: Failed to load the secret file /v.yaml: line 2: mapping values are not allowed in this context",
            ),
            (
                "/v.json",
                "malformed secret payload: Failed to load the secret file /v.json: line 1: Expecting property name enclosed in double quotes",
            ),
        ];
        for (path, expected) in cases {
            let c = config(&format!(r#"{{"variables_file_path": "{path}"}}"#));
            assert_eq!(Backend::new(&c, &mut files).get_variable("a", None).unwrap_err().to_string(), expected);
        }
    }

    /// A distinctive password in malformed files of every format must never reach an error's `Display` or
    /// `Debug`, whatever the failure.
    #[test]
    fn canary_password_never_appears_in_errors() {
        const CANARY: &str = "Zq8#canary-P4ssw0rd!";
        let files: Vec<(&str, String)> = vec![
            ("/a.env", format!("{CANARY}\n")),
            ("/b.env", format!("=({CANARY})\n")),
            ("/c.env", format!("conn=x://u:{CANARY}@h:99999/db\n")),
            ("/d.env", format!("conn=x://u:p@h/{CANARY}?__extra__={CANARY}\n")),
            ("/e.env", format!("conn={{\"password\": \"{CANARY}\"}}\nconn=y://h\n")),
            ("/f.json", format!("{{\"c\": {{\"password\": \"{CANARY}\", \"extra\": \"{CANARY}\"}}}}")),
            ("/g.json", format!("{{\"c\": \"{CANARY}\" \"oops\"}}")),
            ("/h.json", format!("{{\"c\": {{\"password\": \"{CANARY}\", \"hots\": 1}}}}")),
            ("/i.json", format!("{{\"c\": {{\"password\": \"{CANARY}\", \"port\": \"{CANARY}\"}}}}")),
            ("/j.json", format!("{{\"c\": {{\"conn_id\": \"{CANARY}\"}}}}")),
            ("/k.yaml", format!("c:\n  password: {CANARY}\n  - broken\n")),
            ("/l.yaml", format!("c: {{password: \"{CANARY}\n")),
            ("/m.yaml", format!("c: !{CANARY} x\n")),
            ("/n.yaml", format!("c:\n  password: {CANARY}\n  extra: '[{CANARY}]'\n")),
            ("/o.yaml", format!("c: &a\n  password: {CANARY}\n<<: *a\n<<: {CANARY}\n")),
            ("/p.yaml", format!("--- {CANARY}\n--- {CANARY}\n")),
            ("/q.yaml", format!("{CANARY}: [{CANARY}\n")),
            ("/r.yaml", format!("c: !!int {CANARY}\n")),
            ("/s.yaml", format!("c: {{uri: 'x://u:{CANARY}@h', host: {CANARY}}}\n")),
            ("/t.json", format!("{{\"c\": [\"x://u:{CANARY}@h\", \"y://{CANARY}\"]}}")),
            ("/u.env", format!("x={CANARY}\n\u{0}{CANARY}\n")),
        ];
        let mut fake = FakeFiles::with(&files.iter().map(|(p, c)| (*p, c.as_str())).collect::<Vec<_>>());
        let mut failures = 0;
        for (path, _) in &files {
            for json in [
                format!(r#"{{"connections_file_path": "{path}"}}"#),
                format!(r#"{{"variables_file_path": "{path}"}}"#),
                format!(r#"{{"configs_file_path": "{path}"}}"#),
            ] {
                for dialect in [Dialect::Server, Dialect::Worker] {
                    let c = BackendConfig { dialect, ..config(&json) };
                    let mut b = Backend::new(&c, &mut fake);
                    let results = [
                        b.get_connection("c", None).map(|_| ()),
                        b.get_variable("c", None).map(|_| ()),
                        b.get_config("c").map(|_| ()),
                    ];
                    for e in results.into_iter().filter_map(Result::err) {
                        failures += 1;
                        let shown = format!("{e} {e:?}");
                        assert!(!shown.contains(CANARY) && !shown.contains("canary"), "{path}: {shown}");
                    }
                }
            }
        }
        assert!(failures >= 40, "the malformed files must fail: {failures}");
    }
}
