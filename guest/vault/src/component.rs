//! The component boundary: [`Backend`] over the `host` imports and the shared `wasi:http` transport.

use wasm_secrets_provider_common::component::Component;
use wasm_secrets_provider_common::{LookupError, Lookups, Provider, http::Response};

use crate::config::BackendConfig;
use crate::lookup::{Api, Backend, Level};

/// The authority the provider sends its requests to; the host maps it to the Vault server it grants.
const VAULT_AUTHORITY: &str = "vault.invalid";

/// The Vault provider: [`Backend`] over [`HostApi`].
struct VaultProvider;

/// The host side of [`Api`].
struct HostApi;

impl Api for HostApi {
    fn get(&mut self, path_and_query: &str) -> Result<Response, LookupError> {
        wasm_secrets_provider_common::transport::get(VAULT_AUTHORITY, "Vault", path_and_query)
    }

    fn log(&mut self, level: Level, message: &str) {
        wasm_secrets_provider_common::component::log(level, message);
    }
}

impl Provider for VaultProvider {
    type Config = BackendConfig;

    fn lookups(config: &BackendConfig) -> impl Lookups + '_ {
        Backend::new(config, HostApi)
    }
}

type Exported = Component<VaultProvider>;
wasm_secrets_provider_common::export!(Exported with_types_in wasm_secrets_provider_common::bindings);
