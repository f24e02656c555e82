//! The `secrets` command line, as a library function so it can be tested in-process.
//!
//! It mirrors Airflow's CLI checks (`airflow connections get`, `airflow variables get`,
//! `airflow config get-value`) against any provider component, by default the built-in Kubernetes provider.

mod output;

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

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
/// Exit status: the stored value is malformed (bad base64, invalid connection URI or JSON).
pub const EXIT_MALFORMED: u8 = 4;

const AFTER_HELP: &str = "\
Exit status:
  0  found: the value is printed on stdout
  1  not found (message on stderr)
  2  usage or configuration error (flags, backend kwargs, cluster settings, component)
  3  upstream error: access denied, API server unreachable or failing, timeout, provider failure
  4  the stored value is malformed (bad base64, invalid connection URI or JSON)

Configuration:
  In a pod, the API server comes from KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT and the service
  account's token, ca.crt and namespace files. Outside a cluster, pass --kubeconfig.
  --backend-kwargs takes Airflow's KubernetesSecretsBackend backend_kwargs JSON, for example
  '{\"namespace\": \"airflow\", \"variables_label\": null}'.";

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
/// `KUBERNETES_SERVICE_PORT`, `HOME` and `XDG_CACHE_HOME`; output goes to `out` and `err`. Returns the exit
/// status.
pub async fn run(
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
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
    match execute(cli, env, out, err).await {
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

async fn execute(
    cli: Cli,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Failure> {
    let provider = open_provider(&cli.global, env).await?;
    let write = |out: &mut dyn Write, text: &str| {
        out.write_all(text.as_bytes())
            .map_err(|e| Failure { code: EXIT_UPSTREAM, message: format!("cannot write the output: {e}") })
    };
    match cli.command {
        Command::Connections(ConnectionsCommand::Get { conn_id, team, output }) => {
            match provider.get_connection(&conn_id, team.as_deref()).await? {
                Some(conn) => {
                    write(out, &output::render_connection(&conn_id, &conn, output))?;
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

async fn open_provider(
    global: &GlobalArgs,
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
    let provider = Provider::new(component, cluster, &global.backend_kwargs, options).map_err(Failure::usage)?;
    provider.validate_config().await?;
    Ok(provider)
}
