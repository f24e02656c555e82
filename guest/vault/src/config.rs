//! Provider configuration (the `backend_kwargs` JSON), validated up front.
//!
//! The keys of Airflow's `VaultBackend` (`apache-airflow-providers-hashicorp` 4.8.4) that say where secrets
//! are, with its defaults:
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `connections_path` | `"connections"` | base path of connections: a string, a list tried in order, or `null` (no lookup, no request) |
//! | `variables_path` | `"variables"` | the same for variables |
//! | `config_path` | `"config"` | the same for config values |
//! | `mount_point` | `"secret"` | the KV mount; `null` or `""`: the key's first segment is the mount |
//! | `kv_engine_version` | `2` | `1` or `2` (`0` and `null` mean 2, as in Airflow) |
//! | `use_team_secrets_path` | `true` | in multi-team mode, a team's lookups read `{base}/{team}/{key}` |
//! | `global_secrets_path` | none | deprecated in Airflow: appended to every path list |
//! | `multi_team` | `false` | Airflow's `[core] multi_team` (a wasm-secrets extension, as for the environment provider) |
//! | `dialect` | `"server"` | which Airflow `Connection` class `get-connection` reproduces |
//!
//! Trailing `/` are stripped from paths, as Airflow does. The keys that say how to log in (`url`, `token`,
//! `role_id`, `kubernetes_role`, ...) are refused with a message pointing at the host's grant: the component
//! never holds a Vault credential, the host does (`[providers.vault]` in the host configuration).

use airflow_compat::Dialect;
use serde_json::Value;
use wasm_secrets_provider_common::LookupError;
use wasm_secrets_provider_common::kwargs::{DIALECT_KEY, Field, FromKwargs, KwargValue};

/// Airflow's `VaultBackend` keys that belong to the host's grant here: how to reach and log in to Vault.
pub const HOST_KEYS: [&str; 27] = [
    "url",
    "auth_type",
    "auth_mount_point",
    "token",
    "token_path",
    "username",
    "password",
    "key_id",
    "secret_id",
    "role_id",
    "assume_role_kwargs",
    "region",
    "kubernetes_role",
    "kubernetes_jwt_path",
    "gcp_key_path",
    "gcp_keyfile_dict",
    "gcp_scopes",
    "azure_tenant_id",
    "azure_resource",
    "radius_host",
    "radius_secret",
    "radius_port",
    "jwt_role",
    "jwt_token",
    "jwt_token_path",
    "verify",
    "namespace",
];

/// Base paths of one kind: `None` disables the kind (no request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths(pub Option<Vec<String>>);

impl Paths {
    fn one(path: &str) -> Self {
        Self(Some(vec![path.to_owned()]))
    }
}

/// A string, a list of strings, or `null`; trailing `/` stripped (Airflow's `_normalize_paths`).
impl KwargValue for Paths {
    fn from_kwarg(key: &str, value: &Value) -> Result<Self, LookupError> {
        let strip = |s: &str| s.trim_end_matches('/').to_owned();
        match value {
            Value::Null => Ok(Self(None)),
            Value::String(s) => Ok(Self(Some(vec![strip(s)]))),
            Value::Array(items) => items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(strip(s)),
                    _ => Err(LookupError::InvalidConfiguration(format!(
                        "`{key}` in backend_kwargs must be a string, a list of strings or null; the list holds \
                         something else"
                    ))),
                })
                .collect::<Result<_, _>>()
                .map(|paths| Self(Some(paths))),
            _ => Err(LookupError::InvalidConfiguration(format!(
                "`{key}` in backend_kwargs must be a string, a list of strings or null"
            ))),
        }
    }
}

/// The KV engine version: `1` or `2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvVersion(pub u8);

/// Airflow: `if kv_engine_version and kv_engine_version not in [1, 2]: raise VaultError(...)`, then
/// `kv_engine_version or 2`.
impl KwargValue for KvVersion {
    fn from_kwarg(key: &str, value: &Value) -> Result<Self, LookupError> {
        match value {
            Value::Null => Ok(Self(2)),
            Value::Number(n) => match n.as_u64() {
                Some(0 | 2) => Ok(Self(2)),
                Some(1) => Ok(Self(1)),
                _ => Err(LookupError::InvalidConfiguration(format!(
                    "The version is not supported: {n}. It should be one of [1, 2] (`{key}` in backend_kwargs)"
                ))),
            },
            _ => Err(LookupError::InvalidConfiguration(format!("`{key}` in backend_kwargs must be 1 or 2"))),
        }
    }
}

/// The validated configuration of the Vault provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendConfig {
    /// Base paths of connections.
    pub connections_path: Paths,
    /// Base paths of variables.
    pub variables_path: Paths,
    /// Base paths of config values.
    pub config_path: Paths,
    /// Team-scoped paths in multi-team mode.
    pub use_team_secrets_path: bool,
    /// Airflow's deprecated extra fallback path.
    pub global_secrets_path: Option<String>,
    /// The KV mount; `None` (or empty): the key's first segment.
    pub mount_point: Option<String>,
    /// 1 or 2.
    pub kv_engine_version: KvVersion,
    /// Airflow's `[core] multi_team`.
    pub multi_team: bool,
    /// Which Airflow `Connection` class `get-connection` reproduces.
    pub dialect: Dialect,
}

impl Default for BackendConfig {
    fn default() -> Self {
        Self {
            connections_path: Paths::one("connections"),
            variables_path: Paths::one("variables"),
            config_path: Paths::one("config"),
            use_team_secrets_path: true,
            global_secrets_path: None,
            mount_point: Some("secret".to_owned()),
            kv_engine_version: KvVersion(2),
            multi_team: false,
            dialect: Dialect::Server,
        }
    }
}

impl BackendConfig {
    /// The mount the requests go to when the configuration names one (`None`: each key's first segment).
    pub fn fixed_mount(&self) -> Option<&str> {
        self.mount_point.as_deref().filter(|m| !m.is_empty())
    }
}

/// Parses and validates `backend_kwargs` ([`FromKwargs::from_json`]); empty text means all defaults.
///
/// ```
/// use wasm_secrets_provider_common::FromKwargs;
/// use wasm_secrets_provider_vault::config::{BackendConfig, Paths};
/// let config = BackendConfig::from_json(r#"{"connections_path": ["conns/a/", "conns/b"], "variables_path": null}"#).unwrap();
/// assert_eq!(config.connections_path, Paths(Some(vec!["conns/a".into(), "conns/b".into()])));
/// assert_eq!(config.variables_path, Paths(None));
/// let err = BackendConfig::from_json(r#"{"token": "hvs.x"}"#).unwrap_err().to_string();
/// assert!(err.contains("`token` is the host's") && !err.contains("hvs.x"), "{err}");
/// ```
impl FromKwargs for BackendConfig {
    fn fields(&mut self) -> Vec<Field<'_>> {
        vec![
            ("connections_path", &mut self.connections_path),
            ("variables_path", &mut self.variables_path),
            ("config_path", &mut self.config_path),
            ("use_team_secrets_path", &mut self.use_team_secrets_path),
            ("global_secrets_path", &mut self.global_secrets_path),
            ("mount_point", &mut self.mount_point),
            ("kv_engine_version", &mut self.kv_engine_version),
            ("multi_team", &mut self.multi_team),
            (DIALECT_KEY, &mut self.dialect),
        ]
    }

    fn from_json(text: &str) -> Result<Self, LookupError> {
        if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text)
            && let Some(key) = HOST_KEYS.iter().find(|k| map.contains_key(**k))
        {
            return Err(LookupError::InvalidConfiguration(format!(
                "`{key}` is the host's to hold: how to reach and log in to Vault goes in the provider's \
                 `[providers.vault]` grant of the host configuration, never to the component"
            )));
        }
        let mut config = Self::default();
        wasm_secrets_provider_common::kwargs::read(text, &mut config.fields())?;
        config.finish()
    }

    /// Airflow appends `global_secrets_path` (trailing `/` stripped) to every kind's list, a disabled kind too.
    fn finish(mut self) -> Result<Self, LookupError> {
        if let Some(global) = self.global_secrets_path.as_deref() {
            let global = global.trim_end_matches('/').to_owned();
            for paths in [&mut self.connections_path, &mut self.variables_path, &mut self.config_path] {
                paths.0.get_or_insert_with(Vec::new).push(global.clone());
            }
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_airflows() {
        let d = BackendConfig::from_json("").unwrap();
        assert_eq!(d, BackendConfig::default());
        assert_eq!(d.fixed_mount(), Some("secret"));
        assert_eq!(BackendConfig::from_json(r#"{"mount_point": ""}"#).unwrap().fixed_mount(), None);
        assert_eq!(BackendConfig::from_json(r#"{"mount_point": null}"#).unwrap().fixed_mount(), None);
    }

    #[test]
    fn versions_paths_and_the_global_path() {
        for (text, v) in [("1", 1), ("2", 2), ("0", 2), ("null", 2)] {
            let c = BackendConfig::from_json(&format!(r#"{{"kv_engine_version": {text}}}"#)).unwrap();
            assert_eq!(c.kv_engine_version, KvVersion(v), "{text}");
        }
        assert_eq!(
            BackendConfig::from_json(r#"{"kv_engine_version": 3}"#).unwrap_err().to_string(),
            "invalid configuration: The version is not supported: 3. It should be one of [1, 2] \
             (`kv_engine_version` in backend_kwargs)"
        );
        assert!(BackendConfig::from_json(r#"{"kv_engine_version": "2"}"#).is_err());
        let c = BackendConfig::from_json(r#"{"global_secrets_path": "global/", "config_path": null}"#).unwrap();
        assert_eq!(c.connections_path, Paths(Some(vec!["connections".into(), "global".into()])));
        assert_eq!(c.config_path, Paths(Some(vec!["global".into()])));
        assert!(BackendConfig::from_json(r#"{"connections_path": [1]}"#).is_err());
        assert!(BackendConfig::from_json(r#"{"connections_path": 1}"#).is_err());
        let unknown = BackendConfig::from_json(r#"{"namespace_x": 1}"#).unwrap_err().to_string();
        assert!(unknown.contains("unknown key `namespace_x`"), "{unknown}");
        for key in HOST_KEYS {
            let err = BackendConfig::from_json(&format!(r#"{{"{key}": "s3cr3t"}}"#)).unwrap_err().to_string();
            assert!(err.contains("host's") && !err.contains("s3cr3t"), "{err}");
        }
    }
}
