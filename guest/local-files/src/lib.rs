//! The local-files provider component of wasm-secrets.
//!
//! It reproduces Apache Airflow's `LocalFilesystemBackend` (airflow-core 3.3.2): connections, variables and
//! configuration values in `.env`, `.json` or `.yaml`/`.yml` files, parsed exactly as Airflow parses them
//! (`_parse_env_file` with its comments and duplicate keys, `json.loads`, PyYAML's `safe_load` with YAML
//! 1.1 types, `_create_connection` with the core `Connection` constructor). The files are read through the
//! host's `read-file`, which answers only for the exact paths granted to this provider: the component
//! never sees a directory.
//!
//! Errors never contain any part of a file: a parse error names the file, the line and the problem.
//!
//! Everything except `component` (the WIT boundary, only on `wasm32`) is pure and unit-tested natively:
//! - [`config`]: `backend_kwargs` validation,
//! - [`text`]: bytes to text as Python's `open().read()` gives it,
//! - [`envfile`], [`yaml`]: the `.env` and YAML parsers (JSON uses `airflow_compat::pyjson`),
//! - [`value`]: the Python values they produce, with `json.dumps`,
//! - [`file`](mod@file): format dispatch and Airflow's loaders,
//! - [`connection`]: Airflow's `_create_connection`,
//! - [`lookup`]: the lookups over a [`lookup::Files`] reader.
//!
//! ```
//! use wasm_secrets_provider_common::{FromKwargs, Lookups};
//! use wasm_secrets_provider_local_files::{config::BackendConfig, lookup::{Backend, FileError}};
//!
//! let files = |path: &str| -> Result<Vec<u8>, FileError> {
//!     match path {
//!         "/secrets/connections.yaml" => Ok(b"my_db:\n  conn_type: postgres\n  host: db.example\n  port: 5432\n".to_vec()),
//!         "/secrets/variables.env" => Ok(b"# comment\napi_url=https://api.example\n".to_vec()),
//!         _ => Err(FileError::NotFound),
//!     }
//! };
//! let config = BackendConfig::from_json(
//!     r#"{"connections_file_path": "/secrets/connections.yaml", "variables_file_path": "/secrets/variables.env"}"#,
//! )
//! .unwrap();
//! let mut backend = Backend::new(&config, files);
//! let conn = backend.get_connection("my_db", None).unwrap().unwrap();
//! assert_eq!(conn.host.as_deref(), Some("db.example"));
//! assert_eq!(conn.port, Some(5432));
//! assert_eq!(backend.get_conn_value("my_db", None).unwrap().as_deref(), Some("postgres://db.example:5432"));
//! assert_eq!(backend.get_variable("api_url", None).unwrap().as_deref(), Some("https://api.example"));
//! assert_eq!(backend.get_variable("other", None).unwrap(), None);
//! ```

pub mod config;
pub mod connection;
pub mod envfile;
pub use wasm_secrets_provider_common::error;
pub mod file;
pub mod lookup;
pub mod text;
pub mod value;
pub mod yaml;

#[cfg(target_arch = "wasm32")]
mod component;
