//! Paths of the provider components built by this workspace (see `build.rs`).
//!
//! The host embeds the Kubernetes provider as its default component; the tests also load the rogue fixture,
//! which tries what the host's security boundary must refuse.

include!(concat!(env!("OUT_DIR"), "/artifacts.rs"));

/// The bytes of the Kubernetes provider component, the `secrets` CLI's default provider.
pub const KUBERNETES_PROVIDER: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/wasm-target/wasm32-wasip2/guest/wasm_secrets_kubernetes.wasm"));
