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
use wasm_secrets_provider_common::kwargs::{DIALECT_KEY, Field, FromKwargs};

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

impl BackendConfig {
    /// The label key (`None`: the kind is disabled) and the data key of `kind`.
    pub fn label_and_data_key(&self, kind: crate::lookup::Kind) -> (Option<&str>, &str) {
        use crate::lookup::Kind;
        match kind {
            Kind::Connection => (self.connections_label.as_deref(), &self.connections_data_key),
            Kind::Variable => (self.variables_label.as_deref(), &self.variables_data_key),
            Kind::Config => (self.config_label.as_deref(), &self.config_data_key),
        }
    }
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

/// Parses and validates `backend_kwargs` ([`FromKwargs::from_json`]); empty text means all defaults.
///
/// ```
/// use wasm_secrets_provider_common::FromKwargs;
/// use wasm_secrets_provider_kubernetes::config::BackendConfig;
/// let config = BackendConfig::from_json(r#"{"namespace": "airflow", "variables_label": null}"#).unwrap();
/// assert_eq!(config.namespace.as_deref(), Some("airflow"));
/// assert_eq!(config.variables_label, None);
/// assert!(BackendConfig::from_json(r#"{"connections_prefix": "x"}"#).is_err());
/// ```
impl FromKwargs for BackendConfig {
    fn fields(&mut self) -> Vec<Field<'_>> {
        // Airflow's keys, in the order its documentation lists them, then the wasm-secrets extension.
        vec![
            ("namespace", &mut self.namespace),
            ("connections_label", &mut self.connections_label),
            ("variables_label", &mut self.variables_label),
            ("config_label", &mut self.config_label),
            ("team_label", &mut self.team_label),
            ("connections_data_key", &mut self.connections_data_key),
            ("variables_data_key", &mut self.variables_data_key),
            ("config_data_key", &mut self.config_data_key),
            (DIALECT_KEY, &mut self.dialect),
        ]
    }

    fn finish(mut self) -> Result<Self, LookupError> {
        self.namespace.take_if(|ns| ns.is_empty()); // `""` means auto-detect, like `null`
        self.team_label.take_if(|label| label.is_empty()); // `""` disables team handling, like `null`
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> BackendConfig {
        BackendConfig::from_json(text).unwrap()
    }

    #[test]
    fn defaults_are_airflows() {
        let d = config("");
        assert_eq!(d, BackendConfig::default());
        assert_eq!(d.namespace, None);
        assert_eq!(d.connections_label.as_deref(), Some("airflow.apache.org/connection-id"));
        assert_eq!(d.variables_label.as_deref(), Some("airflow.apache.org/variable-key"));
        assert_eq!(d.config_label.as_deref(), Some("airflow.apache.org/config-key"));
        assert_eq!(d.team_label.as_deref(), Some("airflow.apache.org/team"));
        assert_eq!((d.connections_data_key.as_str(), d.variables_data_key.as_str()), ("value", "value"));
        assert_eq!(d.config_data_key, "value");
        assert_eq!(d.dialect, Dialect::Server);
    }

    #[test]
    fn every_key() {
        let c = config(
            r#"{"namespace": "ns1", "connections_label": "my-org.io/connection", "variables_label": "v",
                "config_label": "c", "team_label": "t", "connections_data_key": "uri", "variables_data_key": "vd",
                "config_data_key": "cd", "dialect": "worker"}"#,
        );
        assert_eq!(
            c,
            BackendConfig {
                namespace: Some("ns1".into()),
                connections_label: Some("my-org.io/connection".into()),
                variables_label: Some("v".into()),
                config_label: Some("c".into()),
                team_label: Some("t".into()),
                connections_data_key: "uri".into(),
                variables_data_key: "vd".into(),
                config_data_key: "cd".into(),
                dialect: Dialect::Worker,
            }
        );
    }

    #[test]
    fn null_disables_but_empty_label_is_kept() {
        let c = config(r#"{"variables_label": null, "config_label": null, "connections_label": ""}"#);
        assert_eq!((c.variables_label, c.config_label), (None, None));
        assert_eq!(c.connections_label.as_deref(), Some(""));
    }

    #[test]
    fn empty_or_null_namespace_and_team_label_mean_auto_detect_and_no_teams() {
        for text in [r#"{"namespace": "", "team_label": ""}"#, r#"{"namespace": null, "team_label": null}"#] {
            let c = config(text);
            assert_eq!((c.namespace, c.team_label), (None, None), "{text}");
        }
    }

    #[test]
    fn errors_name_the_key() {
        let err = |text: &str| BackendConfig::from_json(text).unwrap_err().to_string();
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
    }
}
