//! The component boundary: [`Backend`] over the `host` imports. The WIT bindings, the exported `lookup`
//! functions and the conversions to their types are shared by every provider
//! (`wasm_secrets_provider_common::component`).

use wasm_secrets_provider_common::bindings::wasm_secrets::provider::host;
use wasm_secrets_provider_common::component::{Component, HostView};
use wasm_secrets_provider_common::live::{Follow, Item, Kind, ViewAccess as _};
use wasm_secrets_provider_common::{Lookups, Provider};

use crate::config::BackendConfig;
use crate::error::LookupError;
use crate::lookup::{Api, Backend, Level, Response};

/// The Kubernetes provider: [`Backend`] over [`HostApi`].
struct KubernetesProvider;

/// The host side of [`Api`]: HTTP through `wasi:http`, logs and namespace through the `host` import.
struct HostApi;

impl Api for HostApi {
    fn get(&mut self, path_and_query: &str) -> Result<Response, LookupError> {
        crate::transport::get(path_and_query)
    }

    fn log(&mut self, level: Level, message: &str) {
        wasm_secrets_provider_common::component::log(level, message);
    }

    fn detected_namespace(&mut self) -> Result<String, String> {
        host::detected_namespace()
    }

    fn view(&mut self, kind: Kind, id: &str) -> Option<Vec<Item>> {
        HostView.view(kind, id)
    }
}

impl Provider for KubernetesProvider {
    type Config = BackendConfig;

    fn lookups(config: &BackendConfig) -> impl Lookups + '_ {
        Backend::new(config, HostApi)
    }

    fn follow(config: &BackendConfig) -> impl Follow + '_ {
        Backend::new(config, HostApi)
    }
}

type Exported = Component<KubernetesProvider>;
wasm_secrets_provider_common::export!(Exported with_types_in wasm_secrets_provider_common::bindings);
