//! The Vault / OpenBao KV provider component of wasm-secrets.
//!
//! It reads connections, variables and config values exactly where Apache Airflow's `VaultBackend`
//! (`apache-airflow-providers-hashicorp` 4.8.4, hvac 2.4.0) reads them: one `GET /v1/<mount>/data/<path>`
//! (KV 2) or `GET /v1/<mount>/<path>` (KV 1) per base path tried, with Airflow's mount, fallback-path and team
//! rules, and returns what Airflow returns (`conn_uri`, else the secret as JSON; the `value` field). It never
//! sees a Vault token: it addresses `vault.invalid`, and the host maps that name to the configured server,
//! adds `X-Vault-Token`, and lets it read only under the mounts it grants (docs/host-configuration.md).
//!
//! Everything but two modules is pure and unit-tested on the native target:
//! - [`config`]: `backend_kwargs` validation (the login keys of Airflow's backend are the host's),
//! - [`path`]: the request path of a key under a base path, as Airflow and hvac build it, and the team rules,
//! - [`lookup`]: the lookups over an [`lookup::Api`] trait, and the provider's `Lookups`.
//!
//! Only on `wasm32`: `component` binds [`lookup`] to the host imports through the shared transport.
//!
//! ```
//! use wasm_secrets_provider_common::{FromKwargs, Lookups, LookupError, http::Response};
//! use wasm_secrets_provider_vault::{config::BackendConfig, lookup::{Api, Backend, Level}};
//!
//! struct OneSecret(Vec<String>);
//! impl Api for OneSecret {
//!     fn get(&mut self, path: &str) -> Result<Response, LookupError> {
//!         self.0.push(path.to_owned());
//!         let body = r#"{"data":{"data":{"conn_type":"postgres","host":"db","port":5432},"metadata":{}}}"#;
//!         Ok(Response { status: 200, body: body.as_bytes().to_vec() })
//!     }
//!     fn log(&mut self, _level: Level, _message: &str) {}
//! }
//!
//! let config = BackendConfig::from_json(r#"{"mount_point": "airflow"}"#).unwrap();
//! let mut api = OneSecret(Vec::new());
//! let value = Backend::new(&config, &mut api).get_conn_value("my_db", None).unwrap();
//! assert_eq!(value.as_deref(), Some(r#"{"conn_type": "postgres", "host": "db", "port": 5432}"#));
//! assert_eq!(api.0, ["/v1/airflow/data/connections/my_db"]);
//! ```

pub mod config;
pub mod lookup;
pub mod path;

#[cfg(target_arch = "wasm32")]
mod component;
