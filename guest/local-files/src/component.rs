//! The component boundary: [`Backend`] over the host's `read-file`. The WIT bindings, the exported `lookup`
//! functions and the conversions to their types are shared by every provider
//! (`wasm_secrets_provider_common::component`).

use wasm_secrets_provider_common::bindings::wasm_secrets::provider::host;
use wasm_secrets_provider_common::component::Component;
use wasm_secrets_provider_common::{Lookups, Provider};

use crate::config::BackendConfig;
use crate::lookup::{Backend, FileError};

/// The local-files provider: [`Backend`] over [`read_file`].
struct LocalFilesProvider;

/// The host's `read-file`, with its error mapped to [`FileError`].
fn read_file(path: &str) -> Result<Vec<u8>, FileError> {
    host::read_file(path).map_err(|e| match e {
        host::FileError::NotFound => FileError::NotFound,
        host::FileError::Denied(message) => FileError::Denied(message),
        host::FileError::Io(message) => FileError::Io(message),
    })
}

impl Provider for LocalFilesProvider {
    type Config = BackendConfig;

    fn lookups(config: &BackendConfig) -> impl Lookups + '_ {
        Backend::new(config, read_file)
    }
}

type Exported = Component<LocalFilesProvider>;
wasm_secrets_provider_common::export!(Exported with_types_in wasm_secrets_provider_common::bindings);
