//! A local, faithful emulator of the Kubernetes API server, restricted to what a secrets backend
//! needs: namespaces and Secrets, listed by label selector.
//!
//! # Why it exists
//!
//! wasm-secrets reproduces Apache Airflow's `KubernetesSecretsBackend`, which lists Secrets with
//! `labelSelector=<key>=<value>` through the in-cluster configuration. Testing that against a
//! real cluster is slow and needs credentials; in-process fakes (client-go's fake clientset,
//! `kube-fake-client`, `tower_test` mocks) do not speak HTTP, so `kubectl` and the Python
//! `kubernetes` client could not use them, and they cannot prove that *our* requests are the ones
//! a real server accepts. This crate serves the real wire protocol instead:
//!
//! - HTTPS only, with a throw-away CA and a leaf certificate whose SANs cover `127.0.0.1`;
//! - bearer-token authentication (scheme compared case-insensitively, as the apiserver does) and
//!   per-token authorization with the real 401 and 403 `Status` bodies;
//! - the Secrets API: list with the full label-selector grammar, get, create (JSON and the
//!   Protobuf body `kubectl` ≥ 1.32 sends), update, merge and strategic-merge patch, delete;
//! - watch streams (`?watch=true`): chunked newline-delimited events, selector enter/leave
//!   transitions, bookmarks, `410 Expired` after history compaction, `timeoutSeconds`;
//! - discovery documents and `/version`, so `kubectl` works unchanged;
//! - a request log, so tests can assert the exact requests a client made, and fault injection
//!   (5xx `Status`, plain-text 429 with `Retry-After`, latency).
//!
//! The research behind every byte of it is in `/work/shared/reference/kubernetes-api.md`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kube_emulator::EmulatorError> {
//! use kube_emulator::{Access, Emulator, EmulatorConfig};
//! let emulator = Emulator::start(EmulatorConfig::default()).await?;
//! emulator.create_namespace("airflow");
//! emulator.add_token("s3cr3t-token", Access::ReadOnly(vec!["airflow".into()]));
//! let dir = std::path::Path::new("/tmp/sa");
//! emulator.write_service_account_dir(dir, "s3cr3t-token", "airflow")?;
//! // … point a client at https://{emulator.addr()} …
//! emulator.shutdown().await;
//! # Ok(()) }
//! ```

mod auth;
pub mod kubectl;
mod manifest;
mod protobuf;
mod selector;
mod server;
mod status;
mod store;
mod tls;
mod watch;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use tokio::task::JoinHandle;

pub use auth::{Access, SERVICE_ACCOUNT_ISSUER};

use auth::Tokens;
use store::Store;

/// How to start an [`Emulator`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmulatorConfig {
    /// Address to listen on; the default `127.0.0.1:0` picks a free port.
    pub bind: SocketAddr,
    /// The `minor` reported by `/version` (the `kubectl` dispatcher picks its client by it:
    /// `31` → a JSON create, `32` and above → a Protobuf create).
    pub minor_version: String,
    /// A path prefix every API path is served under, as behind a Rancher-style proxy
    /// (`/k8s/clusters/<id>`): `""` (the default) serves at the root. Paths without the prefix are 404.
    pub path_prefix: String,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            minor_version: "32".to_owned(),
            path_prefix: String::new(),
        }
    }
}

/// Errors of the emulator's API.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// Binding the listener or writing a file failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Generating the certificates or the TLS configuration failed.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// The object was rejected exactly as the API would reject it over HTTP.
    #[error("the API rejected the object with {code} {reason}: {message}")]
    Api {
        /// HTTP status code of the equivalent request (404, 409, 422, …).
        code: u16,
        /// The `Status.reason` (`NotFound`, `AlreadyExists`, `Invalid`, …).
        reason: String,
        /// The `Status.message`.
        message: String,
    },
    /// A manifest could not be parsed or holds an unsupported object.
    #[error("invalid manifest: {0}")]
    Manifest(String),
}

impl From<status::Status> for EmulatorError {
    fn from(status: status::Status) -> Self {
        EmulatorError::Api { code: status.http_code(), reason: status.reason.clone(), message: status.message }
    }
}

/// A fault injected into every API request (not `/version`) until cleared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with the real server's `Status` for this code (500 `InternalError`,
    /// 503 `ServiceUnavailable`, 504 `Timeout`, …).
    Status(u16),
    /// Answer with the plain-text 429 of API Priority and Fairness, with a `Retry-After` header.
    TooManyRequests {
        /// Value of the `Retry-After` header.
        retry_after_secs: u32,
    },
    /// Delay every response by this long, then answer normally.
    Latency(Duration),
    /// A broken server or proxy that echoes the request's `Authorization` header in the message of a
    /// `Status` with this code.
    EchoAuthorization(u16),
    /// The normal answer's headers and first half, then the connection is reset (no end of the body).
    ResetMidBody,
    /// The normal answer's headers at once, then its body after this delay.
    SlowBody(Duration),
}

/// One request as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// HTTP method, e.g. `GET`.
    pub method: String,
    /// The path as the API server routes it: after the [`EmulatorConfig::path_prefix`], percent-decoded as
    /// Go's `URL.Path` (an invalid escape is kept as sent, and answered 400; without the prefix it is empty).
    pub path: String,
    /// The path as sent, still percent-encoded.
    pub raw_path: String,
    /// The query string, raw and byte for byte (`None` when the URL has no `?`).
    pub query: Option<String>,
    /// Headers with lower-cased names, in the order received.
    pub headers: Vec<(String, String)>,
    /// The HTTP status code answered (0 while the request is still being served).
    pub status: u16,
}

impl RecordedRequest {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// The request log.
#[derive(Debug, Default)]
pub(crate) struct RequestLog {
    next_id: u64,
    /// Each request with its id and when its head was received.
    entries: std::collections::VecDeque<(u64, RecordedRequest, std::time::SystemTime)>,
    /// Only the last this many requests are kept (`None`: all).
    keep: Option<usize>,
}

impl RequestLog {
    pub(crate) fn begin(&mut self, request: RecordedRequest) -> u64 {
        self.next_id += 1;
        self.entries.push_back((self.next_id, request, std::time::SystemTime::now()));
        if self.keep.is_some_and(|keep| self.entries.len() > keep) {
            self.entries.pop_front();
        }
        self.next_id
    }

    pub(crate) fn finish(&mut self, id: u64, status: u16) {
        if let Some((_, entry, _)) = self.entries.iter_mut().rev().find(|(i, _, _)| *i == id) {
            entry.status = status;
        }
    }
}

/// The injected fault and how many more requests it applies to (`None`: until cleared).
#[derive(Debug, Default)]
pub(crate) struct FaultState {
    fault: Option<Fault>,
    remaining: Option<u32>,
}

impl FaultState {
    /// The fault to apply to this request, counting it against the budget.
    pub(crate) fn take_one(&mut self) -> Option<Fault> {
        let fault = self.fault.clone()?;
        if let Some(remaining) = self.remaining.as_mut() {
            *remaining = remaining.saturating_sub(1);
            if *remaining == 0 {
                self.fault = None;
                self.remaining = None;
            }
        }
        Some(fault)
    }
}

/// State shared by the accept loop, the connections and the [`Emulator`] handles.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) store: Mutex<Store>,
    pub(crate) tokens: Mutex<Tokens>,
    pub(crate) log: Mutex<RequestLog>,
    pub(crate) fault: Mutex<FaultState>,
    pub(crate) bookmark_interval: Mutex<Duration>,
    pub(crate) minor: String,
    pub(crate) path_prefix: String,
    pub(crate) addr: SocketAddr,
    /// TCP connections accepted so far (keep-alive shows as fewer connections than requests).
    pub(crate) connections: std::sync::atomic::AtomicU64,
    /// Watch events (`ADDED`, `MODIFIED`, `DELETED`, `ERROR`; not bookmarks) handed to open watch streams so far:
    /// the event hook tests wait on ([`Emulator::wait_watch_events`]).
    pub(crate) watch_events: tokio::sync::watch::Sender<u64>,
    /// Bumped by [`Emulator::drop_watches`]: every open watch stream ends when it changes.
    pub(crate) watch_drops: tokio::sync::watch::Sender<u64>,
    /// Bumped by [`Emulator::expire_watches`]: every open watch stream ends with `ERROR 410` when it changes.
    pub(crate) watch_expiries: tokio::sync::watch::Sender<u64>,
    /// Watch streams open now: subscribed to the knobs above, so they see every later drop or expiry.
    pub(crate) open_watches: std::sync::atomic::AtomicUsize,
}

/// Locks a mutex, ignoring poisoning: every critical section leaves the data consistent.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug)]
struct Inner {
    shared: Arc<Shared>,
    ca_pem: String,
    shutdown: tokio::sync::watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// A running emulator. Cloning gives another handle to the same server.
#[derive(Debug, Clone)]
pub struct Emulator {
    inner: Arc<Inner>,
}

impl Emulator {
    /// Generates the certificates, binds the listener and spawns the accept loop. When this
    /// returns the socket is listening: connections are queued even before the loop first runs.
    pub async fn start(config: EmulatorConfig) -> Result<Emulator, EmulatorError> {
        let tls = tls::generate()?;
        let listener = tokio::net::TcpListener::bind(config.bind).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            store: Mutex::new(Store::new()),
            tokens: Mutex::new(Tokens::default()),
            log: Mutex::new(RequestLog::default()),
            fault: Mutex::new(FaultState::default()),
            bookmark_interval: Mutex::new(watch::DEFAULT_BOOKMARK_INTERVAL),
            minor: config.minor_version,
            path_prefix: config.path_prefix,
            addr,
            connections: std::sync::atomic::AtomicU64::new(0),
            watch_events: tokio::sync::watch::Sender::new(0),
            watch_drops: tokio::sync::watch::Sender::new(0),
            watch_expiries: tokio::sync::watch::Sender::new(0),
            open_watches: std::sync::atomic::AtomicUsize::new(0),
        });
        let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.server_config);
        let task = tokio::spawn(server::accept_loop(listener, acceptor, Arc::clone(&shared), shutdown_rx));
        Ok(Emulator { inner: Arc::new(Inner { shared, ca_pem: tls.ca_pem, shutdown, task: Mutex::new(Some(task)) }) })
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.shared().addr
    }

    /// PEM of the CA certificate clients should trust.
    pub fn ca_pem(&self) -> String {
        self.inner.ca_pem.clone()
    }

    /// Accepts `token` from now on, as user `system:serviceaccount:default:emulator-<n>`.
    pub fn add_token(&self, token: &str, access: Access) {
        lock(&self.shared().tokens).add(token, access);
    }

    /// Issues a service-account token for `namespace`/`name` (a JWT in shape, its signature unverified; see
    /// `auth.rs`), accepted from now on with `access`, and answered for by `TokenReview`.
    pub fn issue_service_account_token(&self, namespace: &str, name: &str, access: Access) -> String {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        lock(&self.shared().tokens).issue_service_account(namespace, name, access, now)
    }

    /// Accepts `token` from now on, authenticating as `user` (shown in 403 messages).
    pub fn add_token_as(&self, token: &str, user: &str, access: Access) {
        lock(&self.shared().tokens).add_as(token, user, access);
    }

    /// How many TCP connections the server has accepted: with keep-alive, fewer than requests.
    pub fn connections_accepted(&self) -> u64 {
        self.shared().connections.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Stops accepting `token`: later requests with it get 401.
    pub fn revoke_token(&self, token: &str) {
        lock(&self.shared().tokens).revoke(token);
    }

    /// Creates a namespace (no-op if it exists).
    pub fn create_namespace(&self, name: &str) {
        lock(&self.shared().store).ensure_namespace(name);
    }

    /// Creates a Secret with the same validation and defaults as a POST; returns the stored
    /// object as the API would return it.
    pub fn insert_secret(
        &self,
        namespace: &str,
        secret: serde_json::Value,
    ) -> Result<serde_json::Value, EmulatorError> {
        let input = store::decode_secret_json(&secret)?;
        let created = lock(&self.shared().store).create_secret(namespace, input, false)?;
        Ok(created.to_json())
    }

    /// The stored Secret, as a GET would return it.
    pub fn get_secret(&self, namespace: &str, name: &str) -> Option<serde_json::Value> {
        lock(&self.shared().store).secret(namespace, name).map(store::Secret::to_json)
    }

    /// Applies a JSON merge patch (RFC 7386, what `kubectl label` sends) to a stored Secret, with
    /// the same validation as a PATCH; returns the updated object.
    pub fn patch_secret(
        &self,
        namespace: &str,
        name: &str,
        merge_patch: &serde_json::Value,
    ) -> Result<serde_json::Value, EmulatorError> {
        let patched =
            lock(&self.shared().store).patch_secret(namespace, name, store::PatchType::Merge, merge_patch, false)?;
        Ok(patched.to_json())
    }

    /// Deletes a Secret; returns whether it existed.
    pub fn delete_secret(&self, namespace: &str, name: &str) -> bool {
        lock(&self.shared().store).delete_secret(namespace, name, false).is_ok()
    }

    /// Loads multi-document YAML holding Secrets and Namespaces (or `List`s of them). Objects
    /// without `metadata.namespace` go to `default_namespace`; missing namespaces are created.
    /// Returns the number of objects created.
    pub fn load_manifests(&self, yaml: &str, default_namespace: &str) -> Result<usize, EmulatorError> {
        let objects = manifest::parse(yaml)?;
        let mut store = lock(&self.shared().store);
        let mut count = 0;
        for object in objects {
            match object {
                manifest::Object::Namespace(name) => {
                    store.ensure_namespace(&name);
                }
                manifest::Object::Secret(value) => {
                    let input = store::decode_secret_json(&value)?;
                    let namespace =
                        if input.namespace.is_empty() { default_namespace.to_owned() } else { input.namespace.clone() };
                    store.ensure_namespace(&namespace);
                    store.create_secret(&namespace, input, false)?;
                }
            }
            count += 1;
        }
        Ok(count)
    }

    /// Every request received so far, in order of arrival.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared().log).entries.iter().map(|(_, r, _)| r.clone()).collect()
    }

    /// Every request received so far with the wall-clock time its head arrived, in order of arrival: what
    /// `scripts/bench-startup.sh` compares with the moment it started a client process (a separate method, so
    /// [`Emulator::requests`] stays comparable with `==` across runs).
    pub fn requests_with_arrival(&self) -> Vec<(std::time::SystemTime, RecordedRequest)> {
        lock(&self.shared().log).entries.iter().map(|(_, r, at)| (*at, r.clone())).collect()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        lock(&self.shared().log).entries.clear();
    }

    /// Keeps only the last `keep` requests in the log from now on, so a long run (a soak test) does not
    /// grow the emulator's memory with its own log.
    pub fn limit_request_log(&self, keep: usize) {
        let mut log = lock(&self.shared().log);
        log.keep = Some(keep);
        while log.entries.len() > keep {
            log.entries.pop_front();
        }
    }

    /// Injects a fault into every API request (not `/version`), or clears it with `None`.
    pub fn set_fault(&self, fault: Option<Fault>) {
        *lock(&self.shared().fault) = FaultState { fault, remaining: None };
    }

    /// Injects a fault into the next `times` API requests only (e.g. one 429 that a client's
    /// retry then gets past); `times == 0` clears the fault.
    pub fn set_fault_times(&self, fault: Fault, times: u32) {
        let fault = (times > 0).then_some(fault);
        *lock(&self.shared().fault) = FaultState { fault, remaining: Some(times) };
    }

    /// Forgets the watch event history, as an etcd compaction would: a watch resuming from any
    /// older resourceVersion gets a `410 Expired` `ERROR` event, and open watches behind the
    /// current revision are ended the same way.
    pub fn compact_history(&self) {
        lock(&self.shared().store).compact_history();
    }

    /// Freezes the watch cache: lists with `resourceVersion=0` (Airflow's backend sends exactly that) are
    /// answered from the Secrets as they are now, with this revision, until [`Emulator::thaw_watch_cache`].
    /// Reads without `resourceVersion=0` keep seeing the current state, as on a real server whose watch
    /// cache lags behind etcd.
    pub fn freeze_watch_cache(&self) {
        lock(&self.shared().store).freeze_cache();
    }

    /// Ends [`Emulator::freeze_watch_cache`].
    pub fn thaw_watch_cache(&self) {
        lock(&self.shared().store).thaw_cache();
    }

    /// Bounds the watch event history to the last `limit` Secret writes (default 1000).
    pub fn set_history_limit(&self, limit: usize) {
        lock(&self.shared().store).set_history_limit(limit);
    }

    /// How often watches with `allowWatchBookmarks=true` get a `BOOKMARK` (default 60 s; one is
    /// also sent just before a watch times out).
    pub fn set_bookmark_interval(&self, interval: Duration) {
        *lock(&self.shared().bookmark_interval) = interval;
    }

    /// Watch events (not bookmarks) handed to open watch streams so far, across every watch: the event hook. A
    /// test that changed a Secret waits with [`Emulator::wait_watch_events`] for the event to be delivered instead
    /// of sleeping.
    pub fn watch_events(&self) -> u64 {
        *self.shared().watch_events.borrow()
    }

    /// Waits until at least `count` watch events have been delivered ([`Emulator::watch_events`]).
    pub async fn wait_watch_events(&self, count: u64) {
        let mut events = self.shared().watch_events.subscribe();
        // The sender lives as long as the emulator, so waiting only ends when the count is reached.
        let _ = events.wait_for(|delivered| *delivered >= count).await;
    }

    /// Watch streams open now. A watch is counted once it will see a later [`Emulator::drop_watches`] or
    /// [`Emulator::expire_watches`] (its request shows in the log a little earlier).
    pub fn open_watches(&self) -> usize {
        self.shared().open_watches.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Ends every open watch stream now, as a restarting API server or a proxy's idle timeout would: the chunked
    /// answer ends cleanly, without a last bookmark. Later watches are served normally.
    pub fn drop_watches(&self) {
        self.shared().watch_drops.send_modify(|n| *n += 1);
    }

    /// Expires every open watch, as an etcd compaction that overtook them would: the history is compacted
    /// ([`Emulator::compact_history`]) and each open stream gets an `ERROR` event with `410 Expired` and ends, so
    /// a client must list again. Called repeatedly, a 410 storm.
    pub fn expire_watches(&self) {
        self.compact_history();
        self.shared().watch_expiries.send_modify(|n| *n += 1);
    }

    /// The current revision: the `resourceVersion` a list would return now.
    pub fn resource_version(&self) -> u64 {
        lock(&self.shared().store).revision()
    }

    /// Writes an in-cluster style service-account directory: `token` (no trailing newline),
    /// `ca.crt` and `namespace`.
    pub fn write_service_account_dir(&self, dir: &Path, token: &str, namespace: &str) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("token"), token)?;
        std::fs::write(dir.join("ca.crt"), self.ca_pem())?;
        std::fs::write(dir.join("namespace"), namespace)?;
        Ok(())
    }

    /// Writes a kubeconfig for `https://127.0.0.1:<port>` with the CA inlined, a token user and
    /// a context defaulting to `namespace`.
    pub fn write_kubeconfig(&self, path: &Path, token: &str, namespace: &str) -> std::io::Result<()> {
        let ca = base64::engine::general_purpose::STANDARD.encode(self.ca_pem());
        let config = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "kube-emulator", "cluster": {
                "server": format!("https://127.0.0.1:{}{}", self.addr().port(), self.shared().path_prefix),
                "certificate-authority-data": ca,
            }}],
            "users": [{"name": "kube-emulator", "user": {"token": token}}],
            "contexts": [{"name": "kube-emulator", "context": {
                "cluster": "kube-emulator",
                "user": "kube-emulator",
                "namespace": namespace,
            }}],
            "current-context": "kube-emulator",
            "preferences": {},
        });
        let yaml = serde_yaml::to_string(&config).map_err(std::io::Error::other)?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, yaml)
    }

    /// Stops accepting connections, closes the open ones and waits for the accept loop.
    pub async fn shutdown(self) {
        // Ignore the error: it only means the loop has already stopped.
        let _ = self.inner.shutdown.send(true);
        let task = lock(&self.inner.task).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

#[cfg(test)]
mod clients;
#[cfg(test)]
mod tests;
