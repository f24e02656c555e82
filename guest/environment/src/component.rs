//! The component boundary: [`Backend`] over the WASI environment the host granted. The WIT bindings, the
//! exported `lookup` functions and the conversions to their types are shared by every provider
//! (`wasm_secrets_provider_common::component`).

use wasm_secrets_provider_common::component::Component;
use wasm_secrets_provider_common::{Lookups, Provider};

use crate::config::BackendConfig;
use crate::error::LookupError;
use crate::lookup::{Backend, Env};

/// The environment provider: [`Backend`] over [`WasiEnv`].
struct EnvironmentProvider;

/// The WASI environment the host granted (only the variables of the granted prefixes).
struct WasiEnv;

impl Env for WasiEnv {
    /// `os.environ.get(name)`.
    fn var(&mut self, name: &str) -> Result<Option<String>, LookupError> {
        match std::env::var(name) {
            Ok(value) => Ok(Some(value)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(LookupError::MalformedPayload(format!("the environment variable {name} is not valid Unicode")))
            }
        }
    }

    fn names(&mut self) -> Vec<String> {
        std::env::vars_os().filter_map(|(name, _)| name.into_string().ok()).collect()
    }
}

impl Provider for EnvironmentProvider {
    type Config = BackendConfig;

    fn lookups(config: &BackendConfig) -> impl Lookups + '_ {
        Backend::new(config, WasiEnv)
    }
}

type Exported = Component<EnvironmentProvider>;
wasm_secrets_provider_common::export!(Exported with_types_in wasm_secrets_provider_common::bindings);
