//! Turning a [`ChainSpec`] into a running [`Chain`]: the I/O edge of the host configuration (loading
//! components, reading cluster settings, reading the process environment to hand each provider its share).

use std::sync::Arc;

use crate::cache::Cache;
use crate::chain::{Chain, Link};
use crate::cluster::ClusterConfig;
use crate::engine::{ArtifactCache, ProviderComponent};
use crate::error::{ClusterConfigError, LoadError, LookupError};
use crate::grants::{Grants, env_with_prefixes};
use crate::host_config::{Builtin, ChainSpec, ComponentSource, KubernetesAccess};
use crate::provider::{Provider, ProviderOptions};

/// Why a chain could not be opened, naming the provider.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The component could not be loaded.
    #[error("provider `{0}`: {1}")]
    Load(String, #[source] LoadError),
    /// Its Kubernetes settings could not be read.
    #[error("provider `{0}`: {1}")]
    Cluster(String, #[source] ClusterConfigError),
}

/// What opening a chain reads from the process.
pub struct OpenContext<'a> {
    /// Where compiled components are cached.
    pub artifacts: ArtifactCache,
    /// The process environment, for the in-cluster settings (`KUBERNETES_SERVICE_HOST`, ...).
    pub env: &'a (dyn Fn(&str) -> Option<String> + Sync),
    /// Every environment variable, from which each provider gets those its prefixes grant.
    pub env_vars: Vec<(String, String)>,
    /// Limits and log sink shared by every provider (a provider's `timeout` overrides the lookup timeout).
    pub options: ProviderOptions,
}

/// The bytes and message name of a built-in component.
pub fn builtin_component(builtin: Builtin) -> (&'static [u8], &'static str) {
    match builtin {
        Builtin::Kubernetes => (wasm_secrets_artifacts::KUBERNETES_PROVIDER, "built-in kubernetes provider"),
        Builtin::Environment => (wasm_secrets_artifacts::ENVIRONMENT_PROVIDER, "built-in environment provider"),
        Builtin::LocalFiles => (wasm_secrets_artifacts::LOCAL_FILES_PROVIDER, "built-in local-files provider"),
        Builtin::Vault => (wasm_secrets_artifacts::VAULT_PROVIDER, "built-in vault provider"),
    }
}

impl ChainSpec {
    /// Loads every provider's component and settings, in order, and builds the chain with its cache.
    pub async fn open(&self, ctx: &OpenContext<'_>) -> Result<Chain, OpenError> {
        self.open_reusing(ctx, None).await
    }

    /// [`ChainSpec::open`], replacing `previous` (the configuration and chain it opened): a provider whose
    /// entry is unchanged (same name, component, kwargs, grants and options, and the same staleness limit) is
    /// not opened again but shared with the previous chain ([`Provider::share`]), with its live view, pooled
    /// connections and idle instances. What `secrets serve` does on SIGHUP. The cache is a new one.
    ///
    /// Only what the entry fully describes is kept: a built-in component, in-cluster access or none. A component
    /// file, a kubeconfig named by path or a Vault grant (its CA file) is opened again, since the file may have
    /// changed under the same name (a patched component, a rotated credential or CA). (In-cluster tokens are re-read as they rotate anyway.)
    pub async fn open_reusing(
        &self,
        ctx: &OpenContext<'_>,
        previous: Option<(&ChainSpec, &Chain)>,
    ) -> Result<Chain, OpenError> {
        let mut links = Vec::with_capacity(self.providers.len());
        for spec in &self.providers {
            // A component file or a kubeconfig may have changed under the same path: those are read again.
            let by_path = matches!(spec.component, ComponentSource::File(_))
                || matches!(spec.kubernetes, Some(KubernetesAccess::Kubeconfig(_)))
                || spec.vault.is_some();
            let kept = previous
                .filter(|(old, _)| !by_path && old.cache.max_staleness == self.cache.max_staleness)
                .and_then(|(old, chain)| {
                    let i = old.providers.iter().position(|p| p == spec)?;
                    chain.links().get(i).filter(|link| link.name == spec.name)?.provider.share()
                });
            if let Some(provider) = kept {
                links.push(Link { name: spec.name.clone(), provider });
                continue;
            }
            let load = |e| OpenError::Load(spec.name.clone(), e);
            let component = match &spec.component {
                ComponentSource::Builtin(b) => {
                    let (bytes, name) = builtin_component(*b);
                    ProviderComponent::from_bytes(bytes, name, &ctx.artifacts)
                }
                ComponentSource::File(path) => ProviderComponent::from_file(path, &ctx.artifacts),
            }
            .map_err(load)?;
            // Kubernetes settings that cannot be read (no in-cluster environment, a bad kubeconfig) make this
            // provider's lookups fail, not the whole chain: Airflow creates its client lazily and falls
            // through to the next backend, so the environment still answers outside a cluster.
            let cluster = match &spec.kubernetes {
                None => Ok(None),
                Some(KubernetesAccess::InCluster { service_account_dir }) => {
                    ClusterConfig::in_cluster(service_account_dir, ctx.env).map(Some)
                }
                Some(KubernetesAccess::Kubeconfig(path)) => ClusterConfig::from_kubeconfig(path).await.map(Some),
            };
            let mut options = ctx.options.clone();
            if let Some(timeout) = spec.timeout {
                options.lookup_timeout = timeout;
            }
            options.reuse_instances = spec.reuse_instances;
            options.live = spec.live.then(|| crate::provider::LiveOptions {
                max_staleness: self.cache.max_staleness,
                ..crate::provider::LiveOptions::default()
            });
            let env = env_with_prefixes(ctx.env_vars.iter().cloned(), &spec.env_prefixes);
            let grants =
                |cluster| Grants { cluster, vault: spec.vault.clone(), env: env.clone(), files: spec.files.clone() };
            let provider = match cluster.and_then(|c| {
                Provider::with_grants(component.clone(), grants(c), &spec.backend_kwargs, options.clone())
            }) {
                Ok(provider) => provider,
                Err(e) => Provider::with_grants(component, grants(None), &spec.backend_kwargs, options)
                    .map_err(|e| OpenError::Cluster(spec.name.clone(), e))?
                    .failing_lookups_with(LookupError::InvalidConfiguration(e.to_string())),
            };
            links.push(Link { name: spec.name.clone(), provider });
        }
        Ok(Chain::new(links, Some(Cache::new(self.cache.clone())), Arc::clone(&ctx.options.log)))
    }
}
