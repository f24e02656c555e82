//! The wasm-secrets host: load a secrets provider component from a file, give it an in-cluster HTTP
//! transport, and look up Airflow connections, variables and config values through it.
//!
//! The provider is untrusted code in a sandbox. The host decides what it may reach (only the Kubernetes API
//! server, see [`transport`]), owns the credential (the service-account token, injected into requests the
//! provider cannot inspect), and bounds its time and memory ([`provider::ProviderOptions`]).
//!
//! ```no_run
//! use std::path::Path;
//! use wasm_secrets::{ArtifactCache, ClusterConfig, Provider, ProviderComponent, ProviderOptions};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! // Compile (or load from the cache) the provider component once...
//! let component = ProviderComponent::from_file(Path::new("kubernetes-provider.wasm"), &ArtifactCache::Disabled)?;
//! // ...point it at the cluster this process runs in...
//! let cluster = ClusterConfig::in_cluster(Path::new(wasm_secrets::cluster::DEFAULT_SERVICE_ACCOUNT_DIR), |k| std::env::var(k).ok())?;
//! // ...with Airflow's backend_kwargs, and look things up.
//! let provider = Provider::new(component, cluster, r#"{"namespace": "airflow"}"#, ProviderOptions::default())?;
//! provider.validate_config().await?;
//! if let Some(conn) = provider.get_connection("smtp_default", None).await? {
//!     println!("{}", conn.get_uri(airflow_compat::Dialect::Server));
//! }
//! # Ok(()) }
//! ```

pub mod artifact_cache;
pub mod audit;
pub mod bench;
pub mod bindings;
pub mod cache;
pub mod chain;
pub mod cli;
pub mod cluster;
pub mod embed;
pub mod engine;
pub mod error;
pub mod exec;
pub mod files;
mod follow;
pub mod grants;
pub mod host_config;
pub mod live;
pub mod metrics;
pub mod provider;
pub mod serve;
pub mod setup;
pub mod state;
pub mod task;
pub mod token;
pub mod transport;
pub mod vault;

pub use cache::{Cache, CacheSettings};
pub use chain::{Chain, ChainError, Link, ListError};
pub use cluster::ClusterConfig;
pub use engine::{Allocation, ArtifactCache, ProviderComponent};
pub use error::{ClusterConfigError, LoadError, LookupError};
pub use grants::Grants;
pub use host_config::{ChainSpec, HostConfig, HostConfigError};
pub use provider::{Answer, LiveOptions, Lookup, Provider, ProviderInstance, ProviderOptions};

/// The Rust examples of README.md, compiled by `cargo test --doc` so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
