//! What a scheduler's task components read: `wasi:config/store@0.2.0-rc.1` and this package's typed `task`
//! interface, answered from a provider chain within the task's grants. The boundary between a task and the
//! secrets (docs/embedding.md).
//!
//! A scheduler keeps a [`TaskSecrets`] in each task's store data, implements [`TaskSecretsView`] for that data,
//! and calls [`add_to_linker`] once on its own `Linker`. Every read is checked against the task's grants before
//! the chain (and so before any cache shared between tasks) is asked; a refused or unparsable key is `none`,
//! as for a secret no provider holds, and is audited `refused` with the task's name: a task gets the same
//! answer for "not granted" as for "not found", and learns nothing about ids it was not given. Granted reads go through the
//! chain as the task (audit line, metrics, cache, live view), for the task's team.
//!
//! [`TaskRunner`] runs a `wasi:cli` command component with these imports and nothing else of the host's: no
//! environment, no files, no sockets, no `wasi:http`, no stdin, within a time and memory limit. `secrets task run`
//! and the example scheduler are built on it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use airflow_compat::Dialect;
use wasmtime::component::{Component, HasData, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::cache::Value;
use crate::chain::{Chain, ChainError, ListError};
use crate::engine::ArtifactCache;
use crate::state::Limits;
use crate::task::{ConfigKey, Grant, MAX_TASK_ID_BYTES, TaskGrants, TaskKind, glob_matches};

/// Generated private bindings of the `task-imports` world; the `types` interface is the provider world's.
mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "wasm-secrets:provider/task-imports",
        imports: { default: async | trappable },
        with: { "wasm-secrets:provider/types": crate::bindings::types },
        require_store_data_send: true,
    });
}

use bindings::wasi::config::store;
use bindings::wasm_secrets::provider::task;

use crate::bindings::types;

/// The most bytes (keys and values) one `get-all` returns: it is copied into the task's memory at once.
pub const MAX_GET_ALL_BYTES: usize = 16 * 1024 * 1024;

/// What one task may read, and where it is read from. Kept in the task's store data.
pub struct TaskSecrets {
    chain: Arc<Chain>,
    task: String,
    grants: TaskGrants,
    dialect: Dialect,
    /// Reads taken from the budget so far ([`TaskSecrets::with_max_reads`]).
    reads: AtomicU64,
    max_reads: u64,
}

/// The most reads one task makes by default ([`TaskSecrets::with_max_reads`]): plenty for a task that reads
/// what it needs, few enough that a task looping over reads (each refused one is an audit line, each granted
/// one may be a request to the store) is stopped.
pub const DEFAULT_MAX_READS: u64 = 10_000;

impl std::fmt::Debug for TaskSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskSecrets").field("task", &self.task).field("grants", &self.grants).finish_non_exhaustive()
    }
}

impl TaskSecrets {
    /// The secrets `grants` allow the task named `task` (its name goes to every audit line), read from `chain`;
    /// connection URIs in Airflow's server dialect ([`TaskSecrets::with_dialect`]).
    pub fn new(chain: Arc<Chain>, task: impl Into<String>, grants: TaskGrants) -> Self {
        Self {
            chain,
            task: task.into(),
            grants,
            dialect: Dialect::Server,
            reads: AtomicU64::new(0),
            max_reads: DEFAULT_MAX_READS,
        }
    }

    /// The most reads the task may make; the read past it traps (ends the task). Default
    /// [`DEFAULT_MAX_READS`]. A `get`, and each call of the typed interface, is one read; a `get-all` is one
    /// per exact grant, one per pattern grant (its listing) and one per listed id it looks up, and traps too
    /// once the budget runs out.
    #[must_use]
    pub fn with_max_reads(mut self, max_reads: u64) -> Self {
        self.max_reads = max_reads;
        self
    }

    /// Takes `n` reads from the budget; false (nothing taken) when fewer are left.
    fn take(&self, n: u64) -> bool {
        self.reads
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |r| r.checked_add(n).filter(|t| *t <= self.max_reads))
            .is_ok()
    }

    /// One read from the budget, or the trap that ends the task.
    fn spend(&self) -> wasmtime::Result<()> {
        if self.take(1) { Ok(()) } else { Err(self.budget_spent()) }
    }

    fn budget_spent(&self) -> wasmtime::Error {
        wasmtime::Error::msg(format!("task `{}` made more than {} secret reads, its budget", self.task, self.max_reads))
    }

    /// Which Airflow `Connection` class writes the URIs of `connection/<id>` keys.
    #[must_use]
    pub fn with_dialect(mut self, dialect: Dialect) -> Self {
        self.dialect = dialect;
        self
    }

    /// The task's name.
    pub fn task(&self) -> &str {
        &self.task
    }

    /// The task's grants.
    pub fn grants(&self) -> &TaskGrants {
        &self.grants
    }

    /// Reads `key` if the grants allow it: `Ok(None)` for a key they do not allow (audited `refused`, nothing
    /// else asked) and for a key no provider holds.
    ///
    /// An id no task may name ([`ConfigKey::task_problem`]) is refused whatever the grants say.
    pub async fn read(&self, key: &ConfigKey) -> Result<Value, ChainError> {
        let request = key.lookup(self.grants.team.as_deref());
        if !self.grants.allows(key) {
            self.chain.audit_refused(Some(&self.task), request);
            return Ok(not_found(key));
        }
        self.chain.lookup_as(Some(&self.task), request).await
    }

    /// `wasi:config/store.get`: the value of `key` (docs/embedding.md), `None` when it is not granted, not a key
    /// of ours, or not found.
    pub async fn get(&self, key: &str) -> Result<Option<String>, ChainError> {
        // A key longer than any id a task may name (plus the longest prefix) is not even parsed.
        let parsed = (key.len() <= MAX_TASK_ID_BYTES + MAX_PREFIX_BYTES).then(|| ConfigKey::parse(key));
        let Some(Ok(parsed)) = parsed else {
            self.audit_unparsable(key);
            return Ok(None);
        };
        let value = self.read(&parsed).await?;
        Ok(parsed.value(&value, self.dialect))
    }

    /// `wasi:config/store.get-all`: every granted key that has a value. An exact grant is one key (a
    /// connection's is `connection/<id>`, its URI); a pattern grant of connections, variables or configuration
    /// values is every id the providers list ([`Chain::list_as`]) that it matches and a task may name (only
    /// those are looked up). Secret grants are exact ([`crate::task::GrantError::SecretPattern`]). Sorted by
    /// key; at most [`MAX_GET_ALL_BYTES`]. Takes from the read budget as it goes
    /// ([`TaskSecrets::with_max_reads`]): [`GetAllError::BudgetSpent`] once it runs out.
    pub async fn get_all(&self) -> Result<Vec<(String, String)>, GetAllError> {
        let team = self.grants.team.as_deref();
        let mut found = BTreeMap::new();
        let mut bytes = 0usize;
        let mut keep = |key: &ConfigKey, value: Option<String>| {
            if let Some(value) = value {
                let key = key.to_string();
                bytes = bytes.saturating_add(key.len()).saturating_add(value.len());
                if bytes > MAX_GET_ALL_BYTES {
                    return Err(GetAllError::TooLarge { limit: MAX_GET_ALL_BYTES });
                }
                found.insert(key, value);
            }
            Ok(())
        };
        for grant in &self.grants.grants {
            if !self.take(1) {
                return Err(GetAllError::BudgetSpent);
            }
            if !grant.pattern.contains('*') {
                let Some(key) = exact_key(grant).filter(|k| k.task_problem().is_none()) else { continue };
                let value = self.chain.lookup_as(Some(&self.task), key.lookup(team)).await?;
                keep(&key, key.value(&value, self.dialect))?;
                continue;
            }
            let kind = match grant.kind {
                TaskKind::Connection => crate::live::Kind::Connection,
                TaskKind::Variable => crate::live::Kind::Variable,
                TaskKind::Config => crate::live::Kind::Config,
                TaskKind::Secret => continue,
            };
            let as_key = |id: String| match grant.kind {
                TaskKind::Connection => ConfigKey::Connection(id),
                TaskKind::Variable => ConfigKey::Variable(id),
                TaskKind::Config | TaskKind::Secret => ConfigKey::Config(id),
            };
            // Only ids a task may name (the same rule as `get`), each taken from the budget.
            let spent = AtomicBool::new(false);
            let matching = |id: &str| {
                let wanted = glob_matches(&grant.pattern, id) && as_key(id.to_owned()).task_problem().is_none();
                let taken = wanted && self.take(1);
                spent.fetch_or(wanted && !taken, Ordering::Relaxed);
                taken
            };
            let listed = self.chain.list_as(Some(&self.task), kind, team, matching).await?;
            if spent.load(Ordering::Relaxed) {
                return Err(GetAllError::BudgetSpent);
            }
            for (id, value) in listed {
                let key = as_key(id);
                keep(&key, key.value(&value, self.dialect))?;
            }
        }
        Ok(found.into_iter().collect())
    }

    /// The audit line of a key that is none of ours: refused, under the kind `invalid`, with the key's first
    /// segment (at most 64 characters) and its length, never the rest: a task could copy a value it was granted
    /// into a key of its own making.
    fn audit_unparsable(&self, key: &str) {
        let first: String = key.split('/').next().unwrap_or_default().chars().take(64).collect();
        let shown: String = first.chars().flat_map(char::escape_debug).collect();
        let id = if first.len() == key.len() { shown } else { format!("{shown}… ({} bytes)", key.len()) };
        self.chain.audit_refused_key(Some(&self.task), &id);
    }
}

/// The longest kind-and-field prefix of a key (`connection-field/description/`).
const MAX_PREFIX_BYTES: usize = 64;

/// The key an exact grant stands for in `get-all` (a Flyte secret's must name a group and a key).
fn exact_key(grant: &Grant) -> Option<ConfigKey> {
    let id = grant.pattern.clone();
    Some(match grant.kind {
        TaskKind::Connection => ConfigKey::Connection(id),
        TaskKind::Variable => ConfigKey::Variable(id),
        TaskKind::Config => ConfigKey::Config(id),
        TaskKind::Secret => {
            let (group, key) = grant.pattern.split_once('/')?;
            ConfigKey::Secret { group: group.to_owned(), key: key.to_owned() }
        }
    })
}

/// The "not found" answer of `key`'s lookup.
fn not_found(key: &ConfigKey) -> Value {
    match key {
        ConfigKey::Connection(_) | ConfigKey::ConnectionField(..) => Value::Connection(None),
        ConfigKey::Variable(_) | ConfigKey::Config(_) | ConfigKey::Secret { .. } => Value::Text(None),
    }
}

/// Why `get-all` failed.
#[derive(Debug, thiserror::Error)]
pub enum GetAllError {
    /// A lookup of an exact grant failed.
    #[error(transparent)]
    Lookup(#[from] ChainError),
    /// Listing a pattern grant failed.
    #[error(transparent)]
    List(#[from] ListError),
    /// The task's read budget ran out ([`TaskSecrets::with_max_reads`]).
    #[error("the task's read budget ran out")]
    BudgetSpent,
    /// The granted values take more than one answer holds.
    #[error("the granted values take more than {limit} bytes; get-all returns at most that much")]
    TooLarge {
        /// [`MAX_GET_ALL_BYTES`].
        limit: usize,
    },
}

/// Store data that holds a task's [`TaskSecrets`].
pub trait TaskSecretsView: Send {
    /// The task's secrets.
    fn task_secrets(&mut self) -> &mut TaskSecrets;
}

/// [`HasData`] for [`TaskSecrets`].
struct HasTaskSecrets;

impl HasData for HasTaskSecrets {
    type Data<'a> = &'a mut TaskSecrets;
}

/// Spin's pre-release name of `wasi:config/store` (what the Spin SDK imports). Its functions and types are those
/// of `0.2.0-rc.1`, but pre-release versions do not match each other in a linker, so it is added under its own
/// name too, answered by the same code.
pub const SPIN_CONFIG_STORE: &str = "wasi:config/store@0.2.0-draft-2024-09-27";

/// Adds `wasi:config/store@0.2.0-rc.1` (and [`SPIN_CONFIG_STORE`]) and `wasm-secrets:provider/task@0.3.0` to a
/// scheduler's linker; each task's answers come from the [`TaskSecrets`] its store data holds. Nothing else is
/// added: the scheduler decides which WASI interfaces its tasks get (wasmtime-wasi's, without `wasi:http`,
/// keeps them off the network).
pub fn add_to_linker<T: TaskSecretsView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    store::add_to_linker::<T, HasTaskSecrets>(linker, T::task_secrets)?;
    task::add_to_linker::<T, HasTaskSecrets>(linker, T::task_secrets)?;
    add_spin_store(linker)
}

/// [`SPIN_CONFIG_STORE`]: `get` and `get-all`, with the `error` variant of `0.2.0-rc.1` (the same cases).
fn add_spin_store<T: TaskSecretsView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    type Get = (Result<Option<String>, store::Error>,);
    type GetAll = (Result<Vec<(String, String)>, store::Error>,);
    let mut instance = linker.instance(SPIN_CONFIG_STORE)?;
    instance.func_wrap_async("get", |mut store: wasmtime::StoreContextMut<'_, T>, (key,): (String,)| {
        Box::new(async move {
            let answer = store::Host::get(store.data_mut().task_secrets(), key).await?;
            Ok::<Get, wasmtime::Error>((answer,))
        })
    })?;
    instance.func_wrap_async("get-all", |mut store: wasmtime::StoreContextMut<'_, T>, (): ()| {
        Box::new(async move {
            let answer = store::Host::get_all(store.data_mut().task_secrets()).await?;
            Ok::<GetAll, wasmtime::Error>((answer,))
        })
    })?;
    Ok(())
}

impl store::Host for TaskSecrets {
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<String>, store::Error>> {
        self.spend()?;
        Ok(TaskSecrets::get(self, &key).await.map_err(|e| store::Error::Upstream(e.to_string())))
    }

    async fn get_all(&mut self) -> wasmtime::Result<Result<Vec<(String, String)>, store::Error>> {
        self.spend()?;
        match TaskSecrets::get_all(self).await {
            Err(GetAllError::BudgetSpent) => Err(self.budget_spent()),
            answer => Ok(answer.map_err(|e| store::Error::Upstream(e.to_string()))),
        }
    }
}

impl task::Host for TaskSecrets {
    async fn get_connection(
        &mut self,
        conn_id: String,
    ) -> wasmtime::Result<Result<Option<types::Connection>, types::Error>> {
        self.spend()?;
        let answer = self.read(&ConfigKey::Connection(conn_id)).await;
        Ok(answer.map(|v| v.into_connection().map(|c| to_wit_connection(&c))).map_err(to_wit_error))
    }

    async fn get_variable(&mut self, key: String) -> wasmtime::Result<Result<Option<String>, types::Error>> {
        self.spend()?;
        Ok(self.read(&ConfigKey::Variable(key)).await.map(text).map_err(to_wit_error))
    }

    async fn get_config(&mut self, key: String) -> wasmtime::Result<Result<Option<String>, types::Error>> {
        self.spend()?;
        Ok(self.read(&ConfigKey::Config(key)).await.map(text).map_err(to_wit_error))
    }

    async fn get_secret(
        &mut self,
        group: String,
        key: String,
    ) -> wasmtime::Result<Result<Option<String>, types::Error>> {
        self.spend()?;
        Ok(self.read(&ConfigKey::Secret { group, key }).await.map(text).map_err(to_wit_error))
    }
}

fn text(value: Value) -> Option<String> {
    value.into_text().map(|t| t.to_string())
}

fn to_wit_connection(c: &airflow_compat::Connection) -> types::Connection {
    let airflow_compat::Connection { conn_type, description, host, schema, login, password, port, extra } = c.clone();
    types::Connection { conn_type, description, host, schema, login, password, port, extra }
}

/// The chain's error as the task sees it: the same kind, the provider named in the message.
fn to_wit_error(e: ChainError) -> types::Error {
    let message = e.to_string();
    match e.error {
        crate::LookupError::InvalidConfiguration(_) => types::Error::InvalidConfiguration(message),
        crate::LookupError::InvalidRequest(_) => types::Error::InvalidRequest(message),
        crate::LookupError::MalformedPayload(_) => types::Error::MalformedPayload(message),
        crate::LookupError::AccessDenied(_) => types::Error::AccessDenied(message),
        crate::LookupError::DeniedByHost(_) => types::Error::DeniedByHost(message),
        crate::LookupError::Unavailable(_) => types::Error::Unavailable(message),
        crate::LookupError::Timeout(_) => types::Error::Timeout(message),
        _ => types::Error::Upstream(message),
    }
}

/// How a task component is bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskLimits {
    /// The longest a task runs (its reads included); it is then stopped.
    pub timeout: Duration,
    /// The most linear memory the task's instance may grow to.
    pub memory_bytes: usize,
    /// The most bytes kept of each of stdout and stderr; a write past it ends the task (a trap).
    pub output_bytes: usize,
}

impl Default for TaskLimits {
    /// Five minutes, 256 MiB, 16 MiB of each output.
    fn default() -> Self {
        Self { timeout: Duration::from_secs(300), memory_bytes: 256 * 1024 * 1024, output_bytes: 16 * 1024 * 1024 }
    }
}

/// How a task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskStatus {
    /// The task ended with this status: 0 when its `run` succeeded, 1 when it failed. (A `wasi:cli` 0.2
    /// command exits with success or failure only: Rust's `std::process::exit(2)` is a failure, 1. A status
    /// another way of exiting carries is kept.)
    Exited(i32),
    /// The task trapped (a Rust panic is one), or went past its memory limit; the trap's message.
    Trapped(String),
    /// The task ran longer than [`TaskLimits::timeout`] and was stopped.
    TimedOut,
}

/// A finished task: how it ended and what it wrote. Its `Debug` shows the output's lengths only (a task may
/// print what it read).
#[derive(Clone, PartialEq, Eq)]
pub struct TaskOutput {
    /// How it ended.
    pub status: TaskStatus,
    /// What it wrote to stdout (at most [`TaskLimits::output_bytes`]).
    pub stdout: Vec<u8>,
    /// What it wrote to stderr (at most [`TaskLimits::output_bytes`]).
    pub stderr: Vec<u8>,
}

impl std::fmt::Debug for TaskOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskOutput")
            .field("status", &self.status)
            .field("stdout_bytes", &self.stdout.len())
            .field("stderr_bytes", &self.stderr.len())
            .finish()
    }
}

/// The most instances, memories and tables a task's store holds, the most elements a table holds, and the most
/// resources (streams, ...) its WASI context holds: far above what a compiled program needs, and what keeps a
/// task from taking the host's memory in pieces that each stay under the memory limit.
pub const MAX_TASK_INSTANCES: usize = 64;
/// See [`MAX_TASK_INSTANCES`].
pub const MAX_TASK_MEMORIES: usize = 8;
/// See [`MAX_TASK_INSTANCES`].
pub const MAX_TASK_TABLES: usize = 16;
/// See [`MAX_TASK_INSTANCES`].
pub const MAX_TASK_TABLE_ELEMENTS: usize = 100_000;
/// See [`MAX_TASK_INSTANCES`].
pub const MAX_TASK_RESOURCES: usize = 10_000;

/// A task store's resource limiter: at most `memory_bytes` of linear memory for all of the task's memories
/// together, with the counts of [`MAX_TASK_INSTANCES`] and its siblings. Install it with `store.limiter(...)`; a
/// scheduler embedding the imports uses it as [`TaskRunner`] does.
pub fn task_store_limits(memory_bytes: usize) -> Limits {
    let inner = StoreLimitsBuilder::new()
        .memory_size(memory_bytes)
        .instances(MAX_TASK_INSTANCES)
        .memories(MAX_TASK_MEMORIES)
        .tables(MAX_TASK_TABLES)
        .table_elements(MAX_TASK_TABLE_ELEMENTS)
        .build();
    Limits::new(inner, memory_bytes)
}

/// A WASI resource table bounded at [`MAX_TASK_RESOURCES`] entries.
pub fn task_resource_table() -> ResourceTable {
    let mut table = ResourceTable::new();
    table.set_max_capacity(MAX_TASK_RESOURCES);
    table
}

/// Why a task could not be run.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// The component file could not be read.
    #[error("cannot read the task component {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The engine could not be set up, or the bytes are not a component this engine runs.
    #[error("cannot compile the task component {name}: {message}")]
    Compile {
        /// The component's name.
        name: String,
        /// Why.
        message: String,
    },
    /// The component imports something a task is not given, or is not a `wasi:cli` command.
    #[error("the task component {name} cannot run as a task: {message}")]
    Link {
        /// The component's name.
        name: String,
        /// Why.
        message: String,
    },
}

/// The store data of a task [`TaskRunner`] runs.
struct TaskState {
    wasi: WasiCtx,
    table: ResourceTable,
    secrets: TaskSecrets,
    limits: Limits,
}

impl WasiView for TaskState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl TaskSecretsView for TaskState {
    fn task_secrets(&mut self) -> &mut TaskSecrets {
        &mut self.secrets
    }
}

/// Runs task components (`wasi:cli` commands) with their secrets: what a scheduler does, in a few lines, and
/// what `secrets task run` uses. One runner runs any number of tasks, concurrently.
pub struct TaskRunner {
    engine: Engine,
    linker: Linker<TaskState>,
}

impl std::fmt::Debug for TaskRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskRunner").finish_non_exhaustive()
    }
}

/// How often a running task yields, so that its time limit can stop it even when it never waits.
const TASK_TICK: Duration = Duration::from_millis(10);

impl TaskRunner {
    /// An engine and a linker with wasmtime-wasi's `wasi:cli` command interfaces and the task imports.
    pub fn new() -> Result<Self, TaskError> {
        let compile =
            |e: wasmtime::Error| TaskError::Compile { name: "(engine)".to_owned(), message: format!("{e:#}") };
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.wasm_component_model(true);
        // A shared memory grows outside the store's limiter: none may be created (wasmtime's default, stated so
        // that no feature unification changes it).
        config.shared_memory(false);
        let engine = Engine::new(&config).map_err(compile)?;
        let weak = engine.weak();
        std::thread::spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(TASK_TICK);
            }
        });
        let mut linker = Linker::<TaskState>::new(&engine);
        let link = |e: wasmtime::Error| TaskError::Link { name: "(linker)".to_owned(), message: format!("{e:#}") };
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(link)?;
        add_to_linker(&mut linker).map_err(link)?;
        Ok(Self { engine, linker })
    }

    /// Compiles the task component at `path` (at most [`crate::files::MAX_COMPONENT_BYTES`]), through the
    /// compiled-component cache when there is one.
    pub fn load(&self, path: &Path, cache: &ArtifactCache) -> Result<Component, TaskError> {
        let bytes = crate::files::read_regular_file(path, crate::files::MAX_COMPONENT_BYTES)
            .map_err(|source| TaskError::Read { path: path.display().to_string(), source })?;
        crate::engine::compile_with(&self.engine, &bytes, &path.display().to_string(), cache)
            .map_err(|e| TaskError::Compile { name: path.display().to_string(), message: e.to_string() })
    }

    /// Runs `component` as a `wasi:cli` command with `args` (the first is the program's name), its secrets and
    /// nothing else: no environment, no stdin, no files, no sockets. `Err` when it could not start; once it
    /// started, how it ended is the [`TaskOutput`]'s status.
    pub async fn run(
        &self,
        component: &Component,
        secrets: TaskSecrets,
        args: &[String],
        limits: TaskLimits,
    ) -> Result<TaskOutput, TaskError> {
        let name = secrets.task.clone();
        let link = |e: wasmtime::Error| TaskError::Link { name: name.clone(), message: format!("{e:#}") };
        let stdout = MemoryOutputPipe::new(limits.output_bytes);
        let stderr = MemoryOutputPipe::new(limits.output_bytes);
        let wasi = WasiCtxBuilder::new().args(args).stdout(stdout.clone()).stderr(stderr.clone()).build();
        let state =
            TaskState { wasi, table: task_resource_table(), secrets, limits: task_store_limits(limits.memory_bytes) };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        store.epoch_deadline_async_yield_and_update(1);
        let pre = self.linker.instantiate_pre(component).map_err(link)?;
        let pre = wasmtime_wasi::p2::bindings::CommandPre::new(pre).map_err(link)?;
        let run = async {
            let command = pre.instantiate_async(&mut store).await?;
            command.wasi_cli_run().call_run(&mut store).await
        };
        let status = match tokio::time::timeout(limits.timeout, run).await {
            Err(_) => TaskStatus::TimedOut,
            Ok(Ok(Ok(()))) => TaskStatus::Exited(0),
            Ok(Ok(Err(()))) => TaskStatus::Exited(1),
            Ok(Err(e)) => match e.downcast_ref::<wasmtime_wasi::I32Exit>() {
                Some(exit) => TaskStatus::Exited(exit.0),
                None if store.data().limits.memory_refused() => {
                    TaskStatus::Trapped(format!("it went past its memory limit ({} bytes): {e:#}", limits.memory_bytes))
                }
                None => TaskStatus::Trapped(format!("{e:#}")),
            },
        };
        drop(store);
        Ok(TaskOutput { status, stdout: stdout.contents().to_vec(), stderr: stderr.contents().to_vec() })
    }
}
