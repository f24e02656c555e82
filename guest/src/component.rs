//! The component boundary: the exported `lookup` functions over the `host` imports. The WIT bindings and the
//! conversions to their types are shared by every provider (`wasm_secrets_guest::component`).

use airflow_compat::Connection;
use wasm_secrets_guest::Provider;
use wasm_secrets_guest::bindings::wasm_secrets::provider::host;
use wasm_secrets_guest::component::Component;

use crate::config::BackendConfig;
use crate::error::LookupError;
use crate::lookup::{Api, Backend, Kind, Level, Response};

/// The Kubernetes provider: [`Backend`] over [`HostApi`].
struct KubernetesProvider;

/// The host side of [`Api`]: HTTP through `wasi:http`, logs and namespace through the `host` import.
struct HostApi;

impl Api for HostApi {
    fn get(&mut self, path_and_query: &str) -> Result<Response, LookupError> {
        crate::transport::get(path_and_query)
    }

    fn log(&mut self, level: Level, message: &str) {
        let level = match level {
            Level::Info => host::LogLevel::Info,
            Level::Warning => host::LogLevel::Warning,
        };
        host::log(level, message);
    }

    fn detected_namespace(&mut self) -> Result<String, String> {
        host::detected_namespace()
    }
}

impl Provider for KubernetesProvider {
    type Config = BackendConfig;

    fn config(text: &str) -> Result<BackendConfig, LookupError> {
        BackendConfig::from_json(text)
    }

    fn get_conn_value(c: &BackendConfig, conn_id: &str, team: Option<&str>) -> Result<Option<String>, LookupError> {
        Backend::new(c, HostApi).get_secret(Kind::Connection, conn_id, team)
    }

    fn get_connection(c: &BackendConfig, conn_id: &str, team: Option<&str>) -> Result<Option<Connection>, LookupError> {
        Backend::new(c, HostApi).get_connection(conn_id, team, c.dialect)
    }

    fn get_variable(c: &BackendConfig, key: &str, team: Option<&str>) -> Result<Option<String>, LookupError> {
        Backend::new(c, HostApi).get_secret(Kind::Variable, key, team)
    }

    fn get_config(c: &BackendConfig, key: &str) -> Result<Option<String>, LookupError> {
        Backend::new(c, HostApi).get_secret(Kind::Config, key, None)
    }

    fn get_secret(c: &BackendConfig, group: &str, key: &str) -> Result<Option<String>, LookupError> {
        Backend::new(c, HostApi).get_flyte_secret(group, key)
    }
}

type Exported = Component<KubernetesProvider>;
wasm_secrets_guest::export!(Exported with_types_in wasm_secrets_guest::bindings);
