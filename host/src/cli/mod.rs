//! The `secrets` command line, as a library function so it can be tested in-process.
//!
//! It mirrors Airflow's CLI checks (`airflow connections get`, `airflow variables get`,
//! `airflow config get-value`) against any provider component, by default the built-in Kubernetes provider.

mod exec;
mod output;
mod plain_table;
mod rich_table;
mod serve;
mod yaml;

use std::ffi::OsString;
use std::io::{IsTerminal as _, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use airflow_compat::{Connection, Dialect};
use clap::{Args, Parser, Subcommand, ValueEnum};
use wasm_secrets_provider_common::kwargs;

use crate::bench::{Amount, BenchLookup, Plan};
use crate::cache::Kind;
use crate::chain::{Chain, ChainError, ListError};
use crate::cluster::DEFAULT_SERVICE_ACCOUNT_DIR;
use crate::engine::ArtifactCache;
use crate::error::LookupError;
use crate::grants::{EnvNames, builtin_env_prefixes, kwargs_keys};
use crate::host_config::{Builtin, ChainSpec, ComponentSource, HostConfig, KubernetesAccess, ProviderSpec};
use crate::live::Kind as LiveKind;
use crate::provider::ProviderOptions;
use crate::setup::OpenContext;
use crate::state::{LogLevel, LogSink};

pub use output::OutputFormat;

/// Exit status: the value was found and printed.
pub const EXIT_FOUND: u8 = 0;
/// Exit status: the provider has no such value (message on stderr).
pub const EXIT_NOT_FOUND: u8 = 1;
/// Exit status: bad usage or configuration (flags, backend kwargs, cluster settings, component).
pub const EXIT_USAGE: u8 = 2;
/// Exit status: the secret store or the transport failed (access denied, unreachable, timeout, ...).
pub const EXIT_UPSTREAM: u8 = 3;
/// Exit status: the stored (or, for `connections parse`, given) value is malformed (bad base64, invalid
/// connection URI or JSON).
pub const EXIT_MALFORMED: u8 = 4;

const AFTER_HELP: &str = "\
Exit status:
  0  found: the value is printed on stdout
  1  not found by any provider (message on stderr)
  2  usage or configuration error (flags, backend kwargs, config file, cluster settings, component)
  3  upstream error: access denied, API server unreachable or failing, timeout, provider failure
     (when no provider found the value but one of them failed, that failure is reported with its own
     status: 2, 3 or 4)
  4  the stored value is malformed (bad base64, invalid connection URI or JSON); for
     `connections parse`, the given value is one Airflow would reject

Providers:
  Without --config, lookups ask the Kubernetes provider (or --component) and then the environment
  (AIRFLOW_CONN_{ID}, AIRFLOW_VAR_{KEY}, _FSEC_{GROUP}_{KEY}; with AIRFLOW__CORE__MULTI_TEAM=true, ids
  holding `___` are never looked up there, as in Airflow), in Airflow's order. The first provider
  that has the value wins; a provider's error is reported and the next one is asked; access denied
  (401/403) stops the lookup (unlike Airflow, whose chain falls through). With --config FILE (TOML),
  the file lists the providers, their order, what each may reach, and the cache; see
  `secrets providers list` and docs/host-configuration.md.

Configuration:
  In a pod, the API server comes from KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT and the service
  account's token, ca.crt and namespace files. Outside a cluster, pass --kubeconfig.
  --backend-kwargs takes Airflow's KubernetesSecretsBackend backend_kwargs JSON, for example
  '{\"namespace\": \"airflow\", \"variables_label\": null}'. The wasm-secrets extension key
  \"dialect\" (\"server\" or \"worker\", also set by --dialect) picks which Airflow Connection class the
  value is parsed and serialized (get_uri) like.";

/// Look up Airflow connections, variables and config values through a WebAssembly secrets provider.
#[derive(Debug, Parser)]
#[command(name = "secrets", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct GlobalArgs {
    /// Host configuration (TOML) listing the providers in order, their grants and the cache. Cannot be
    /// combined with --component or --kubeconfig; --backend-kwargs and --service-account-dir are ignored.
    #[arg(long, global = true, env = "WASM_SECRETS_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    /// Provider component (.wasm) to load. Default: the built-in Kubernetes provider.
    #[arg(long, global = true, env = "WASM_SECRETS_COMPONENT", value_name = "PATH", conflicts_with = "config")]
    component: Option<PathBuf>,

    /// Provider configuration: Airflow's backend_kwargs JSON object.
    #[arg(long, global = true, env = "AIRFLOW__SECRETS__BACKEND_KWARGS", value_name = "JSON", default_value = "")]
    backend_kwargs: String,

    /// Service-account directory holding token, ca.crt and namespace.
    #[arg(long, global = true, env = "WASM_SECRETS_SERVICE_ACCOUNT_DIR", value_name = "DIR", default_value = DEFAULT_SERVICE_ACCOUNT_DIR)]
    service_account_dir: PathBuf,

    /// Use this kubeconfig (its current context) instead of the in-cluster configuration.
    #[arg(long, global = true, value_name = "PATH", conflicts_with = "config")]
    kubeconfig: Option<PathBuf>,

    /// Time limit of one provider's lookup, in seconds (1 to 86400).
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    timeout: u64,

    /// Directory caching compiled components. Default: $XDG_CACHE_HOME/wasm-secrets or ~/.cache/wasm-secrets.
    #[arg(long, global = true, value_name = "DIR", conflicts_with = "no_cache")]
    cache_dir: Option<PathBuf>,

    /// Compile the component on every start instead of caching the compiled artifact.
    #[arg(long, global = true)]
    no_cache: bool,

    /// Parse connections like Airflow's server (airflow-core `Connection`, as `airflow connections get`) or
    /// worker (Task SDK `Connection`, as tasks and triggerers) class. Sets the `dialect` key of the backend
    /// kwargs, overriding it. Default: the backend kwargs' `dialect`, else server.
    #[arg(long, global = true, value_enum, value_name = "DIALECT")]
    dialect: Option<DialectArg>,

    /// Append one JSON line per lookup to this file (created owner-only): time, kind, id, team, the provider
    /// that answered, whether the cache did, the outcome and the duration; never a value.
    #[arg(long, global = true, env = "WASM_SECRETS_AUDIT_LOG", value_name = "FILE")]
    audit_log: Option<PathBuf>,

    /// Rotate the audit log once it holds this many bytes (at least 65536): it is renamed to FILE.1, replacing
    /// the previous one, and a new FILE is started, so the trail takes about twice this at most. For a
    /// long-running `secrets serve` without logrotate; one process per file. Default: no rotation.
    #[arg(long, global = true, value_name = "BYTES", requires = "audit_log",
          value_parser = clap::value_parser!(u64).range(crate::audit::MIN_ROTATE_BYTES..))]
    audit_log_max_bytes: Option<u64>,
}

/// The audit log `--audit-log` names, rotated at `--audit-log-max-bytes`, if it names one.
fn open_audit(global: &GlobalArgs) -> Result<Option<Arc<crate::audit::AuditLog>>, Failure> {
    let Some(path) = &global.audit_log else { return Ok(None) };
    let log = match global.audit_log_max_bytes {
        Some(max) => crate::audit::AuditLog::open_rotating(path, max),
        None => crate::audit::AuditLog::open(path),
    };
    Ok(Some(Arc::new(log.map_err(Failure::usage)?)))
}

/// `--dialect` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DialectArg {
    /// airflow-core `airflow.models.connection.Connection` (`airflow connections get`, scheduler, API).
    Server,
    /// Task SDK `airflow.sdk.definitions.connection.Connection` (task runner, triggerer, `BaseHook`).
    Worker,
}

impl From<DialectArg> for Dialect {
    fn from(d: DialectArg) -> Self {
        match d {
            DialectArg::Server => Self::Server,
            DialectArg::Worker => Self::Worker,
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Connections (Airflow's `airflow connections`).
    #[command(subcommand)]
    Connections(ConnectionsCommand),
    /// Variables (Airflow's `airflow variables`).
    #[command(subcommand)]
    Variables(VariablesCommand),
    /// Configuration values stored as secrets (Airflow's `*_secret` options).
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Flyte secrets, by group and key (flytekit's `current_context().secrets.get(group, key)`).
    #[command(subcommand, name = "flyte-secrets")]
    FlyteSecrets(FlyteSecretsCommand),
    /// The provider chain.
    #[command(subcommand)]
    Providers(ProvidersCommand),
    /// Measure one lookup: repeat it and print latency percentiles, throughput, errors by kind and the API
    /// requests the host sent.
    Bench(BenchArgs),
    /// Task components: what a scheduler's task sees of the secrets.
    #[command(subcommand)]
    Task(TaskCommand),
    /// Run the node-local daemon: answer every local process's lookups over a Unix socket (HTTP/1.1 and
    /// JSON), granting by the caller's uid and gid.
    Serve(serve::ServeArgs),
    /// Run a command with secrets in its environment (AIRFLOW_CONN_*, AIRFLOW_VAR_*, _FSEC_*) or in files laid
    /// out as Flyte mounts them; every secret is resolved before it starts.
    Exec(exec::ExecArgs),
    /// Ask a running daemon (`secrets serve`) whether it is ready (or alive, with `--endpoint healthz`): exit 0
    /// when it answers 200, 1 otherwise. For Kubernetes exec probes, which cannot reach a Unix socket.
    Probe(serve::ProbeArgs),
}

#[derive(Debug, Subcommand)]
enum TaskCommand {
    /// Run a `wasi:cli` command component as a scheduler would run a task: with its stdout and stderr, no
    /// environment, no files, no network, an empty stdin, and only the granted secrets, read through
    /// `wasi:config/store` and the typed `wasm-secrets:provider/task` interface. The exit status is the
    /// task's.
    Run(TaskRunArgs),
}

const TASK_RUN_AFTER_HELP: &str = "\
Grants (--grant KIND:PATTERN, repeatable; nothing is granted by default):
  connection:ID        a connection (wasi:config keys connection/ID and connection-field/FIELD/ID)
  variable:KEY         a variable (variable/KEY)
  config:KEY           a configuration value (config/KEY)
  secret:GROUP/KEY     a Flyte secret (secret/GROUP/KEY)
  In a pattern `*` stands for any run of characters (variable:etl_*); nothing else is special, so an id
  holding `/` or `:` is granted by writing it. A secret grant names one GROUP/KEY exactly. Whatever the
  grants, a task never reads an id that is empty, longer than 1024 bytes, or holds `,` `=` `!` `(` `)`,
  whitespace, a control or invisible character, or `___` (another team's). A key that is not granted
  reads as not found, as a secret no provider holds, and the audit log (--audit-log) records it as
  `refused`, with the task's name. Keys and the typed interface: docs/embedding.md.

The task's stdout and stderr are printed when it ends (at most 16 MiB of each: a write past that ends the
task, status 134). Provider log records go to stderr after the task's own. A task makes at most 10,000
reads; the read past that ends it (status 134).

Exit status: the task's (0 when it succeeds, 1 when it fails: a wasi:cli 0.2 command exits with
success or failure only, whatever code its program passes to exit);
2 when it cannot be run (bad flags or configuration, a component that is not a wasi:cli command or
that imports what a task is not given, such as wasi:http); 124 when it ran past --timeout;
134 when it trapped (a panic) or went past --memory.

Examples:
  secrets --kubeconfig ~/.kube/config task run --grant connection:smtp_default task.wasm -- get connection/smtp_default
  secrets --config host.toml --audit-log audit.jsonl task run --grant 'variable:etl_*' --team alpha etl.wasm";

#[derive(Debug, Args)]
#[command(after_help = TASK_RUN_AFTER_HELP)]
struct TaskRunArgs {
    /// What the task may read: KIND:PATTERN (see below). Repeatable.
    #[arg(long = "grant", value_name = "KIND:PATTERN", value_parser = parse_grant)]
    grants: Vec<crate::task::Grant>,
    /// Read as this team (Airflow multi-team): its own entries first, then the global ones.
    #[arg(long)]
    team: Option<String>,
    /// The task's name in the audit log (and its program name) [default: the component's file name].
    #[arg(long)]
    name: Option<String>,
    /// Stop the task after this many seconds (reads included).
    #[arg(long, value_name = "SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    timeout: u64,
    /// The most memory the task may use, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=4096))]
    memory: u64,
    /// The task component (a wasm32-wasip2 command).
    task: PathBuf,
    /// The task's arguments (after `--`).
    #[arg(last = true, value_name = "ARGS")]
    args: Vec<String>,
}

fn parse_grant(text: &str) -> Result<crate::task::Grant, String> {
    text.parse().map_err(|e: crate::task::GrantError| e.to_string())
}

const BENCH_AFTER_HELP: &str = "\
The lookup runs through the same providers, cache and limits as `secrets LOOKUP` would, with the global
options (--config, --component, --backend-kwargs, ...). Warm-up lookups run first and are not measured;
with live mode, the measured lookups then wait (up to 10 s) for the live views' watches to be open.
With --socket, the lookups are requests to a running daemon (`secrets serve`), each on its own connection,
and api_requests is 0 (the daemon counts its own, in /metrics). Latency percentiles are exact to within 1 %;
the maximum is exact. API requests are counted in the host's
transport (every request sent to the API server during the measured lookups, retries included).

Exit status: 0 when every measured lookup answered (found or not found); when some failed, the status the
first failure would give `secrets LOOKUP` (2 configuration, 3 upstream, 4 malformed value); 2 for usage
errors and a configuration that cannot be opened. \"Not found\" answers are not failures (a note on stderr when
every lookup got one). The report is printed whenever the lookups ran.

Examples:
  secrets --kubeconfig ~/.kube/config bench --lookups 2000 --concurrency 8 variables get my_var
  secrets --config host.toml bench --duration 30 -o json connections get smtp_default
  secrets bench --socket /run/wasm-secrets/secrets.sock --concurrency 64 --duration 30 variables get my_var";

#[derive(Debug, Args)]
#[command(after_help = BENCH_AFTER_HELP)]
struct BenchArgs {
    /// Measured lookups [default: 1000 unless --duration is given].
    #[arg(long, value_name = "N", conflicts_with = "duration", value_parser = clap::value_parser!(u64).range(1..))]
    lookups: Option<u64>,
    /// Measure for this many seconds instead (0.001 to 86400, fractions allowed); lookups in flight at the
    /// end are waited for.
    #[arg(long, value_name = "SECONDS", value_parser = parse_bench_duration)]
    duration: Option<Duration>,
    /// Lookups in flight at once.
    #[arg(long, value_name = "C", default_value_t = 1,
          value_parser = clap::value_parser!(u64).range(1..=crate::bench::MAX_CONCURRENCY as u64))]
    concurrency: u64,
    /// Lookups run before measuring, not counted (at most 1000000).
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    warmup: u64,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = BenchFormat::Table)]
    output: BenchFormat,
    /// Progress bar on stderr: auto (when the process's stderr is a terminal), always, never.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ProgressWhen::Auto)]
    progress: ProgressWhen,
    /// Also print the chain's metrics (Prometheus text format, warm-up lookups included) after the report;
    /// with `-o json`, as the `metrics` field.
    #[arg(long)]
    metrics: bool,
    /// Ask the daemon (`secrets serve`) at this socket instead of opening the providers: each lookup is one
    /// request on its own connection, as a process asking the daemon makes it (the API requests are the
    /// daemon's: see its /metrics).
    #[arg(long, value_name = "PATH", conflicts_with = "metrics")]
    socket: Option<PathBuf>,
    /// The lookup to repeat.
    #[command(subcommand)]
    lookup: BenchLookupCommand,
}

/// `bench -o` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BenchFormat {
    /// Aligned lines for a terminal.
    Table,
    /// One JSON object: lookups, errors, errors_by_kind, not_found, api_requests, p50_us, p90_us, p99_us,
    /// max_us, throughput_per_s, seconds, concurrency, warmup, first_error.
    Json,
}

/// `bench --progress` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ProgressWhen {
    /// When stderr is a terminal.
    Auto,
    /// Always (the bar is redrawn in place with carriage returns).
    Always,
    /// Never.
    Never,
}

/// `--duration`: seconds, from a millisecond (shorter would measure nothing) to a day.
fn parse_bench_duration(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(s) if (0.001..=86_400.0).contains(&s) => Ok(Duration::from_secs_f64(s)),
        _ => Err("expected a number of seconds from 0.001 to 86400".to_owned()),
    }
}

/// The lookups `bench` repeats: the lookup commands' own arguments (`connections get` without its output
/// format, which a bench does not print).
#[derive(Debug, Subcommand)]
enum BenchLookupCommand {
    /// Repeat `connections get ID` (the connection parsed).
    #[command(subcommand)]
    Connections(BenchConnections),
    /// Repeat `variables get KEY`.
    #[command(subcommand)]
    Variables(BenchVariables),
    /// Repeat `config get-value KEY`.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Repeat `flyte-secrets get GROUP KEY`.
    #[command(subcommand, name = "flyte-secrets")]
    FlyteSecrets(FlyteSecretsCommand),
}

#[derive(Debug, Subcommand)]
enum BenchConnections {
    /// A connection.
    Get {
        /// The connection id.
        conn_id: String,
        /// Look the connection up for this team first, then globally.
        #[arg(long)]
        team: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum BenchVariables {
    /// A variable.
    Get {
        /// The variable key.
        key: String,
        /// Look the variable up for this team first, then globally.
        #[arg(long)]
        team: Option<String>,
    },
}

impl From<BenchLookupCommand> for BenchLookup {
    fn from(command: BenchLookupCommand) -> Self {
        match command {
            BenchLookupCommand::Connections(BenchConnections::Get { conn_id, team }) => {
                Self::Connection { conn_id, team }
            }
            BenchLookupCommand::Variables(BenchVariables::Get { key, team }) => Self::Variable { key, team },
            BenchLookupCommand::Config(ConfigCommand::GetValue { key }) => Self::Config { key },
            BenchLookupCommand::FlyteSecrets(FlyteSecretsCommand::Get { group, key }) => Self::Secret { group, key },
        }
    }
}

#[derive(Debug, Subcommand)]
enum FlyteSecretsCommand {
    /// Print a Flyte secret's value verbatim.
    Get {
        /// The secret group (for Kubernetes: the Secret's name).
        group: String,
        /// The secret key (for Kubernetes: the data key).
        key: String,
    },
}

#[derive(Debug, Subcommand)]
enum ProvidersCommand {
    /// Show the providers in lookup order, what each may reach, and the cache settings. Loads nothing and
    /// contacts nothing; kwargs values are not shown (a custom provider's kwargs may hold credentials).
    List,
}

#[derive(Debug, Subcommand)]
enum ConnectionsCommand {
    /// Show a connection, with Airflow's fields in Airflow's order.
    Get {
        /// The connection id.
        conn_id: String,
        /// Look the connection up for this team first (Airflow multi-team), then globally.
        #[arg(long)]
        team: Option<String>,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
    /// List the connections the providers hold, in the format of `airflow connections list`.
    ///
    /// Every provider lists the ids it holds; each id is then looked up through the chain exactly as
    /// `connections get` would (the first provider that has it wins, the cache and the live view apply), and
    /// listed when found, sorted by id. By default only `conn_id` and `conn_type` are shown.
    #[command(after_help = "Airflow lists the connections of its metadata database; this lists those of the \
                            configured providers.\nExample: secrets connections list --show-values --hide-sensitive -o yaml")]
    List(ListArgs),
    /// Check a connection value offline, as Airflow would parse it from a secret, and print the result.
    ///
    /// VALUE is what a secret's data key holds after base64 decoding: a connection URI or a JSON document.
    /// Nothing is looked up: no cluster, component or network is used. The output is exactly what
    /// `connections get` would print for a secret holding VALUE (the `get_uri` field is the URI Airflow
    /// would serialize it to, in the chosen --dialect); the connection id shown is --conn-id. When Airflow
    /// would reject the value, a message naming the problem (never any part of the value) goes to stderr and
    /// the exit status is 4.
    #[command(after_help = "Prefer stdin for real credentials: command-line arguments are visible to other \
                            processes.\nExample: printf '%s' \"$VALUE\" | secrets connections parse --dialect worker -o json")]
    Parse {
        /// The connection value; read from stdin when absent or `-`.
        value: Option<String>,
        /// The connection id to show in the output.
        #[arg(long, value_name = "ID", default_value = "<parsed>")]
        conn_id: String,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
        output: OutputFormat,
    },
}

/// The options of `connections list` and `variables list` (Airflow's, plus `--team`).
#[derive(Debug, Args)]
struct ListArgs {
    /// List what this team sees (Airflow multi-team): its own entries, then the global ones.
    #[arg(long)]
    team: Option<String>,
    /// Show the values too: every field of a connection (passwords included), each variable's value.
    #[arg(long)]
    show_values: bool,
    /// With --show-values: show `***` for passwords, non-empty extras, URI credentials and variable values.
    #[arg(long, requires = "show_values")]
    hide_sensitive: bool,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
    output: OutputFormat,
}

#[derive(Debug, Subcommand)]
enum VariablesCommand {
    /// Print a variable's value verbatim.
    Get {
        /// The variable key.
        key: String,
        /// Look the variable up for this team first (Airflow multi-team), then globally.
        #[arg(long)]
        team: Option<String>,
    },
    /// List the variables the providers hold, in the format of `airflow variables list`.
    ///
    /// Every provider lists the keys it holds; each key is then looked up through the chain exactly as
    /// `variables get` would, and listed when found, sorted by key. By default only the keys are shown.
    #[command(after_help = "Airflow lists the variables of its metadata database; this lists those of the \
                            configured providers.\nExample: secrets variables list -o json")]
    List(ListArgs),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print a configuration value stored as a secret (the value of an Airflow `*_secret` option).
    GetValue {
        /// The config key (for example `sql_alchemy_conn`).
        key: String,
    },
}

/// The process environment as the CLI reads it. A closure `|name| ...` is one whose variables cannot be
/// listed, so environment providers see none of them; [`ProcessEnvironment`] is the real one.
pub trait Environment: Sync {
    /// One variable.
    fn var(&self, name: &str) -> Option<String>;
    /// Every variable (environment providers get those their prefixes grant).
    fn vars(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

impl<F: Fn(&str) -> Option<String> + Sync> Environment for F {
    fn var(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// The environment of this process.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnvironment;

impl Environment for ProcessEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn vars(&self) -> Vec<(String, String)> {
        // Variables whose name or value is not Unicode cannot be Airflow or Flyte secrets; skip them.
        std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect()
    }
}

/// A fixed set of variables (for tests and embedding). `Debug` shows the names only.
#[derive(Clone, Default)]
pub struct FixedEnvironment(pub Vec<(String, String)>);

impl std::fmt::Debug for FixedEnvironment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("FixedEnvironment").field(&EnvNames(&self.0)).finish()
    }
}

impl Environment for FixedEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    fn vars(&self) -> Vec<(String, String)> {
        self.0.clone()
    }
}

/// Runs the CLI with `args` (including the program name). `env` supplies `KUBERNETES_SERVICE_HOST`,
/// `KUBERNETES_SERVICE_PORT`, `HOME`, `XDG_CACHE_HOME` and the variables of environment providers; output
/// goes to `out` and `err` (provider log records too); `connections parse` without a value reads the
/// process's stdin. Returns the exit status.
pub async fn run(
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    env: &dyn Environment,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    run_with_input(args, env, &mut std::io::stdin(), out, err).await
}

/// [`run`] with `input` as stdin.
pub async fn run_with_input(
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    env: &dyn Environment,
    input: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_FOUND };
            let text = e.render().ansi().to_string();
            let sink: &mut dyn Write = if e.use_stderr() { err } else { out };
            let _ = sink.write_all(text.as_bytes());
            return code;
        }
    };
    match execute(cli, env, input, out, err).await {
        Ok(code) => code,
        Err(Failure { code, message }) => {
            let _ = writeln!(err, "error: {message}");
            code
        }
    }
}

struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn usage(message: impl std::fmt::Display) -> Self {
        Self { code: EXIT_USAGE, message: message.to_string() }
    }
}

impl From<ChainError> for Failure {
    fn from(e: ChainError) -> Self {
        let code = match &e.error {
            error if error.is_configuration() => EXIT_USAGE,
            LookupError::MalformedPayload(_) => EXIT_MALFORMED,
            _ => EXIT_UPSTREAM,
        };
        Self { code, message: e.to_string() }
    }
}

/// A listing that ran into one of its bounds is the upstream's doing (a store or a provider holding more than
/// a listing reads), like a timeout.
impl From<ListError> for Failure {
    fn from(e: ListError) -> Self {
        match e {
            ListError::Chain(e) => e.into(),
            other => Self { code: EXIT_UPSTREAM, message: other.to_string() },
        }
    }
}

fn write(out: &mut dyn Write, text: &str) -> Result<(), Failure> {
    out.write_all(text.as_bytes())
        .map_err(|e| Failure { code: EXIT_UPSTREAM, message: format!("cannot write the output: {e}") })
}

async fn execute(
    cli: Cli,
    env: &dyn Environment,
    input: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Failure> {
    // `parse` is offline: it must not need a cluster, a component or a valid backend configuration.
    let command = match cli.command {
        Command::Connections(ConnectionsCommand::Parse { value, conn_id, output }) => {
            let dialect = offline_dialect(&cli.global)?;
            return parse_command(value.as_deref(), &conn_id, output, dialect, input, out);
        }
        other => other,
    };
    let spec = chain_spec(&cli.global, env)?;
    if let Command::Providers(ProvidersCommand::List) = command {
        write(out, &describe_chain(&spec))?;
        return Ok(EXIT_FOUND);
    }
    let dialect = cli.global.dialect.map_or_else(
        || spec.providers.first().map_or(Dialect::Server, |p| dialect_of(&p.backend_kwargs)),
        Dialect::from,
    );
    // Provider log records are collected and written to `err` after the lookup (before its result), so
    // the CLI writes to the streams it was given, never to the process's own.
    let records: Arc<std::sync::Mutex<Records>> = Arc::default();
    let result = match command {
        Command::Bench(args) => bench(args, &cli.global, &spec, env, Arc::clone(&records), out, err).await,
        Command::Task(TaskCommand::Run(args)) => {
            task_run(args, &cli.global, &spec, env, Arc::clone(&records), dialect, out, err).await
        }
        Command::Serve(args) => serve::run(args, &cli.global, env, dialect, err).await,
        Command::Exec(args) => exec::run(args, &cli.global, env, Arc::clone(&records), dialect, err).await,
        Command::Probe(args) => serve::probe(args, &cli.global, out).await,
        command => lookup(command, &cli.global, &spec, env, Arc::clone(&records), dialect, out).await,
    };
    let records = std::mem::take(&mut *records.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    let _ = err.write_all(records.text().as_bytes());
    let (code, not_found) = result?;
    if let Some(message) = not_found {
        let _ = writeln!(err, "{message}");
    }
    Ok(code)
}

/// Opens the chain and runs one lookup; returns the exit status and the not-found message to print.
async fn lookup(
    command: Command,
    global: &GlobalArgs,
    spec: &ChainSpec,
    env: &dyn Environment,
    records: Arc<std::sync::Mutex<Records>>,
    dialect: Dialect,
    out: &mut dyn Write,
) -> Result<(u8, Option<String>), Failure> {
    let chain = open_chain(global, spec, env, records).await?;
    let found = |out: &mut dyn Write, text: Option<Arc<str>>, missing: String| match text {
        Some(value) => write(out, &format!("{value}\n")).map(|()| (EXIT_FOUND, None)),
        None => Ok((EXIT_NOT_FOUND, Some(missing))),
    };
    match command {
        Command::Connections(ConnectionsCommand::Parse { .. })
        | Command::Providers(ProvidersCommand::List)
        | Command::Bench(_)
        | Command::Task(_)
        | Command::Serve(_)
        | Command::Exec(_)
        | Command::Probe(_) => Err(Failure::usage("unreachable: handled above")),
        Command::Connections(ConnectionsCommand::Get { conn_id, team, output }) => {
            match chain.get_connection(&conn_id, team.as_deref()).await? {
                Some(conn) => {
                    write(out, &output::render_connection(&conn_id, &conn, dialect, output))?;
                    Ok((EXIT_FOUND, None))
                }
                None => {
                    Ok((EXIT_NOT_FOUND, Some(format!("Connection not found: the conn_id `{conn_id}` isn't defined"))))
                }
            }
        }
        Command::Connections(ConnectionsCommand::List(ListArgs { team, show_values, hide_sensitive, output })) => {
            let entries = chain.list(LiveKind::Connection, team.as_deref()).await?;
            let connections: Vec<(String, Arc<Connection>)> =
                entries.into_iter().filter_map(|(id, value)| value.into_connection().map(|conn| (id, conn))).collect();
            let columns = match (show_values, hide_sensitive) {
                (false, _) => output::ConnectionColumns::Ids,
                (true, false) => output::ConnectionColumns::Full,
                (true, true) => output::ConnectionColumns::Masked,
            };
            write(out, &output::render_connections(&connections, columns, dialect, output))?;
            Ok((EXIT_FOUND, None))
        }
        Command::Variables(VariablesCommand::Get { key, team }) => {
            let value = chain.get_variable(&key, team.as_deref()).await?;
            found(out, value, format!("Variable {key} does not exist"))
        }
        Command::Variables(VariablesCommand::List(ListArgs { team, show_values, hide_sensitive, output })) => {
            let entries = chain.list(LiveKind::Variable, team.as_deref()).await?;
            let variables: Vec<(String, Arc<str>)> =
                entries.into_iter().filter_map(|(id, value)| value.into_text().map(|text| (id, text))).collect();
            write(out, &output::render_variables(&variables, show_values, hide_sensitive, output))?;
            Ok((EXIT_FOUND, None))
        }
        Command::Config(ConfigCommand::GetValue { key }) => {
            let value = chain.get_config(&key).await?;
            found(out, value, format!("The config key {key} is not found in the secrets backend."))
        }
        Command::FlyteSecrets(FlyteSecretsCommand::Get { group, key }) => {
            let value = chain.get_secret(&group, &key).await?;
            found(out, value, format!("Secret {group}/{key} does not exist"))
        }
    }
}

/// Exit status of `task run`: the task ran past `--timeout` (as `timeout(1)`).
const EXIT_TASK_TIMEOUT: u8 = 124;
/// Exit status of `task run`: the task trapped or went past `--memory` (as a process killed by `SIGABRT`).
const EXIT_TASK_TRAPPED: u8 = 134;

/// `task run`: opens the chain, runs the task component with its grants, prints its output.
#[expect(clippy::too_many_arguments, reason = "the command's inputs and both output streams")]
async fn task_run(
    args: TaskRunArgs,
    global: &GlobalArgs,
    spec: &ChainSpec,
    env: &dyn Environment,
    records: Arc<std::sync::Mutex<Records>>,
    dialect: Dialect,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(u8, Option<String>), Failure> {
    use crate::embed::{TaskLimits, TaskRunner, TaskSecrets, TaskStatus};
    let runner = TaskRunner::new().map_err(Failure::usage)?;
    let component = runner.load(&args.task, &artifact_cache(global, env)).map_err(Failure::usage)?;
    let chain = Arc::new(open_chain(global, spec, env, records).await?);
    let file_name = args.task.file_name().map(|n| n.to_string_lossy().into_owned());
    let name = args.name.or(file_name).unwrap_or_else(|| "task".to_owned());
    let grants = crate::task::TaskGrants { grants: args.grants, team: args.team };
    if let Some(problem) = grants.team_problem() {
        return Err(Failure::usage(format!("--team: {problem}")));
    }
    let secrets = TaskSecrets::new(chain, name.clone(), grants).with_dialect(dialect);
    let limits = TaskLimits {
        timeout: Duration::from_secs(args.timeout),
        memory_bytes: usize::try_from(args.memory.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX),
        ..TaskLimits::default()
    };
    let argv: Vec<String> = std::iter::once(name).chain(args.args).collect();
    let output = runner.run(&component, secrets, &argv, limits).await.map_err(Failure::usage)?;
    out.write_all(&output.stdout)
        .and_then(|()| out.flush())
        .map_err(|e| Failure { code: EXIT_UPSTREAM, message: format!("cannot write the output: {e}") })?;
    let _ = err.write_all(&output.stderr);
    let code = match output.status {
        TaskStatus::Exited(status) => u8::try_from(status).unwrap_or(1),
        TaskStatus::TimedOut => {
            let _ = writeln!(err, "secrets: the task ran longer than {} s and was stopped", args.timeout);
            EXIT_TASK_TIMEOUT
        }
        TaskStatus::Trapped(message) => {
            let _ = writeln!(err, "secrets: the task failed: {message}");
            EXIT_TASK_TRAPPED
        }
    };
    Ok((code, None))
}

/// Provider log records of one command, written to stderr when it ends. A one-lookup command logs a few; a
/// bench repeats lookups that may each log, so only the first [`Records::MAX`] are kept and the rest counted.
#[derive(Default)]
struct Records {
    lines: Vec<String>,
    dropped: u64,
}

impl Records {
    const MAX: usize = 100;

    fn push(&mut self, level: LogLevel, message: &str) {
        if self.lines.len() >= Self::MAX {
            self.dropped += 1;
            return;
        }
        let level = match level {
            LogLevel::Info => "INFO",
            LogLevel::Warning => "WARNING",
        };
        self.lines.push(format!("[{level}] {message}\n"));
    }

    fn text(&self) -> String {
        let mut text = self.lines.concat();
        if self.dropped > 0 {
            text.push_str(&format!("... and {} more provider log records, not shown\n", self.dropped));
        }
        text
    }
}

/// `bench`: opens the chain, runs the plan with a progress bar on `err` when asked, prints the report.
async fn bench(
    args: BenchArgs,
    global: &GlobalArgs,
    spec: &ChainSpec,
    env: &dyn Environment,
    records: Arc<std::sync::Mutex<Records>>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(u8, Option<String>), Failure> {
    let chain = match &args.socket {
        Some(_) => None,
        None => {
            let mut chain = open_chain(global, spec, env, records).await?;
            if args.metrics {
                chain = chain.with_metrics();
            }
            Some(Arc::new(chain))
        }
    };
    let target = match (&chain, &args.socket) {
        (Some(chain), _) => crate::bench::Target::Chain(Arc::clone(chain)),
        (None, socket) => crate::bench::Target::Daemon(crate::serve::client::DaemonClient::new(
            socket.as_deref().unwrap_or(std::path::Path::new("")),
            Duration::from_secs(global.timeout),
        )),
    };
    let amount = match (args.lookups, args.duration) {
        (_, Some(duration)) => Amount::Duration(duration),
        (lookups, None) => Amount::Lookups(lookups.unwrap_or(1000)),
    };
    let plan = Plan { amount, concurrency: usize::try_from(args.concurrency).unwrap_or(1), warmup: args.warmup };
    let slots = crate::engine::DEFAULT_POOL_SLOTS;
    if args.concurrency > u64::from(slots) && chain.is_some() {
        let _ = writeln!(
            err,
            "note: --concurrency {} is more than the {slots} instance slots of the pool: lookups beyond them wait \
             for a slot, and the latencies include that wait",
            args.concurrency
        );
    }
    let show = match args.progress {
        ProgressWhen::Auto => std::io::stderr().is_terminal(),
        ProgressWhen::Always => true,
        ProgressWhen::Never => false,
    };
    let mut width = 0;
    let report = crate::bench::run_on(target, args.lookup.into(), plan, |p| {
        if show {
            let line = p.line();
            width = width.max(line.len());
            let _ = write!(err, "\r{line}");
            let _ = err.flush();
        }
    })
    .await;
    if show {
        // Clear the bar so the report (or whatever follows on stderr) starts on a clean line.
        let _ = write!(err, "\r{}\r", " ".repeat(width));
    }
    let metrics = chain.as_ref().and_then(|c| c.render_metrics());
    let text = match (args.output, metrics) {
        (BenchFormat::Table, None) => report.to_table(),
        (BenchFormat::Table, Some(metrics)) => format!("{}\n{metrics}", report.to_table()),
        (BenchFormat::Json, None) => format!("{}\n", report.to_json()),
        (BenchFormat::Json, Some(metrics)) => {
            let mut json = report.to_json();
            json["metrics"] = serde_json::Value::String(metrics);
            format!("{json}\n")
        }
    };
    write(out, &text)?;
    if report.lookups > 0 && report.not_found == report.lookups {
        let _ = writeln!(err, "note: every measured lookup answered \"not found\"; check the id and the providers");
    }
    // The status the first failure would give the lookup command itself.
    Ok((report.first_error.map_or(EXIT_FOUND, |e| Failure::from(e).code), None))
}

/// `connections parse`: Airflow's `_deserialize_connection_value` on VALUE (or stdin), then the same output
/// as `connections get`.
fn parse_command(
    value: Option<&str>,
    conn_id: &str,
    output: OutputFormat,
    dialect: Dialect,
    input: &mut dyn Read,
    out: &mut dyn Write,
) -> Result<u8, Failure> {
    let value = match value {
        Some(v) if v != "-" => v.to_owned(),
        _ => {
            let mut bytes = Vec::new();
            input
                .read_to_end(&mut bytes)
                .map_err(|e| Failure::usage(format_args!("cannot read the connection value from stdin: {e}")))?;
            String::from_utf8(bytes).map_err(|_| Failure {
                code: EXIT_MALFORMED,
                message: "invalid connection value: it is not valid UTF-8".to_owned(),
            })?
        }
    };
    let conn = airflow_compat::parse_connection(&value, dialect).map_err(|e| Failure {
        code: EXIT_MALFORMED,
        message: format!("invalid connection value ({dialect} dialect): {e}"),
    })?;
    write(out, &output::render_connection(conn_id, &conn, dialect, output))?;
    Ok(EXIT_FOUND)
}

/// `backend_kwargs` with `dialect` set by `--dialect`.
fn with_dialect(backend_kwargs: &str, dialect: Option<DialectArg>) -> Result<String, Failure> {
    let Some(dialect) = dialect else {
        return Ok(backend_kwargs.to_owned());
    };
    let dialect = Dialect::from(dialect).as_str();
    if backend_kwargs.trim().is_empty() {
        return Ok(format!(r#"{{"{}": "{dialect}"}}"#, kwargs::DIALECT_KEY));
    }
    match serde_json::from_str::<serde_json::Value>(backend_kwargs) {
        Ok(serde_json::Value::Object(mut map)) => {
            map.insert(kwargs::DIALECT_KEY.to_owned(), serde_json::Value::String(dialect.to_owned()));
            serde_json::to_string(&map).map_err(Failure::usage)
        }
        // Not an object: the provider's validation reports the problem.
        _ => Ok(backend_kwargs.to_owned()),
    }
}

/// The chain: the --config file's, else Airflow's default built from the single-backend flags (the
/// configured backend, then the environment, whose multi-team guard follows `AIRFLOW__CORE__MULTI_TEAM`).
/// `--dialect` is set in every provider's kwargs.
fn chain_spec(global: &GlobalArgs, env: &dyn Environment) -> Result<ChainSpec, Failure> {
    host_config(global, env).map(|c| c.chain)
}

/// The whole configuration: [`chain_spec`]'s chain, and the --config file's `[serve]` section (none without
/// a file).
fn host_config(global: &GlobalArgs, env: &dyn Environment) -> Result<HostConfig, Failure> {
    let (mut spec, serve) = match &global.config {
        Some(path) => {
            let config = HostConfig::from_file(path).map_err(Failure::usage)?;
            (config.chain, config.serve)
        }
        None => {
            let (name, component) = match &global.component {
                None => ("kubernetes".to_owned(), ComponentSource::Builtin(Builtin::Kubernetes)),
                Some(path) => ("backend".to_owned(), ComponentSource::File(path.clone())),
            };
            let kubernetes = Some(match &global.kubeconfig {
                Some(path) => KubernetesAccess::Kubeconfig(path.clone()),
                None => KubernetesAccess::InCluster { service_account_dir: global.service_account_dir.clone() },
            });
            let backend = ProviderSpec {
                name,
                component,
                backend_kwargs: global.backend_kwargs.clone(),
                kubernetes,
                vault: None,
                env_prefixes: Vec::new(),
                files: Vec::new(),
                timeout: None,
                reuse_instances: 0,
                live: false,
            };
            let environment = ProviderSpec {
                name: "environment".to_owned(),
                component: ComponentSource::Builtin(Builtin::Environment),
                backend_kwargs: if multi_team(env)? { r#"{"multi_team": true}"#.to_owned() } else { String::new() },
                kubernetes: None,
                vault: None,
                env_prefixes: builtin_env_prefixes(""),
                files: Vec::new(),
                timeout: None,
                reuse_instances: 0,
                live: false,
            };
            let providers = vec![backend, environment];
            (ChainSpec { providers, cache: crate::cache::CacheSettings::default() }, Default::default())
        }
    };
    for provider in &mut spec.providers {
        provider.backend_kwargs = with_dialect(&provider.backend_kwargs, global.dialect)?;
    }
    Ok(HostConfig { chain: spec, serve })
}

/// Airflow's `[core] multi_team` from `AIRFLOW__CORE__MULTI_TEAM`, read as Airflow's `conf.getboolean` does:
/// `t`, `true` or `1` (any case, an inline `#` comment dropped) is on, `f`, `false` or `0` off, unset off,
/// anything else an error.
fn multi_team(env: &dyn Environment) -> Result<bool, Failure> {
    const VAR: &str = "AIRFLOW__CORE__MULTI_TEAM";
    let Some(value) = env.var(VAR) else {
        return Ok(false);
    };
    let value = value.split('#').next().unwrap_or_default().trim().to_ascii_lowercase();
    match value.as_str() {
        "t" | "true" | "1" => Ok(true),
        "f" | "false" | "0" => Ok(false),
        _ => Err(Failure::usage(format!("{VAR} must be true or false (Airflow's [core] multi_team)"))),
    }
}

/// The log filter of the `secrets` command: `RUST_LOG` in the usual `tracing` / `env_logger` syntax
/// (`debug`, `wasm_secrets=debug,warn`, `wasm_secrets::transport=trace`, ...), else warnings and errors. An
/// invalid `RUST_LOG` falls back to warnings and errors, with the problem to report (the value is not echoed).
///
/// ```
/// use tracing_subscriber::filter::LevelFilter;
/// use wasm_secrets::cli::log_filter;
/// assert_eq!(log_filter(None).0.max_level_hint(), Some(LevelFilter::WARN));
/// assert_eq!(log_filter(Some("error")).0.max_level_hint(), Some(LevelFilter::ERROR));
/// assert_eq!(log_filter(Some("warn,wasm_secrets=debug")).0.max_level_hint(), Some(LevelFilter::DEBUG));
/// assert!(log_filter(Some("wasm_secrets=loud")).1.is_some());
/// ```
pub fn log_filter(rust_log: Option<&str>) -> (tracing_subscriber::EnvFilter, Option<String>) {
    let default = || tracing_subscriber::EnvFilter::new("warn");
    match rust_log.map(str::trim).filter(|s| !s.is_empty()) {
        None => (default(), None),
        Some(spec) => match tracing_subscriber::EnvFilter::try_new(spec) {
            Ok(filter) => (filter, None),
            Err(_) => (default(), Some("RUST_LOG is not a valid log filter; showing warnings and errors".to_owned())),
        },
    }
}

/// `providers list`: the chain as configured, without loading or contacting anything.
fn describe_chain(spec: &ChainSpec) -> String {
    use std::fmt::Write as _;
    let mut text = String::from("Providers, in lookup order:\n");
    for (i, p) in spec.providers.iter().enumerate() {
        let _ = writeln!(text, "  {}. {}  {}", i + 1, p.name, p.component);
        let _ = writeln!(text, "       kwargs: {}", kwargs_keys(&p.backend_kwargs));
        match &p.kubernetes {
            Some(access) => {
                let _ = writeln!(text, "       kubernetes API: {access}");
            }
            None => text.push_str("       kubernetes API: not granted\n"),
        }
        if let Some(vault) = &p.vault {
            let _ = writeln!(text, "       vault: {vault}");
        }
        if p.env_prefixes.is_empty() {
            text.push_str("       environment: not granted\n");
        } else {
            let prefixes: Vec<String> = p.env_prefixes.iter().map(|x| format!("{x}*")).collect();
            let _ = writeln!(text, "       environment: {}", prefixes.join(", "));
        }
        if p.files.is_empty() {
            text.push_str("       files: not granted\n");
        } else {
            let files: Vec<String> = p.files.iter().map(|f| f.display().to_string()).collect();
            let _ = writeln!(text, "       files: {}", files.join(", "));
        }
        if let Some(t) = p.timeout {
            let _ = writeln!(text, "       timeout: {}s", t.as_secs());
        }
        if p.live {
            let _ = writeln!(text, "       live: lists each kind once and follows it with a watch");
        }
        if p.reuse_instances > 0 {
            let _ = writeln!(text, "       reuses up to {} idle instances", p.reuse_instances);
        }
    }
    let c = &spec.cache;
    if c.enabled {
        let ttls: Vec<String> = Kind::ALL.iter().map(|k| format!("{} {}s", k.plural(), c.ttl(*k).as_secs())).collect();
        let negative: Vec<&str> = Kind::ALL.iter().filter(|k| c.caches_not_found(**k)).map(|k| k.plural()).collect();
        let negative = if negative.is_empty() { "nothing".to_owned() } else { negative.join(", ") };
        let _ = writeln!(
            text,
            "Cache: on; TTL {}; \"not found\" cached for {negative}; at most {} entries",
            ttls.join(", "),
            c.max_entries
        );
        if !c.max_staleness.is_zero() {
            let _ =
                writeln!(text, "  during an outage, answers up to {}s old are served stale", c.max_staleness.as_secs());
        }
    } else {
        text.push_str("Cache: off\n");
    }
    text
}

/// The `dialect` of backend kwargs the provider accepted (server when absent).
fn dialect_of(backend_kwargs: &str) -> Dialect {
    kwargs::dialect(backend_kwargs).ok().flatten().unwrap_or_default()
}

/// The dialect of `connections parse`: `--dialect`, else a `dialect` key of `--backend-kwargs` (which must
/// then be valid), else server. Other backend kwargs are not looked at.
fn offline_dialect(global: &GlobalArgs) -> Result<Dialect, Failure> {
    if let Some(d) = global.dialect {
        return Ok(d.into());
    }
    Ok(kwargs::dialect(&global.backend_kwargs).map_err(Failure::usage)?.unwrap_or_default())
}

/// Where compiled components are cached: --cache-dir, none with --no-cache, else the user's cache directory.
fn artifact_cache(global: &GlobalArgs, env: &dyn Environment) -> ArtifactCache {
    match (&global.cache_dir, global.no_cache) {
        (_, true) => ArtifactCache::Disabled,
        (Some(dir), false) => ArtifactCache::Dir(dir.clone()),
        (None, false) => ArtifactCache::default_dir(|k| env.var(k)),
    }
}

async fn open_chain(
    global: &GlobalArgs,
    spec: &ChainSpec,
    env: &dyn Environment,
    records: Arc<std::sync::Mutex<Records>>,
) -> Result<Chain, Failure> {
    let log: LogSink = Arc::new(move |level, message| {
        records.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(level, message);
    });
    let audit = open_audit(global)?;
    open_chain_with(global, spec, env, log, audit, None).await
}

/// Opens (and validates) the chain of `spec`, its providers logging to `log`, auditing to `audit`; a provider
/// unchanged from `previous` is shared with it ([`ChainSpec::open_reusing`]).
async fn open_chain_with(
    global: &GlobalArgs,
    spec: &ChainSpec,
    env: &dyn Environment,
    log: LogSink,
    audit: Option<Arc<crate::audit::AuditLog>>,
    previous: Option<(&ChainSpec, &Chain)>,
) -> Result<Chain, Failure> {
    let env_fn = |k: &str| env.var(k);
    let artifacts = artifact_cache(global, env);
    let options =
        ProviderOptions { lookup_timeout: Duration::from_secs(global.timeout), log, ..ProviderOptions::default() };
    let ctx = OpenContext { artifacts, env: &env_fn, env_vars: env.vars(), options };
    let mut chain = spec.open_reusing(&ctx, previous).await.map_err(Failure::usage)?.strict(true);
    if let Some(audit) = audit {
        chain = chain.with_audit(audit);
    }
    chain.validate().await?;
    Ok(chain)
}
