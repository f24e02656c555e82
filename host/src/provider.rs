//! The typed lookup API: one [`Provider`] per (component, cluster, configuration); each lookup runs in a fresh
//! store, bounded in time (epoch deadline and an overall timeout) and memory.

use std::sync::Arc;
use std::time::Duration;

use airflow_compat::Connection;
use wasmtime::{Store, StoreLimitsBuilder};

use crate::bindings::{self, types};
use crate::cluster::{ClusterConfig, DetectedNamespace};
use crate::engine::{EPOCH_TICK, ProviderComponent};
use crate::error::{ClusterConfigError, LookupError};
use crate::state::{LogLevel, LogSink, State};
use crate::transport::{KubeTransport, ProviderHooks, TransportOptions};

/// Limits and hooks of a [`Provider`].
#[derive(Clone)]
pub struct ProviderOptions {
    /// Wall-clock limit of one lookup, HTTP included.
    pub lookup_timeout: Duration,
    /// Largest linear memory a provider instance may grow to.
    pub memory_limit_bytes: usize,
    /// HTTP timeouts and limits.
    pub transport: TransportOptions,
    /// Where provider log records go.
    pub log: LogSink,
}

impl Default for ProviderOptions {
    fn default() -> Self {
        Self {
            lookup_timeout: Duration::from_secs(60),
            memory_limit_bytes: 64 * 1024 * 1024,
            transport: TransportOptions::default(),
            log: Arc::new(|level, message| match level {
                LogLevel::Info => tracing::info!(target: "wasm_secrets::provider", "{message}"),
                LogLevel::Warning => tracing::warn!(target: "wasm_secrets::provider", "{message}"),
            }),
        }
    }
}

impl std::fmt::Debug for ProviderOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderOptions")
            .field("lookup_timeout", &self.lookup_timeout)
            .field("memory_limit_bytes", &self.memory_limit_bytes)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

/// A provider component bound to a cluster and a configuration (Airflow's `backend_kwargs`).
#[derive(Debug)]
pub struct Provider {
    component: ProviderComponent,
    transport: Arc<KubeTransport>,
    namespace: DetectedNamespace,
    config: String,
    options: ProviderOptions,
}

impl Provider {
    /// Binds `component` to `cluster` with `backend_kwargs` (JSON text; empty means defaults). Call
    /// [`Provider::validate_config`] to reject a bad configuration before the first lookup.
    pub fn new(
        component: ProviderComponent,
        cluster: ClusterConfig,
        backend_kwargs: &str,
        options: ProviderOptions,
    ) -> Result<Self, ClusterConfigError> {
        let namespace = cluster.namespace.clone();
        let transport = Arc::new(KubeTransport::new(cluster, options.transport)?);
        Ok(Self { component, transport, namespace, config: backend_kwargs.to_owned(), options })
    }

    /// Asks the provider to validate its configuration; sends no request.
    pub async fn validate_config(&self) -> Result<(), LookupError> {
        let (mut store, guest) = self.instantiate().await?;
        let call = guest.wasm_secrets_provider_lookup().call_validate_config(&mut store, &self.config);
        self.finish(call).await
    }

    /// The raw stored connection value (Airflow's `get_conn_value`).
    pub async fn get_conn_value(&self, conn_id: &str, team_name: Option<&str>) -> Result<Option<String>, LookupError> {
        let (mut store, guest) = self.instantiate().await?;
        let call =
            guest.wasm_secrets_provider_lookup().call_get_conn_value(&mut store, &self.config, conn_id, team_name);
        self.finish(call).await
    }

    /// The connection parsed as Airflow's `get_connection` does.
    pub async fn get_connection(
        &self,
        conn_id: &str,
        team_name: Option<&str>,
    ) -> Result<Option<Connection>, LookupError> {
        let (mut store, guest) = self.instantiate().await?;
        let call =
            guest.wasm_secrets_provider_lookup().call_get_connection(&mut store, &self.config, conn_id, team_name);
        Ok(self.finish(call).await?.map(|c| Connection {
            conn_type: c.conn_type,
            description: c.description,
            host: c.host,
            schema: c.schema,
            login: c.login,
            password: c.password,
            port: c.port,
            extra: c.extra,
        }))
    }

    /// A variable, verbatim (Airflow's `get_variable`).
    pub async fn get_variable(&self, key: &str, team_name: Option<&str>) -> Result<Option<String>, LookupError> {
        let (mut store, guest) = self.instantiate().await?;
        let call = guest.wasm_secrets_provider_lookup().call_get_variable(&mut store, &self.config, key, team_name);
        self.finish(call).await
    }

    /// A config value, verbatim (Airflow's `get_config`).
    pub async fn get_config(&self, key: &str) -> Result<Option<String>, LookupError> {
        let (mut store, guest) = self.instantiate().await?;
        let call = guest.wasm_secrets_provider_lookup().call_get_config(&mut store, &self.config, key);
        self.finish(call).await
    }

    async fn instantiate(&self) -> Result<(Store<State>, bindings::Provider), LookupError> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.options.memory_limit_bytes)
            .instances(32)
            .memories(8)
            .tables(32)
            .table_elements(100_000)
            .build();
        let state = State::new(
            ProviderHooks::new(Arc::clone(&self.transport)),
            limits,
            self.namespace.to_result(),
            Arc::clone(&self.options.log),
        );
        let mut store = Store::new(self.component.engine(), state);
        store.limiter(|s| &mut s.limits);
        let ticks = self.options.lookup_timeout.as_millis() / EPOCH_TICK.as_millis().max(1) + 1;
        store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
        store.epoch_deadline_trap();
        let guest = self.component.pre().instantiate_async(&mut store).await.map_err(|e| {
            LookupError::Provider(format!("cannot instantiate {}: {}", self.component.name(), trap_text(&e)))
        })?;
        Ok((store, guest))
    }

    async fn finish<T>(
        &self,
        call: impl Future<Output = wasmtime::Result<Result<T, types::Error>>>,
    ) -> Result<T, LookupError> {
        match tokio::time::timeout(self.options.lookup_timeout, call).await {
            Err(_) => {
                Err(LookupError::Timeout(format!("the lookup did not finish within {:?}", self.options.lookup_timeout)))
            }
            Ok(Err(trap)) => Err(LookupError::Provider(format!("{} {}", self.component.name(), trap_text(&trap)))),
            Ok(Ok(result)) => result.map_err(from_wit),
        }
    }
}

/// A trap, said plainly: the time and memory limits get their own words.
fn trap_text(e: &wasmtime::Error) -> String {
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => "exceeded its time limit and was stopped".to_owned(),
        Some(trap) => format!("trapped: {trap}"),
        None => format!("failed: {e}"),
    }
}

fn from_wit(e: types::Error) -> LookupError {
    match e {
        types::Error::InvalidConfiguration(m) => LookupError::InvalidConfiguration(m),
        types::Error::InvalidRequest(m) => LookupError::InvalidRequest(m),
        types::Error::MalformedPayload(m) => LookupError::MalformedPayload(m),
        types::Error::AccessDenied(m) => LookupError::AccessDenied(m),
        types::Error::DeniedByHost(m) => LookupError::DeniedByHost(m),
        types::Error::Upstream(m) => LookupError::Upstream(m),
        types::Error::Unavailable(m) => LookupError::Unavailable(m),
        types::Error::Timeout(m) => LookupError::Timeout(m),
    }
}
