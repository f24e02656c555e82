//! The component boundary: the exported `lookup` functions over the host's `read-file`. The WIT bindings and
//! the conversions to their types are shared by every provider (`wasm_secrets_guest::component`).

use airflow_compat::Connection;
use wasm_secrets_guest::Provider;
use wasm_secrets_guest::bindings::wasm_secrets::provider::host;
use wasm_secrets_guest::component::Component;

use crate::config::BackendConfig;
use crate::error::LookupError;
use crate::lookup::{Backend, FileError};

/// The local-files provider: [`Backend`] over [`read_file`].
struct LocalFilesProvider;

type HostFiles = fn(&str) -> Result<Vec<u8>, FileError>;

/// The host's `read-file`, with its error mapped to [`FileError`].
fn read_file(path: &str) -> Result<Vec<u8>, FileError> {
    host::read_file(path).map_err(|e| match e {
        host::FileError::NotFound => FileError::NotFound,
        host::FileError::Denied(message) => FileError::Denied(message),
        host::FileError::Io(message) => FileError::Io(message),
    })
}

fn backend(config: &BackendConfig) -> Backend<'_, HostFiles> {
    Backend::new(config, read_file)
}

impl Provider for LocalFilesProvider {
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

type Exported = Component<LocalFilesProvider>;
wasm_secrets_guest::export!(Exported with_types_in wasm_secrets_guest::bindings);
