//! The Kubernetes provider component of wasm-secrets.
//!
//! It finds Kubernetes Secrets by label exactly as Apache Airflow's `KubernetesSecretsBackend` does: one
//! `GET /api/v1/namespaces/{ns}/secrets?labelSelector=<label>=<id>,!<team_label>&resourceVersion=0` per
//! query, the first matching item wins, its data key is base64-decoded, and a connection value is parsed as
//! Airflow's URI or JSON form. It never sees a credential: the host injects the service account token.
//!
//! It also serves Flyte's Kubernetes secrets (`get-secret(group, key)`): the data key `key` of the Secret
//! named `group`, read with `GET /api/v1/namespaces/{ns}/secrets/{group}`.
//!
//! Everything but two modules is pure and unit-tested on the native target:
//! - [`config`]: `backend_kwargs` validation,
//! - [`selector`]: label selectors and the team-scoped-id guard,
//! - [`request`]: the request paths and query, encoded like Airflow's Python client, and Secret names,
//! - [`secrets`]: Secret-list parsing and first-match selection,
//! - [`lookup`]: the lookup algorithm over an [`lookup::Api`] trait, and the provider's `Lookups`,
//! - [`live`]: the live view's list and watch requests, their decoding, and how a lookup reads the view.
//!
//! Only on `wasm32`: `component` binds [`lookup`] to the host imports, and `transport` is the
//! one module that speaks `wasi:http`.
//!
//! ```
//! use wasm_secrets_provider_common::Lookups;
//! use wasm_secrets_provider_kubernetes::{config::BackendConfig, lookup::{Api, Backend, Level, Response}, error::LookupError};
//!
//! struct OneSecret;
//! impl Api for OneSecret {
//!     fn get(&mut self, _path_and_query: &str) -> Result<Response, LookupError> {
//!         let body = r#"{"items":[{"metadata":{"name":"my-var-secret"},"data":{"value":"bXlfc2VjcmV0X3ZhbHVl"}}]}"#;
//!         Ok(Response { status: 200, body: body.as_bytes().to_vec() })
//!     }
//!     fn log(&mut self, _level: Level, _message: &str) {}
//!     fn detected_namespace(&mut self) -> Result<String, String> { Ok("airflow".into()) }
//! }
//!
//! let config = BackendConfig::default();
//! let value = Backend::new(&config, OneSecret).get_variable("my_var", None).unwrap();
//! assert_eq!(value.as_deref(), Some("my_secret_value"));
//! ```

pub mod config;
pub use wasm_secrets_provider_common::error;
pub mod live;
pub mod lookup;
pub mod request;
pub mod secrets;
pub mod selector;

#[cfg(target_arch = "wasm32")]
mod component;
#[cfg(all(target_arch = "wasm32", feature = "preinit"))]
#[expect(unsafe_code, reason = "the export glue wit-bindgen generates for `wizer-initialize`")]
mod preinit;
#[cfg(target_arch = "wasm32")]
mod transport;
