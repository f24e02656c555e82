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
use crate::serve::{BoundSocket, Daemon, ServeSettings};
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

With --listen 127.0.0.1:PORT the daemon also answers over TCP on that loopback address (and the same port of
the other loopback address), to callers sending `Authorization: Bearer TOKEN` with a token of
`[[serve.tokens]]` (name = N, token_file = PATH, and grants, teams or all = true as above; a file mode 0600 or
0400 holding at least 32 characters; read at start and on every reload, so deleting a file or removing its
entry, then SIGHUP, revokes its token); the audit log names them `token=N`. Without a valid token only /healthz and /readyz
answer (else 401), and the connection is closed. Any process of the node can reach the port, so at most 64
TCP connections are served at once, apart from the socket's; and any process may take the port while the
daemon is down: prefer a port below 1024, name it literally and keep it out of proxies (docs/serve.md).

Signals: SIGHUP reloads the configuration file while serving (unchanged built-in providers with in-cluster
access are kept, with their live views; a configuration that cannot be opened is reported and the previous
one kept; socket_group and max_connections take effect on restart). SIGTERM or SIGINT stops accepting, lets requests in flight finish
(at most 10 s), removes the socket and exits 0. Exit status 2 when the daemon cannot start.

Example:
  secrets --config /etc/wasm-secrets/host.toml --audit-log /var/log/wasm-secrets/audit.jsonl serve --socket /run/wasm-secrets/secrets.sock
  curl --unix-socket /run/wasm-secrets/secrets.sock http://localhost/v1/variables/my_var
  secrets --config host.toml serve --socket /run/wasm-secrets/secrets.sock --listen 127.0.0.1:875
  curl -H \"Authorization: Bearer $(cat /run/secrets/ci-token)\" http://127.0.0.1:875/v1/variables/my_var";

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
        settings.problem(self.uid).map(str::to_owned)
    }
}

/// Why the daemon cannot start listening on `addr` with `settings`, if it cannot: a TCP port is answered only
/// on `127.0.0.1` or `[::1]` (a port on another address would serve the network; another address of 127/8
/// would leave `127.0.0.1`, where clients naming `localhost` connect, to whoever takes it) and only to bearer
/// tokens. (A reload may remove every token: that is how the last one is revoked.)
fn listen_problem(addr: std::net::SocketAddr, settings: &crate::serve::ServeSettings) -> Option<String> {
    use std::net::{Ipv4Addr, Ipv6Addr};
    if addr.ip() != Ipv4Addr::LOCALHOST && addr.ip() != Ipv6Addr::LOCALHOST {
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

impl Started {
    /// Reads the `[serve]` token files of `settings` when the daemon listens on TCP (without `--listen` they
    /// admit nobody and are not read). Returns what was wrong with them (those entries admit nobody).
    fn load_tokens(&self, settings: &mut crate::serve::ServeSettings) -> Vec<String> {
        if self.listen.is_none() {
            return Vec::new();
        }
        settings.load_tokens().iter().map(ToString::to_string).collect()
    }

    /// [`Started::load_tokens`] on reload, as the lines stderr shows: an entry with a problem admits nobody, and
    /// a configuration without tokens refuses every TCP read.
    fn reload_tokens(&self, settings: &mut crate::serve::ServeSettings) -> Vec<String> {
        let mut lines: Vec<String> = self
            .load_tokens(settings)
            .into_iter()
            .map(|problem| format!("{problem} (the entry admits nobody until that is fixed and the daemon reloaded)"))
            .collect();
        if self.listen.is_some() && settings.tokens.is_empty() {
            lines.push("[serve] names no tokens: every TCP read is refused (401)".to_owned());
        }
        lines
    }
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
    let mut config = host_config(global, env)?;
    let uid = rustix::process::getuid().as_raw();
    let started = Started { uid, listen: args.listen };
    if let Some(problem) = started.problem(&config.serve) {
        return Err(Failure::usage(problem));
    }
    if let Some(problem) = args.listen.and_then(|addr| listen_problem(addr, &config.serve)) {
        return Err(Failure::usage(problem));
    }
    // At start every token must be usable; on reload, an entry whose token is not admits nobody.
    let problems = started.load_tokens(&mut config.serve);
    if !problems.is_empty() {
        return Err(Failure::usage(problems.join("; ")));
    }
    if args.listen.is_none() && !config.serve.tokens.is_empty() {
        let _ = writeln!(err, "secrets serve: [serve] tokens admit nobody without --listen (their files are not read)");
    }
    raise_open_files_limit(crate::serve::descriptors_needed(&config.serve, args.listen.is_some()), err);
    let audit = super::open_audit(global)?;
    let log = provider_log();
    let chain =
        open_chain_with(global, &config.chain, env, Arc::clone(&log), audit.clone(), None).await?.with_metrics();
    start_live(&chain).await;
    let handle = |kind| signal(kind).map_err(|e| Failure::usage(format_args!("cannot handle signals: {e}")));
    let (mut hangup, mut terminate, mut interrupt) =
        (handle(SignalKind::hangup())?, handle(SignalKind::terminate())?, handle(SignalKind::interrupt())?);
    let socket = BoundSocket::bind(&args.socket, config.serve.socket_group).map_err(Failure::usage)?;
    let tcp = match args.listen {
        Some(addr) => listen(addr, err).await?,
        None => Vec::new(),
    };
    let tcp_addr: String = tcp
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .map(|addr| format!(" and {addr}"))
        .chain((!tcp.is_empty()).then(|| " (TCP, bearer tokens)".to_owned()))
        .collect();
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
    type Reload<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Reloaded> + 'a>>;
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
            Reloaded { config, outcome, problems } = async {
                match reloading.as_mut() {
                    Some(reload) => reload.await,
                    None => std::future::pending().await,
                }
            } => {
                reloading = None;
                for problem in problems {
                    let _ = writeln!(err, "secrets serve: {problem}");
                }
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

/// What a reload did.
struct Reloaded {
    /// The configuration now served (the previous one when the reload failed).
    config: HostConfig,
    /// How many providers were kept, or why the reload failed.
    outcome: Result<usize, Failure>,
    /// What was wrong with the tokens read (stderr lines).
    problems: Vec<String>,
}

/// Reads the configuration again and serves it, sharing every unchanged provider with the running chain. The
/// token files are read again even when the rest fails to open, so that deleting or rewriting one always takes
/// effect (tokens are revoked or rotated by their files).
async fn reload(
    global: &GlobalArgs,
    env: &dyn Environment,
    log: &LogSink,
    audit: Option<Arc<crate::audit::AuditLog>>,
    current: HostConfig,
    daemon: &Daemon,
    started: Started,
) -> Reloaded {
    let mut problems = Vec::new();
    // The token entries of the new file, once it parsed: a reload that fails later still drops the others.
    let mut named_tokens: Option<Vec<String>> = None;
    let opened = async {
        let mut next = host_config(global, env)?;
        named_tokens = Some(next.serve.tokens.iter().map(|t| t.name.clone()).collect());
        if let Some(problem) = started.problem(&next.serve) {
            return Err(Failure::usage(problem));
        }
        problems = started.reload_tokens(&mut next.serve);
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
            Reloaded { config: next, outcome: Ok(kept), problems }
        }
        Err(failure) => {
            // Tokens are revoked by their files and their entries: read the served entries' files again, and keep
            // only the entries the new file still names (when it could be read).
            let generation = daemon.generation();
            let mut settings = ServeSettings::clone(&daemon.settings());
            if let Some(names) = named_tokens {
                settings.tokens.retain(|t| names.contains(&t.name));
            }
            let problems = started.reload_tokens(&mut settings);
            daemon.refresh_tokens(generation, settings.tokens);
            Reloaded { config: current, outcome: Err(failure), problems }
        }
    }
}

/// Listens on `addr` (a loopback address: [`listen_problem`]) and on the same port of the other loopback
/// address (`[::1]` for `127.0.0.1`, and back), so that no other user can take that one and collect the tokens
/// of clients that name `localhost` (which may resolve to either). Where the other family is not available the
/// daemon listens on `addr` only; where another process holds it, the daemon does not start. Warns when the
/// port is one any user may take while the daemon is not running.
async fn listen(addr: std::net::SocketAddr, err: &mut dyn Write) -> Result<Vec<tokio::net::TcpListener>, Failure> {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
    let cannot = |at: SocketAddr, e: std::io::Error| Failure::usage(format_args!("--listen {at}: cannot listen: {e}"));
    let other_ip = match addr.ip() {
        IpAddr::V4(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        IpAddr::V6(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    // Port 0: the port picked for `addr` may be in use on the other address; a few tries pick another.
    let tries = if addr.port() == 0 { 8 } else { 1 };
    for _ in 0..tries {
        let first = bind_only(addr).map_err(|e| cannot(addr, e))?;
        let port = first.local_addr().map_err(|e| cannot(addr, e))?.port();
        let other = SocketAddr::new(other_ip, port);
        let listeners = match bind_only(other) {
            Ok(second) => vec![first, second],
            // No such address family here (no IPv6, or no IPv4 loopback): nobody can listen there either.
            Err(e)
                if matches!(
                    rustix::io::Errno::from_io_error(&e),
                    Some(rustix::io::Errno::AFNOSUPPORT | rustix::io::Errno::ADDRNOTAVAIL)
                ) =>
            {
                vec![first]
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && addr.port() == 0 => continue,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                return Err(Failure::usage(format_args!(
                    "--listen {addr}: another process listens on {other}, where clients naming `localhost` may \
                     connect and send it their tokens"
                )));
            }
            Err(e) => return Err(cannot(other, e)),
        };
        let start = unprivileged_port_start();
        if port >= start {
            let _ = writeln!(
                err,
                "secrets serve: warning: any process of this network namespace may listen on port {port} while the \
                 daemon is not running, and receive the tokens clients send; a port below {start} is safer \
                 (docs/serve.md)"
            );
        }
        return Ok(listeners);
    }
    Err(Failure::usage(format_args!("--listen {addr}: no port was free on both loopback addresses")))
}

/// A listener on `addr` alone (for `[::1]`, IPv6 only, which `::1` is anyway).
fn bind_only(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = match addr {
        std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Raises the soft open-file limit to the `needed` descriptors ([`crate::serve::raised_open_files_limit`]),
/// and warns when the limit stays below them: connections past it would wait in the backlog while accept fails.
fn raise_open_files_limit(needed: u64, err: &mut dyn Write) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let mut soft = limit.current;
    if let Some(target) = crate::serve::raised_open_files_limit(limit.current, limit.maximum, needed) {
        match setrlimit(Resource::Nofile, Rlimit { current: Some(target), maximum: limit.maximum }) {
            Ok(()) => soft = Some(target),
            Err(e) => {
                let _ = writeln!(err, "secrets serve: warning: cannot raise the open-file limit to {target}: {e}");
            }
        }
    }
    if let Some(soft) = soft.filter(|&soft| soft < needed) {
        let _ = writeln!(
            err,
            "secrets serve: warning: the open-file limit is {soft}, and the connections the daemon serves at \
             once ([serve] max_connections, and TCP with --listen) need about {needed} descriptors: connections \
             past the limit wait until others close (raise `ulimit -n`, systemd's LimitNOFILE or the container's \
             limit)"
        );
    }
}

/// The lowest port an unprivileged process may listen on (`net.ipv4.ip_unprivileged_port_start`, 1024 when it
/// cannot be read).
fn unprivileged_port_start() -> u16 {
    crate::files::read_regular_text(std::path::Path::new("/proc/sys/net/ipv4/ip_unprivileged_port_start"), 64)
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(1024)
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
