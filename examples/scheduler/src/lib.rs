//! A small example scheduler: it reads a TOML list of tasks with their grants and runs each task component
//! (a `wasi:cli` command) with the secrets it is granted, concurrently, in one process.
//!
//! It is what a wasmtime-based scheduler adds to hand secrets to its tasks: its own store data holds a
//! [`TaskSecrets`] (which implements the imports), and one call adds `wasi:config/store` and the typed
//! `wasm-secrets:provider/task` interface to its own linker:
//!
//! ```text
//! wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;      // the scheduler's choice of WASI
//! wasm_secrets::embed::add_to_linker(&mut linker)?;          // the task's secrets
//! // per task:
//! let secrets = TaskSecrets::new(Arc::clone(&chain), "mailer", grants);
//! let mut store = Store::new(&engine, TaskData { secrets, .. });
//! ```
//!
//! Everything else here is the scheduler's own business: its task list, limits and output.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use wasm_secrets::Chain;
use wasm_secrets::embed::{TaskSecrets, TaskSecretsView, task_resource_table, task_store_limits};
use wasm_secrets::task::{Grant, TaskGrants};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// The most bytes kept of a task's stdout or stderr.
const MAX_OUTPUT_BYTES: usize = 1024 * 1024;

/// The largest schedule file read.
const MAX_SCHEDULE_BYTES: u64 = 1024 * 1024;

/// The schedule file: the provider chain and the tasks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// The provider chain's configuration file (as `secrets --config` reads it), relative to the schedule.
    pub host_config: PathBuf,
    /// An audit log (JSON lines), relative to the schedule: one line per read, with the task's name.
    #[serde(default)]
    pub audit_log: Option<PathBuf>,
    /// The tasks, run concurrently.
    pub tasks: Vec<TaskSpec>,
}

/// One task.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    /// Its name (in the output and the audit log).
    pub name: String,
    /// The task component (a wasm32-wasip2 command), relative to the schedule.
    pub component: PathBuf,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// What it may read: `KIND:PATTERN` (docs/embedding.md).
    #[serde(default)]
    pub grants: Vec<String>,
    /// The team it reads as.
    #[serde(default)]
    pub team: Option<String>,
    /// Its time limit.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// Its memory limit.
    #[serde(default = "default_memory")]
    pub memory_mib: u64,
}

fn default_timeout() -> u64 {
    60
}

fn default_memory() -> u64 {
    128
}

/// What went wrong before the tasks ran.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// The schedule file could not be read.
    #[error("cannot read the schedule {0}: {1}")]
    Read(PathBuf, #[source] std::io::Error),
    /// The schedule file is not valid.
    #[error("the schedule {0} is not valid: {1}")]
    Invalid(PathBuf, String),
    /// The provider chain could not be opened.
    #[error("cannot open the provider chain: {0}")]
    Chain(String),
    /// A task's component could not be loaded or linked.
    #[error("task `{0}`: {1}")]
    Task(String, String),
}

/// How a task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// Its exit status.
    Status(i32),
    /// It trapped (a panic), with the trap's message.
    Trapped(String),
    /// It ran past its time limit.
    TimedOut,
}

/// A task that ran. Its `Debug` shows the output's lengths only (a task may print what it read).
#[derive(Clone, PartialEq, Eq)]
pub struct Finished {
    /// The task's name.
    pub name: String,
    /// How it ended.
    pub exit: Exit,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
}

impl std::fmt::Debug for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Finished")
            .field("name", &self.name)
            .field("exit", &self.exit)
            .field("stdout_bytes", &self.stdout.len())
            .field("stderr_bytes", &self.stderr.len())
            .finish()
    }
}

/// A task's store data: WASI for the task (no environment, no files, no sockets) and its secrets.
struct TaskData {
    wasi: WasiCtx,
    table: ResourceTable,
    secrets: TaskSecrets,
    limits: wasm_secrets::state::Limits,
}

impl WasiView for TaskData {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl TaskSecretsView for TaskData {
    fn task_secrets(&mut self) -> &mut TaskSecrets {
        &mut self.secrets
    }
}

/// Reads the schedule at `path`; relative paths in it become relative to its directory.
pub fn load(path: &Path) -> Result<Schedule, SchedulerError> {
    let text = wasm_secrets::files::read_regular_text(path, MAX_SCHEDULE_BYTES)
        .map_err(|e| SchedulerError::Read(path.to_owned(), e))?;
    let mut schedule: Schedule =
        toml::from_str(&text).map_err(|e| SchedulerError::Invalid(path.to_owned(), e.message().to_owned()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    schedule.host_config = base.join(&schedule.host_config);
    schedule.audit_log = schedule.audit_log.map(|p| base.join(p));
    for task in &mut schedule.tasks {
        task.component = base.join(&task.component);
    }
    Ok(schedule)
}

/// Opens the provider chain and runs every task concurrently; `env` is the environment the providers read.
pub async fn run(
    schedule: &Schedule,
    env: &dyn wasm_secrets::cli::Environment,
) -> Result<Vec<Finished>, SchedulerError> {
    let chain = Arc::new(open_chain(schedule, env).await?);

    let mut config = Config::new();
    // Tasks yield every epoch tick, so their time limit stops them; no shared memory (it would grow outside the
    // store's limiter).
    config.epoch_interruption(true);
    config.shared_memory(false);
    let engine = Engine::new(&config).map_err(|e| SchedulerError::Task("(engine)".into(), format!("{e:#}")))?;
    let ticker = engine.weak();
    std::thread::spawn(move || {
        while let Some(engine) = ticker.upgrade() {
            engine.increment_epoch();
            drop(engine);
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    let mut linker = Linker::<TaskData>::new(&engine);
    let link = |e: wasmtime::Error| SchedulerError::Task("(linker)".into(), format!("{e:#}"));
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(link)?;
    wasm_secrets::embed::add_to_linker(&mut linker).map_err(link)?;
    let linker = Arc::new(linker);

    let mut running = tokio::task::JoinSet::new();
    for (index, task) in schedule.tasks.iter().enumerate() {
        let fail = |message: String| SchedulerError::Task(task.name.clone(), message);
        let grants = task.grants.iter().map(|g| g.parse::<Grant>()).collect::<Result<Vec<_>, _>>();
        let grants = TaskGrants { grants: grants.map_err(|e| fail(e.to_string()))?, team: task.team.clone() };
        if let Some(problem) = grants.team_problem() {
            return Err(fail(format!("team: {problem}")));
        }
        let bytes = wasm_secrets::files::read_regular_file(&task.component, wasm_secrets::files::MAX_COMPONENT_BYTES)
            .map_err(|e| fail(format!("cannot read {}: {e}", task.component.display())))?;
        let component = Component::new(&engine, &bytes).map_err(|e| fail(format!("{e:#}")))?;
        let pre = linker.instantiate_pre(&component).map_err(|e| fail(format!("{e:#}")))?;
        let pre = wasmtime_wasi::p2::bindings::CommandPre::new(pre).map_err(|e| fail(format!("{e:#}")))?;
        let stdout = MemoryOutputPipe::new(MAX_OUTPUT_BYTES);
        let stderr = MemoryOutputPipe::new(MAX_OUTPUT_BYTES);
        let args: Vec<String> = std::iter::once(task.name.clone()).chain(task.args.iter().cloned()).collect();
        let data = TaskData {
            wasi: WasiCtxBuilder::new().args(&args).stdout(stdout.clone()).stderr(stderr.clone()).build(),
            table: task_resource_table(),
            secrets: TaskSecrets::new(Arc::clone(&chain), task.name.clone(), grants),
            limits: task_store_limits(usize::try_from(task.memory_mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX)),
        };
        let mut store = Store::new(&engine, data);
        store.limiter(|d| &mut d.limits);
        store.epoch_deadline_async_yield_and_update(1);
        let timeout = Duration::from_secs(task.timeout_seconds);
        let name = task.name.clone();
        running.spawn(async move {
            let run = async {
                let command = pre.instantiate_async(&mut store).await?;
                command.wasi_cli_run().call_run(&mut store).await
            };
            let exit = match tokio::time::timeout(timeout, run).await {
                Err(_) => Exit::TimedOut,
                Ok(Ok(Ok(()))) => Exit::Status(0),
                Ok(Ok(Err(()))) => Exit::Status(1),
                Ok(Err(e)) => match e.downcast_ref::<wasmtime_wasi::I32Exit>() {
                    Some(exit) => Exit::Status(exit.0),
                    None => Exit::Trapped(format!("{e:#}")),
                },
            };
            drop(store);
            let text = |pipe: MemoryOutputPipe| String::from_utf8_lossy(&pipe.contents()).into_owned();
            (index, Finished { name, exit, stdout: text(stdout), stderr: text(stderr) })
        });
    }
    let mut finished: Vec<(usize, Finished)> = running.join_all().await;
    finished.sort_by_key(|(index, _)| *index);
    Ok(finished.into_iter().map(|(_, f)| f).collect())
}

async fn open_chain(schedule: &Schedule, env: &dyn wasm_secrets::cli::Environment) -> Result<Chain, SchedulerError> {
    let chain_error = |e: &dyn std::fmt::Display| SchedulerError::Chain(e.to_string());
    let spec = wasm_secrets::ChainSpec::from_file(&schedule.host_config).map_err(|e| chain_error(&e))?;
    let env_fn = |k: &str| env.var(k);
    let ctx = wasm_secrets::setup::OpenContext {
        artifacts: wasm_secrets::ArtifactCache::Disabled,
        env: &env_fn,
        env_vars: env.vars(),
        options: wasm_secrets::ProviderOptions::default(),
    };
    let mut chain = spec.open(&ctx).await.map_err(|e| chain_error(&e))?;
    if let Some(path) = &schedule.audit_log {
        let audit = wasm_secrets::audit::AuditLog::open(path).map_err(|e| chain_error(&e))?;
        chain = chain.with_audit(Arc::new(audit));
    }
    Ok(chain)
}
