//! `secrets serve`: one daemon per node answering every local process over a Unix socket (docs/serve.md).
//!
//! Why a daemon: Airflow runs each task in its own process and caches secrets per process, so N task processes
//! ask the store N times for one connection. One daemon holds the provider chain, its cache and live views,
//! and every process on the node asks it. Callers are identified by the kernel (the socket's peer
//! credentials), granted by uid or gid ([`access`]), and audited by uid, gid and pid.
//!
//! With `--listen`, it also answers on a TCP port of a loopback address. Every process of the node can reach
//! that port and the kernel says nothing trustworthy about who they are, so there a caller is whoever presents
//! a bearer token of `[[serve.tokens]]` (`Authorization: Bearer TOKEN`), with that entry's grants; only
//! `/healthz` and `/readyz` answer without one. TCP connections have their own, smaller, pool of slots, so
//! processes holding TCP connections open never keep Unix-socket callers waiting.
//!
//! This module is the I/O edge (the socket, HTTP/1.1 through hyper, draining); [`route`] and [`access`] are
//! the pure rules. Everything is bounded: connections served at once, the request head's size and time, a
//! connection's lifetime, requests carry no body, and a lookup is bounded by the chain's own time limits.

pub mod access;
pub mod client;
pub mod route;
mod socket;

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use airflow_compat::Dialect;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Body as _;
use hyper_util::rt::{TokioIo, TokioTimer};

use access::Refusal;
pub use access::{Admission, Peer, ServeSettings};
pub use socket::{BoundSocket, SocketError};

use crate::chain::Chain;
use route::{Reply, Route};

/// The longest a caller may take to send a request's head.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a connection is kept (it is then closed after its request in flight).
pub const MAX_CONNECTION_TIME: Duration = Duration::from_secs(30);
/// The most bytes of a request head hyper buffers (hyper's smallest allowed buffer).
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Connections served at once to peers that run as the daemon's user but that no grant names (its probes).
pub const MAX_PROBE_CONNECTIONS: usize = 4;
/// How long a stopping daemon waits for the requests in flight.
pub const DRAIN_TIME: Duration = Duration::from_secs(10);
/// TCP connections (`--listen`) served at once; one more is closed at once. Anyone on the node can open them,
/// so they do not share the Unix socket's slots.
pub const MAX_TCP_CONNECTIONS: usize = 64;

/// Descriptors the daemon holds besides its connections' own: its listeners, the audit log, the providers'
/// connections to their APIs and the live views' watches, files being read, and connections being refused.
pub const DESCRIPTOR_HEADROOM: u64 = 256;

/// The open-file limit the daemon needs: a descriptor for every connection it serves at once on the socket
/// (`max_connections`; its probes' connections take one of those slots too) and, with `--listen`, over TCP,
/// plus [`DESCRIPTOR_HEADROOM`].
pub fn descriptors_needed(settings: &ServeSettings, tcp: bool) -> u64 {
    let tcp = if tcp { MAX_TCP_CONNECTIONS } else { 0 };
    let connections = settings.max_connections().saturating_add(tcp);
    u64::try_from(connections).unwrap_or(u64::MAX).saturating_add(DESCRIPTOR_HEADROOM)
}

/// The soft open-file limit to set when the limits are `soft` and `hard` (`None`: unlimited) and `needed`
/// descriptors are: `needed`, or the hard limit when that is lower; `None` when the soft limit is enough or
/// cannot be raised. The usual soft limit is 1024 (the hard one far higher, systemd's 524288): with
/// `max_connections = 4096`, accept would fail with EMFILE long before the daemon's own bound.
pub fn raised_open_files_limit(soft: Option<u64>, hard: Option<u64>, needed: u64) -> Option<u64> {
    let soft = soft?;
    let target = hard.map_or(needed, |hard| hard.min(needed));
    (target > soft).then_some(target)
}

/// HTTP statuses counted in `wasm_secrets_serve_requests_total`.
const COUNTED_STATUSES: [u16; 13] = [200, 400, 401, 403, 404, 405, 413, 414, 500, 502, 503, 504, 0];

/// Where a request came from, and so how its caller is known.
#[derive(Debug, Clone, Copy)]
pub enum Origin<'a> {
    /// The Unix socket: the peer's credentials, admitted once for the connection.
    Socket {
        /// The peer.
        peer: &'a Peer,
        /// How it is served.
        admission: Admission,
    },
    /// The TCP listener: the `[[serve.tokens]]` entry the request's `Authorization` header names
    /// ([`ServeSettings::token_entry`] of the settings the request is answered with), if it names one.
    Tcp {
        /// The entry.
        token: Option<&'a access::TokenGrant>,
    },
}

/// What the daemon serves: a chain and who may read from it. Replaced whole on reload, so a request sees one
/// configuration from start to end.
struct Served {
    chain: Arc<Chain>,
    settings: Arc<ServeSettings>,
    generation: u64,
}

/// The daemon's state, shared by every connection.
pub struct Daemon {
    served: RwLock<Arc<Served>>,
    dialect: Dialect,
    daemon_uid: u32,
    draining: AtomicBool,
    requests: [AtomicU64; COUNTED_STATUSES.len()],
    reloads: AtomicU64,
    reload_failures: AtomicU64,
    refused_connections: AtomicU64,
    refused_tcp_connections: AtomicU64,
}

/// The chain and the counters only.
impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon").field("generation", &self.generation()).field("dialect", &self.dialect).finish()
    }
}

impl Daemon {
    /// A daemon answering from `chain` for the callers `settings` grants, with connection URIs in `dialect`.
    /// `daemon_uid` is the user the daemon runs as (granted everything when `settings` names no caller).
    pub fn new(chain: Arc<Chain>, settings: ServeSettings, dialect: Dialect, daemon_uid: u32) -> Self {
        Self {
            served: RwLock::new(Arc::new(Served { chain, settings: Arc::new(settings), generation: 1 })),
            dialect,
            daemon_uid,
            draining: AtomicBool::new(false),
            requests: Default::default(),
            reloads: AtomicU64::new(0),
            reload_failures: AtomicU64::new(0),
            refused_connections: AtomicU64::new(0),
            refused_tcp_connections: AtomicU64::new(0),
        }
    }

    fn served(&self) -> Arc<Served> {
        Arc::clone(&self.served.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The chain requests are answered from now.
    pub fn chain(&self) -> Arc<Chain> {
        Arc::clone(&self.served().chain)
    }

    /// The settings requests are checked against now.
    pub fn settings(&self) -> Arc<ServeSettings> {
        Arc::clone(&self.served().settings)
    }

    /// How many configurations the daemon has served: 1, plus one per reload (shown by `/readyz`).
    pub fn generation(&self) -> u64 {
        self.served().generation
    }

    /// Serves `chain` and `settings` from now on; requests in flight finish with the previous ones.
    pub fn replace(&self, chain: Arc<Chain>, settings: ServeSettings) {
        let mut served = self.served.write().unwrap_or_else(PoisonError::into_inner);
        let generation = served.generation + 1;
        *served = Arc::new(Served { chain, settings: Arc::new(settings), generation });
        self.reloads.fetch_add(1, Ordering::Relaxed);
    }

    /// Serves `tokens` (read again from their files) in place of the `[[serve.tokens]]` served now, with the same
    /// chain and generation: after a reload that failed, a token whose file was deleted or rewritten still stops
    /// working. Nothing changes unless `generation` is still the one served (the tokens were read from it).
    pub fn refresh_tokens(&self, generation: u64, tokens: Vec<access::TokenGrant>) {
        let mut served = self.served.write().unwrap_or_else(PoisonError::into_inner);
        if served.generation != generation {
            return;
        }
        let settings = ServeSettings { tokens, ..ServeSettings::clone(&served.settings) };
        *served = Arc::new(Served {
            chain: Arc::clone(&served.chain),
            settings: Arc::new(settings),
            generation: served.generation,
        });
    }

    /// Counts a reload that failed (the previous configuration stays).
    pub fn reload_failed(&self) {
        self.reload_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// The answer to `method` `target` from `origin`: [`route::Route`], who the caller is, the grant check, then
    /// the chain.
    pub async fn respond(&self, origin: Origin<'_>, method: &str, target: &str) -> Response {
        self.respond_with(&self.served(), origin, method, target).await
    }

    /// [`Daemon::respond`] with the configuration `served` (one snapshot for the whole request).
    async fn respond_with(&self, served: &Served, origin: Origin<'_>, method: &str, target: &str) -> Response {
        let route = match Route::parse(method, target) {
            Ok(route) => route,
            Err(rejection) => return Response::json(Reply::error(rejection.status, rejection.kind, rejection.message)),
        };
        // Over TCP, everything but health and readiness needs a token.
        if matches!(origin, Origin::Tcp { token: None }) && !matches!(route, Route::Health | Route::Ready) {
            return Response::unauthorized();
        }
        let reply = match route {
            Route::Health => Reply { status: 200, body: r#"{"status":"ok"}"#.to_owned() },
            Route::Ready if self.draining.load(Ordering::Relaxed) => {
                Reply { status: 503, body: r#"{"status":"draining"}"#.to_owned() }
            }
            Route::Ready => Reply {
                status: 200,
                body: serde_json::json!({ "status": "ready", "generation": served.generation }).to_string(),
            },
            Route::Metrics => return Response::text(self.render_metrics(served)),
            // A probe's connection reads no secret and writes no audit line.
            Route::Read { .. } if matches!(origin, Origin::Socket { admission, .. } if admission != Admission::Caller) => {
                Reply::error(403, "forbidden", &Refusal::ProbeOnly.to_string())
            }
            Route::Read { read, team } => {
                let lookup = read.lookup(team.as_deref());
                let key = read.grant_key();
                let (caller, checked) = match origin {
                    Origin::Tcp { token: Some(entry) } => {
                        (format!("token={}", entry.name), served.settings.check_token(entry, &key, team.as_deref()))
                    }
                    Origin::Socket { peer, .. } => {
                        (peer.audit_name(), served.settings.check(peer, &key, team.as_deref(), self.daemon_uid))
                    }
                    Origin::Tcp { token: None } => return Response::unauthorized(),
                };
                match checked {
                    Err(refusal) => {
                        served.chain.audit_refused(Some(&caller), lookup);
                        match refusal {
                            Refusal::InvalidId => Reply::error(400, "bad_request", &refusal.to_string()),
                            _ => Reply::error(403, "forbidden", &refusal.to_string()),
                        }
                    }
                    Ok(()) => match served.chain.lookup_as(Some(&caller), lookup).await {
                        Ok(value) => Reply::answer(&read, &value, self.dialect),
                        Err(error) => Reply::failure(&error),
                    },
                }
            }
        };
        Response::json(reply)
    }

    fn count(&self, status: u16) {
        let i = COUNTED_STATUSES.iter().position(|s| *s == status).unwrap_or(COUNTED_STATUSES.len() - 1);
        self.requests[i].fetch_add(1, Ordering::Relaxed);
    }

    /// The chain's metrics (when it counts them) and the daemon's own.
    fn render_metrics(&self, served: &Served) -> String {
        let mut text = served.chain.render_metrics().unwrap_or_default();
        let requests: Vec<(String, u64)> = COUNTED_STATUSES
            .iter()
            .zip(&self.requests)
            .map(|(status, count)| (format!("{{code=\"{status}\"}}"), count.load(Ordering::Relaxed)))
            .collect();
        counter(
            &mut text,
            "serve_requests_total",
            "HTTP requests answered by the daemon, by status (0: other).",
            &requests,
        );
        let reloads = [
            ("{result=\"ok\"}".to_owned(), self.reloads.load(Ordering::Relaxed)),
            ("{result=\"failed\"}".to_owned(), self.reload_failures.load(Ordering::Relaxed)),
        ];
        counter(
            &mut text,
            "serve_reloads_total",
            "Configurations reloaded (SIGHUP), and reloads that failed.",
            &reloads,
        );
        counter(
            &mut text,
            "serve_refused_connections_total",
            "Connections closed at once: no grant names the peer.",
            &[(String::new(), self.refused_connections.load(Ordering::Relaxed))],
        );
        counter(
            &mut text,
            "serve_refused_tcp_connections_total",
            "TCP connections closed at once: every TCP slot taken.",
            &[(String::new(), self.refused_tcp_connections.load(Ordering::Relaxed))],
        );
        text
    }

    /// Accepts connections on `socket` (and on `tcp`, when given) until `shutdown` completes, then stops
    /// accepting, lets the requests in flight finish (at most [`DRAIN_TIME`]), removes the socket and returns. A
    /// peer that no grant names has its connection closed at once ([`ServeSettings::admission`]): it holds no slot
    /// and writes no audit line; one that runs as the daemon's own user is served health, readiness and metrics,
    /// on at most [`MAX_PROBE_CONNECTIONS`] connections at once. TCP connections beyond [`MAX_TCP_CONNECTIONS`]
    /// are closed at once.
    pub async fn serve(
        self: Arc<Self>,
        socket: BoundSocket,
        tcp: Vec<tokio::net::TcpListener>,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        let limit = Arc::new(tokio::sync::Semaphore::new(self.settings().max_connections()));
        let probes = Arc::new(tokio::sync::Semaphore::new(MAX_PROBE_CONNECTIONS));
        let tcp_limit = Arc::new(tokio::sync::Semaphore::new(MAX_TCP_CONNECTIONS));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut connections = tokio::task::JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            let unix = async {
                let permit = Arc::clone(&limit).acquire_owned().await;
                (permit, socket.listener().accept().await)
            };
            let tcp_accept = async {
                match tcp.as_slice() {
                    [] => std::future::pending().await,
                    [one] => one.accept().await,
                    [first, second, ..] => tokio::select! {
                        accepted = first.accept() => accepted,
                        accepted = second.accept() => accepted,
                    },
                }
            };
            let (permit, stream) = tokio::select! {
                (permit, accepted) = unix => match (permit, accepted) {
                    (Err(_), _) => break,
                    (Ok(permit), Ok((stream, _))) => (permit, stream),
                    (Ok(_), Err(e)) => {
                        // Out of descriptors, most likely: wait instead of spinning.
                        tracing::warn!("secrets serve: cannot accept a connection: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                accepted = tcp_accept => {
                    match accepted {
                        Ok((stream, _)) => match Arc::clone(&tcp_limit).try_acquire_owned() {
                            Ok(permit) => {
                                let _ = stream.set_nodelay(true);
                                let daemon = Arc::clone(&self);
                                let stopped = stopped.clone();
                                connections.spawn(async move {
                                    let _permit = permit;
                                    daemon.connection(stream, None, stopped).await;
                                });
                            }
                            Err(_) => {
                                self.refused_tcp_connections.fetch_add(1, Ordering::Relaxed);
                            }
                        },
                        Err(e) => {
                            tracing::warn!("secrets serve: cannot accept a TCP connection: {e}");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                    while connections.try_join_next().is_some() {}
                    continue;
                }
                () = &mut shutdown => break,
            };
            let Ok(cred) = stream.peer_cred() else { continue };
            let peer = Peer { uid: cred.uid(), gid: cred.gid(), pid: cred.pid() };
            let admission = self.settings().admission(&peer, self.daemon_uid);
            let probe_permit = match admission {
                Admission::Caller => None,
                Admission::Probe => match Arc::clone(&probes).try_acquire_owned() {
                    Ok(permit) => Some(permit),
                    Err(_) => {
                        self.refused_connections.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                },
                Admission::Refused => {
                    self.refused_connections.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            };
            let daemon = Arc::clone(&self);
            let stopped = stopped.clone();
            connections.spawn(async move {
                let _permits = (permit, probe_permit);
                daemon.connection(stream, Some((peer, admission)), stopped).await;
            });
            while connections.try_join_next().is_some() {}
        }
        self.draining.store(true, Ordering::Relaxed);
        // Stop listening now: a client connecting during the drain is refused at once instead of waiting in the
        // backlog.
        drop(socket);
        drop(tcp);
        let _ = stop.send(true);
        let _ = tokio::time::timeout(DRAIN_TIME, async { while connections.join_next().await.is_some() {} }).await;
        connections.abort_all();
    }

    /// Serves one connection: from the Unix socket with its `peer` and admission, or from TCP (`None`).
    async fn connection<S>(
        self: Arc<Self>,
        stream: S,
        peer: Option<(Peer, Admission)>,
        mut stopped: tokio::sync::watch::Receiver<bool>,
    ) where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let daemon = Arc::clone(&self);
        let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let daemon = Arc::clone(&daemon);
            async move {
                // One configuration for the whole request: the token is looked up in the settings served now (so a
                // token a reload removed stops working on connections already open), once.
                let served = daemon.served();
                let token = match peer {
                    Some(_) => None,
                    None => request
                        .headers()
                        .get(http::header::AUTHORIZATION)
                        .and_then(|a| served.settings.token_entry(a.as_bytes())),
                };
                // Over TCP, a request without a valid token gets its answer, then the connection is closed: a caller
                // without a token cannot hold a TCP slot to probe or guess on.
                let close = peer.is_none() && token.is_none();
                let response = if let (None, Some(problem)) = (&peer, tcp_request_problem(request.headers())) {
                    Response::json(Reply::error(400, "bad_request", problem))
                } else if request.body().is_end_stream() {
                    let target = request.uri().path_and_query().map_or("/", |p| p.as_str()).to_owned();
                    let origin = match &peer {
                        Some((peer, admission)) => Origin::Socket { peer, admission: *admission },
                        None => Origin::Tcp { token },
                    };
                    daemon.respond_with(&served, origin, request.method().as_str(), &target).await
                } else {
                    Response::json(Reply::error(413, "bad_request", "requests carry no body"))
                };
                daemon.count(response.status);
                Ok::<_, Infallible>(response.into_http(close))
            }
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .max_buf_size(MAX_HEAD_BYTES)
            .serve_connection(TokioIo::new(stream), service);
        tokio::pin!(connection);
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = stopped.wait_for(|stop| *stop) => {}
            () = tokio::time::sleep(MAX_CONNECTION_TIME) => {}
        }
        connection.as_mut().graceful_shutdown();
        let _ = tokio::time::timeout(DRAIN_TIME, connection).await;
    }
}

/// Appends counter `wasm_secrets_NAME` in Prometheus text: its help, its type, and one sample per `(labels,
/// value)` (labels written `{k="v"}`, or empty).
fn counter(text: &mut String, name: &str, help: &str, samples: &[(String, u64)]) {
    use std::fmt::Write as _;
    let _ = writeln!(text, "# HELP wasm_secrets_{name} {help}");
    let _ = writeln!(text, "# TYPE wasm_secrets_{name} counter");
    for (labels, value) in samples {
        let _ = writeln!(text, "wasm_secrets_{name}{labels} {value}");
    }
}

/// Why a TCP request is refused before its route is read, if it is: a `Host` that is not a loopback address or
/// `localhost` (a web page that rebinds its own name to 127.0.0.1 sends its name: DNS rebinding), or more than
/// one `Authorization` header (which one would be the caller?).
fn tcp_request_problem(headers: &http::HeaderMap) -> Option<&'static str> {
    let host = headers.get(http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split_once(']').map_or("", |(ip, _)| ip),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    let loopback =
        name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        return Some("over TCP, the Host header must name a loopback address or localhost");
    }
    (headers.get_all(http::header::AUTHORIZATION).iter().count() > 1).then_some("more than one Authorization header")
}

/// An HTTP answer: status, content type and body (which may hold a secret: `Debug` shows its length).
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    /// The status.
    pub status: u16,
    /// The content type.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Response({}, {}, {} bytes)", self.status, self.content_type, self.body.len())
    }
}

impl Response {
    fn json(reply: Reply) -> Self {
        Self { status: reply.status, content_type: "application/json", body: reply.body }
    }

    fn text(body: String) -> Self {
        Self { status: 200, content_type: "text/plain; version=0.0.4", body }
    }

    /// A TCP request without a token of `[[serve.tokens]]` (sent with `WWW-Authenticate: Bearer`).
    fn unauthorized() -> Self {
        Self::json(Reply::error(401, "unauthorized", "send a token of [serve] tokens: Authorization: Bearer TOKEN"))
    }

    fn into_http(self, close: bool) -> hyper::Response<Full<Bytes>> {
        let mut response = hyper::Response::new(Full::new(Bytes::from(self.body)));
        *response.status_mut() =
            http::StatusCode::from_u16(self.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        response.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(self.content_type));
        response.headers_mut().insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
        if self.status == 405 {
            response.headers_mut().insert(http::header::ALLOW, http::HeaderValue::from_static("GET"));
        }
        if self.status == 401 {
            response.headers_mut().insert(http::header::WWW_AUTHENTICATE, http::HeaderValue::from_static("Bearer"));
        }
        if close {
            response.headers_mut().insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_open_file_limit_is_raised_to_what_is_needed_within_the_hard_limit() {
        assert_eq!(raised_open_files_limit(Some(1024), Some(524_288), 4_416), Some(4_416));
        assert_eq!(raised_open_files_limit(Some(1024), None, 4_416), Some(4_416), "no hard limit");
        assert_eq!(raised_open_files_limit(Some(1024), Some(2048), 4_416), Some(2048), "as far as the hard limit");
        assert_eq!(raised_open_files_limit(Some(1024), Some(1024), 4_416), None, "already at the hard limit");
        assert_eq!(raised_open_files_limit(Some(8192), Some(524_288), 4_416), None, "enough already");
        assert_eq!(raised_open_files_limit(None, None, 4_416), None, "unlimited");
    }

    #[test]
    fn descriptors_count_every_slot_and_the_headroom() {
        let settings = ServeSettings { max_connections: Some(700), ..ServeSettings::default() };
        assert_eq!(descriptors_needed(&settings, false), 700 + 256);
        assert_eq!(descriptors_needed(&settings, true), 700 + 64 + 256);
        assert_eq!(descriptors_needed(&ServeSettings::default(), false), 256 + 256);
        let unbounded = ServeSettings { max_connections: Some(usize::MAX), ..ServeSettings::default() };
        assert_eq!(descriptors_needed(&unbounded, true), u64::MAX, "saturates instead of overflowing");
    }
}
