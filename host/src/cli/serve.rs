//! `secrets serve`: the daemon's command line around [`crate::serve::Daemon`]: the socket, the signals
//! (SIGHUP reloads, SIGTERM and SIGINT drain and stop) and the provider log.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use airflow_compat::Dialect;
use clap::Args;

use super::{EXIT_FOUND, Environment, Failure, GlobalArgs, host_config, open_chain_with};
use crate::chain::Chain;
use crate::host_config::HostConfig;
use crate::serve::{BoundSocket, Daemon};
use crate::state::{LogLevel, LogSink};

const SERVE_AFTER_HELP: &str = "\
Endpoints (GET only; ids percent-encoded, `/` in an id as %2F; ?team=T on connections and variables):
  /v1/connections/ID         the connection: {\"conn_id\", \"conn_type\", \"description\", \"host\", \"schema\",
                             \"login\", \"password\", \"port\", \"extra\", \"uri\"}
  /v1/connections/ID/value   the stored value, as Airflow's get_conn_value returns it: {\"value\"}
  /v1/connections/ID/uri     the connection's URI (get_uri in --dialect): {\"uri\"}
  /v1/variables/KEY          {\"value\"}
  /v1/config/KEY             {\"value\"}
  /v1/secrets/GROUP/KEY      a Flyte secret: {\"value\"}
  /healthz  /readyz  /metrics (Prometheus text)
  Not found is 404; a refused caller 403; errors are JSON {\"error\": KIND, \"message\"} (502 upstream or
  access denied by the store, 503 unavailable, 504 timeout, 400 bad request).

Callers are identified by the socket's peer credentials and granted by uid or gid in the --config file's
[serve] section ([[serve.callers]] uid = N or gid = N, grants = [\"KIND:PATTERN\", ...], teams = [...],
or all = true; the grants of `secrets task run`). A peer no entry names (other than the daemon's own user)
has its connection closed unanswered; the daemon's own user, if no entry names it, is served /healthz,
/readyz and /metrics only (its probes). Without callers, the daemon's own user may read everything and
nobody else anything (refused when the daemon runs as root). The socket is mode 0600, or 0660 with
`[serve] socket_group = GID`; its directory must not be writable by others unless sticky. The audit log
(--audit-log) names each caller as `uid=U gid=G pid=P`.

With --listen 127.0.0.1:PORT the daemon also answers over TCP on that loopback address, to callers sending
`Authorization: Bearer TOKEN` with a token of `[[serve.tokens]]` (name = N, token_file = PATH, and grants,
teams or all = true as above; each token at least 32 characters, read at start and on every reload); the
audit log names them `token=N`. Without a valid token only /healthz and /readyz answer (else 401). Any
process of the node can reach the port, so at most 64 TCP connections are served at once, apart from the
socket's.

Signals: SIGHUP reloads the configuration file while serving (unchanged built-in providers with in-cluster
access are kept, with their live views; a configuration that cannot be opened is reported and the previous
one kept; socket_group and max_connections take effect on restart). SIGTERM or SIGINT stops accepting, lets requests in flight finish
(at most 10 s), removes the socket and exits 0. Exit status 2 when the daemon cannot start.

Example:
  secrets --config /etc/wasm-secrets/host.toml --audit-log /var/log/wasm-secrets/audit.jsonl serve --socket /run/wasm-secrets/secrets.sock
  curl --unix-socket /run/wasm-secrets/secrets.sock http://localhost/v1/variables/my_var
  secrets --config host.toml serve --socket /run/wasm-secrets/secrets.sock --listen 127.0.0.1:8765
  curl -H \"Authorization: Bearer $(cat /run/secrets/ci-token)\" http://127.0.0.1:8765/v1/variables/my_var";

#[derive(Debug, Args)]
#[command(after_help = SERVE_AFTER_HELP)]
pub(super) struct ServeArgs {
    /// The Unix socket to create (a stale one left by a daemon that died is replaced, a live one never).
    #[arg(long, value_name = "PATH")]
    socket: PathBuf,
    /// Also answer over TCP on this loopback address (`127.0.0.1:PORT` or `[::1]:PORT`; port 0 picks one, shown
    /// on stderr), to callers presenting a bearer token of `[[serve.tokens]]`. Every process of the node can
    /// reach the port: the token is what admits a caller.
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
}

/// What the daemon is started as, which every configuration it serves (at start and on reload) must allow.
#[derive(Debug, Clone, Copy)]
struct Started {
    /// The user it runs as.
    uid: u32,
    /// Its `--listen` address.
    listen: Option<std::net::SocketAddr>,
}

impl Started {
    /// Why `settings` cannot be served, if they cannot.
    fn problem(&self, settings: &crate::serve::ServeSettings) -> Option<String> {
        settings
            .problem(self.uid)
            .map(str::to_owned)
            .or_else(|| self.listen.and_then(|addr| listen_problem(addr, settings)))
    }
}

/// Why the daemon cannot listen on `addr` with `settings`, if it cannot: a TCP port is answered only on a
/// loopback address (a port on another address would serve the network) and only to bearer tokens.
fn listen_problem(addr: std::net::SocketAddr, settings: &crate::serve::ServeSettings) -> Option<String> {
    if !addr.ip().is_loopback() {
        return Some(format!(
            "--listen {addr}: only a loopback address is served (127.0.0.1:PORT or [::1]:PORT); the daemon is \
             node-local"
        ));
    }
    settings.tokens.is_empty().then(|| {
        format!(
            "--listen {addr}: TCP callers are admitted by bearer token only, and [serve] names none \
             ([[serve.tokens]] name = ..., token_file = ..., grants = [...])"
        )
    })
}

/// The host configuration with its `[serve]` token files read.
fn config_with_tokens(global: &GlobalArgs, env: &dyn Environment) -> Result<HostConfig, Failure> {
    let mut config = host_config(global, env)?;
    config.serve.load_tokens().map_err(Failure::usage)?;
    Ok(config)
}

/// Provider log records go to the process log as they come (a daemon has no end to print them at), with
/// control and invisible characters escaped: a provider is untrusted and must not forge the daemon's lines.
fn provider_log() -> LogSink {
    Arc::new(|level, message| {
        let message = crate::audit::escape_controls(message);
        match level {
            LogLevel::Info => tracing::info!("{message}"),
            LogLevel::Warning => tracing::warn!("{message}"),
        }
    })
}

/// Starts every live view and waits for its first lists, so the daemon is ready when it says so.
async fn start_live(chain: &Chain) {
    for link in chain.links() {
        link.provider.start_live().await;
    }
}

pub(super) async fn run(
    args: ServeArgs,
    global: &GlobalArgs,
    env: &dyn Environment,
    dialect: Dialect,
    err: &mut dyn Write,
) -> Result<(u8, Option<String>), Failure> {
    use tokio::signal::unix::{SignalKind, signal};
    let config = config_with_tokens(global, env)?;
    let uid = rustix::process::getuid().as_raw();
    let started = Started { uid, listen: args.listen };
    if let Some(problem) = started.problem(&config.serve) {
        return Err(Failure::usage(problem));
    }
    let audit = match &global.audit_log {
        Some(path) => Some(Arc::new(crate::audit::AuditLog::open(path).map_err(Failure::usage)?)),
        None => None,
    };
    let log = provider_log();
    let chain =
        open_chain_with(global, &config.chain, env, Arc::clone(&log), audit.clone(), None).await?.with_metrics();
    start_live(&chain).await;
    let handle = |kind| signal(kind).map_err(|e| Failure::usage(format_args!("cannot handle signals: {e}")));
    let (mut hangup, mut terminate, mut interrupt) =
        (handle(SignalKind::hangup())?, handle(SignalKind::terminate())?, handle(SignalKind::interrupt())?);
    let socket = BoundSocket::bind(&args.socket, config.serve.socket_group).map_err(Failure::usage)?;
    let tcp = match args.listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| Failure::usage(format_args!("--listen {addr}: cannot listen: {e}")))?,
        ),
        None => None,
    };
    let tcp_addr = match &tcp {
        Some(listener) => {
            let addr = listener.local_addr().map_err(|e| Failure::usage(format_args!("--listen: {e}")))?;
            format!(" and {addr} (TCP, bearer tokens)")
        }
        None => String::new(),
    };
    let daemon = Arc::new(Daemon::new(Arc::new(chain), config.serve.clone(), dialect, uid));
    let _ = writeln!(err, "secrets serve: listening on {}{tcp_addr} (configuration 1)", socket.path().display());
    let _ = err.flush();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut stop = Some(stop);
    // The daemon serves in its own task, so a reload (compiling components, listing live views) never stops it
    // accepting.
    let mut serving = tokio::spawn(Arc::clone(&daemon).serve(socket, tcp, async {
        let _ = stopped.await;
    }));
    type Reload<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = (HostConfig, Result<usize, Failure>)> + 'a>>;
    let mut reloading: Option<Reload<'_>> = None;
    let mut current = Some(config);
    // A SIGHUP during a reload: another reload once this one ends, so the latest file is the one served.
    let mut again = false;
    let served = loop {
        if again
            && reloading.is_none()
            && let Some(config) = current.take()
        {
            again = false;
            reloading = Some(Box::pin(reload(global, env, &log, audit.clone(), config, &daemon, started)));
        }
        tokio::select! {
            served = &mut serving => break served,
            _ = hangup.recv() => match current.take() {
                Some(config) => {
                    reloading = Some(Box::pin(reload(global, env, &log, audit.clone(), config, &daemon, started)));
                }
                None => {
                    again = true;
                    let _ = writeln!(err, "secrets serve: a reload is under way; another follows it");
                }
            },
            (config, outcome) = async {
                match reloading.as_mut() {
                    Some(reload) => reload.await,
                    None => std::future::pending().await,
                }
            } => {
                reloading = None;
                let line = match outcome {
                    Ok(kept) => format!(
                        "secrets serve: reloaded the configuration (configuration {}; {kept} of {} providers kept)",
                        daemon.generation(),
                        config.chain.providers.len()
                    ),
                    Err(failure) => {
                        daemon.reload_failed();
                        format!(
                            "secrets serve: reload failed, still serving the previous configuration: {}",
                            failure.message
                        )
                    }
                };
                current = Some(config);
                let _ = writeln!(err, "{line}");
                let _ = err.flush();
            }
            _ = terminate.recv() => { stop.take().map(|s| s.send(())); }
            _ = interrupt.recv() => { stop.take().map(|s| s.send(())); }
        }
    };
    if served.is_err() {
        return Err(Failure {
            code: super::EXIT_UPSTREAM,
            message: "the daemon failed (a bug: see the log)".to_owned(),
        });
    }
    // The serving task removed the socket when it ended.
    let _ = writeln!(err, "secrets serve: stopped");
    Ok((EXIT_FOUND, None))
}

/// Reads the configuration again and serves it, sharing every unchanged provider with the running chain.
/// Returns the configuration now served (`current` when the reload failed) and how many providers were kept.
async fn reload(
    global: &GlobalArgs,
    env: &dyn Environment,
    log: &LogSink,
    audit: Option<Arc<crate::audit::AuditLog>>,
    current: HostConfig,
    daemon: &Daemon,
    started: Started,
) -> (HostConfig, Result<usize, Failure>) {
    let opened = async {
        let next = config_with_tokens(global, env)?;
        if let Some(problem) = started.problem(&next.serve) {
            return Err(Failure::usage(problem));
        }
        let running = daemon.chain();
        let chain = open_chain_with(global, &next.chain, env, Arc::clone(log), audit, Some((&current.chain, &running)))
            .await?
            .with_metrics();
        start_live(&chain).await;
        Ok((next, chain, running))
    };
    match opened.await {
        Ok((next, chain, running)) => {
            if next.serve.socket_group != current.serve.socket_group
                || next.serve.max_connections() != current.serve.max_connections()
            {
                tracing::warn!(
                    "secrets serve: [serve] socket_group and max_connections take effect when the daemon restarts"
                );
            }
            let kept = chain
                .links()
                .iter()
                .filter(|l| running.links().iter().any(|r| r.provider.is_shared_with(&l.provider)))
                .count();
            daemon.replace(Arc::new(chain), next.serve.clone());
            (next, Ok(kept))
        }
        Err(failure) => (current, Err(failure)),
    }
}

/// `probe`'s endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum ProbeEndpoint {
    /// `/readyz`: configuration open and live views listed.
    Readyz,
    /// `/healthz`: the process serves.
    Healthz,
}

#[derive(Debug, Args)]
pub(super) struct ProbeArgs {
    /// The daemon's socket.
    #[arg(long, value_name = "PATH")]
    socket: PathBuf,
    /// What to ask.
    #[arg(long, value_enum, default_value_t = ProbeEndpoint::Readyz)]
    endpoint: ProbeEndpoint,
}

/// `probe`: GET the endpoint within `--timeout`; prints the answer's body.
pub(super) async fn probe(
    args: ProbeArgs,
    global: &GlobalArgs,
    out: &mut dyn Write,
) -> Result<(u8, Option<String>), Failure> {
    let client = crate::serve::client::DaemonClient::new(&args.socket, std::time::Duration::from_secs(global.timeout));
    let target = match args.endpoint {
        ProbeEndpoint::Readyz => "/readyz",
        ProbeEndpoint::Healthz => "/healthz",
    };
    match client.get(target).await {
        Ok((200, body)) => {
            let _ = writeln!(out, "{}", String::from_utf8_lossy(&body));
            Ok((EXIT_FOUND, None))
        }
        Ok((status, _)) => {
            Err(Failure { code: super::EXIT_NOT_FOUND, message: format!("the daemon answered {status} to {target}") })
        }
        Err(e) => Err(Failure { code: super::EXIT_NOT_FOUND, message: e.to_string() }),
    }
}
