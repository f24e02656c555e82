//! Paths of the provider components built by this workspace (see `build.rs`).
//!
//! The host embeds the Kubernetes provider as its default component, and the environment, local-files and Vault
//! providers beside it; the tests also load the rogue fixture, which tries what the host's security boundary
//! must refuse.

include!(concat!(env!("OUT_DIR"), "/artifacts.rs"));

/// The bytes of the Kubernetes provider component, the `secrets` CLI's default provider.
pub const KUBERNETES_PROVIDER: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/wasm-target/wasm32-wasip2/guest/wasm_secrets_provider_kubernetes.wasm"));

/// The bytes of the environment-variables provider component (Airflow's `EnvironmentVariablesBackend`, Flyte's
/// `_FSEC_` secrets).
pub const ENVIRONMENT_PROVIDER: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/wasm-target/wasm32-wasip2/guest/wasm_secrets_provider_environment.wasm"));

/// The bytes of the local-files provider component (Airflow's `LocalFilesystemBackend`).
pub const LOCAL_FILES_PROVIDER: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/wasm-target/wasm32-wasip2/guest/wasm_secrets_provider_local_files.wasm"));

/// The bytes of the Vault / OpenBao KV provider component (Airflow's `VaultBackend`).
pub const VAULT_PROVIDER: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/wasm-target/wasm32-wasip2/guest/wasm_secrets_provider_vault.wasm"));
