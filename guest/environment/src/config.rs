//! Provider configuration (the `backend_kwargs` JSON), validated up front.
//!
//! Airflow's `EnvironmentVariablesBackend` takes no keyword arguments at all (any key raises a `TypeError`
//! when the backend is built). Every key below is therefore a wasm-secrets extension, and the defaults give
//! Airflow's and flytekit's exact behaviour:
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `connections_prefix` | `"AIRFLOW_CONN_"` | Airflow's `CONN_ENV_PREFIX` |
//! | `variables_prefix` | `"AIRFLOW_VAR_"` | Airflow's `VAR_ENV_PREFIX` |
//! | `flyte_prefix` | `"_FSEC_"` | flytekit's `SECRETS_ENV_PREFIX` (`[secrets] env_prefix`) |
//! | `multi_team` | `false` | Airflow's `[core] multi_team`, which turns on the team-namespace guard |
//! | `dialect` | `"server"` | which Airflow `Connection` class `get-connection` reproduces, as for the Kubernetes provider |
//!
//! Unknown keys and values of the wrong type are rejected with a message naming the key. The prefixes are
//! used verbatim (flytekit strips its configured prefix; an operator who wants that writes it stripped).

use airflow_compat::Dialect;
use wasm_secrets_provider_common::kwargs::{DIALECT_KEY, Field, FromKwargs};

/// Airflow's `CONN_ENV_PREFIX`.
pub const DEFAULT_CONNECTIONS_PREFIX: &str = "AIRFLOW_CONN_";
/// Airflow's `VAR_ENV_PREFIX`.
pub const DEFAULT_VARIABLES_PREFIX: &str = "AIRFLOW_VAR_";
/// flytekit's default `SECRETS_ENV_PREFIX`.
pub const DEFAULT_FLYTE_PREFIX: &str = "_FSEC_";

/// The validated configuration of the environment provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendConfig {
    /// Prefix of connection variables (`AIRFLOW_CONN_`).
    pub connections_prefix: String,
    /// Prefix of variable variables (`AIRFLOW_VAR_`).
    pub variables_prefix: String,
    /// Prefix of Flyte secrets (`_FSEC_`).
    pub flyte_prefix: String,
    /// Airflow's `[core] multi_team`: ids containing `___` are never looked up.
    pub multi_team: bool,
    /// Which Airflow `Connection` class `get-connection` reproduces.
    pub dialect: Dialect,
}

impl Default for BackendConfig {
    fn default() -> Self {
        Self {
            connections_prefix: DEFAULT_CONNECTIONS_PREFIX.to_owned(),
            variables_prefix: DEFAULT_VARIABLES_PREFIX.to_owned(),
            flyte_prefix: DEFAULT_FLYTE_PREFIX.to_owned(),
            multi_team: false,
            dialect: Dialect::Server,
        }
    }
}

/// Parses and validates `backend_kwargs` ([`FromKwargs::from_json`]); empty text means all defaults.
///
/// ```
/// use wasm_secrets_provider_common::FromKwargs;
/// use wasm_secrets_provider_environment::config::BackendConfig;
/// let config = BackendConfig::from_json(r#"{"variables_prefix": "MY_VAR_", "multi_team": true}"#).unwrap();
/// assert_eq!(config.variables_prefix, "MY_VAR_");
/// assert!(config.multi_team);
/// assert!(BackendConfig::from_json(r#"{"namespace": "x"}"#).is_err());
/// ```
impl FromKwargs for BackendConfig {
    fn fields(&mut self) -> Vec<Field<'_>> {
        vec![
            ("connections_prefix", &mut self.connections_prefix),
            ("variables_prefix", &mut self.variables_prefix),
            ("flyte_prefix", &mut self.flyte_prefix),
            ("multi_team", &mut self.multi_team),
            (DIALECT_KEY, &mut self.dialect),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_airflows_and_flytekits() {
        let d = BackendConfig::from_json("{}").unwrap();
        assert_eq!(d, BackendConfig::default());
        assert_eq!((d.connections_prefix.as_str(), d.variables_prefix.as_str()), ("AIRFLOW_CONN_", "AIRFLOW_VAR_"));
        assert_eq!(d.flyte_prefix, "_FSEC_");
        assert!(!d.multi_team);
        assert_eq!(d.dialect, Dialect::Server);
    }

    #[test]
    fn every_key() {
        let c = BackendConfig::from_json(
            r#"{"connections_prefix": "C_", "variables_prefix": "", "flyte_prefix": "F_", "multi_team": true, "dialect": "worker"}"#,
        )
        .unwrap();
        assert_eq!(
            c,
            BackendConfig {
                connections_prefix: "C_".into(),
                variables_prefix: String::new(),
                flyte_prefix: "F_".into(),
                multi_team: true,
                dialect: Dialect::Worker,
            }
        );
    }

    #[test]
    fn errors_name_the_key() {
        let err = |text: &str| BackendConfig::from_json(text).unwrap_err().to_string();
        assert_eq!(
            err(r#"{"namespace": "x"}"#),
            "invalid configuration: unknown key `namespace` in backend_kwargs (known keys: connections_prefix, variables_prefix, flyte_prefix, multi_team, dialect)"
        );
        assert_eq!(
            err(r#"{"connections_prefix": null}"#),
            "invalid configuration: `connections_prefix` in backend_kwargs must be a string, got null"
        );
        assert_eq!(
            err(r#"{"multi_team": "true"}"#),
            "invalid configuration: `multi_team` in backend_kwargs must be a boolean, got a string"
        );
    }
}
