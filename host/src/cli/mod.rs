//! The `secrets` command line, as a library function so it can be tested in-process.
//!
//! It mirrors Airflow's CLI checks (`airflow connections get`, `airflow variables get`,
//! `airflow config get-value`) against any provider component, by default the built-in Kubernetes provider.

mod output;
mod plain_table;
mod rich_table;
mod yaml;

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use airflow_compat::Dialect;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::cluster::{ClusterConfig, DEFAULT_SERVICE_ACCOUNT_DIR};
use crate::engine::{ArtifactCache, ProviderComponent};
use crate::error::LookupError;
use crate::provider::{Provider, ProviderOptions};
use crate::state::LogLevel;

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
  1  not found (message on stderr)
  2  usage or configuration error (flags, backend kwargs, cluster settings, component)
  3  upstream error: access denied, API server unreachable or failing, timeout, provider failure
  4  the stored value is malformed (bad base64, invalid connection URI or JSON); for
     `connections parse`, the given value is one Airflow would reject

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
    /// Provider component (.wasm) to load. Default: the built-in Kubernetes provider.
    #[arg(long, global = true, env = "WASM_SECRETS_COMPONENT", value_name = "PATH")]
    component: Option<PathBuf>,

    /// Provider configuration: Airflow's backend_kwargs JSON object.
    #[arg(long, global = true, env = "AIRFLOW__SECRETS__BACKEND_KWARGS", value_name = "JSON", default_value = "")]
    backend_kwargs: String,

    /// Service-account directory holding token, ca.crt and namespace.
    #[arg(long, global = true, env = "WASM_SECRETS_SERVICE_ACCOUNT_DIR", value_name = "DIR", default_value = DEFAULT_SERVICE_ACCOUNT_DIR)]
    service_account_dir: PathBuf,

    /// Use this kubeconfig (its current context) instead of the in-cluster configuration.
    #[arg(long, global = true, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,

    /// Time limit of one lookup, in seconds.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 60)]
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
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print a configuration value stored as a secret (the value of an Airflow `*_secret` option).
    GetValue {
        /// The config key (for example `sql_alchemy_conn`).
        key: String,
    },
}

/// Runs the CLI with `args` (including the program name). `env` supplies `KUBERNETES_SERVICE_HOST`,
/// `KUBERNETES_SERVICE_PORT`, `HOME` and `XDG_CACHE_HOME`; output goes to `out` and `err`; `connections
/// parse` without a value reads the process's stdin. Returns the exit status.
pub async fn run(
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    run_with_input(args, env, &mut std::io::stdin(), out, err).await
}

/// [`run`] with `input` as stdin.
pub async fn run_with_input(
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
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

impl From<LookupError> for Failure {
    fn from(e: LookupError) -> Self {
        let code = match &e {
            LookupError::InvalidConfiguration(_) | LookupError::InvalidRequest(_) => EXIT_USAGE,
            LookupError::MalformedPayload(_) => EXIT_MALFORMED,
            _ => EXIT_UPSTREAM,
        };
        Self { code, message: e.to_string() }
    }
}

fn write(out: &mut dyn Write, text: &str) -> Result<(), Failure> {
    out.write_all(text.as_bytes())
        .map_err(|e| Failure { code: EXIT_UPSTREAM, message: format!("cannot write the output: {e}") })
}

async fn execute(
    cli: Cli,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
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
    let backend_kwargs = effective_backend_kwargs(&cli.global)?;
    let dialect = cli.global.dialect.map_or_else(|| dialect_of(&backend_kwargs), Dialect::from);
    let provider = open_provider(&cli.global, &backend_kwargs, env).await?;
    match command {
        Command::Connections(ConnectionsCommand::Parse { .. }) => Err(Failure::usage("unreachable: handled above")),
        Command::Connections(ConnectionsCommand::Get { conn_id, team, output }) => {
            match provider.get_connection(&conn_id, team.as_deref()).await? {
                Some(conn) => {
                    write(out, &output::render_connection(&conn_id, &conn, dialect, output))?;
                    Ok(EXIT_FOUND)
                }
                None => {
                    let _ = writeln!(err, "Connection not found: the conn_id `{conn_id}` isn't defined");
                    Ok(EXIT_NOT_FOUND)
                }
            }
        }
        Command::Variables(VariablesCommand::Get { key, team }) => {
            match provider.get_variable(&key, team.as_deref()).await? {
                Some(value) => {
                    write(out, &format!("{value}\n"))?;
                    Ok(EXIT_FOUND)
                }
                None => {
                    let _ = writeln!(err, "Variable {key} does not exist");
                    Ok(EXIT_NOT_FOUND)
                }
            }
        }
        Command::Config(ConfigCommand::GetValue { key }) => match provider.get_config(&key).await? {
            Some(value) => {
                write(out, &format!("{value}\n"))?;
                Ok(EXIT_FOUND)
            }
            None => {
                let _ = writeln!(err, "The config key {key} is not found in the secrets backend.");
                Ok(EXIT_NOT_FOUND)
            }
        },
    }
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

/// The backend kwargs passed to the provider: `--backend-kwargs` with `dialect` set by `--dialect`.
fn effective_backend_kwargs(global: &GlobalArgs) -> Result<String, Failure> {
    let Some(dialect) = global.dialect else {
        return Ok(global.backend_kwargs.clone());
    };
    let dialect = Dialect::from(dialect).as_str();
    if global.backend_kwargs.trim().is_empty() {
        return Ok(format!(r#"{{"dialect": "{dialect}"}}"#));
    }
    match serde_json::from_str::<serde_json::Value>(&global.backend_kwargs) {
        Ok(serde_json::Value::Object(mut map)) => {
            map.insert("dialect".to_owned(), serde_json::Value::String(dialect.to_owned()));
            serde_json::to_string(&map).map_err(Failure::usage)
        }
        // Not an object: the provider's validation reports the problem.
        _ => Ok(global.backend_kwargs.clone()),
    }
}

/// The `dialect` of backend kwargs the provider accepted (server when absent).
fn dialect_of(backend_kwargs: &str) -> Dialect {
    serde_json::from_str::<serde_json::Value>(backend_kwargs)
        .ok()
        .and_then(|v| v.get("dialect").and_then(|d| d.as_str()).and_then(|d| d.parse().ok()))
        .unwrap_or_default()
}

/// The dialect of `connections parse`: `--dialect`, else a `dialect` key of `--backend-kwargs` (which must
/// then be valid), else server. Other backend kwargs are not looked at.
fn offline_dialect(global: &GlobalArgs) -> Result<Dialect, Failure> {
    if let Some(d) = global.dialect {
        return Ok(d.into());
    }
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(&global.backend_kwargs) else {
        return Ok(Dialect::Server);
    };
    match map.get("dialect") {
        None => Ok(Dialect::Server),
        Some(serde_json::Value::String(s)) if s == "server" || s == "worker" => s.parse().map_err(Failure::usage),
        Some(_) => {
            Err(Failure::usage("invalid configuration: `dialect` in backend_kwargs must be \"server\" or \"worker\""))
        }
    }
}

async fn open_provider(
    global: &GlobalArgs,
    backend_kwargs: &str,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<Provider, Failure> {
    let cache = match (&global.cache_dir, global.no_cache) {
        (_, true) => ArtifactCache::Disabled,
        (Some(dir), false) => ArtifactCache::Dir(dir.clone()),
        (None, false) => ArtifactCache::default_dir(env),
    };
    let component = match &global.component {
        Some(path) => ProviderComponent::from_file(path, &cache),
        None => ProviderComponent::from_bytes(
            wasm_secrets_artifacts::KUBERNETES_PROVIDER,
            "built-in kubernetes provider",
            &cache,
        ),
    }
    .map_err(Failure::usage)?;
    let cluster = match &global.kubeconfig {
        Some(path) => ClusterConfig::from_kubeconfig(path).await,
        None => ClusterConfig::in_cluster(&global.service_account_dir, env),
    }
    .map_err(Failure::usage)?;
    let options = ProviderOptions {
        lookup_timeout: Duration::from_secs(global.timeout.max(1)),
        log: Arc::new(|level, message| {
            let level = match level {
                LogLevel::Info => "INFO",
                LogLevel::Warning => "WARNING",
            };
            eprintln!("[{level}] {message}");
        }),
        ..ProviderOptions::default()
    };
    let provider = Provider::new(component, cluster, backend_kwargs, options).map_err(Failure::usage)?;
    provider.validate_config().await?;
    Ok(provider)
}
