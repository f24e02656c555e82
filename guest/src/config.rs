//! Provider configuration: Airflow's `backend_kwargs` for `KubernetesSecretsBackend`, validated up front.
//!
//! Airflow passes unknown keyword arguments to its base class, which raises a `TypeError` when the backend is
//! built; we reject them too, and also reject values of the wrong type (Airflow would fail later, or silently
//! look up a label named `None`). Only `null` disables a kind of lookup, exactly like Airflow: an empty label
//! string is kept and produces a selector such as `=my_db`.
//!
//! One key is a wasm-secrets extension, not an Airflow keyword argument (Airflow would reject it with a
//! `TypeError`): `dialect`, `"server"` (the default) or `"worker"`, chooses which Airflow `Connection` class
//! `get-connection` reproduces. `"server"` is airflow-core's `airflow.models.connection.Connection` (what
//! `airflow connections get` and the scheduler see); `"worker"` is the Task SDK's
//! `airflow.sdk.definitions.connection.Connection` (what tasks and triggerers see). The two differ for a
//! few values, e.g. query parameters that look like JSON (see `airflow_compat::Dialect`). The other
//! lookups return the stored value verbatim and ignore it.

use airflow_compat::Dialect;
pub use wasm_secrets_guest::kwargs::DIALECT_KEY;
use wasm_secrets_guest::kwargs::Kwargs;

use crate::error::LookupError;

/// Airflow's default label key for connections.
pub const DEFAULT_CONNECTIONS_LABEL: &str = "airflow.apache.org/connection-id";
/// Airflow's default label key for variables.
pub const DEFAULT_VARIABLES_LABEL: &str = "airflow.apache.org/variable-key";
/// Airflow's default label key for config values.
pub const DEFAULT_CONFIG_LABEL: &str = "airflow.apache.org/config-key";
/// Airflow's default label key for multi-team scoping.
pub const DEFAULT_TEAM_LABEL: &str = "airflow.apache.org/team";
/// Airflow's default data key inside `secret.data`.
pub const DEFAULT_DATA_KEY: &str = "value";

/// The keys `backend_kwargs` may hold: Airflow's, in the order its documentation lists them, then the
/// wasm-secrets extension [`DIALECT_KEY`].
pub const KNOWN_KEYS: [&str; 9] = [
    "namespace",
    "connections_label",
    "variables_label",
    "config_label",
    "team_label",
    "connections_data_key",
    "variables_data_key",
    "config_data_key",
    DIALECT_KEY,
];

/// The validated configuration of the Kubernetes provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendConfig {
    /// Namespace to list secrets in; `None` (or empty in the JSON) means "ask the host" (auto-detect).
    pub namespace: Option<String>,
    /// Label key for connections; `None` disables connection lookups.
    pub connections_label: Option<String>,
    /// Label key for variables; `None` disables variable lookups.
    pub variables_label: Option<String>,
    /// Label key for config values; `None` disables config lookups.
    pub config_label: Option<String>,
    /// Label key for team scoping; `None` disables team handling (`null` or `""` in the JSON).
    pub team_label: Option<String>,
    /// Data key holding a connection value.
    pub connections_data_key: String,
    /// Data key holding a variable value.
    pub variables_data_key: String,
    /// Data key holding a config value.
    pub config_data_key: String,
    /// Which Airflow `Connection` class `get-connection` reproduces (wasm-secrets extension `dialect`).
    pub dialect: Dialect,
}

impl Default for BackendConfig {
    fn default() -> Self {
        Self {
            namespace: None,
            connections_label: Some(DEFAULT_CONNECTIONS_LABEL.to_owned()),
            variables_label: Some(DEFAULT_VARIABLES_LABEL.to_owned()),
            config_label: Some(DEFAULT_CONFIG_LABEL.to_owned()),
            team_label: Some(DEFAULT_TEAM_LABEL.to_owned()),
            connections_data_key: DEFAULT_DATA_KEY.to_owned(),
            variables_data_key: DEFAULT_DATA_KEY.to_owned(),
            config_data_key: DEFAULT_DATA_KEY.to_owned(),
            dialect: Dialect::Server,
        }
    }
}

impl BackendConfig {
    /// Parses and validates `backend_kwargs` JSON text. Empty or whitespace-only text means all defaults.
    ///
    /// ```
    /// use wasm_secrets_kubernetes::config::BackendConfig;
    /// let config = BackendConfig::from_json(r#"{"namespace": "airflow", "variables_label": null}"#).unwrap();
    /// assert_eq!(config.namespace.as_deref(), Some("airflow"));
    /// assert_eq!(config.variables_label, None);
    /// assert!(BackendConfig::from_json(r#"{"connections_prefix": "x"}"#).is_err());
    /// ```
    pub fn from_json(text: &str) -> Result<Self, LookupError> {
        let kwargs = Kwargs::parse(text, &KNOWN_KEYS)?;
        let mut config = Self::default();
        kwargs.set("namespace", &mut config.namespace)?;
        config.namespace.take_if(|ns| ns.is_empty()); // `""` means auto-detect, like `null`
        kwargs.set("connections_label", &mut config.connections_label)?;
        kwargs.set("variables_label", &mut config.variables_label)?;
        kwargs.set("config_label", &mut config.config_label)?;
        kwargs.set("team_label", &mut config.team_label)?;
        config.team_label.take_if(|label| label.is_empty()); // `""` disables team handling, like `null`
        kwargs.set("connections_data_key", &mut config.connections_data_key)?;
        kwargs.set("variables_data_key", &mut config.variables_data_key)?;
        kwargs.set("config_data_key", &mut config.config_data_key)?;
        kwargs.set(DIALECT_KEY, &mut config.dialect)?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        BackendConfig::from_json(text).unwrap_err().to_string()
    }

    #[test]
    fn empty_and_empty_object_are_defaults() {
        assert_eq!(BackendConfig::from_json("").unwrap(), BackendConfig::default());
        assert_eq!(BackendConfig::from_json(" {} ").unwrap(), BackendConfig::default());
        let d = BackendConfig::default();
        assert_eq!(d.connections_label.as_deref(), Some("airflow.apache.org/connection-id"));
        assert_eq!(d.variables_label.as_deref(), Some("airflow.apache.org/variable-key"));
        assert_eq!(d.config_label.as_deref(), Some("airflow.apache.org/config-key"));
        assert_eq!(d.team_label.as_deref(), Some("airflow.apache.org/team"));
        assert_eq!(d.connections_data_key, "value");
        assert_eq!(d.dialect, Dialect::Server);
    }

    #[test]
    fn dialect_extension_key() {
        assert_eq!(BackendConfig::from_json(r#"{"dialect": "worker"}"#).unwrap().dialect, Dialect::Worker);
        assert_eq!(BackendConfig::from_json(r#"{"dialect": "server"}"#).unwrap().dialect, Dialect::Server);
        let c = BackendConfig::from_json(r#"{"namespace": "ns", "dialect": "worker"}"#).unwrap();
        assert_eq!(
            c,
            BackendConfig { namespace: Some("ns".into()), dialect: Dialect::Worker, ..BackendConfig::default() }
        );
    }

    #[test]
    fn dialect_errors_name_the_key_and_the_allowed_values() {
        let prefix = r#"invalid configuration: `dialect` in backend_kwargs must be "server" or "worker", got "#;
        assert_eq!(err(r#"{"dialect": "Worker"}"#), format!(r#"{prefix}"Worker""#));
        assert_eq!(err(r#"{"dialect": ""}"#), format!(r#"{prefix}"""#));
        assert_eq!(err(r#"{"dialect": null}"#), format!("{prefix}a non-string value"));
        assert_eq!(err(r#"{"dialect": 1}"#), format!("{prefix}a non-string value"));
        assert_eq!(err(&format!(r#"{{"dialect": "{}"}}"#, "w".repeat(41))), format!("{prefix}a longer string"));
    }

    #[test]
    fn null_disables_but_empty_label_is_kept() {
        let c = BackendConfig::from_json(r#"{"variables_label": null, "config_label": null, "connections_label": ""}"#)
            .unwrap();
        assert_eq!(c.variables_label, None);
        assert_eq!(c.config_label, None);
        assert_eq!(c.connections_label.as_deref(), Some(""));
    }

    #[test]
    fn team_label_empty_or_null_disables_team_handling() {
        assert_eq!(BackendConfig::from_json(r#"{"team_label": ""}"#).unwrap().team_label, None);
        assert_eq!(BackendConfig::from_json(r#"{"team_label": null}"#).unwrap().team_label, None);
    }

    #[test]
    fn empty_namespace_means_autodetect() {
        assert_eq!(BackendConfig::from_json(r#"{"namespace": ""}"#).unwrap().namespace, None);
        assert_eq!(BackendConfig::from_json(r#"{"namespace": null}"#).unwrap().namespace, None);
    }

    #[test]
    fn custom_keys() {
        let c = BackendConfig::from_json(
            r#"{"connections_label": "my-org.io/connection", "connections_data_key": "uri", "namespace": "ns1"}"#,
        )
        .unwrap();
        assert_eq!(c.connections_label.as_deref(), Some("my-org.io/connection"));
        assert_eq!(c.connections_data_key, "uri");
        assert_eq!(c.namespace.as_deref(), Some("ns1"));
    }

    #[test]
    fn errors_name_the_problem() {
        assert_eq!(
            err(r#"{"connections_prefix": "x"}"#),
            "invalid configuration: unknown key `connections_prefix` in backend_kwargs (known keys: namespace, connections_label, variables_label, config_label, team_label, connections_data_key, variables_data_key, config_data_key, dialect)"
        );
        assert_eq!(
            err(r#"{"namespace": 3}"#),
            "invalid configuration: `namespace` in backend_kwargs must be a string or null, got a number"
        );
        assert_eq!(
            err(r#"{"config_data_key": null}"#),
            "invalid configuration: `config_data_key` in backend_kwargs must be a string, got null"
        );
        assert_eq!(err("[1]"), "invalid configuration: backend_kwargs must be a JSON object, got an array");
        assert_eq!(
            err("{\"namespace\": "),
            "invalid configuration: backend_kwargs is not valid JSON (line 1, column 14)"
        );
    }
}
