//! The component boundary: [`Backend`] over the WASI environment the host granted. The WIT bindings, the
//! exported `lookup` functions and the conversions to their types are shared by every provider
//! (`wasm_secrets_provider_common::component`).

use wasm_secrets_provider_common::component::Component;
use wasm_secrets_provider_common::{Lookups, Provider};

use crate::config::BackendConfig;
use crate::error::LookupError;
use crate::lookup::Backend;

/// The environment provider: [`Backend`] over [`read_env`].
struct EnvironmentProvider;

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

impl Provider for EnvironmentProvider {
    type Config = BackendConfig;

    fn lookups(config: &BackendConfig) -> impl Lookups + '_ {
        Backend::new(config, read_env)
    }
}

type Exported = Component<EnvironmentProvider>;
wasm_secrets_provider_common::export!(Exported with_types_in wasm_secrets_provider_common::bindings);
