//! The environment-variables provider component of wasm-secrets.
//!
//! It reproduces Apache Airflow's `EnvironmentVariablesBackend` (airflow-core 3.3.2) and the environment form
//! of Flyte's secrets (flytekit's `SecretsManager`):
//!
//! | lookup | variable read |
//! |---|---|
//! | `get-conn-value(conn_id, team)` | `AIRFLOW_CONN__{TEAM}___{CONN_ID}` when a team is given and that value is non-empty, else `AIRFLOW_CONN_{CONN_ID}` |
//! | `get-connection(conn_id, team)` | the same value, parsed as Airflow's `BaseSecretsBackend.get_connection` does |
//! | `get-variable(key, team)` | `AIRFLOW_VAR__{TEAM}___{KEY}`, else `AIRFLOW_VAR_{KEY}` |
//! | `get-config(key)` | none: Airflow's environment backend has no `get_config` |
//! | `get-secret(group, key)` | `_FSEC_{GROUP}_{KEY}` (empty parts left out) |
//!
//! Names are uppercased with Python's `str.upper()` (`airflow_compat::pystr::upper`). Values are returned verbatim. With
//! `multi_team` on (Airflow's `[core] multi_team`), an id containing `___` is never looked up.
//!
//! The component reads the variables with `std::env::var`: the host gives it a WASI environment holding only
//! the variables whose names start with a granted prefix, so the provider needs no other capability and
//! cannot see the rest of the host's environment. Everything except `component` (the WIT boundary, only on
//! `wasm32`) is pure and unit-tested natively with a fake environment:
//! - [`config`]: `backend_kwargs` validation,
//! - [`lookup`]: the lookups over an [`lookup::Env`] reader.
//!
//! ```
//! use std::collections::BTreeMap;
//! use wasm_secrets_provider_common::{FromKwargs, Lookups};
//! use wasm_secrets_provider_environment::{config::BackendConfig, lookup::Backend};
//!
//! let env: BTreeMap<String, String> = [
//!     ("AIRFLOW_CONN_MY_DB", "postgresql://user:p%40ss@db.example:5432/app"),
//!     ("_FSEC_AWS_SECRET_KEY", "abc"),
//! ]
//! .into_iter()
//! .map(|(k, v)| (k.to_owned(), v.to_owned()))
//! .collect();
//! let config = BackendConfig::from_json("{}").unwrap();
//! let mut backend = Backend::new(&config, env);
//! let conn = backend.get_connection("my_db", None).unwrap().unwrap();
//! assert_eq!(conn.conn_type.as_deref(), Some("postgres"));
//! assert_eq!(conn.password.as_deref(), Some("p@ss"));
//! assert_eq!(backend.get_secret("aws", "secret_key").unwrap().as_deref(), Some("abc"));
//! assert_eq!(backend.get_variable("my_db", None).unwrap(), None);
//! ```

pub mod config;
pub use wasm_secrets_provider_common::error;
pub mod lookup;

#[cfg(target_arch = "wasm32")]
mod component;
