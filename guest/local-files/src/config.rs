//! Provider configuration: Airflow's `backend_kwargs` for `LocalFilesystemBackend`, validated up front.
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `connections_file_path` | none | the connections file (`.env`, `.json`, `.yaml` or `.yml`) |
//! | `variables_file_path` | none | the variables file |
//! | `configs_file_path` | none | the configuration-values file (Airflow 3.3 added it with `get_config`) |
//! | `dialect` | `"server"` | wasm-secrets extension, see below |
//!
//! A path that is absent, `null` or `""` means that kind is never found, as in Airflow (`if not
//! self.variables_file`). The paths are the ones the host grants to the provider: the provider reads them
//! through the host's `read-file`, which answers only for those exact paths.
//!
//! Two differences from Airflow, which accepts any keyword its constructor knows and checks nothing else at
//! construction: a path with an unsupported extension is rejected here, when the configuration is
//! validated (Airflow raises `AirflowUnsupportedFileTypeException` at the first lookup, with the same
//! message), and `dialect` is a wasm-secrets extension (Airflow would reject it with a `TypeError`).
//! `dialect` chooses the URI parser for connections given as strings: `"server"` (the default) is
//! airflow-core's, which Airflow's `LocalFilesystemBackend` always uses, on servers and workers alike;
//! `"worker"` is the Task SDK's.

use airflow_compat::Dialect;
use wasm_secrets_provider_common::kwargs::{DIALECT_KEY, Field, FromKwargs};

use crate::error::LookupError;
use crate::file::{Format, UNSUPPORTED_FORMAT};

/// The validated configuration of the local-files provider.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BackendConfig {
    /// The connections file; `None` disables connection lookups.
    pub connections_file_path: Option<String>,
    /// The variables file; `None` disables variable lookups.
    pub variables_file_path: Option<String>,
    /// The configuration-values file; `None` disables config lookups.
    pub configs_file_path: Option<String>,
    /// Which Airflow URI parser reads connections given as strings.
    pub dialect: Dialect,
}

/// Parses and validates `backend_kwargs` ([`FromKwargs::from_json`]); empty text means all defaults.
///
/// ```
/// use wasm_secrets_provider_common::FromKwargs;
/// use wasm_secrets_provider_local_files::config::BackendConfig;
/// let config = BackendConfig::from_json(r#"{"connections_file_path": "/files/conns.yaml"}"#).unwrap();
/// assert_eq!(config.connections_file_path.as_deref(), Some("/files/conns.yaml"));
/// assert_eq!(config.variables_file_path, None);
/// assert!(BackendConfig::from_json(r#"{"variables_file_path": "/files/vars.txt"}"#).is_err());
/// ```
impl FromKwargs for BackendConfig {
    fn fields(&mut self) -> Vec<Field<'_>> {
        // Airflow's keys, in its constructor's order, then the wasm-secrets extension.
        vec![
            ("variables_file_path", &mut self.variables_file_path),
            ("connections_file_path", &mut self.connections_file_path),
            ("configs_file_path", &mut self.configs_file_path),
            (DIALECT_KEY, &mut self.dialect),
        ]
    }

    fn finish(mut self) -> Result<Self, LookupError> {
        for (key, path) in [
            ("connections_file_path", &mut self.connections_file_path),
            ("variables_file_path", &mut self.variables_file_path),
            ("configs_file_path", &mut self.configs_file_path),
        ] {
            path.take_if(|path| path.is_empty()); // `""` disables the kind, like `null`
            if let Some(path) = path
                && Format::of_path(path).is_none()
            {
                return Err(LookupError::InvalidConfiguration(format!("`{key}`: {UNSUPPORTED_FORMAT}")));
            }
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        BackendConfig::from_json(text).unwrap_err().to_string()
    }

    #[test]
    fn defaults_and_every_key() {
        assert_eq!(BackendConfig::from_json("").unwrap(), BackendConfig::default());
        assert_eq!(BackendConfig::from_json("{}").unwrap(), BackendConfig::default());
        let c = BackendConfig::from_json(
            r#"{"connections_file_path": "/s/c.env", "variables_file_path": "/s/v.JSON", "configs_file_path": "c.yml", "dialect": "worker"}"#,
        )
        .unwrap();
        assert_eq!(
            c,
            BackendConfig {
                connections_file_path: Some("/s/c.env".into()),
                variables_file_path: Some("/s/v.JSON".into()),
                configs_file_path: Some("c.yml".into()),
                dialect: Dialect::Worker,
            }
        );
        let c = BackendConfig::from_json(r#"{"connections_file_path": "", "variables_file_path": null}"#).unwrap();
        assert_eq!(c, BackendConfig::default());
    }

    #[test]
    fn errors_name_the_key() {
        assert_eq!(
            err(r#"{"connections_file": "/c.env"}"#),
            "invalid configuration: unknown key `connections_file` in backend_kwargs (known keys: variables_file_path, connections_file_path, configs_file_path, dialect)"
        );
        assert_eq!(
            err(r#"{"variables_file_path": ["/v.env"]}"#),
            "invalid configuration: `variables_file_path` in backend_kwargs must be a string or null, got an array"
        );
        assert_eq!(
            err(r#"{"connections_file_path": "/s/.env"}"#),
            "invalid configuration: `connections_file_path`: Unsupported file format. The file must have one of the following extensions: .env .json .yaml .yml"
        );
        assert_eq!(
            err(r#"{"dialect": "core"}"#),
            r#"invalid configuration: `dialect` in backend_kwargs must be "server" or "worker", got another string"#
        );
        assert_eq!(err("1"), "invalid configuration: backend_kwargs must be a JSON object, got a number");
    }
}
