//! The component boundary: the exported `lookup` functions over the WASI environment. The WIT bindings and
//! the conversions to their types are shared by every provider (`wasm_secrets_guest::component`).

use airflow_compat::Connection;
use wasm_secrets_guest::Provider;
use wasm_secrets_guest::component::Component;

use crate::config::BackendConfig;
use crate::error::LookupError;
use crate::lookup::Backend;

/// The environment provider: [`Backend`] over [`read_env`].
struct EnvironmentProvider;

type HostEnv = fn(&str) -> Result<Option<String>, LookupError>;

/// `os.environ.get(name)` over the WASI environment the host granted.
fn read_env(name: &str) -> Result<Option<String>, LookupError> {
    match std::env::var(name) {
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(LookupError::MalformedPayload(format!("the environment variable {name} is not valid Unicode")))
        }
    }
}

fn backend(config: &BackendConfig) -> Backend<'_, HostEnv> {
    Backend::new(config, read_env)
}

impl Provider for EnvironmentProvider {
    type Config = BackendConfig;

    fn config(text: &str) -> Result<BackendConfig, LookupError> {
        BackendConfig::from_json(text)
    }

    fn get_conn_value(c: &BackendConfig, conn_id: &str, team: Option<&str>) -> Result<Option<String>, LookupError> {
        backend(c).get_conn_value(conn_id, team)
    }

    fn get_connection(c: &BackendConfig, conn_id: &str, team: Option<&str>) -> Result<Option<Connection>, LookupError> {
        backend(c).get_connection(conn_id, team)
    }

    fn get_variable(c: &BackendConfig, key: &str, team: Option<&str>) -> Result<Option<String>, LookupError> {
        backend(c).get_variable(key, team)
    }

    fn get_config(c: &BackendConfig, key: &str) -> Result<Option<String>, LookupError> {
        backend(c).get_config(key)
    }

    fn get_secret(c: &BackendConfig, group: &str, key: &str) -> Result<Option<String>, LookupError> {
        backend(c).get_secret(group, key)
    }
}

type Exported = Component<EnvironmentProvider>;
wasm_secrets_guest::export!(Exported with_types_in wasm_secrets_guest::bindings);
