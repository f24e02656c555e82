//! `secrets exec`: resolve secrets, then run a command with them in its environment or in files, as Airflow's
//! environment backend and flytekit read them ([`crate::exec`]). The process edge: the secrets directory,
//! the child, forwarded signals, clean-up.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use airflow_compat::Dialect;
use clap::Args;

use super::{Environment, Failure, GlobalArgs, Records, chain_spec, open_chain};
use crate::exec::{Injection, Target, targets};
use crate::serve::client::DaemonClient;
use crate::serve::route::Read;

/// Exit status: `secrets exec` failed before the command started (as `env(1)`).
pub const EXIT_EXEC_FAILED: u8 = 125;
/// Exit status: the command was found but could not be started.
pub const EXIT_CANNOT_INVOKE: u8 = 126;
/// Exit status: the command was not found.
pub const EXIT_COMMAND_NOT_FOUND: u8 = 127;

const EXEC_AFTER_HELP: &str = "\
What the command gets (the names Airflow's environment backend and flytekit read):
  --connection ID            AIRFLOW_CONN_{ID} = the connection's URI (get_uri in --dialect; with --socket,
                             the daemon's dialect)
  --variable KEY             AIRFLOW_VAR_{KEY} = the variable
  --secret GROUP/KEY         _FSEC_{GROUP}_{KEY} = the Flyte secret (or GROUP/KEY:env)
  --secret GROUP/KEY:file    the file <dir>/<group>/<key> (lowercased), with FLYTE_SECRETS_DEFAULT_DIR=<dir>
  Ids are uppercased as Python's str.upper() does. The secrets directory is created mode 0700 under --dir
  (default: $XDG_RUNTIME_DIR, else /dev/shm, else the system's temporary directory; a directory others may
  write to must be sticky), its files 0600, and it is removed when the command ends (not after SIGKILL).
  Every secret is resolved before the command starts: if one is missing or its lookup fails, the command is
  not started. Nothing of the values is printed. SIGTERM, SIGINT, SIGHUP and SIGQUIT are passed on to the
  command. FLYTE_SECRETS_ENV_PREFIX and FLYTE_SECRETS_FILE_PREFIX are removed from its environment.

Exit status: the command's (128+N when signal N ended it); 125 when `secrets exec` failed before starting
it (a secret not found, a lookup that failed, the secrets directory; the reason is on stderr); 2 for bad
flags or a configuration file that cannot be read; 126 when the command could not be started; 127 when it
was not found.

Examples:
  secrets --config host.toml exec --connection my_db --variable region -- python etl.py
  secrets exec --socket /run/wasm-secrets/secrets.sock --secret aws-creds/secret_key:file -- ./task.sh";

#[derive(Debug, Args)]
#[command(after_help = EXEC_AFTER_HELP)]
pub(super) struct ExecArgs {
    /// A connection to set as AIRFLOW_CONN_{ID}, in its URI form. Repeatable.
    #[arg(long = "connection", value_name = "ID")]
    connections: Vec<String>,
    /// A variable to set as AIRFLOW_VAR_{KEY}. Repeatable.
    #[arg(long = "variable", value_name = "KEY")]
    variables: Vec<String>,
    /// A Flyte secret: GROUP/KEY (environment variable _FSEC_{GROUP}_{KEY}), GROUP/KEY:env or GROUP/KEY:file.
    /// Repeatable.
    #[arg(long = "secret", value_name = "GROUP/KEY[:env|:file]", value_parser = parse_injection)]
    secrets: Vec<Injection>,
    /// Look connections and variables up for this team first (Airflow multi-team), then globally.
    #[arg(long)]
    team: Option<String>,
    /// Ask the daemon (`secrets serve`) at this socket instead of opening the providers.
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Where the secrets directory of file secrets is created [default: $XDG_RUNTIME_DIR, else /dev/shm, else
    /// the system's temporary directory].
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// The command and its arguments (after `--`).
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
}

fn parse_injection(text: &str) -> Result<Injection, String> {
    text.parse().map_err(|e: crate::exec::InjectionError| e.to_string())
}

fn failed(message: impl std::fmt::Display) -> Failure {
    Failure { code: EXIT_EXEC_FAILED, message: format!("{message}; the command was not started") }
}

/// How the secrets are resolved: through the providers or through the daemon.
enum Source {
    Chain(Box<crate::chain::Chain>, Dialect),
    Daemon(DaemonClient),
}

impl Source {
    /// The value of `injection` (a connection's URI), `None` when not found.
    async fn resolve(&self, injection: &Injection, team: Option<&str>) -> Result<Option<String>, Failure> {
        match self {
            Self::Chain(chain, dialect) => {
                let found = match injection {
                    Injection::Connection(id) => {
                        chain.get_connection(id, team).await.map(|c| c.map(|c| c.get_uri(*dialect)))
                    }
                    Injection::Variable(key) => chain.get_variable(key, team).await.map(|v| v.map(|v| v.to_string())),
                    Injection::Secret { group, key, .. } => {
                        chain.get_secret(group, key).await.map(|v| v.map(|v| v.to_string()))
                    }
                };
                found.map_err(|e| failed(format_args!("{}: {e}", describe(injection))))
            }
            Self::Daemon(client) => {
                let (read, team) = match injection {
                    Injection::Connection(id) => (Read::ConnUri(id.clone()), team),
                    Injection::Variable(key) => (Read::Variable(key.clone()), team),
                    Injection::Secret { group, key, .. } => {
                        (Read::Secret { group: group.clone(), key: key.clone() }, None)
                    }
                };
                client.read(&read, team).await.map_err(|e| failed(format_args!("{}: {e}", describe(injection))))
            }
        }
    }
}

/// How messages name a request (the operator's own words).
fn describe(injection: &Injection) -> String {
    match injection {
        Injection::Connection(id) => format!("connection `{id}`"),
        Injection::Variable(key) => format!("variable `{key}`"),
        Injection::Secret { group, key, .. } => format!("secret `{group}/{key}`"),
    }
}

pub(super) async fn run(
    args: ExecArgs,
    global: &GlobalArgs,
    env: &dyn Environment,
    records: Arc<std::sync::Mutex<Records>>,
    dialect: Dialect,
    err: &mut dyn Write,
) -> Result<(u8, Option<String>), Failure> {
    let injections: Vec<Injection> = args
        .connections
        .into_iter()
        .map(Injection::Connection)
        .chain(args.variables.into_iter().map(Injection::Variable))
        .chain(args.secrets)
        .collect();
    let targets = targets(&injections).map_err(failed)?;
    let source = match &args.socket {
        Some(socket) => Source::Daemon(DaemonClient::new(socket, std::time::Duration::from_secs(global.timeout))),
        None => {
            let spec = chain_spec(global, env).map_err(|f| failed(f.message))?;
            let chain = open_chain(global, &spec, env, records).await.map_err(|f| failed(f.message))?;
            Source::Chain(Box::new(chain), dialect)
        }
    };
    let mut values = Vec::with_capacity(injections.len());
    for (injection, target) in injections.iter().zip(targets) {
        let value = source
            .resolve(injection, args.team.as_deref())
            .await?
            .ok_or_else(|| failed(format_args!("{} was not found", describe(injection))))?;
        if matches!(target, Target::Env(_)) && value.contains('\0') {
            return Err(failed(format_args!(
                "{} holds a NUL byte, which no environment variable can",
                describe(injection)
            )));
        }
        values.push((target, value));
    }
    // From here on the secrets directory may exist: a signal is passed on to the command (once it runs) instead
    // of ending this process before it removes the directory.
    let signals = Signals::install();
    let needs_dir = values.iter().any(|(t, _)| matches!(t, Target::File(_)));
    let dir = match needs_dir {
        true => Some(SecretsDir::create(&args.dir.unwrap_or_else(|| default_dir(env))).map_err(failed)?),
        false => None,
    };
    let mut command = std::process::Command::new(&args.command[0]);
    command.args(&args.command[1..]);
    for (target, value) in &values {
        match target {
            Target::Env(name) => {
                command.env(name, value);
            }
            Target::File(relative) => {
                if let Some(dir) = &dir {
                    dir.write(relative, value.as_bytes()).map_err(failed)?;
                }
            }
        }
    }
    // The names above are flytekit's defaults: an inherited prefix would make flytekit look elsewhere.
    command.env_remove("FLYTE_SECRETS_ENV_PREFIX").env_remove("FLYTE_SECRETS_FILE_PREFIX");
    if let Some(dir) = &dir {
        command.env("FLYTE_SECRETS_DEFAULT_DIR", &dir.path);
    }
    drop(values);
    let code = run_child(command, &args.command[0], signals, err).await;
    drop(dir);
    Ok((code, None))
}

/// Where the secrets directory goes without `--dir`: the user's runtime directory (`$XDG_RUNTIME_DIR`, private
/// and in memory), else `/dev/shm` (in memory), else the system's temporary directory.
fn default_dir(env: &dyn Environment) -> PathBuf {
    let runtime = env.var("XDG_RUNTIME_DIR").map(PathBuf::from).filter(|d| d.is_absolute() && d.is_dir());
    let shm = Some(PathBuf::from("/dev/shm")).filter(|d| d.is_dir());
    runtime.or(shm).unwrap_or_else(std::env::temp_dir)
}

/// The signals passed on to the command: SIGTERM, SIGINT, SIGHUP and SIGQUIT. Installed before the secrets
/// directory is created, so none of them ends this process while the directory exists.
struct Signals([Option<tokio::signal::unix::Signal>; 4]);

impl Signals {
    const KINDS: [(i32, rustix::process::Signal); 4] = [
        (15, rustix::process::Signal::TERM),
        (2, rustix::process::Signal::INT),
        (1, rustix::process::Signal::HUP),
        (3, rustix::process::Signal::QUIT),
    ];

    fn install() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        Self(Self::KINDS.map(|(raw, _)| signal(SignalKind::from_raw(raw)).ok()))
    }

    /// The next signal received.
    async fn next(&mut self) -> rustix::process::Signal {
        let [term, int, hup, quit] = &mut self.0;
        async fn one(signal: &mut Option<tokio::signal::unix::Signal>) {
            match signal {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            () = one(term) => Self::KINDS[0].1,
            () = one(int) => Self::KINDS[1].1,
            () = one(hup) => Self::KINDS[2].1,
            () = one(quit) => Self::KINDS[3].1,
        }
    }
}

/// Runs the command to its end, passing `signals` on; its exit status.
async fn run_child(mut command: std::process::Command, program: &str, mut signals: Signals, err: &mut dyn Write) -> u8 {
    use std::os::unix::process::ExitStatusExt as _;
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            let code =
                if e.kind() == std::io::ErrorKind::NotFound { EXIT_COMMAND_NOT_FOUND } else { EXIT_CANNOT_INVOKE };
            let _ = writeln!(err, "error: cannot run `{program}`: {e}");
            return code;
        }
    };
    let pid = i32::try_from(child.id()).ok().and_then(rustix::process::Pid::from_raw);
    let forward = |signal: rustix::process::Signal| {
        if let Some(pid) = pid {
            let _ = rustix::process::kill_process(pid, signal);
        }
    };
    let waiting = tokio::task::spawn_blocking(move || child.wait());
    tokio::pin!(waiting);
    let status = loop {
        tokio::select! {
            status = &mut waiting => break status,
            signal = signals.next() => forward(signal),
        }
    };
    match status {
        Ok(Ok(status)) => match (status.code(), status.signal()) {
            (Some(code), _) => u8::try_from(code).unwrap_or(1),
            (None, Some(signal)) => u8::try_from(128 + signal).unwrap_or(255),
            (None, None) => 1,
        },
        Ok(Err(e)) => {
            let _ = writeln!(err, "error: waiting for `{program}` failed: {e}");
            EXIT_CANNOT_INVOKE
        }
        Err(_) => EXIT_CANNOT_INVOKE,
    }
}

/// The private directory of file secrets: mode 0700, files 0600, removed with everything in it when dropped.
struct SecretsDir {
    path: PathBuf,
}

impl SecretsDir {
    fn create(parent: &Path) -> Result<Self, String> {
        use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
        // In a directory others may write to without the sticky bit, another user could rename ours and put
        // their own in its place between our writes and the command's reads.
        let mode = std::fs::metadata(parent)
            .map_err(|e| format!("cannot use {} for the secrets directory: {e}", parent.display()))?
            .permissions()
            .mode();
        if mode & 0o022 != 0 && mode & 0o1000 == 0 {
            return Err(format!(
                "{} is writable by other users and not sticky: the secrets directory could be replaced there; \
                 use --dir with a private directory",
                parent.display()
            ));
        }
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        for attempt in 0..100u32 {
            let path = parent.join(format!("wasm-secrets-exec.{}.{nanos:x}.{attempt}", std::process::id()));
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(Self { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(format!("cannot create the secrets directory in {}: {e}", parent.display())),
            }
        }
        Err(format!("cannot create the secrets directory in {}: every name tried exists", parent.display()))
    }

    /// Writes `value` to `relative` (`<group>/<key>`, both plain names, [`crate::exec`]).
    fn write(&self, relative: &Path, value: &[u8]) -> Result<(), String> {
        use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
        let path = self.path.join(relative);
        let problem = |e: std::io::Error| format!("cannot write the secret file {}: {e}", path.display());
        if let Some(group) = path.parent() {
            match std::fs::DirBuilder::new().mode(0o700).create(group) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(problem(e)),
            }
        }
        let mut file =
            std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).map_err(problem)?;
        file.write_all(value).map_err(problem)
    }
}

impl Drop for SecretsDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
