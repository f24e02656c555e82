//! The typed lookup API: one [`Provider`] per (component, cluster, configuration); each lookup runs in a fresh
//! store, bounded in time (epoch deadline and an overall timeout) and memory.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use airflow_compat::Connection;
use tokio::time::Instant;
use wasmtime::{Store, StoreLimitsBuilder};

use crate::bindings::{self, types};
use crate::cluster::{ClusterConfig, DetectedNamespace};
use crate::engine::{EPOCH_TICK, IdleMark, MAX_CORE_INSTANCES, MAX_MEMORIES, MAX_TABLES, ProviderComponent, Slots};
use crate::error::{ClusterConfigError, LookupError};
use crate::follow::MAX_LIST_PAGES;
use crate::grants::{EnvNames, Grants, kwargs_keys};
use crate::live::{Kind as LiveKind, LiveView};
use crate::state::{Collector, IdCollector, LiveGrant};
use crate::state::{LogLevel, LogSink, State, StoreGrants};
use crate::transport::{ProviderHooks, RequestLimits, StoreTransport, TransportOptions, WatchLimits};

/// How much of a provider's memory one answer byte needs at most (the answer, the parsed list and the decoded
/// value are held at once): answers are cut to the memory limit divided by this.
pub const MEMORY_PER_ANSWER_BYTE: usize = 8;

/// Requests one lookup may have in flight at once.
pub const MAX_REQUESTS_IN_FLIGHT: usize = 4;
/// Requests one lookup may send in all (Airflow's lookups send one or two; pagination needs a few more).
pub const MAX_REQUESTS_PER_LOOKUP: usize = 32;

/// What the ids one provider lists for one kind may take in the host (each id's length plus
/// [`IdCollector::ID_OVERHEAD`]): about 170,000 ids of 32 characters.
pub const MAX_LISTED_ID_BYTES: usize = 16 * 1024 * 1024;

/// The longest lookup timeout honoured: a longer [`ProviderOptions::lookup_timeout`] is cut to it (a day is
/// far beyond any API server's answer, and keeps the epoch deadline far from overflowing).
pub const MAX_LOOKUP_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// Limits and hooks of a [`Provider`].
#[derive(Clone)]
pub struct ProviderOptions {
    /// Wall-clock limit of one lookup, HTTP included (at most [`MAX_LOOKUP_TIMEOUT`]).
    pub lookup_timeout: Duration,
    /// Largest linear memory a provider instance may grow to.
    pub memory_limit_bytes: usize,
    /// HTTP timeouts and limits.
    pub transport: TransportOptions,
    /// Where provider log records go.
    pub log: LogSink,
    /// How many idle instances a provider keeps to run later lookups in. `0` (the default): every lookup runs
    /// in a fresh store, so no lookup can see what an earlier one left in the guest's memory. Above `0`, a
    /// lookup reuses an instance an earlier lookup of the same provider finished with (same component, same
    /// grants, same configuration), saving the instantiation and the first-call costs; an instance that
    /// trapped or timed out is never reused. See BENCHMARKS.md for what it saves. Idle instances of pooled
    /// components hold pool slots, so the process keeps at most half the pool's slots idle, across all its
    /// providers; an instance beyond that is dropped after its lookup.
    pub reuse_instances: usize,
    /// Live mode (docs/live-view.md): `Some` keeps a live view of every kind the provider can follow, listed
    /// once and followed with a watch, and answers lookups from it. Only for providers with Kubernetes access.
    pub live: Option<LiveOptions>,
}

/// The settings of live mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveOptions {
    /// The most bytes the view of one kind may hold (names, ids and the provider's payloads); a store that
    /// holds more makes the view fail, and lookups ask the store as without live mode.
    pub budget_bytes: usize,
    /// The bounds of each watch stream.
    pub watch: WatchLimits,
    /// The longest pause between two attempts after a failure (the pause doubles from 100 ms up to this, with
    /// jitter).
    pub max_backoff: Duration,
    /// How long after following failed (the store unreachable or failing) the ids the view holds are still
    /// answered from it, as stale answers (zero: never). The host configuration sets it from `[cache]`'s
    /// `max_staleness_seconds`.
    pub max_staleness: Duration,
}

impl Default for LiveOptions {
    fn default() -> Self {
        Self {
            budget_bytes: 64 * 1024 * 1024,
            watch: WatchLimits::default(),
            max_backoff: Duration::from_secs(30),
            max_staleness: Duration::ZERO,
        }
    }
}

impl Default for ProviderOptions {
    fn default() -> Self {
        Self {
            lookup_timeout: Duration::from_secs(60),
            memory_limit_bytes: 64 * 1024 * 1024,
            reuse_instances: 0,
            live: None,
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
            .field("live", &self.live)
            .finish_non_exhaustive()
    }
}

/// A provider component bound to what the host grants it (a cluster, environment variables, files) and to
/// a configuration (Airflow's `backend_kwargs`).
pub struct Provider {
    parts: Arc<Parts>,
    idle: Arc<Idle>,
    unusable: Option<LookupError>,
    live: Option<Arc<Live>>,
}

/// What every store of a provider is made from, shared with its live view's driver.
pub(crate) struct Parts {
    component: ProviderComponent,
    transport: Option<Arc<StoreTransport>>,
    namespace: DetectedNamespace,
    env: Arc<[(String, String)]>,
    files: Arc<[PathBuf]>,
    config: String,
    options: ProviderOptions,
}

/// A provider's live view and the tasks that follow its kinds (started by the first lookup, or by
/// [`Provider::start_live`]; stopped when the provider is dropped).
struct Live {
    view: Arc<LiveView>,
    options: LiveOptions,
    tasks: Mutex<Option<Vec<tokio::task::AbortHandle>>>,
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Some(tasks) = self.tasks.lock().unwrap_or_else(PoisonError::into_inner).take() {
            for task in tasks {
                task.abort();
            }
        }
    }
}

/// Variable names and kwargs keys only: the environment and the kwargs may hold credentials.
impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("component", &self.parts.component)
            .field("transport", &self.parts.transport)
            .field("namespace", &self.parts.namespace)
            .field("env", &EnvNames(&self.parts.env))
            .field("files", &self.parts.files)
            .field("kwargs", &kwargs_keys(&self.parts.config))
            .field("options", &self.parts.options)
            .field("idle", &self.idle)
            .field("unusable", &self.unusable)
            .field("live", &self.live.as_ref().map(|l| &l.view))
            .finish()
    }
}

/// An instance kept for reuse, with its place among the process's idle instances (pooled components).
type IdleInstance = (Slotted, bindings::Provider, Option<IdleMark>);

/// A store and the pool slot its instance occupies (pooled components). The fields drop in order: the store
/// first, which gives the instance's memory, tables and instance slot back to wasmtime's pool, then the permit,
/// so a lookup that was waiting for a permit never finds the pool still full. (A permit in the store's data
/// would go first: wasmtime drops a store's data before its instances.)
struct Slotted {
    store: Store<State>,
    _slot: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl std::ops::Deref for Slotted {
    type Target = Store<State>;
    fn deref(&self) -> &Store<State> {
        &self.store
    }
}

impl std::ops::DerefMut for Slotted {
    fn deref_mut(&mut self) -> &mut Store<State> {
        &mut self.store
    }
}

/// Instances kept for reuse ([`ProviderOptions::reuse_instances`]).
#[derive(Default)]
struct Idle(Mutex<Vec<IdleInstance>>);

impl std::ops::Deref for Idle {
    type Target = Mutex<Vec<IdleInstance>>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::fmt::Debug for Idle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} idle instances", self.0.lock().map_or(0, |v| v.len()))
    }
}

impl Provider {
    /// Binds `component` to `cluster` with `backend_kwargs` (JSON text; empty means defaults), granting it
    /// nothing else. Call [`Provider::validate_config`] to reject a bad configuration before the first lookup.
    pub fn new(
        component: ProviderComponent,
        cluster: ClusterConfig,
        backend_kwargs: &str,
        options: ProviderOptions,
    ) -> Result<Self, ClusterConfigError> {
        Self::with_grants(component, Grants::kubernetes(cluster), backend_kwargs, options)
    }

    /// Binds `component` to `grants` with `backend_kwargs`.
    pub fn with_grants(
        component: ProviderComponent,
        grants: Grants,
        backend_kwargs: &str,
        options: ProviderOptions,
    ) -> Result<Self, ClusterConfigError> {
        let transport = TransportOptions {
            max_response_bytes: options
                .transport
                .max_response_bytes
                .min(options.memory_limit_bytes / MEMORY_PER_ANSWER_BYTE),
            ..options.transport
        };
        let no_namespace =
            || DetectedNamespace::Missing("the host grants this provider no Kubernetes access".to_owned());
        let (transport, namespace) = match (grants.cluster, grants.vault) {
            (Some(cluster), _) => {
                let namespace = cluster.namespace.clone();
                (Some(Arc::new(StoreTransport::new(cluster, transport)?)), namespace)
            }
            (None, Some(vault)) => (Some(Arc::new(StoreTransport::vault(&vault, transport)?)), no_namespace()),
            (None, None) => (None, no_namespace()),
        };
        let parts = Parts {
            component,
            transport,
            namespace,
            env: grants.env.into(),
            files: grants.files.into(),
            config: backend_kwargs.to_owned(),
            options,
        };
        Ok(Self::from_parts(parts))
    }

    fn from_parts(parts: Parts) -> Self {
        let live = match (parts.options.live, &parts.transport) {
            (Some(options), Some(_)) => Some(Arc::new(Live {
                view: Arc::new(
                    LiveView::new(options.budget_bytes, parts.options.memory_limit_bytes / MEMORY_PER_ANSWER_BYTE)
                        .with_staleness(options.max_staleness, Arc::new(std::time::Instant::now)),
                ),
                options,
                tasks: Mutex::new(None),
            })),
            _ => None,
        };
        Self { parts: Arc::new(parts), idle: Arc::default(), unusable: None, live }
    }

    /// Whether `other` was made from this provider by [`Provider::share`] (or this from `other`).
    pub fn is_shared_with(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.parts, &other.parts)
    }

    /// The same provider, to put in another chain: the component, grants, transport (its connections), idle
    /// instances and live view are shared, not copied, so a live view keeps following while either chain
    /// lives (`secrets serve` keeps unchanged providers across a reload this way). `None` for a provider whose
    /// settings could not be read ([`Provider::failing_lookups_with`]): that one is opened again.
    pub fn share(&self) -> Option<Self> {
        if self.unusable.is_some() {
            return None;
        }
        Some(Self {
            parts: Arc::clone(&self.parts),
            idle: Arc::clone(&self.idle),
            unusable: None,
            live: self.live.clone(),
        })
    }

    /// Binds `component` to an existing transport (for example [`StoreTransport::in_memory`]) and `namespace`,
    /// granting nothing else.
    pub fn with_transport(
        component: ProviderComponent,
        transport: Arc<StoreTransport>,
        namespace: DetectedNamespace,
        backend_kwargs: &str,
        options: ProviderOptions,
    ) -> Self {
        Self::from_parts(Parts {
            component,
            transport: Some(transport),
            namespace,
            env: Arc::new([]),
            files: Arc::new([]),
            config: backend_kwargs.to_owned(),
            options,
        })
    }

    /// Requests this provider's lookups (and its live view) have sent to the API server so far (0 without
    /// Kubernetes access). See [`StoreTransport::requests_sent`].
    pub fn api_requests(&self) -> u64 {
        self.parts.transport.as_ref().map_or(0, |t| t.requests_sent())
    }

    /// The answers to [`Provider::api_requests`] by HTTP status (`None` without Kubernetes access).
    pub fn api_statuses(&self) -> Option<&crate::metrics::StatusCounts> {
        self.parts.transport.as_ref().map(|t| t.statuses())
    }

    /// A provider whose lookups all fail with `error`, because what it needs could not be set up (for
    /// example no in-cluster settings outside a pod). Airflow creates its Kubernetes client on the first
    /// lookup and the chain falls through when that fails, so a chain with such a provider still answers
    /// from its other providers. Configuration validation still runs the component.
    #[must_use]
    pub fn failing_lookups_with(mut self, error: LookupError) -> Self {
        self.unusable = Some(error);
        self
    }

    /// The live view, in live mode ([`ProviderOptions::live`]).
    pub fn live_view(&self) -> Option<&Arc<LiveView>> {
        self.live.as_ref().map(|l| &l.view)
    }

    /// Starts following every kind (live mode only; once) and waits until each has finished its first list or
    /// failed it, at most the lookup timeout. Lookups start it themselves; call it to list at start instead.
    pub async fn start_live(&self) {
        if let Some(live) = self.follow() {
            let _ = tokio::time::timeout(self.parts.lookup_timeout(), live.view.wait_started()).await;
        }
    }

    /// Starts following every kind (live mode only; once) and waits, at most `bound`, until every kind has
    /// finished its first list and every synced kind has its watch open ([`LiveView::wait_following`]): from
    /// then on the view's lookups send nothing until something changes. A provider with no view, or one whose
    /// lookups all fail, returns at once.
    pub async fn start_following(&self, bound: Duration) {
        if let Some(live) = self.follow() {
            let _ = tokio::time::timeout(bound, live.view.wait_following()).await;
        }
    }

    /// The live view, its followers started (once).
    fn follow(&self) -> Option<&Live> {
        let live = self.live.as_ref().filter(|_| self.unusable.is_none())?;
        let mut tasks = live.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        if tasks.is_none() {
            let handles = LiveKind::ALL
                .iter()
                .map(|&kind| {
                    let follower = crate::follow::Follower {
                        parts: Arc::clone(&self.parts),
                        view: Arc::clone(&live.view),
                        kind,
                        options: live.options,
                    };
                    tokio::spawn(follower.run()).abort_handle()
                })
                .collect();
            *tasks = Some(handles);
        }
        drop(tasks);
        Some(live)
    }

    /// In live mode, waits (until `deadline`) for the first list of the kind `lookup` reads, so the first
    /// lookups are answered from the view rather than each sending its own LIST.
    async fn await_first_list(&self, lookup: Lookup<'_>, deadline: Instant) {
        let kind = match lookup {
            Lookup::ConnValue(..) | Lookup::Connection(..) => LiveKind::Connection,
            Lookup::Variable(..) => LiveKind::Variable,
            Lookup::Config(..) => LiveKind::Config,
            Lookup::Secret(..) => return,
        };
        self.await_first_list_of(kind, deadline).await;
    }

    async fn await_first_list_of(&self, kind: LiveKind, deadline: Instant) {
        if let Some(live) = self.follow() {
            let started = live.view.wait_until(|v| v.status(kind) != crate::live::Status::Starting);
            let _ = tokio::time::timeout_at(deadline, started).await;
        }
    }

    /// Every id of `kind` this provider might answer for `team`, sorted and distinct: more than its lookups
    /// find is allowed (see WIT `lookup.list-ids`), so a listing looks each id up ([`crate::Chain::list`]).
    /// From the live view while it is synced (no request); otherwise from the provider's `lookup.list-ids`, in a
    /// fresh store with the lookup's deadline, at most 1,000 requests (the pages a live view's list may take) and
    /// [`MAX_LISTED_ID_BYTES`] of ids.
    pub async fn list_ids(&self, kind: LiveKind, team: Option<&str>) -> Result<Vec<String>, LookupError> {
        if let Some(error) = &self.unusable {
            return Err(error.clone());
        }
        let deadline = self.parts.deadline();
        self.await_first_list_of(kind, deadline).await;
        if let Some(ids) = self.live.as_ref().and_then(|l| l.view.ids(kind)) {
            return Ok(ids);
        }
        let grant = LiveGrant { ids: Some(IdCollector::new(MAX_LISTED_ID_BYTES)), ..LiveGrant::default() };
        let (mut store, guest) = self.parts.instantiate(deadline, grant, MAX_LIST_PAGES).await?;
        let call =
            guest.wasm_secrets_provider_lookup().call_list_ids(&mut *store, &self.parts.config, kind.into(), team);
        let result = self.parts.finish(call, deadline).await;
        let result = self.parts.explained(&store, result);
        let ids = store.data_mut().take_ids();
        if ids.refused() {
            return Err(LookupError::Provider(format!(
                "the provider listed more ids than the host accepts ({MAX_LISTED_ID_BYTES} bytes)"
            )));
        }
        result?;
        Ok(ids.into_ids())
    }

    /// Asks the provider to validate its configuration; sends no request.
    pub async fn validate_config(&self) -> Result<(), LookupError> {
        let deadline = self.parts.deadline();
        let (mut store, guest) =
            self.parts.instantiate(deadline, LiveGrant::default(), MAX_REQUESTS_PER_LOOKUP).await?;
        let call = guest.wasm_secrets_provider_lookup().call_validate_config(&mut *store, &self.parts.config);
        let result = self.parts.finish(call, deadline).await;
        self.parts.explained(&store, result)
    }

    /// Runs one lookup in a fresh store (the isolation every lookup gets by default).
    pub async fn lookup(&self, lookup: Lookup<'_>) -> Result<Answer, LookupError> {
        self.lookup_observed(lookup).await.map(|(answer, _)| answer)
    }

    /// [`Provider::lookup`], saying whether the answer came from a live view that was stale (following the
    /// store had failed, docs/live-view.md): such an answer must not be cached as a fresh one. A stale view that
    /// finds nothing does not answer "not found": the lookup asks the store instead (the view cannot tell an id
    /// that is absent from one whose change it missed, nor see which team a missed change belongs to).
    pub async fn lookup_observed(&self, lookup: Lookup<'_>) -> Result<(Answer, bool), LookupError> {
        let deadline = self.parts.deadline();
        let answer = self.lookup_until(lookup, deadline, self.lookup_grant()).await?;
        match answer {
            (answer, true) if !answer.is_found() => {
                let grant = LiveGrant::default();
                self.lookup_until(lookup, deadline, grant).await
            }
            answer => Ok(answer),
        }
    }

    async fn lookup_until(
        &self,
        lookup: Lookup<'_>,
        deadline: Instant,
        grant: LiveGrant,
    ) -> Result<(Answer, bool), LookupError> {
        if let Some(error) = &self.unusable {
            return Err(error.clone());
        }
        // One deadline for the whole lookup: the first list, waiting for a pool slot, instantiating and the call
        // share it.
        self.await_first_list(lookup, deadline).await;
        let without_view = grant.view.is_none() && self.live.is_some();
        let idle = if without_view { None } else { self.idle_instance() };
        let (mut store, guest) = match idle {
            Some((mut store, guest)) => {
                self.parts.start_lookup(&mut store);
                (store, guest)
            }
            // `instantiate` arms the deadline before instantiating (a start function could spin).
            None => self.parts.instantiate(deadline, grant, MAX_REQUESTS_PER_LOOKUP).await?,
        };
        let result = self.run(&mut store, &guest, lookup, deadline).await;
        let stale = store.data().served_stale();
        let result = result.map(|answer| (answer, stale));
        // A store made without the view (a stale miss asked again) is not kept: later lookups need the view.
        if self.parts.options.reuse_instances > 0 && !is_fatal(&result) && !without_view {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < self.parts.options.reuse_instances {
                // A pooled instance is kept only while fewer than half the pool's slots are idle, across every
                // provider of the process; otherwise it is dropped and its slot freed.
                match self.parts.component.slots().map(Slots::keep_idle) {
                    None => idle.push((store, guest, None)),
                    Some(Some(mark)) => idle.push((store, guest, Some(mark))),
                    Some(None) => {}
                }
            }
        }
        result
    }

    /// An idle instance to run a lookup in, if one is kept (no longer counted as idle).
    fn idle_instance(&self) -> Option<(Slotted, bindings::Provider)> {
        let (store, guest, _mark) = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop()?;
        Some((store, guest))
    }

    /// One instance for several lookups, saving the instantiation (tens of microseconds, see BENCHMARKS.md).
    /// Lookups on it share the guest's memory, so use it only for lookups of one trust domain; after any
    /// failure it refuses further lookups.
    pub async fn instance(&self) -> Result<ProviderInstance<'_>, LookupError> {
        if let Some(error) = &self.unusable {
            return Err(error.clone());
        }
        let (store, guest) =
            self.parts.instantiate(self.parts.deadline(), self.lookup_grant(), MAX_REQUESTS_PER_LOOKUP).await?;
        Ok(ProviderInstance { provider: self, store, guest, poisoned: false })
    }

    /// What a lookup's store may read of the live view.
    fn lookup_grant(&self) -> LiveGrant {
        LiveGrant { view: self.live.as_ref().map(|l| Arc::clone(&l.view)), ..LiveGrant::default() }
    }

    /// The raw stored connection value (Airflow's `get_conn_value`).
    pub async fn get_conn_value(&self, conn_id: &str, team_name: Option<&str>) -> Result<Option<String>, LookupError> {
        self.lookup(Lookup::ConnValue(conn_id, team_name)).await.map(Answer::into_text)
    }

    /// The connection parsed as Airflow's `get_connection` does.
    pub async fn get_connection(
        &self,
        conn_id: &str,
        team_name: Option<&str>,
    ) -> Result<Option<Connection>, LookupError> {
        self.lookup(Lookup::Connection(conn_id, team_name)).await.map(Answer::into_connection)
    }

    /// A variable, verbatim (Airflow's `get_variable`).
    pub async fn get_variable(&self, key: &str, team_name: Option<&str>) -> Result<Option<String>, LookupError> {
        self.lookup(Lookup::Variable(key, team_name)).await.map(Answer::into_text)
    }

    /// A config value, verbatim (Airflow's `get_config`).
    pub async fn get_config(&self, key: &str) -> Result<Option<String>, LookupError> {
        self.lookup(Lookup::Config(key)).await.map(Answer::into_text)
    }

    /// A Flyte secret by group and key (flytekit's `SecretsManager.get`).
    pub async fn get_secret(&self, group: &str, key: &str) -> Result<Option<String>, LookupError> {
        self.lookup(Lookup::Secret(group, key)).await.map(Answer::into_text)
    }

    async fn run(
        &self,
        store: &mut Store<State>,
        guest: &bindings::Provider,
        lookup: Lookup<'_>,
        deadline: Instant,
    ) -> Result<Answer, LookupError> {
        let api = guest.wasm_secrets_provider_lookup();
        let config = self.parts.config.as_str();
        let result = match lookup {
            Lookup::ConnValue(id, team) => self
                .parts
                .finish(api.call_get_conn_value(&mut *store, config, id, team), deadline)
                .await
                .map(Answer::Text),
            Lookup::Connection(id, team) => {
                let conn = self.parts.finish(api.call_get_connection(&mut *store, config, id, team), deadline).await?;
                Ok(Answer::Connection(conn.map(from_wit_connection)))
            }
            Lookup::Variable(key, team) => self
                .parts
                .finish(api.call_get_variable(&mut *store, config, key, team), deadline)
                .await
                .map(Answer::Text),
            Lookup::Config(key) => {
                self.parts.finish(api.call_get_config(&mut *store, config, key), deadline).await.map(Answer::Text)
            }
            Lookup::Secret(group, key) => self
                .parts
                .finish(api.call_get_secret(&mut *store, config, group, key), deadline)
                .await
                .map(Answer::Text),
        };
        self.parts.explained(store, result)
    }
}

impl Parts {
    /// When a lookup that starts now must have finished: the lookup timeout from now.
    fn deadline(&self) -> Instant {
        Instant::now() + self.lookup_timeout()
    }

    /// A slot of the component's pool for one instance (`None` when the component does not pool), waited for until
    /// the lookup's deadline.
    async fn take_slot(&self, deadline: Instant) -> Result<Option<tokio::sync::OwnedSemaphorePermit>, LookupError> {
        let Some(slots) = self.component.slots() else {
            return Ok(None);
        };
        match tokio::time::timeout_at(deadline, Arc::clone(&slots.permits).acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Some(permit)),
            Ok(Err(_)) => Err(LookupError::Provider("the instance pool is closed".to_owned())),
            Err(_) => Err(LookupError::Timeout(format!(
                "no instance slot became free within {:?}: the process holds more provider instances at once \
                 (lookups in flight and instances kept for reuse) than its pool allows ({})",
                self.lookup_timeout(),
                slots.total
            ))),
        }
    }

    /// A fresh store and instance, within the lookup's deadline (a start function may wait in a host call, which
    /// the epoch deadline does not interrupt).
    /// `max_requests`: how many requests the store may send (0: none; the live view's decoders send none: the
    /// host sends what they name).
    async fn instantiate(
        &self,
        deadline: Instant,
        live: LiveGrant,
        max_requests: usize,
    ) -> Result<(Slotted, bindings::Provider), LookupError> {
        let slot = self.take_slot(deadline).await?;
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.options.memory_limit_bytes)
            // What one pool slot holds, with either allocation (the pool refuses more, see engine.rs).
            .instances(MAX_CORE_INSTANCES as usize)
            .memories(MAX_MEMORIES as usize)
            .tables(MAX_TABLES as usize)
            .table_elements(100_000)
            .build();
        let requests = RequestLimits {
            max_in_flight: MAX_REQUESTS_IN_FLIGHT,
            max_requests,
            max_answer_bytes: self.options.memory_limit_bytes,
        };
        let hooks = match &self.transport {
            Some(transport) if max_requests > 0 => ProviderHooks::new(Arc::clone(transport), requests),
            _ => ProviderHooks::deny_all(),
        };
        let grants = StoreGrants {
            hooks,
            namespace: self.namespace.to_result(),
            env: Arc::clone(&self.env),
            files: Arc::clone(&self.files),
            log: Arc::clone(&self.options.log),
            live,
        };
        let state = State::new(grants, crate::state::Limits::new(limits, self.options.memory_limit_bytes));
        let mut store = Store::new(self.component.engine(), state);
        store.limiter(|s| &mut s.limits);
        self.start_lookup(&mut store);
        let instantiated = tokio::time::timeout_at(deadline, self.component.pre().instantiate_async(&mut store)).await;
        let guest = match instantiated {
            Err(_) => return Err(self.timed_out()),
            Ok(Ok(guest)) => guest,
            Ok(Err(e)) => {
                let failure = if store.data().limits.memory_refused() { self.memory_text() } else { trap_text(&e) };
                return Err(LookupError::Provider(format!("cannot instantiate {}: {failure}", self.component.name())));
            }
        };
        Ok((Slotted { store, _slot: slot }, guest))
    }

    /// The lookup timeout in force: the configured one, at most [`MAX_LOOKUP_TIMEOUT`].
    fn lookup_timeout(&self) -> Duration {
        self.options.lookup_timeout.min(MAX_LOOKUP_TIMEOUT)
    }

    /// Prepares `store` for the next lookup: the epoch deadline set to the lookup timeout, and the per-lookup
    /// counts (requests, answer bytes, log records, a refused memory growth) reset.
    fn start_lookup(&self, store: &mut Store<State>) {
        let ticks = self.lookup_timeout().as_millis() / EPOCH_TICK.as_millis().max(1) + 1;
        store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
        store.epoch_deadline_trap();
        store.data_mut().start_lookup();
    }

    /// Runs `call` until the lookup's deadline; a trap becomes a `Provider` error (see [`Provider::explained`]).
    async fn finish<T>(
        &self,
        call: impl Future<Output = wasmtime::Result<Result<T, types::Error>>>,
        deadline: Instant,
    ) -> Result<T, LookupError> {
        match tokio::time::timeout_at(deadline, call).await {
            Err(_) => Err(self.timed_out()),
            Ok(Err(trap)) => Err(LookupError::Provider(format!("{} {}", self.component.name(), trap_text(&trap)))),
            Ok(Ok(result)) => result.map_err(from_wit),
        }
    }

    /// `result`, with a component failure that followed a refused memory growth said plainly: the guest's
    /// allocator usually aborts then, which traps as an opaque `unreachable`.
    fn explained<T>(&self, store: &Store<State>, result: Result<T, LookupError>) -> Result<T, LookupError> {
        match result {
            Err(LookupError::Provider(_)) if store.data().limits.memory_refused() => {
                Err(LookupError::Provider(format!("{} {}", self.component.name(), self.memory_text())))
            }
            other => other,
        }
    }

    fn timed_out(&self) -> LookupError {
        LookupError::Timeout(format!("the lookup did not finish within {:?}", self.lookup_timeout()))
    }

    fn memory_text(&self) -> String {
        format!("exceeded its memory limit of {} MiB and was stopped", self.options.memory_limit_bytes / (1024 * 1024))
    }
}

/// A watch line, decoded by the provider ([`Parts::decode_event`]).
#[derive(Debug)]
pub(crate) struct Decoded {
    pub(crate) change: Change,
    pub(crate) resource_version: Option<String>,
}

/// What a watch line changes.
#[derive(Debug)]
pub(crate) enum Change {
    Put(crate::live::Item),
    Removed(String),
    Progress,
    Expired,
}

/// The live view's calls into the provider (WIT `live`): each in a fresh store, with the lookup's deadline and
/// memory limit, and no HTTP: the host sends the requests these name.
impl Parts {
    /// The transport, when the provider has Kubernetes access.
    pub(crate) fn transport(&self) -> Option<&Arc<StoreTransport>> {
        self.transport.as_ref()
    }

    /// Where the provider's log records go.
    pub(crate) fn log(&self) -> &LogSink {
        &self.options.log
    }

    async fn live_store(
        &self,
        collector: Option<Collector>,
    ) -> Result<(Slotted, bindings::Provider, Instant), LookupError> {
        let deadline = self.deadline();
        let (store, guest) = self.instantiate(deadline, LiveGrant { view: None, collector, ids: None }, 0).await?;
        Ok((store, guest, deadline))
    }

    /// `live.list-request`.
    pub(crate) async fn list_request(
        &self,
        kind: LiveKind,
        token: Option<&str>,
    ) -> Result<Option<String>, LookupError> {
        let (mut store, guest, deadline) = self.live_store(None).await?;
        let call = guest.wasm_secrets_provider_live().call_list_request(&mut *store, &self.config, kind.into(), token);
        let result = self.finish(call, deadline).await;
        self.explained(&store, result)
    }

    /// `live.decode-list`: the page, and the items the provider handed over within `budget` bytes.
    pub(crate) async fn decode_list(
        &self,
        kind: LiveKind,
        status: u16,
        body: &[u8],
        budget: usize,
    ) -> Result<(Option<String>, String, Vec<crate::live::Item>), LookupError> {
        let (mut store, guest, deadline) = self.live_store(Some(Collector::new(budget))).await?;
        let call =
            guest.wasm_secrets_provider_live().call_decode_list(&mut *store, &self.config, kind.into(), status, body);
        let result = self.finish(call, deadline).await;
        let page = self.explained(&store, result);
        let collector = store.data_mut().take_collector();
        if collector.refused() {
            // Not an outage: the view cannot hold the store, so it must not stand in for it either.
            return Err(LookupError::Provider(format!(
                "the live view of this kind would hold more than its budget of {budget} bytes"
            )));
        }
        let page = page?;
        Ok((page.continue_token, page.resource_version, collector.into_items()))
    }

    /// `live.watch-request`.
    pub(crate) async fn watch_request(&self, kind: LiveKind, version: &str) -> Result<String, LookupError> {
        let (mut store, guest, deadline) = self.live_store(None).await?;
        let call =
            guest.wasm_secrets_provider_live().call_watch_request(&mut *store, &self.config, kind.into(), version);
        let result = self.finish(call, deadline).await;
        self.explained(&store, result)
    }

    /// `live.decode-event`.
    pub(crate) async fn decode_event(&self, kind: LiveKind, line: &[u8]) -> Result<Decoded, LookupError> {
        use crate::bindings::exports::wasm_secrets::provider::live::Change as WitChange;
        let (mut store, guest, deadline) = self.live_store(None).await?;
        let call = guest.wasm_secrets_provider_live().call_decode_event(&mut *store, &self.config, kind.into(), line);
        let result = self.finish(call, deadline).await;
        let event = self.explained(&store, result)?;
        let change = match event.change {
            WitChange::Put(item) => {
                Change::Put(crate::live::Item { name: item.name, id: item.id, payload: item.payload })
            }
            WitChange::Removed(name) => Change::Removed(name),
            WitChange::Progress => Change::Progress,
            WitChange::Expired => Change::Expired,
        };
        Ok(Decoded { change, resource_version: event.resource_version })
    }
}

impl From<LiveKind> for types::Kind {
    fn from(kind: LiveKind) -> Self {
        match kind {
            LiveKind::Connection => Self::Connection,
            LiveKind::Variable => Self::Variable,
            LiveKind::Config => Self::Config,
        }
    }
}

impl From<types::Kind> for LiveKind {
    fn from(kind: types::Kind) -> Self {
        match kind {
            types::Kind::Connection => Self::Connection,
            types::Kind::Variable => Self::Variable,
            types::Kind::Config => Self::Config,
        }
    }
}

/// One lookup and its arguments (ids, keys, team).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// `get-conn-value(conn_id, team)`.
    ConnValue(&'a str, Option<&'a str>),
    /// `get-connection(conn_id, team)`.
    Connection(&'a str, Option<&'a str>),
    /// `get-variable(key, team)`.
    Variable(&'a str, Option<&'a str>),
    /// `get-config(key)`.
    Config(&'a str),
    /// `get-secret(group, key)`.
    Secret(&'a str, &'a str),
}

/// What a lookup found.
#[derive(Clone, PartialEq, Eq)]
pub enum Answer {
    /// A text value (raw connection value, variable, config value, Flyte secret), or not found.
    Text(Option<String>),
    /// A parsed connection, or not found.
    Connection(Option<Connection>),
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the value itself.
        f.write_str(if self.is_found() { "Answer(<found>)" } else { "Answer(<not found>)" })
    }
}

impl Answer {
    /// Whether a value was found.
    pub fn is_found(&self) -> bool {
        match self {
            Self::Text(v) => v.is_some(),
            Self::Connection(c) => c.is_some(),
        }
    }

    /// The text value (`None` for a connection answer).
    pub fn into_text(self) -> Option<String> {
        match self {
            Self::Text(v) => v,
            Self::Connection(_) => None,
        }
    }

    /// The connection (`None` for a text answer).
    pub fn into_connection(self) -> Option<Connection> {
        match self {
            Self::Connection(c) => c,
            Self::Text(_) => None,
        }
    }
}

/// A provider instance kept for several lookups (see [`Provider::instance`]).
pub struct ProviderInstance<'p> {
    provider: &'p Provider,
    store: Slotted,
    guest: bindings::Provider,
    poisoned: bool,
}

impl std::fmt::Debug for ProviderInstance<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderInstance").field("provider", &self.provider).field("poisoned", &self.poisoned).finish()
    }
}

impl ProviderInstance<'_> {
    /// Runs one lookup on this instance, with a fresh deadline.
    pub async fn lookup(&mut self, lookup: Lookup<'_>) -> Result<Answer, LookupError> {
        if self.poisoned {
            return Err(LookupError::Provider(
                "this provider instance failed earlier and cannot be reused; create a new one".to_owned(),
            ));
        }
        self.provider.parts.start_lookup(&mut self.store);
        let result = self.provider.run(&mut self.store, &self.guest, lookup, self.provider.parts.deadline()).await;
        self.poisoned = is_fatal(&result);
        result
    }
}

/// Whether `result` leaves the instance unusable: a trap or a timeout may stop the guest mid-call; an error
/// the guest reported is an ordinary answer.
fn is_fatal<T>(result: &Result<T, LookupError>) -> bool {
    matches!(result, Err(LookupError::Provider(_) | LookupError::Timeout(_)))
}

/// A trap, said plainly: the time and memory limits get their own words.
fn trap_text(e: &wasmtime::Error) -> String {
    // The host's own bounds on what a component makes it hold, said plainly (the trap's text is a wasm backtrace).
    if let Some(wasmtime::component::ResourceTableError::Full) = e.downcast_ref() {
        return format!(
            "held more than {} resources (requests, answers, streams, header fields, ...) at once and was stopped",
            crate::state::MAX_TABLE_ENTRIES
        );
    }
    if let Some(wasmtime_wasi_http::FieldMapError::TotalSizeTooBig | wasmtime_wasi_http::FieldMapError::TooManyFields) =
        e.downcast_ref()
    {
        return format!("built header fields larger than {} bytes and was stopped", crate::state::MAX_FIELDS_BYTES);
    }
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => "exceeded its time limit and was stopped".to_owned(),
        Some(trap) => format!("trapped: {trap}"),
        None => format!("failed: {e}"),
    }
}

/// Case for case (the case list is the components' own, `convert_wit_error!`).
fn from_wit(e: types::Error) -> LookupError {
    wasm_secrets_provider_common::convert_wit_error!(e, types::Error => LookupError)
}

/// Field for field.
fn from_wit_connection(c: types::Connection) -> Connection {
    wasm_secrets_provider_common::convert_wit_connection!(c, types::Connection => Connection)
}
