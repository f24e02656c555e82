//! The lookups of Airflow's `EnvironmentVariablesBackend` (airflow-core 3.3.2) and of flytekit's
//! `SecretsManager` environment form (flytekit 1.16), over an injected environment reader so that they run
//! natively in unit tests.
//!
//! Airflow 3.3.2, `airflow/secrets/environment_variables.py`:
//!
//! ```python
//! def get_conn_value(self, conn_id, team_name=None):
//!     if self._names_a_team_namespace(conn_id):   # conf [core] multi_team and "___" in conn_id
//!         return None
//!     if team_name and (team_var := os.environ.get(f"{CONN_ENV_PREFIX}_{team_name.upper()}___" + conn_id.upper())):
//!         return team_var
//!     return os.environ.get(CONN_ENV_PREFIX + conn_id.upper())
//! ```
//!
//! `get_variable` is the same with `VAR_ENV_PREFIX`; there is no `get_config`, so the base class's `None`
//! applies; `get_connection` is `BaseSecretsBackend.get_connection` (a falsy value is "not found", anything
//! else is parsed as a URI or, when it starts with `{` after stripping, as JSON).
//!
//! flytekit: `SecretsManager._get_secrets_env_var` is `env_prefix + "_".join(k.upper() for k in
//! filter(None, (group, group_version, key)))`. Differences from flytekit's `SecretsManager.get`, which
//! the WIT contract fixes: the value is returned verbatim (`get` strips it with `str.strip()`); there is no
//! `group_version`; the un-prefixed name that flytekit also tries during local execution and the mounted
//! secret files (`/etc/secrets/<group>/<key>`) are not looked at.
//!
//! Names are uppercased with Python 3.11's `str.upper()` (`airflow_compat::pystr::upper`), not Rust's
//! `to_uppercase`, which knows a newer Unicode version.

use airflow_compat::Connection;
use airflow_compat::pystr::{lower, upper};
use wasm_secrets_provider_common::Lookups;
use wasm_secrets_provider_common::live::Kind;
use wasm_secrets_provider_common::provider::{connection_from_value, listing_refused};

use crate::config::BackendConfig;
use crate::error::LookupError;

/// Airflow's `TEAM_SEP`, between the team name and the id in a team-scoped name.
pub const TEAM_SEP: &str = "___";

/// The environment as the lookups see it: the value of a variable, `Ok(None)` when it is not set.
pub trait Env {
    /// Reads one variable.
    fn var(&mut self, name: &str) -> Result<Option<String>, LookupError>;

    /// The names of every variable set (for listing; names that are not Unicode are left out: no lookup
    /// can name them).
    fn names(&mut self) -> Vec<String>;
}

/// A fixed environment (tests, examples).
impl Env for std::collections::BTreeMap<String, String> {
    fn var(&mut self, name: &str) -> Result<Option<String>, LookupError> {
        Ok(self.get(name).cloned())
    }

    fn names(&mut self) -> Vec<String> {
        self.keys().cloned().collect()
    }
}

/// The environment provider for one configuration and one environment.
pub struct Backend<'c, E> {
    config: &'c BackendConfig,
    env: E,
}

impl<'c, E: Env> Backend<'c, E> {
    /// A backend for `config` reading `env`.
    pub fn new(config: &'c BackendConfig, env: E) -> Self {
        Self { config, env }
    }

    fn team_scoped(&mut self, prefix: &str, id: &str, team_name: Option<&str>) -> Result<Option<String>, LookupError> {
        if self.config.multi_team && id.contains(TEAM_SEP) {
            return Ok(None);
        }
        if let Some(team) = team_name.filter(|t| !t.is_empty()) {
            let name = format!("{prefix}_{}{TEAM_SEP}{}", upper(team), upper(id));
            if let Some(value) = self.read(&name)?.filter(|v| !v.is_empty()) {
                return Ok(Some(value));
            }
        }
        self.read(&airflow_env_var(prefix, id))
    }

    /// `os.environ.get(name)`. A name that no environment can hold (empty, or containing `=` or NUL) is
    /// never set, so it is not asked for.
    fn read(&mut self, name: &str) -> Result<Option<String>, LookupError> {
        if !is_env_name(name) {
            return Ok(None);
        }
        self.env.var(name)
    }
}

/// The WIT lookups over the environment.
impl<E: Env> Lookups for Backend<'_, E> {
    /// Airflow's `get_conn_value`: `AIRFLOW_CONN_<CONN_ID>`, or first `AIRFLOW_CONN__<TEAM>___<CONN_ID>` when a
    /// team is given (an empty team value falls back to the global one). The value is returned verbatim.
    fn get_conn_value(&mut self, conn_id: &str, team_name: Option<&str>) -> Result<Option<String>, LookupError> {
        let prefix = self.config.connections_prefix.clone();
        self.team_scoped(&prefix, conn_id, team_name)
    }

    /// Airflow's `get_variable`: `AIRFLOW_VAR_<KEY>`, team-scoped like `get_conn_value`. An empty
    /// variable is found (`""`), as in Airflow.
    fn get_variable(&mut self, key: &str, team_name: Option<&str>) -> Result<Option<String>, LookupError> {
        let prefix = self.config.variables_prefix.clone();
        self.team_scoped(&prefix, key, team_name)
    }

    /// Airflow's `BaseSecretsBackend.get_connection`: an unset or empty variable is `None`, anything else is
    /// parsed in the configured dialect exactly as the Kubernetes provider parses its values.
    fn get_connection(&mut self, conn_id: &str, team_name: Option<&str>) -> Result<Option<Connection>, LookupError> {
        let value = self.get_conn_value(conn_id, team_name)?;
        connection_from_value(conn_id, value, self.config.dialect)
    }

    /// Airflow's `get_config`: the environment backend has none, so this is always `None` (Airflow reads
    /// `AIRFLOW__SECTION__KEY` variables in its configuration parser, not through a secrets backend).
    fn get_config(&mut self, _key: &str) -> Result<Option<String>, LookupError> {
        Ok(None)
    }

    /// flytekit's environment form of `SecretsManager.get(group, key)`: the variable
    /// [`flyte_env_var`]`(prefix, group, key)`, returned verbatim.
    fn get_secret(&mut self, group: &str, key: &str) -> Result<Option<String>, LookupError> {
        let name = flyte_env_var(&self.config.flyte_prefix, group, key);
        self.read(&name)
    }

    /// Every variable named with the kind's prefix names an id: the rest of its name, lowercased with
    /// Python's `str.lower()` (lookups uppercase the id, so `AIRFLOW_CONN_MY_DB` is the connection `my_db`).
    /// For a team, `<prefix>_<TEAM>___<ID>` also names `<id>`. A name whose id does not uppercase back to it
    /// (`AIRFLOW_CONN_my_db`) is listed too and dropped by its lookup, as are ids the team guard hides.
    /// The environment backend has no configuration values.
    fn list_ids(
        &mut self,
        kind: Kind,
        team_name: Option<&str>,
        listed: &mut dyn FnMut(&str) -> bool,
    ) -> Result<(), LookupError> {
        let prefix = match kind {
            Kind::Connection => &self.config.connections_prefix,
            Kind::Variable => &self.config.variables_prefix,
            Kind::Config => return Ok(()),
        };
        let team_part = team_name.filter(|t| !t.is_empty()).map(|t| format!("_{}{TEAM_SEP}", upper(t)));
        for name in self.env.names() {
            let Some(rest) = name.strip_prefix(prefix.as_str()).filter(|r| !r.is_empty()) else {
                continue;
            };
            let team_id = team_part.as_deref().and_then(|t| rest.strip_prefix(t)).filter(|id| !id.is_empty());
            for id in [Some(rest), team_id].into_iter().flatten() {
                if !listed(&lower(id)) {
                    return Err(listing_refused());
                }
            }
        }
        Ok(())
    }
}

/// The variable Airflow's environment backend reads for `id` (global scope): the prefix, then the id uppercased
/// with Python's `str.upper()`. What `secrets exec` sets for a connection or a variable.
///
/// ```
/// use wasm_secrets_provider_environment::lookup::airflow_env_var;
/// assert_eq!(airflow_env_var("AIRFLOW_CONN_", "my_db"), "AIRFLOW_CONN_MY_DB");
/// assert_eq!(airflow_env_var("AIRFLOW_VAR_", "straße"), "AIRFLOW_VAR_STRASSE");
/// ```
pub fn airflow_env_var(prefix: &str, id: &str) -> String {
    format!("{prefix}{}", upper(id))
}

/// Whether a process environment can hold a variable named `name` (not empty, no `=`, no NUL).
pub fn is_env_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['=', '\0'])
}

/// flytekit's `_get_secrets_env_var`: the prefix, then the non-empty parts among `group` and `key`, each
/// uppercased, joined with `_`.
///
/// ```
/// use wasm_secrets_provider_environment::lookup::flyte_env_var;
/// assert_eq!(flyte_env_var("_FSEC_", "aws-creds", "secret_key"), "_FSEC_AWS-CREDS_SECRET_KEY");
/// assert_eq!(flyte_env_var("_FSEC_", "", "token"), "_FSEC_TOKEN");
/// ```
pub fn flyte_env_var(prefix: &str, group: &str, key: &str) -> String {
    let parts: Vec<String> = [group, key].into_iter().filter(|p| !p.is_empty()).map(upper).collect();
    format!("{prefix}{}", parts.join("_"))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use airflow_compat::Dialect;
    use wasm_secrets_provider_common::FromKwargs as _;

    use super::*;

    /// A fake environment recording every name asked for.
    struct FakeEnv {
        vars: HashMap<String, String>,
        asked: Vec<String>,
    }

    impl FakeEnv {
        fn new(vars: &[(&str, &str)]) -> Self {
            Self { vars: vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(), asked: Vec::new() }
        }
    }

    impl Env for &mut FakeEnv {
        fn var(&mut self, name: &str) -> Result<Option<String>, LookupError> {
            self.asked.push(name.to_owned());
            Ok(self.vars.get(name).cloned())
        }
        fn names(&mut self) -> Vec<String> {
            let mut names: Vec<String> = self.vars.keys().cloned().collect();
            names.sort();
            names
        }
    }

    /// The ids `list_ids` hands over, in order.
    fn listed(env: &mut FakeEnv, config: &BackendConfig, kind: Kind, team: Option<&str>) -> Vec<String> {
        let mut ids = Vec::new();
        Backend::new(config, env)
            .list_ids(kind, team, &mut |id| {
                ids.push(id.to_owned());
                true
            })
            .unwrap();
        ids
    }

    #[test]
    fn list_ids_names_every_variable_of_the_prefix() {
        let mut env = FakeEnv::new(&[
            ("AIRFLOW_CONN_MY_DB", "postgres://h"),
            ("AIRFLOW_CONN__BLUE___DB", "team://h"),
            ("AIRFLOW_CONN_", "no id"),
            ("AIRFLOW_CONNX", "another prefix"),
            ("AIRFLOW_VAR_KEY", "v"),
            ("PATH", "/bin"),
        ]);
        let c = BackendConfig::default();
        assert_eq!(listed(&mut env, &c, Kind::Connection, None), ["my_db", "_blue___db"]);
        assert_eq!(listed(&mut env, &c, Kind::Connection, Some("Blue")), ["my_db", "_blue___db", "db"]);
        assert_eq!(listed(&mut env, &c, Kind::Variable, Some("blue")), ["key"]);
        assert!(listed(&mut env, &c, Kind::Config, None).is_empty());
        // Every listed id a lookup finds is one the environment holds for it.
        let mut b = Backend::new(&c, &mut env);
        assert_eq!(b.get_conn_value("db", Some("Blue")).unwrap().as_deref(), Some("team://h"));
        assert_eq!(b.get_conn_value("my_db", None).unwrap().as_deref(), Some("postgres://h"));

        let mut calls = 0;
        let error = Backend::new(&c, &mut env)
            .list_ids(Kind::Connection, None, &mut |_| {
                calls += 1;
                false
            })
            .unwrap_err();
        assert_eq!((calls, error), (1, listing_refused()));
    }

    fn config(json: &str) -> BackendConfig {
        BackendConfig::from_json(json).unwrap()
    }

    #[test]
    fn connection_and_variable_names() {
        let mut env = FakeEnv::new(&[("AIRFLOW_CONN_MY_DB", "postgres://h"), ("AIRFLOW_VAR_KEY", "v\n")]);
        let c = BackendConfig::default();
        let mut b = Backend::new(&c, &mut env);
        assert_eq!(b.get_conn_value("my_db", None).unwrap().as_deref(), Some("postgres://h"));
        assert_eq!(b.get_variable("Key", None).unwrap().as_deref(), Some("v\n"));
        assert_eq!(b.get_variable("missing", None).unwrap(), None);
        assert_eq!(b.get_config("core__sql_alchemy_conn").unwrap(), None);
        assert_eq!(env.asked, vec!["AIRFLOW_CONN_MY_DB", "AIRFLOW_VAR_KEY", "AIRFLOW_VAR_MISSING"]);
    }

    #[test]
    fn team_scope_first_then_global() {
        let mut env = FakeEnv::new(&[
            ("AIRFLOW_CONN__BLUE___DB", "team://h"),
            ("AIRFLOW_CONN_DB", "global://h"),
            ("AIRFLOW_VAR__RED___X", ""),
            ("AIRFLOW_VAR_X", "global"),
        ]);
        let c = BackendConfig::default();
        let mut b = Backend::new(&c, &mut env);
        assert_eq!(b.get_conn_value("db", Some("blue")).unwrap().as_deref(), Some("team://h"));
        assert_eq!(b.get_conn_value("db", Some("green")).unwrap().as_deref(), Some("global://h"));
        // An empty team value is falsy: the global one is used.
        assert_eq!(b.get_variable("x", Some("red")).unwrap().as_deref(), Some("global"));
        // An empty team name is no team.
        assert_eq!(b.get_variable("x", Some("")).unwrap().as_deref(), Some("global"));
        assert_eq!(
            env.asked,
            vec![
                "AIRFLOW_CONN__BLUE___DB",
                "AIRFLOW_CONN__GREEN___DB",
                "AIRFLOW_CONN_DB",
                "AIRFLOW_VAR__RED___X",
                "AIRFLOW_VAR_X",
                "AIRFLOW_VAR_X"
            ]
        );
    }

    #[test]
    fn team_namespace_guard_only_in_multi_team_mode() {
        let vars = [("AIRFLOW_CONN__BLUE___DB", "team://h"), ("AIRFLOW_VAR_A___B", "v")];
        let mut env = FakeEnv::new(&vars);
        let single = BackendConfig::default();
        let mut b = Backend::new(&single, &mut env);
        // Without multi-team mode Airflow 3.3.2 has no guard: the id reaches the team's variable.
        assert_eq!(b.get_conn_value("_blue___db", None).unwrap().as_deref(), Some("team://h"));
        assert_eq!(b.get_variable("a___b", None).unwrap().as_deref(), Some("v"));

        let mut env = FakeEnv::new(&vars);
        let multi = config(r#"{"multi_team": true}"#);
        let mut b = Backend::new(&multi, &mut env);
        assert_eq!(b.get_conn_value("_blue___db", None).unwrap(), None);
        assert_eq!(b.get_variable("a___b", Some("blue")).unwrap(), None);
        assert_eq!(b.get_connection("x___y", None).unwrap(), None);
        assert!(env.asked.is_empty(), "{:?}", env.asked);
    }

    #[test]
    fn custom_prefixes() {
        let mut env = FakeEnv::new(&[("C_DB", "x://h"), ("C__T1___DB", "t://h"), ("DB", "bare")]);
        let c = config(r#"{"connections_prefix": "C_", "variables_prefix": ""}"#);
        let mut b = Backend::new(&c, &mut env);
        assert_eq!(b.get_conn_value("db", None).unwrap().as_deref(), Some("x://h"));
        assert_eq!(b.get_conn_value("db", Some("t1")).unwrap().as_deref(), Some("t://h"));
        assert_eq!(b.get_variable("db", None).unwrap().as_deref(), Some("bare"));
        // An empty name is never asked for.
        assert_eq!(b.get_variable("", None).unwrap(), None);
        assert_eq!(env.asked, vec!["C_DB", "C__T1___DB", "DB"]);
    }

    #[test]
    fn names_that_no_environment_holds_are_not_asked_for() {
        let mut env = FakeEnv::new(&[]);
        let c = BackendConfig::default();
        let mut b = Backend::new(&c, &mut env);
        assert_eq!(b.get_variable("a=b", None).unwrap(), None);
        assert_eq!(b.get_variable("a\0b", None).unwrap(), None);
        assert!(env.asked.is_empty());
    }

    #[test]
    fn python_upper_builds_the_names() {
        let mut env = FakeEnv::new(&[("AIRFLOW_VAR_STRASSE", "v")]);
        let c = BackendConfig::default();
        assert_eq!(Backend::new(&c, &mut env).get_variable("straße", None).unwrap().as_deref(), Some("v"));
    }

    #[test]
    fn get_connection_parses_like_airflow() {
        let mut env = FakeEnv::new(&[
            ("AIRFLOW_CONN_URI", " postgresql://u:p%40ss@DB.example:5432/mydb?sslmode=require\n"),
            ("AIRFLOW_CONN_JSON", r#"{"conn_type": "http", "host": "H", "password": "", "port": "80"}"#),
            ("AIRFLOW_CONN_EMPTY", ""),
            ("AIRFLOW_CONN_BAD", r#"{"conn_type": "x", "password": "hunter2", oops}"#),
            ("AIRFLOW_CONN_Q", "x://h?a=1"),
        ]);
        let c = BackendConfig::default();
        let mut b = Backend::new(&c, &mut env);
        let conn = b.get_connection("uri", None).unwrap().unwrap();
        assert_eq!(conn.conn_type.as_deref(), Some("postgres"));
        assert_eq!(conn.host.as_deref(), Some("db.example"));
        assert_eq!(conn.login.as_deref(), Some("u"));
        assert_eq!(conn.password.as_deref(), Some("p@ss"));
        assert_eq!(conn.port, Some(5432));
        assert_eq!(conn.schema.as_deref(), Some("mydb"));
        assert_eq!(conn.extra.as_deref(), Some(r#"{"sslmode": "require"}"#));

        let conn = b.get_connection("json", None).unwrap().unwrap();
        assert_eq!(conn.conn_type.as_deref(), Some("http"));
        assert_eq!(conn.host.as_deref(), Some("H"));
        assert_eq!(conn.password, None, "core ignores an empty password");
        assert_eq!(conn.port, Some(80));
        assert_eq!(conn.schema, None);

        assert_eq!(b.get_connection("empty", None).unwrap(), None);
        assert_eq!(b.get_connection("missing", None).unwrap(), None);
        let e = b.get_connection("bad", None).unwrap_err();
        let LookupError::MalformedPayload(msg) = &e else { panic!("{e:?}") };
        assert!(msg.starts_with("connection `bad`: the connection JSON is invalid: "), "{msg}");
        assert!(!format!("{e} {e:?}").contains("hunter2"));

        assert_eq!(b.get_connection("q", None).unwrap().unwrap().extra.as_deref(), Some(r#"{"a": 1}"#));
        let worker = BackendConfig { dialect: Dialect::Worker, ..BackendConfig::default() };
        let mut b = Backend::new(&worker, &mut env);
        assert_eq!(b.get_connection("q", None).unwrap().unwrap().extra.as_deref(), Some(r#"{"a": "1"}"#));
    }

    #[test]
    fn flyte_names() {
        assert_eq!(flyte_env_var("_FSEC_", "group", "key"), "_FSEC_GROUP_KEY");
        assert_eq!(flyte_env_var("_FSEC_", "group", ""), "_FSEC_GROUP");
        assert_eq!(flyte_env_var("_FSEC_", "", ""), "_FSEC_");
        assert_eq!(flyte_env_var("", "a.b", "c-d"), "A.B_C-D");

        let mut env = FakeEnv::new(&[("_FSEC_DB_PASSWORD", " s3cr3t\n"), ("MY_TOKEN", "t")]);
        let c = BackendConfig::default();
        let mut b = Backend::new(&c, &mut env);
        assert_eq!(b.get_secret("db", "password").unwrap().as_deref(), Some(" s3cr3t\n"), "returned verbatim");
        assert_eq!(b.get_secret("db", "user").unwrap(), None);
        let custom = config(r#"{"flyte_prefix": "MY_"}"#);
        let mut b = Backend::new(&custom, &mut env);
        assert_eq!(b.get_secret("", "token").unwrap().as_deref(), Some("t"));
        assert_eq!(env.asked, vec!["_FSEC_DB_PASSWORD", "_FSEC_DB_USER", "MY_TOKEN"]);
    }

    #[test]
    fn env_errors_propagate() {
        let c = BackendConfig::default();
        struct Failing;
        impl Env for Failing {
            fn var(&mut self, _: &str) -> Result<Option<String>, LookupError> {
                Err(LookupError::MalformedPayload("not Unicode".into()))
            }
            fn names(&mut self) -> Vec<String> {
                Vec::new()
            }
        }
        let e = Backend::new(&c, Failing).get_variable("x", None).unwrap_err();
        assert_eq!(e, LookupError::MalformedPayload("not Unicode".into()));
    }
}
