//! The host's HTTP transport for providers: the security boundary between an untrusted component and its
//! secret store, the Kubernetes API or a Vault server (one policy per grant type: this file's for Kubernetes,
//! `vault.rs`'s for Vault).
//!
//! Threat model: the provider component is untrusted code. It may try to reach any host, to read or forge
//! credentials, or to stall. So, in this order:
//! 1. **Policy before transport.** Only `https://kubernetes.default.svc` (the in-cluster name of the API
//!    server) is accepted: another authority is refused with `HttpRequestDenied`, a scheme other than https
//!    with `HttpProtocolError`, which the guest sees. The host maps that name to the API server it is
//!    configured for, so the guest never learns or chooses a real address.
//!    Only `GET` on `/api/v1/namespaces/<ns>/secrets[/<name>]` passes, and only with a few plain headers: a
//!    compromised provider cannot write, read other resources, or impersonate, even where RBAC would allow it.
//!    A Vault grant's transport accepts only `https://vault.invalid` and `GET` under the granted mounts
//!    ([`crate::vault::check_vault_request`]).
//! 2. **The host owns the credential.** `authorization` and `x-vault-token` are forbidden headers for the guest
//!    (it cannot set or read them); the host injects `Authorization: Bearer <token>` (Kubernetes) or
//!    `X-Vault-Token` (Vault, from a token file or a login the host keeps fresh), marked sensitive, on the way
//!    out, and cuts every form of the token out of the answers.
//! 3. **Our own transport.** wasmtime-wasi-http's default trusts only public web roots, opens one connection
//!    per request and waits up to 600 s. We replace it with one pooled keep-alive client that trusts only the
//!    cluster CA and has explicit connect and request timeouts, and we read the whole answer (bounded in size)
//!    before handing it to the guest.
//! 4. **Answered in place.** The host serves `outgoing-handler.handle` itself ([`ProviderHooks::handle_in_place`]):
//!    the exchange runs while the guest waits in the call, so the future it gets back is already resolved
//!    (no polling round trips, one task spawned per request instead of two). A component's requests therefore
//!    run one after the other.
//!
//! The wasi-http hook code lives in this file, so a wasmtime upgrade touches few places: this one, the linking
//! of `handle` in `engine.rs`, and the store's side of it in `state.rs`.

use std::sync::Arc;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, HOST, HeaderName, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use memchr::memmem::Finder;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme as GuestScheme;
use wasmtime_wasi_http::p2::types::{HostFutureIncomingResponse, HostOutgoingRequest};
use wasmtime_wasi_http::{DEFAULT_FORBIDDEN_HEADERS, Error as HttpError, RequestOptions};
use wasmtime_wasi_http::{ForbiddenHeaderFilter, WasiBody, WasiHttpHooks};

use crate::cluster::ClusterConfig;
use crate::error::ClusterConfigError;
use crate::metrics::StatusCounts;
use crate::token::TokenSource;
use crate::vault::{VaultAuth, VaultGrant, VaultViolation};
use secrecy::{ExposeSecret as _, SecretString};

/// The only authority a provider may address; the host maps it to the configured API server.
pub const API_AUTHORITY: &str = "kubernetes.default.svc";

/// Timeouts and limits of the transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportOptions {
    /// Time allowed to open the TCP connection and finish the TLS handshake.
    pub connect_timeout: Duration,
    /// Time allowed for one request, from sending it to the last byte of the answer.
    pub request_timeout: Duration,
    /// Largest answer body handed to a provider. A provider holds the answer, its parsed form and the
    /// decoded value at once, so a [`crate::Provider`] cuts this to an eighth of its memory limit.
    pub max_response_bytes: usize,
}

impl Default for TransportOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            max_response_bytes: 8 * 1024 * 1024,
        }
    }
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// An in-memory API server: answers a request (already checked by the policy, token injected) without any
/// network. For benchmarks that measure the host and the guest without the network, and for embedding tests.
pub type Responder = Arc<dyn Fn(&http::request::Parts) -> http::Response<Bytes> + Send + Sync>;

enum Sender {
    Https(Box<HttpsClient>),
    Memory(Responder),
}

/// A pooled HTTPS client bound to one secret store (a Kubernetes API server or a Vault server), shared by every
/// lookup.
pub struct StoreTransport {
    client: Sender,
    server_scheme: Scheme,
    server_authority: Authority,
    /// The path of the server URL without its trailing `/` (`/k8s/clusters/c-1` behind a Rancher-style proxy,
    /// usually empty): every request path goes below it, as client-go does.
    server_path_prefix: String,
    /// The store's kind: its policy and how its credential travels.
    store: Store,
    options: TransportOptions,
    /// The forms of the current token searched for in answers ([`secret_forms`]), computed once per token.
    token_forms: std::sync::Mutex<Option<TokenForms>>,
    /// Requests attempted (handed to the HTTP client or the in-memory responder), retries included.
    requests_sent: AtomicU64,
    /// Their answers by status, and those that got none.
    statuses: StatusCounts,
}

/// A token and the forms of it searched for in answers.
type TokenForms = (SecretString, Arc<[Finder<'static>]>);

/// The store a transport reaches, with its credential.
enum Store {
    /// The Kubernetes API: `Authorization: Bearer`, the token file re-read after a 401.
    Kubernetes(TokenSource),
    /// A Vault server: `X-Vault-Token`, requests only under `mounts`.
    Vault {
        /// The mounts the provider may read under.
        mounts: Arc<[String]>,
        /// How the token is obtained.
        credential: VaultCredential,
    },
}

/// Where a Vault token comes from.
enum VaultCredential {
    /// A token file, re-read on its cadence and after a 403.
    File(TokenSource),
    /// A login (AppRole, Kubernetes auth), done again before the lease ends and after a 403 when the token no
    /// longer works. One login at a time: the lock is held while logging in.
    Login { auth: VaultAuth, session: tokio::sync::Mutex<Session> },
}

/// What the last login gave.
#[derive(Default)]
enum Session {
    /// No login yet.
    #[default]
    None,
    /// A token, when it was obtained, and when to log in again (`None`: it does not expire). `relogin_wait`:
    /// how long after `obtained` a refusal may bring about another login; zero after an ordinary login, growing
    /// ([`LOGIN_BACKOFF`]) with each login a refusal brought about, so a store whose `lookup-self` keeps
    /// refusing fresh tokens (a role without Vault's default policy) cannot make every request log in.
    /// `expires_at`: the end of its lease; a renewal that fails keeps it until then (retried after
    /// [`LOGIN_BACKOFF`]'s first wait).
    Token {
        token: SecretString,
        obtained: tokio::time::Instant,
        renew_at: Option<tokio::time::Instant>,
        expires_at: Option<tokio::time::Instant>,
        relogin_wait: Duration,
    },
    /// The last login was refused (or, `unavailable`, answered 429 or 5xx): until `until`, requests get that
    /// answer without a new login (a revoked secret id, a locked-out role, a sealed Vault must not make every
    /// request log in); the wait doubles each time.
    Refused { why: String, unavailable: bool, until: tokio::time::Instant, backoff: Duration },
}

/// The first wait after a refused login, and the longest.
const LOGIN_BACKOFF: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(60));

/// What `auth/token/lookup-self` says of a token.
enum TokenCheck {
    /// 2xx: the token works (the refusal was its policy's).
    Works,
    /// 401 or 403: the token no longer works (revoked, expired).
    Dead,
    /// Anything else (a rate limit, a standby, a failure): no conclusion, so no new login.
    Unknown,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Kubernetes(token) => f.debug_tuple("Kubernetes").field(token).finish(),
            Self::Vault { mounts, credential: VaultCredential::File(token) } => {
                f.debug_struct("Vault").field("mounts", mounts).field("token", token).finish()
            }
            Self::Vault { mounts, credential: VaultCredential::Login { auth, .. } } => {
                f.debug_struct("Vault").field("mounts", mounts).field("auth", auth).finish_non_exhaustive()
            }
        }
    }
}

/// Why a request was refused by the policy of its store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// The Kubernetes policy's refusal.
    #[error(transparent)]
    Kubernetes(#[from] PolicyViolation),
    /// The Vault policy's refusal.
    #[error(transparent)]
    Vault(#[from] VaultViolation),
}

/// The credential to send, or why there is none.
enum Credential {
    /// Send this token.
    Token(SecretString),
    /// The host's login was refused: the provider gets a 403 with this message, as if Vault had refused the
    /// request (its `access-denied`), and the host logs it.
    Refused(String),
}

impl std::fmt::Debug for StoreTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreTransport")
            .field(
                "server",
                &format_args!("{}://{}{}", self.server_scheme, self.server_authority, self.server_path_prefix),
            )
            .field("store", &self.store)
            .field("options", &self.options)
            .field("requests_sent", &self.requests_sent)
            .finish_non_exhaustive()
    }
}

impl StoreTransport {
    /// A client that trusts only `cluster.root_certs` and authenticates with `cluster.token`.
    pub fn new(cluster: ClusterConfig, options: TransportOptions) -> Result<Self, ClusterConfigError> {
        let client = https_client(&cluster.root_certs, &options, false)?;
        Self::to_server(client, &cluster.server, Store::Kubernetes(cluster.token), options)
    }

    /// A client for the Vault server of `grant`: it trusts only the grant's CA (plain http only on a loopback
    /// address, [`VaultGrant::check`]), sends `X-Vault-Token`, and lets a provider read only under the grant's
    /// mounts. A token file is read now; a login happens at the first request.
    pub fn vault(grant: &VaultGrant, options: TransportOptions) -> Result<Self, ClusterConfigError> {
        grant.check().map_err(ClusterConfigError::InvalidServer)?;
        let roots = match &grant.ca_file {
            Some(path) => crate::cluster::read_ca(path)?,
            None => Vec::new(),
        };
        let plain = grant.address.scheme() == Some(&Scheme::HTTP);
        let client = https_client(&roots, &options, plain)?;
        let credential = match &grant.auth {
            VaultAuth::TokenFile(path) => {
                VaultCredential::File(TokenSource::File(crate::token::TokenFile::open(path)?))
            }
            auth => VaultCredential::Login { auth: auth.clone(), session: tokio::sync::Mutex::default() },
        };
        let store = Store::Vault { mounts: grant.mounts.clone().into(), credential };
        Self::to_server(client, &grant.address, store, options)
    }

    fn to_server(
        client: HttpsClient,
        server: &http::Uri,
        store: Store,
        options: TransportOptions,
    ) -> Result<Self, ClusterConfigError> {
        let server_scheme = server.scheme().cloned().unwrap_or(Scheme::HTTPS);
        let server_authority = server
            .authority()
            .cloned()
            .ok_or_else(|| ClusterConfigError::InvalidServer(format!("{server} has no host")))?;
        Ok(Self {
            client: Sender::Https(Box::new(client)),
            server_scheme,
            server_authority,
            server_path_prefix: server.path().trim_end_matches('/').to_owned(),
            store,
            options,
            token_forms: std::sync::Mutex::default(),
            requests_sent: AtomicU64::new(0),
            statuses: StatusCounts::default(),
        })
    }

    /// Checks a provider's request against the policy of this transport's store.
    pub fn check<B>(&self, request: &http::Request<B>) -> Result<(), Violation> {
        match &self.store {
            Store::Kubernetes(_) => Ok(check_request(request)?),
            Store::Vault { mounts, .. } => Ok(crate::vault::check_vault_request(request, mounts)?),
        }
    }

    /// A transport whose API server is `responder`, in memory. Policy and token injection run as for the
    /// real one; only the network exchange is replaced.
    pub fn in_memory(responder: Responder, token: TokenSource, options: TransportOptions) -> Self {
        Self {
            client: Sender::Memory(responder),
            server_scheme: Scheme::HTTPS,
            server_authority: Authority::from_static("in-memory.invalid"),
            server_path_prefix: String::new(),
            store: Store::Kubernetes(token),
            options,
            token_forms: std::sync::Mutex::default(),
            requests_sent: AtomicU64::new(0),
            statuses: StatusCounts::default(),
        }
    }

    /// How many requests this transport has sent to the API server since it was created: every request a
    /// provider's lookups made that passed the policy, with the retry after a token rotation counted as a
    /// second request, and a request whose connection failed counted too (it was attempted). What `secrets
    /// bench` reports as API requests.
    pub fn requests_sent(&self) -> u64 {
        self.requests_sent.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The answers to [`StoreTransport::requests_sent`] by HTTP status, and the requests that got none.
    pub fn statuses(&self) -> &StatusCounts {
        &self.statuses
    }

    /// `GET https://kubernetes.default.svc<path_and_query>` on behalf of a provider's live view: the same policy
    /// as a provider's own requests ([`check_request`]), the same credentials and bounds; the whole answer.
    pub async fn get(&self, path_and_query: &str) -> Result<http::Response<Bytes>, HttpError> {
        let Store::Kubernetes(_) = &self.store else {
            return Err(HttpError::HttpRequestDenied);
        };
        let request = api_request(path_and_query)?;
        if let Err(violation) = check_request(&request) {
            tracing::warn!("refused a live view's list request: {violation}");
            return Err(HttpError::HttpRequestDenied);
        }
        let (parts, ()) = request.into_parts();
        self.send(parts, Bytes::new()).await
    }

    /// Opens the watch `path_and_query` names for a live view ([`check_watch_request`]): the status and headers,
    /// and the body as a stream of lines. Only providers granted live mode get here: their view's driver sends
    /// this request, never the component. A 401 is retried once with a rotated token, as a lookup's requests are.
    pub async fn watch(&self, path_and_query: &str, limits: WatchLimits) -> Result<WatchAnswer, HttpError> {
        let Store::Kubernetes(token_source) = &self.store else {
            return Err(HttpError::HttpRequestDenied);
        };
        let request = api_request(path_and_query)?;
        if let Err(violation) = check_watch_request(&request) {
            tracing::warn!("refused a live view's watch request: {violation}");
            return Err(HttpError::HttpRequestDenied);
        }
        let (parts, ()) = request.into_parts();
        let uri = self.server_uri(&parts.uri)?;
        let internal = |e: ClusterConfigError| HttpError::InternalError(Some(e.to_string()));
        let token = token_source.token().map_err(internal)?;
        let response = self.open_watch(&uri, &token).await?;
        // The token file is read again on a 401 only.
        let rotated =
            if response.status() == http::StatusCode::UNAUTHORIZED { token_source.rotated_since(&token) } else { None };
        let (token, response) = match rotated {
            Some(rotated) => {
                tracing::info!(
                    "the API server refused the token and the token file has changed; retrying the watch once"
                );
                drop(response);
                let response = self.open_watch(&uri, &rotated).await?;
                (rotated, response)
            }
            None => (token, response),
        };
        let (parts, body) = response.into_parts();
        Ok(WatchAnswer {
            status: parts.status.as_u16(),
            lines: WatchLines {
                body,
                buffer: Vec::new(),
                start: 0,
                searched: 0,
                ended: false,
                limits,
                forms: self.forms_of(&token),
                opened: tokio::time::Instant::now(),
            },
        })
    }

    /// Sends one watch request for `uri` with `token`: the answer's status and headers, its body unread.
    async fn open_watch(
        &self,
        uri: &http::Uri,
        token: &SecretString,
    ) -> Result<http::Response<hyper::body::Incoming>, HttpError> {
        let Sender::Https(client) = &self.client else {
            return Err(HttpError::InternalError(Some("an in-memory transport cannot watch".to_owned())));
        };
        let mut auth = HeaderValue::try_from(format!("Bearer {}", token.expose_secret()))
            .map_err(|_| HttpError::InternalError(Some("the token is not a valid header value".into())))?;
        auth.set_sensitive(true);
        let mut request = http::Request::new(Full::new(Bytes::new()));
        *request.uri_mut() = uri.clone();
        request.headers_mut().insert(ACCEPT, HeaderValue::from_static("application/json"));
        request.headers_mut().insert(AUTHORIZATION, auth);
        self.requests_sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut counted = Counted { statuses: &self.statuses, status: None };
        let response = tokio::time::timeout(self.options.request_timeout, client.request(request))
            .await
            .map_err(|_| HttpError::ConnectionReadTimeout)?
            .map_err(classify_client_error)?;
        counted.status = Some(response.status().as_u16());
        drop(counted);
        Ok(response)
    }

    /// Where a request for `uri` (addressed to [`API_AUTHORITY`]) goes: its path and query below the configured
    /// server's URL.
    fn server_uri(&self, uri: &http::Uri) -> Result<http::Uri, HttpError> {
        let path = uri.path_and_query().map_or("/", PathAndQuery::as_str);
        http::Uri::builder()
            .scheme(self.server_scheme.clone())
            .authority(self.server_authority.clone())
            .path_and_query(format!("{}{path}", self.server_path_prefix))
            .build()
            .map_err(|_| HttpError::HttpRequestUriInvalid)
    }

    /// Sends `GET`-style `parts` (already checked by [`StoreTransport::check`]) to the store, with the token.
    ///
    /// Kubernetes: on a 401, when the token file holds a different token than the one sent (the kubelet rotated
    /// it within the re-read period), the request is sent once more with the new token, as client-go does.
    /// Vault: on a 403, with a token file that changed, or after a new login when the token no longer works,
    /// the request is sent once more; a 403 for a path the token's policy denies is the answer.
    async fn send(&self, mut parts: http::request::Parts, body: Bytes) -> Result<http::Response<Bytes>, HttpError> {
        parts.uri = self.server_uri(&parts.uri)?;
        parts.headers.remove(HOST);
        if !parts.headers.contains_key(ACCEPT) {
            parts.headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        }
        let token = match self.credential().await? {
            Credential::Token(token) => token,
            Credential::Refused(why) => return Ok(refused_by_host(&why)),
        };
        let response = self.exchange(&parts, &body, &token).await?;
        let refused = match &self.store {
            Store::Kubernetes(_) => http::StatusCode::UNAUTHORIZED,
            Store::Vault { .. } => http::StatusCode::FORBIDDEN,
        };
        if response.status() != refused {
            return Ok(response);
        }
        Ok(match self.after_refusal(&token).await? {
            Some(Credential::Token(fresh)) => {
                tracing::info!("the store refused the token and the host has a new one; retrying once");
                self.exchange(&parts, &body, &fresh).await?
            }
            Some(Credential::Refused(why)) => refused_by_host(&why),
            None => response,
        })
    }

    /// The token to send now: the token file's (read on its cadence), or the login's (logging in first when
    /// there is none or its lease is two-thirds gone).
    async fn credential(&self) -> Result<Credential, HttpError> {
        let internal = |e: ClusterConfigError| HttpError::InternalError(Some(e.to_string()));
        match &self.store {
            Store::Kubernetes(source) => source.token().map(Credential::Token).map_err(internal),
            Store::Vault { credential: VaultCredential::File(source), .. } => {
                let token = source.token().map_err(internal)?;
                // The host cuts the token out of every answer: a short one ("root") would garble them.
                Ok(if crate::vault::is_usable_token(token.expose_secret()) {
                    Credential::Token(token)
                } else {
                    tracing::warn!("the Vault token file holds no usable token (8 printable characters or more)");
                    Credential::Refused("the host's Vault token file holds no usable token".to_owned())
                })
            }
            Store::Vault { credential: VaultCredential::Login { auth, session }, .. } => {
                let mut session = session.lock().await;
                let now = tokio::time::Instant::now();
                let kept = match &*session {
                    Session::Token { token, renew_at, .. } if renew_at.is_none_or(|at| now < at) => {
                        return Ok(Credential::Token(token.clone()));
                    }
                    Session::Refused { why, unavailable, until, .. } if now < *until => {
                        return if *unavailable {
                            Err(HttpError::DestinationUnavailable)
                        } else {
                            Ok(Credential::Refused(why.clone()))
                        };
                    }
                    // Time to renew a token that still works: a failed renewal keeps it until its end.
                    Session::Token { token, obtained, expires_at: Some(end), relogin_wait, .. } if now < *end => {
                        Some((token.clone(), *obtained, *end, *relogin_wait))
                    }
                    _ => None,
                };
                let renewed = self.login(auth, &mut session, Duration::ZERO).await;
                match (renewed, kept) {
                    (Ok(Credential::Token(token)), _) => Ok(Credential::Token(token)),
                    (_, Some((token, obtained, end, relogin_wait))) => {
                        tracing::warn!("renewing the host's Vault token failed; using the current one until its end");
                        let retry = now.checked_add(LOGIN_BACKOFF.0).map_or(end, |at| at.min(end));
                        *session = Session::Token {
                            token: token.clone(),
                            obtained,
                            renew_at: Some(retry),
                            expires_at: Some(end),
                            relogin_wait,
                        };
                        Ok(Credential::Token(token))
                    }
                    (other, None) => other,
                }
            }
        }
    }

    /// After the store refused `sent`: the credential to retry with, or `None` (the refusal stands).
    async fn after_refusal(&self, sent: &SecretString) -> Result<Option<Credential>, HttpError> {
        match &self.store {
            Store::Kubernetes(source) | Store::Vault { credential: VaultCredential::File(source), .. } => {
                Ok(source.rotated_since(sent).map(Credential::Token))
            }
            Store::Vault { credential: VaultCredential::Login { auth, session }, .. } => {
                // Another lookup logged in since `sent` was taken: retry with its token.
                let newer = |session: &Session| match session {
                    Session::Token { token, .. } if !crate::vault::same_token(token, sent) => Some(token.clone()),
                    _ => None,
                };
                if let Some(token) = newer(&*session.lock().await) {
                    return Ok(Some(Credential::Token(token)));
                }
                // Asked without the lock, so lookups of a working token are not held up. A token that still works
                // was refused by its policy, and a check that concludes nothing is no reason either: no new login.
                match self.token_check(sent).await? {
                    TokenCheck::Dead => {}
                    TokenCheck::Works | TokenCheck::Unknown => return Ok(None),
                }
                let mut session = session.lock().await;
                if let Some(token) = newer(&session) {
                    return Ok(Some(Credential::Token(token)));
                }
                let now = tokio::time::Instant::now();
                let wait = match &*session {
                    Session::Token { obtained, relogin_wait, .. } => {
                        if now.duration_since(*obtained) < *relogin_wait {
                            return Ok(None);
                        }
                        (*relogin_wait * 2).clamp(LOGIN_BACKOFF.0, LOGIN_BACKOFF.1)
                    }
                    Session::Refused { why, unavailable, until, .. } if now < *until => {
                        return if *unavailable {
                            Err(HttpError::DestinationUnavailable)
                        } else {
                            Ok(Some(Credential::Refused(why.clone())))
                        };
                    }
                    _ => LOGIN_BACKOFF.0,
                };
                tracing::info!("Vault no longer accepts the host's token (revoked or expired); logging in again");
                self.login(auth, &mut session, wait).await.map(Some)
            }
        }
    }

    /// `GET /v1/auth/token/lookup-self` with `token` (allowed by Vault's default policy): whether the token still
    /// works. Only a 401 or 403 says it does not.
    async fn token_check(&self, token: &SecretString) -> Result<TokenCheck, HttpError> {
        let uri = self.server_uri(&http::Uri::from_static("/v1/auth/token/lookup-self"))?;
        let mut request = http::Request::get(uri).body(()).map_err(|_| HttpError::HttpRequestUriInvalid)?;
        request.headers_mut().insert(ACCEPT, HeaderValue::from_static("application/json"));
        let (parts, ()) = request.into_parts();
        let status = self.exchange(&parts, &Bytes::new(), token).await?.status();
        Ok(match status.as_u16() {
            200..=299 => TokenCheck::Works,
            401 | 403 => TokenCheck::Dead,
            _ => TokenCheck::Unknown,
        })
    }

    /// Logs in with `auth` and keeps the token in `session`. A refused login is [`Credential::Refused`], kept
    /// for a growing while ([`LOGIN_BACKOFF`]); the host's log has the reason, the provider a message naming
    /// the auth mount and the status only (Vault's text could echo the credential sent). A store that cannot be
    /// reached is the transport's error.
    ///
    /// `relogin_wait`: how long the new token must have been held before a refusal may replace it.
    async fn login(
        &self,
        auth: &VaultAuth,
        session: &mut Session,
        relogin_wait: Duration,
    ) -> Result<Credential, HttpError> {
        let mut refused = |error: crate::vault::VaultLoginError| {
            tracing::warn!("the host could not log in to Vault: {error}");
            let backoff = match &*session {
                Session::Refused { backoff, .. } => (*backoff * 2).min(LOGIN_BACKOFF.1),
                _ => LOGIN_BACKOFF.0,
            };
            let why = error.for_provider();
            let unavailable = error.is_unavailable();
            let until = tokio::time::Instant::now() + backoff;
            *session = Session::Refused { why: why.clone(), unavailable, until, backoff };
            if unavailable { Err(HttpError::DestinationUnavailable) } else { Ok(Credential::Refused(why)) }
        };
        let (path, body) = match crate::vault::login_request(auth) {
            Ok(Some(request)) => request,
            Ok(None) => return refused(crate::vault::VaultLoginError::NoLogin),
            Err(e) => return refused(e),
        };
        let mount = path.trim_start_matches("/v1/auth/").trim_end_matches("/login").to_owned();
        let uri = self.server_uri(&path.parse::<http::Uri>().map_err(|_| HttpError::HttpRequestUriInvalid)?)?;
        let Sender::Https(client) = &self.client else {
            return refused(crate::vault::VaultLoginError::NoLogin);
        };
        let mut request = http::Request::post(uri)
            .header(ACCEPT, "application/json")
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.expose_secret().to_owned())))
            .map_err(|_| HttpError::HttpRequestUriInvalid)?;
        request.headers_mut().remove(HOST);
        // The lease runs from about when Vault issued the token: before the answer's way back.
        let obtained = tokio::time::Instant::now();
        self.requests_sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut counted = Counted { statuses: &self.statuses, status: None };
        let exchange = async {
            let response = client.request(request).await.map_err(classify_client_error)?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), crate::vault::MAX_LOGIN_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|_| HttpError::HttpResponseBodySize(None))?
                .to_bytes();
            Ok::<_, HttpError>((status, body))
        };
        let (status, answer) = tokio::time::timeout(self.options.request_timeout, exchange)
            .await
            .map_err(|_| HttpError::ConnectionReadTimeout)??;
        counted.status = Some(status);
        drop(counted);
        match crate::vault::parse_login(status, &answer, &mount, &body) {
            Ok(login) => {
                let after = |d: Duration| obtained.checked_add(d).unwrap_or(obtained);
                let renew_at = login.lease.map(|lease| after(crate::vault::renew_after(lease)));
                let expires_at = login.lease.map(after);
                *session = Session::Token { token: login.token.clone(), obtained, renew_at, expires_at, relogin_wait };
                Ok(Credential::Token(login.token))
            }
            Err(e) => refused(e),
        }
    }

    /// One request with `token`, the whole (bounded) answer read; counted by its status.
    async fn exchange(
        &self,
        parts: &http::request::Parts,
        body: &Bytes,
        token: &SecretString,
    ) -> Result<http::Response<Bytes>, HttpError> {
        let (name, value) = match &self.store {
            Store::Kubernetes(_) => (AUTHORIZATION, format!("Bearer {}", token.expose_secret())),
            Store::Vault { .. } => (HeaderName::from_static(VAULT_TOKEN_HEADER), token.expose_secret().to_owned()),
        };
        let mut auth = HeaderValue::try_from(value)
            .map_err(|_| HttpError::InternalError(Some("the token is not a valid header value".into())))?;
        auth.set_sensitive(true);
        let mut request = http::Request::new(Full::new(body.clone()));
        *request.method_mut() = parts.method.clone();
        *request.uri_mut() = parts.uri.clone();
        *request.version_mut() = parts.version;
        *request.headers_mut() = parts.headers.clone();
        request.headers_mut().insert(name, auth);
        self.requests_sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Every request sent is counted once by status: with no answer when it fails, or when the lookup's
        // deadline drops it midway (the guard's drop).
        let mut counted = Counted { statuses: &self.statuses, status: None };
        let answer = self.send_counted(request, token).await;
        counted.status = answer.as_ref().ok().map(|r| r.status().as_u16());
        answer
    }

    async fn send_counted(
        &self,
        request: http::Request<Full<Bytes>>,
        token: &SecretString,
    ) -> Result<http::Response<Bytes>, HttpError> {
        let client = match &self.client {
            Sender::Https(client) => client,
            Sender::Memory(responder) => {
                let (parts, _) = request.into_parts();
                return Ok(without_secret(responder(&parts), &self.forms_of(token)));
            }
        };
        let max = self.options.max_response_bytes;
        let exchange = async {
            let response = client.request(request).await.map_err(classify_client_error)?;
            let (parts, body) = response.into_parts();
            // Too large is the bound's doing; anything else (a reset, a truncated body) is the connection's.
            let body = Limited::new(body, max)
                .collect()
                .await
                .map_err(|e| {
                    if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                        HttpError::HttpResponseBodySize(u64::try_from(max).ok())
                    } else if e.downcast_ref::<hyper::Error>().is_some_and(hyper::Error::is_parse) {
                        HttpError::HttpProtocolError
                    } else {
                        HttpError::ConnectionTerminated
                    }
                })?
                .to_bytes();
            Ok::<_, HttpError>(http::Response::from_parts(parts, body))
        };
        let response = tokio::time::timeout(self.options.request_timeout, exchange)
            .await
            .map_err(|_| HttpError::ConnectionReadTimeout)??;
        Ok(without_secret(response, &self.forms_of(token)))
    }

    /// The forms of `token` to redact from answers, cached until the token changes (a rotation).
    fn forms_of(&self, token: &SecretString) -> Arc<[Finder<'static>]> {
        let mut cached = self.token_forms.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match cached.as_ref() {
            Some((for_token, forms)) if for_token.expose_secret() == token.expose_secret() => Arc::clone(forms),
            _ => {
                let forms: Arc<[Finder<'static>]> = secret_forms(token.expose_secret().as_bytes()).into();
                *cached = Some((token.clone(), Arc::clone(&forms)));
                forms
            }
        }
    }
}

/// The header that carries a Vault token.
pub const VAULT_TOKEN_HEADER: &str = "x-vault-token";

/// The answer a provider gets when the host could not obtain a Vault token: a 403 with Vault's error shape, so
/// the provider reports `access-denied` with the host's reason (which names no credential).
fn refused_by_host(why: &str) -> http::Response<Bytes> {
    let body = serde_json::json!({"errors": [format!("the host could not authenticate to Vault: {why}")]});
    let mut response = http::Response::new(Bytes::from(body.to_string()));
    *response.status_mut() = http::StatusCode::FORBIDDEN;
    response
}

/// A pooled client trusting only `roots`, with the transport's connect timeout; plain http too when `plain`
/// (a Vault development server on loopback, [`VaultGrant::check`]).
fn https_client(
    roots: &[rustls::pki_types::CertificateDer<'static>],
    options: &TransportOptions,
    plain: bool,
) -> Result<HttpsClient, ClusterConfigError> {
    let mut store = rustls::RootCertStore::empty();
    for cert in roots {
        store.add(cert.clone()).map_err(|e| ClusterConfigError::InvalidCa(e.to_string()))?;
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| ClusterConfigError::Tls(e.to_string()))?
        .with_root_certificates(store)
        .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(options.connect_timeout));
    http.set_nodelay(true);
    let builder = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls);
    let https = if plain { builder.https_or_http() } else { builder.https_only() }.enable_http1().wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(90)).build(https))
}

/// `GET https://kubernetes.default.svc<path_and_query>`, as a provider would send it.
fn api_request(path_and_query: &str) -> Result<http::Request<()>, HttpError> {
    http::Request::get(format!("https://{API_AUTHORITY}{path_and_query}"))
        .body(())
        .map_err(|_| HttpError::HttpRequestUriInvalid)
}

/// The bounds of one watch stream: every wait and every buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchLimits {
    /// The longest line (one event) accepted; a longer one ends the stream with an error.
    pub max_line_bytes: usize,
    /// The longest wait for the next bytes (the API server sends a bookmark about every minute).
    pub idle_timeout: Duration,
    /// The longest a stream is kept open, whatever the server says (it closes its own end sooner).
    pub max_duration: Duration,
}

impl Default for WatchLimits {
    fn default() -> Self {
        Self {
            max_line_bytes: 8 * 1024 * 1024,
            idle_timeout: Duration::from_secs(150),
            max_duration: Duration::from_secs(330),
        }
    }
}

/// A day from now: the deadline of a wait whose configured bound overflows the clock.
fn far_future() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(86_400)
}

/// An opened watch: its HTTP status, and its body as lines.
pub struct WatchAnswer {
    /// The HTTP status (a refused watch is a plain error answer, read with [`WatchLines::rest`]).
    pub status: u16,
    /// The body.
    pub lines: WatchLines,
}

/// A watch body split into lines, each bounded, each wait bounded, the host's token redacted from each line
/// as from every answer a component sees.
pub struct WatchLines {
    body: hyper::body::Incoming,
    buffer: Vec<u8>,
    /// Where the next line starts in `buffer`, and how far it has been searched for a newline: each byte is
    /// searched once, and the buffer is shifted only when half of it is consumed (no quadratic work however the
    /// server splits its frames).
    start: usize,
    searched: usize,
    ended: bool,
    limits: WatchLimits,
    forms: Arc<[Finder<'static>]>,
    opened: tokio::time::Instant,
}

/// Why a watch stream stopped early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WatchError {
    /// No bytes within the idle timeout, or the stream outlived its maximum duration.
    #[error("the watch stream was silent for longer than {0:?}")]
    Idle(Duration),
    /// A line beyond the bound.
    #[error("a watch event is larger than {0} bytes")]
    LineTooLong(usize),
    /// The connection broke.
    #[error("the watch connection broke")]
    Broken,
}

impl WatchLines {
    /// The next line without its newline (empty lines skipped); `None` at the end of the stream. A stream
    /// that outlives [`WatchLimits::max_duration`] ends as if the server had closed it.
    pub async fn next(&mut self) -> Result<Option<Vec<u8>>, WatchError> {
        loop {
            if let Some(offset) = memchr::memchr(b'\n', self.buffer.get(self.searched..).unwrap_or_default()) {
                let end = self.searched + offset;
                if end - self.start > self.limits.max_line_bytes {
                    return Err(WatchError::LineTooLong(self.limits.max_line_bytes));
                }
                let mut line = self.buffer.get(self.start..end).unwrap_or_default();
                if line.last() == Some(&b'\r') {
                    line = line.get(..line.len() - 1).unwrap_or_default();
                }
                let line = line.to_vec();
                self.start = end + 1;
                self.searched = self.start;
                if line.is_empty() {
                    continue;
                }
                return Ok(Some(redact(&line, &self.forms).unwrap_or(line)));
            }
            self.searched = self.buffer.len();
            if self.searched - self.start > self.limits.max_line_bytes {
                return Err(WatchError::LineTooLong(self.limits.max_line_bytes));
            }
            if self.start > 0 && self.start >= self.buffer.len() / 2 {
                self.buffer.drain(..self.start);
                self.searched -= self.start;
                self.start = 0;
            }
            if self.ended {
                // A last line without its newline is still a line.
                let mut line = self.buffer.split_off(self.start);
                self.searched = self.start;
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if line.is_empty() {
                    return Ok(None);
                }
                return Ok(Some(redact(&line, &self.forms).unwrap_or(line)));
            }
            let closes = self.opened.checked_add(self.limits.max_duration).unwrap_or_else(far_future);
            let wait = tokio::time::Instant::now().checked_add(self.limits.idle_timeout).unwrap_or_else(far_future);
            let frame = match tokio::time::timeout_at(wait.min(closes), self.body.frame()).await {
                Err(_) if tokio::time::Instant::now() >= closes => return Ok(None),
                Err(_) => return Err(WatchError::Idle(self.limits.idle_timeout)),
                Ok(frame) => frame,
            };
            match frame {
                None => self.ended = true,
                Some(Err(_)) => return Err(WatchError::Broken),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.extend_from_slice(&data);
                    }
                }
            }
        }
    }

    /// The rest of the body (a refused watch's error answer), at most `max` bytes and within the idle timeout.
    pub async fn rest(mut self, max: usize) -> Vec<u8> {
        let collected = Limited::new(&mut self.body, max).collect();
        match tokio::time::timeout(self.limits.idle_timeout, collected).await {
            Ok(Ok(body)) => {
                let body = body.to_bytes();
                redact(&body, &self.forms).unwrap_or_else(|| body.to_vec())
            }
            _ => Vec::new(),
        }
    }
}

/// Records its request's status (or no answer) in the transport's counts when dropped.
struct Counted<'a> {
    statuses: &'a StatusCounts,
    status: Option<u16>,
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.statuses.record(self.status);
    }
}

/// What the component may see of an answer: `response` with every one of `forms` (of the host's token, see
/// [`secret_forms`]) replaced by `[REDACTED]`, in its body and header values. A server or proxy that
/// echoes the request's credentials (in an error message, say), or a Secret that holds the token (a legacy
/// service-account-token Secret, base64-encoded), must not hand it to the component, which could log it or put
/// it in an error the user sees. A redacted answer loses its `Content-Length`, which no longer holds.
fn without_secret(response: http::Response<Bytes>, forms: &[Finder<'static>]) -> http::Response<Bytes> {
    let (mut parts, body) = response.into_parts();
    for value in parts.headers.values_mut() {
        if let Some(redacted) = redact(value.as_bytes(), forms) {
            *value = HeaderValue::from_bytes(&redacted).unwrap_or_else(|_| HeaderValue::from_static(REDACTED));
        }
    }
    let body = match redact(&body, forms) {
        Some(redacted) => {
            parts.headers.remove(http::header::CONTENT_LENGTH);
            Bytes::from(redacted)
        }
        None => body,
    };
    http::Response::from_parts(parts, body)
}

const REDACTED: &str = "[REDACTED]";

/// The shortest base64 fragment searched for: a shorter one could match unrelated data.
const MIN_BASE64_FORM: usize = 16;

/// The forms in which `secret` can appear in an answer: as is; JSON-escaped as Go writes it (the API server
/// escapes `<`, `>` and `&`); and base64-encoded, standard and URL-safe, at each of the three alignments the
/// secret can have inside a longer encoded value (only the characters that depend on the secret alone). Each
/// comes as a ready searcher: they are built once per token, not once per answer.
fn secret_forms(secret: &[u8]) -> Vec<Finder<'static>> {
    use base64::Engine as _;
    let mut forms = vec![secret.to_vec()];
    let mut escaped = Vec::with_capacity(secret.len());
    for &b in secret {
        match b {
            b'<' => escaped.extend_from_slice(br"\u003c"),
            b'>' => escaped.extend_from_slice(br"\u003e"),
            b'&' => escaped.extend_from_slice(br"\u0026"),
            other => escaped.push(other),
        }
    }
    if escaped != secret {
        forms.push(escaped);
    }
    for offset in 0..3 {
        let mut input = vec![0u8; offset];
        input.extend_from_slice(secret);
        let encoded = base64::engine::general_purpose::STANDARD.encode(&input);
        // Characters before `skip` mix in the bytes before the secret; after `end`, those after it.
        let skip = if offset == 0 { 0 } else { offset + 1 };
        let end = input.len() / 3 * 4;
        if let Some(fragment) = encoded.get(skip..end).filter(|f| f.len() >= MIN_BASE64_FORM) {
            forms.push(fragment.as_bytes().to_vec());
            let url_safe: Vec<u8> = fragment
                .bytes()
                .map(|c| match c {
                    b'+' => b'-',
                    b'/' => b'_',
                    other => other,
                })
                .collect();
            if url_safe != fragment.as_bytes() {
                forms.push(url_safe);
            }
        }
    }
    forms.iter().filter(|form| !form.is_empty()).map(|form| Finder::new(form).into_owned()).collect()
}

/// `bytes` with every occurrence of each of `forms` replaced by [`REDACTED`]; `None` when there is none.
/// The search is linear in `bytes` (`memmem`), so a hostile answer cannot make it slow.
fn redact(bytes: &[u8], forms: &[Finder<'static>]) -> Option<Vec<u8>> {
    let mut current: Option<Vec<u8>> = None;
    for finder in forms {
        let haystack = current.as_deref().unwrap_or(bytes);
        if finder.find(haystack).is_none() {
            continue;
        }
        let mut out = Vec::with_capacity(haystack.len());
        let mut last = 0;
        for start in finder.find_iter(haystack) {
            if start < last {
                continue;
            }
            out.extend_from_slice(haystack.get(last..start).unwrap_or_default());
            out.extend_from_slice(REDACTED.as_bytes());
            last = start + finder.needle().len();
        }
        out.extend_from_slice(haystack.get(last..).unwrap_or_default());
        current = Some(out);
    }
    current
}

fn classify_client_error(e: hyper_util::client::legacy::Error) -> HttpError {
    use std::error::Error as _;
    if e.is_connect() {
        let text = e.source().map(ToString::to_string).unwrap_or_default();
        if text.contains("timed out") || text.contains("timeout") {
            return HttpError::ConnectionTimeout;
        }
        if text.contains("certificate") || text.contains("InvalidCertificate") {
            return HttpError::TlsCertificateError;
        }
        return HttpError::ConnectionRefused;
    }
    // The connection ended before the answer did (reset, closed mid-message, an I/O error on the socket): the
    // store's side went away, which is not a protocol error.
    let hyper_error = e.source().and_then(|s| s.downcast_ref::<hyper::Error>());
    let io_error = hyper_error.and_then(|h| h.source()).is_some_and(|s| s.is::<std::io::Error>());
    if io_error || hyper_error.is_some_and(|h| h.is_incomplete_message() || h.is_closed() || h.is_canceled()) {
        return HttpError::ConnectionTerminated;
    }
    HttpError::HttpProtocolError
}

/// Why the policy refused a request (for the host's log; the guest sees `HttpRequestDenied`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    /// The scheme is not `https`.
    #[error("scheme `{0}` is not allowed; providers must use https")]
    Scheme(String),
    /// The authority is not the API server's.
    #[error("authority `{0}` is not allowed; providers may only reach {API_AUTHORITY}")]
    Authority(String),
    /// Providers only read.
    #[error("method {0} is not allowed; providers may only read (GET)")]
    Method(String),
    /// The path is not a Secrets read in some namespace.
    #[error("path `{0}` is not allowed; providers may only read /api/v1/namespaces/<namespace>/secrets[/<name>]")]
    Path(String),
    /// A query parameter outside the allowlist (a watch, for one).
    #[error("query parameter `{0}` is not allowed; providers may only list and read")]
    Query(String),
    /// A header outside the allowlist (credentials, impersonation, ...).
    #[error("header `{0}` is not allowed; the host supplies credentials and identity")]
    Header(String),
}

/// Request headers a provider may send; everything else (credentials, `Impersonate-*`, a body's
/// `Content-Length`, ...) is refused.
pub const ALLOWED_GUEST_HEADERS: [&str; 2] = ["accept", "user-agent"];

/// Query parameters a provider may send: what a list or read of Secrets takes. Not `watch` (a long-lived
/// stream is the host's to run), nor anything else.
pub const ALLOWED_QUERY_PARAMETERS: [&str; 6] =
    ["labelSelector", "fieldSelector", "resourceVersion", "resourceVersionMatch", "limit", "continue"];

/// The longest piece of a refused request that goes into the host's log (the rest is the guest's to choose).
const MAX_SHOWN: usize = 200;

/// `text`, from the guest or the store, as the host's log may show it: escaped, at most [`MAX_SHOWN`]
/// characters (the rest is the sender's to choose).
pub(crate) fn shown(text: &str) -> String {
    let escaped: String = text.chars().take(MAX_SHOWN).flat_map(char::escape_debug).collect();
    if text.chars().count() > MAX_SHOWN { format!("{escaped}…") } else { escaped }
}

/// The policy, checked before anything is sent: `GET https://kubernetes.default.svc[:443]` on a Secrets list or
/// get path, with no header outside [`ALLOWED_GUEST_HEADERS`]. RBAC stays the primary control; this keeps a
/// compromised provider from using the service account for anything but reading Secrets, even where RBAC
/// would allow more.
pub fn check_request<B>(request: &http::Request<B>) -> Result<(), PolicyViolation> {
    let uri = request.uri();
    match uri.scheme() {
        Some(s) if *s == Scheme::HTTPS => {}
        other => return Err(PolicyViolation::Scheme(shown(&other.map(ToString::to_string).unwrap_or_default()))),
    }
    let authority = uri.authority().map(Authority::as_str).unwrap_or_default();
    let allowed = authority == API_AUTHORITY || authority == format!("{API_AUTHORITY}:443");
    if !allowed {
        return Err(PolicyViolation::Authority(shown(authority)));
    }
    if request.method() != http::Method::GET {
        return Err(PolicyViolation::Method(shown(request.method().as_str())));
    }
    if !is_secrets_read_path(uri.path()) {
        return Err(PolicyViolation::Path(shown(uri.path())));
    }
    // Names as the API server decodes them (`w%61tch` is `watch` there).
    let query = uri.query().unwrap_or_default().as_bytes();
    if let Some((name, _)) =
        form_urlencoded::parse(query).find(|(k, _)| !ALLOWED_QUERY_PARAMETERS.contains(&k.as_ref()))
    {
        return Err(PolicyViolation::Query(shown(&name)));
    }
    if let Some(name) = request.headers().keys().find(|n| !ALLOWED_GUEST_HEADERS.contains(&n.as_str())) {
        return Err(PolicyViolation::Header(shown(name.as_str())));
    }
    Ok(())
}

/// `/api/v1/namespaces/<ns>/secrets` or `/api/v1/namespaces/<ns>/secrets/<name>`, where `<ns>` is a valid
/// namespace name and `<name>` a valid object name.
///
/// The decision is made on the path as the API server will read it: the server percent-decodes the path
/// before it splits it, so `%2F` in a segment would add segments (`/namespaces/ns%2Fpods%2Fp%2Fproxy%2F/secrets`
/// is a pod's proxy subresource there) and `%2e%2e` would be a `..`. Kubernetes names are made of lowercase
/// letters, digits, `-` and `.` only, so a segment holding `%` or anything else cannot name a namespace or a
/// Secret, and is refused; what passes reads the same encoded and decoded.
fn is_secrets_read_path(path: &str) -> bool {
    use wasm_secrets_provider_kubernetes::request::{is_namespace_name, is_object_name};
    let Some(rest) = path.strip_prefix("/api/v1/namespaces/") else {
        return false;
    };
    let segments: Vec<&str> = rest.split('/').collect();
    match segments.as_slice() {
        [ns, "secrets"] => is_namespace_name(ns),
        [ns, "secrets", name] => is_namespace_name(ns) && is_object_name(name),
        _ => false,
    }
}

/// What a watch adds to a list's query parameters ([`check_watch_request`]).
pub const WATCH_QUERY_PARAMETERS: [&str; 3] = ["watch", "allowWatchBookmarks", "timeoutSeconds"];

/// The policy of a live view's watch: what [`check_request`] allows, plus the watch parameters, and `watch`
/// must be there (`true`): a watch path cannot be used for anything else.
pub fn check_watch_request<B>(request: &http::Request<B>) -> Result<(), PolicyViolation> {
    let query = request.uri().query().unwrap_or_default().as_bytes();
    let mut watch = None;
    for (name, value) in form_urlencoded::parse(query) {
        let name = name.as_ref();
        if name == "watch" {
            // The API server reads the first value, a check the last: one value only.
            if watch.is_some() {
                return Err(PolicyViolation::Query("watch (given twice)".to_owned()));
            }
            watch = Some(matches!(value.as_ref(), "true" | "1"));
        }
        if !ALLOWED_QUERY_PARAMETERS.contains(&name) && !WATCH_QUERY_PARAMETERS.contains(&name) {
            return Err(PolicyViolation::Query(shown(name)));
        }
    }
    if watch != Some(true) {
        return Err(PolicyViolation::Query("watch (missing or not true)".to_owned()));
    }
    // Everything else as for any request: the list parameters are all the rest may hold.
    let mut list =
        http::Request::get(request.uri().path()).body(()).map_err(|_| PolicyViolation::Path(String::new()))?;
    let uri = http::Uri::builder()
        .scheme(request.uri().scheme().cloned().unwrap_or(Scheme::HTTP))
        .authority(request.uri().authority().map_or("", Authority::as_str))
        .path_and_query(request.uri().path())
        .build()
        .map_err(|_| PolicyViolation::Path(shown(request.uri().path())))?;
    *list.uri_mut() = uri;
    *list.method_mut() = request.method().clone();
    *list.headers_mut() = request.headers().clone();
    check_request(&list)
}

/// Headers a guest may neither set nor read: wasi-http's defaults plus every credential header.
pub fn is_forbidden_guest_header(name: &HeaderName) -> bool {
    DEFAULT_FORBIDDEN_HEADERS.contains(name)
        || name == AUTHORIZATION
        || name.as_str() == VAULT_TOKEN_HEADER
        || name.as_str() == "cookie"
        || name.as_str() == "proxy-authorization"
        || name.as_str().starts_with("impersonate-")
}

/// The largest request body a provider may send (it only reads: a `GET` has none).
pub const MAX_REQUEST_BODY_BYTES: usize = 64 * 1024;

/// What one lookup may ask of the transport. Airflow's lookups send one or two requests; the bounds leave
/// room for paginated lists while keeping a hostile component from fanning out or from making the host
/// buffer more than the component could ever hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// Requests in flight at once, in the store (an instance kept for several lookups keeps its own).
    pub max_in_flight: usize,
    /// Requests started by one lookup.
    pub max_requests: usize,
    /// Answer bytes the host holds for the store at once: answers handed to the component and not yet
    /// dropped by it.
    pub max_answer_bytes: usize,
}

/// How many refused requests of one lookup are logged; the rest are counted in one last line.
const MAX_REFUSALS_LOGGED: usize = 10;

/// The wasi-http hooks of one store: policy, then credentials, then the shared transport, within the
/// store's [`RequestLimits`].
pub struct ProviderHooks {
    transport: Option<Arc<StoreTransport>>,
    budget: Arc<Budget>,
}

/// What the store has used of its [`RequestLimits`]. Requests in flight and answers held are counted by
/// guards that live as long as the request or the answer's body, so an instance kept for several lookups
/// cannot pile them up across lookups; the requests started and the refusals logged are per lookup.
#[derive(Debug)]
struct Budget {
    limits: RequestLimits,
    in_flight: AtomicUsize,
    held_answer_bytes: AtomicUsize,
    started: AtomicUsize,
    refusals: AtomicUsize,
}

/// One request in flight; dropping it (answered, failed or abandoned) frees its place.
struct InFlight(Arc<Budget>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, SeqCst);
    }
}

/// The bytes of one answer the host holds; released when the component drops the answer's body.
struct HeldAnswer(Arc<Budget>, usize);

impl Drop for HeldAnswer {
    fn drop(&mut self) {
        self.0.held_answer_bytes.fetch_sub(self.1, SeqCst);
    }
}

impl Budget {
    fn new(limits: RequestLimits) -> Self {
        Self {
            limits,
            in_flight: AtomicUsize::new(0),
            held_answer_bytes: AtomicUsize::new(0),
            started: AtomicUsize::new(0),
            refusals: AtomicUsize::new(0),
        }
    }

    /// A place for one more request, or why there is none.
    fn start(self: &Arc<Self>) -> Result<InFlight, String> {
        if self.started.fetch_add(1, SeqCst) >= self.limits.max_requests {
            return Err(format!("more than {} requests in one lookup", self.limits.max_requests));
        }
        if self.in_flight.fetch_add(1, SeqCst) >= self.limits.max_in_flight {
            self.in_flight.fetch_sub(1, SeqCst);
            return Err(format!("more than {} requests in flight", self.limits.max_in_flight));
        }
        Ok(InFlight(Arc::clone(self)))
    }

    /// Holds `bytes` of answer for the component, or `None` when that would exceed what the store may hold.
    fn hold_answer(self: &Arc<Self>, bytes: usize) -> Option<HeldAnswer> {
        let before = self.held_answer_bytes.fetch_add(bytes, SeqCst);
        if before.saturating_add(bytes) > self.limits.max_answer_bytes {
            self.held_answer_bytes.fetch_sub(bytes, SeqCst);
            return None;
        }
        Some(HeldAnswer(Arc::clone(self), bytes))
    }

    /// Logs a refused request, at most [`MAX_REFUSALS_LOGGED`] per lookup: a component looping on refused
    /// requests must not flood the host's log.
    fn log_refusal(&self, reason: &dyn std::fmt::Display) {
        match self.refusals.fetch_add(1, SeqCst) {
            n if n < MAX_REFUSALS_LOGGED => tracing::warn!(%reason, "refused a provider request"),
            MAX_REFUSALS_LOGGED => {
                tracing::warn!("the provider keeps sending refused requests; the rest of this lookup's are not logged");
            }
            _ => {}
        }
    }
}

/// An answer's body that keeps its [`HeldAnswer`] until the component drops it.
struct HeldBody {
    body: Full<Bytes>,
    _held: HeldAnswer,
}

impl http_body::Body for HeldBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        std::pin::Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

impl ProviderHooks {
    /// Hooks sending through `transport`, within `limits`.
    pub fn new(transport: Arc<StoreTransport>, limits: RequestLimits) -> Self {
        Self { transport: Some(transport), budget: Arc::new(Budget::new(limits)) }
    }

    /// Hooks of a provider granted no HTTP access: every request is refused.
    pub fn deny_all() -> Self {
        let limits = RequestLimits { max_in_flight: 0, max_requests: 0, max_answer_bytes: 0 };
        Self { transport: None, budget: Arc::new(Budget::new(limits)) }
    }

    /// Starts a new lookup: its requests and logged refusals are counted afresh (requests still in flight and
    /// answers still held stay counted).
    pub fn start_lookup(&mut self) {
        self.budget.started.store(0, SeqCst);
        self.budget.refusals.store(0, SeqCst);
    }
}

impl WasiHttpHooks for ProviderHooks {
    fn forbidden_header_filter(&mut self) -> ForbiddenHeaderFilter {
        Arc::new(is_forbidden_guest_header)
    }

    fn is_supported_scheme(&mut self, scheme: &Scheme) -> bool {
        *scheme == Scheme::HTTPS
    }

    fn set_host_header(&mut self) -> bool {
        false
    }

    /// A request body's stream accepts no bytes: providers only read (a request with a body is refused), and
    /// whatever a body's stream accepted would wait in host memory, outside the store's limits, for a request
    /// that is never sent. A write is then refused (a trap), and a blocking write gives up (a trap too).
    fn p2_outgoing_body_chunk_size(&mut self) -> usize {
        0
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (http::Response<WasiBody>, Box<dyn Future<Output = Result<(), HttpError>> + Send>),
                    HttpError,
                >,
            > + Send,
    > {
        let exchange = self.exchange(request);
        Box::new(async move {
            let response = exchange.await?;
            let done: Box<dyn Future<Output = Result<(), HttpError>> + Send> = Box::new(async { Ok(()) });
            Ok((response, done))
        })
    }
}

/// How many idle tasks [`idle_task`] spawns at once.
const IDLE_TASK_BATCH: usize = 32;

/// The handle of a task that does nothing, for an answer: wasmtime-wasi-http keeps every answer with the task its
/// body comes from (`AbortOnDropJoinHandle`, wasmtime's connection task), and only a spawn makes one. Answers
/// here are in memory already, so the task has nothing to do. A spawn from a thread that is not one of the
/// runtime's workers (a `block_on` caller, as the `secrets` command's lookups) wakes a worker: measured, a
/// quarter of a warm lookup answered from memory. Spawned in batches, one wake serves a batch.
fn idle_task() -> wasmtime_wasi::runtime::AbortOnDropJoinHandle<()> {
    static STOCK: std::sync::Mutex<Vec<wasmtime_wasi::runtime::AbortOnDropJoinHandle<()>>> =
        std::sync::Mutex::new(Vec::new());
    let mut stock = STOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if stock.is_empty() {
        stock.extend((0..IDLE_TASK_BATCH).map(|_| wasmtime_wasi::runtime::spawn(async {})));
    }
    stock.pop().unwrap_or_else(|| wasmtime_wasi::runtime::spawn(async {}))
}

impl ProviderHooks {
    /// One request, from the guest's request to the answer it may read: policy, budget, credentials and
    /// transport, the answer bounded. Every path a provider request takes goes through here.
    fn exchange(
        &self,
        request: http::Request<WasiBody>,
    ) -> impl Future<Output = Result<http::Response<WasiBody>, HttpError>> + Send + 'static {
        let transport = self.transport.clone();
        let budget = Arc::clone(&self.budget);
        async move {
            let Some(transport) = transport else {
                budget.log_refusal(&"the host grants this provider no HTTP access");
                return Err(HttpError::HttpRequestDenied);
            };
            if let Err(violation) = transport.check(&request) {
                budget.log_refusal(&violation);
                return Err(HttpError::HttpRequestDenied);
            }
            let _in_flight = budget.start().map_err(|reason| {
                budget.log_refusal(&reason);
                HttpError::HttpRequestDenied
            })?;
            let (parts, body) = request.into_parts();
            let body = Limited::new(body, MAX_REQUEST_BODY_BYTES)
                .collect()
                .await
                .map_err(|_| HttpError::HttpRequestBodySize(u64::try_from(MAX_REQUEST_BODY_BYTES).ok()))?
                .to_bytes();
            if !body.is_empty() {
                budget.log_refusal(&"a request body (providers only read)");
                return Err(HttpError::HttpRequestDenied);
            }
            let response = transport.send(parts, body).await?;
            let Some(held) = budget.hold_answer(response.body().len()) else {
                let max = budget.limits.max_answer_bytes;
                budget.log_refusal(&format!("an answer beyond the {max} bytes the store may hold"));
                return Err(HttpError::HttpResponseBodySize(u64::try_from(max).ok()));
            };
            Ok(response.map(|body| {
                HeldBody { body: Full::new(body), _held: held }.map_err(|never| match never {}).boxed_unsync()
            }))
        }
    }

    /// `wasi:http/outgoing-handler.handle` answered in place: the request is exchanged while the guest waits in
    /// the call, and the future the guest gets is already resolved. wasmtime-wasi-http's own `handle` returns
    /// at once and spawns the exchange (and a second task for its connection), so the guest then polls, blocks
    /// and asks again: three more boundary crossings and a second task per request, for providers that wait on
    /// each answer anyway. The cost: one component's requests run one after the other.
    ///
    /// The exchange runs in the call itself, on the guest's fiber stack, where wasmtime polls async host calls:
    /// no task to spawn and no thread to wake and wait for, which is most of what a request answered from memory
    /// costs on a multi-threaded runtime. That stack leaves host code at least `async_stack_size` minus
    /// `max_wasm_stack` (1.5 MiB with wasmtime's defaults, which the engine keeps), more than connecting over TLS
    /// needs. A lookup that times out drops the call, and with it the exchange.
    ///
    /// The request is turned into an `http::Request` as wasmtime-wasi-http does (HTTPS when the guest names no
    /// scheme; headers were filtered when the guest set them). A request with a body is refused at once:
    /// providers only read, and a body written after `handle` could never arrive while the guest waits in it.
    pub fn handle_in_place(
        &self,
        request: HostOutgoingRequest,
    ) -> impl Future<Output = HostFutureIncomingResponse> + Send + 'static {
        let exchange = self.guest_request(request).map(|request| self.exchange(request));
        async move {
            let exchange = match exchange {
                Ok(exchange) => exchange,
                Err(refused) => return HostFutureIncomingResponse::Ready(Err(refused)),
            };
            let result = exchange.await;
            HostFutureIncomingResponse::Ready(result.map(|response| (response, idle_task())))
        }
    }

    /// The `http::Request` of a guest's outgoing request, or why it is refused (logged like every refusal).
    fn guest_request(&self, request: HostOutgoingRequest) -> Result<http::Request<WasiBody>, HttpError> {
        let refuse = |reason: &str, error: HttpError| {
            self.budget.log_refusal(&reason);
            error
        };
        if self.transport.is_none() {
            return Err(refuse("the host grants this provider no HTTP access", HttpError::HttpRequestDenied));
        }
        if request.body.is_some() {
            return Err(refuse("a request body (providers only read)", HttpError::HttpRequestDenied));
        }
        let method: http::Method =
            request.method.try_into().map_err(|_| refuse("an invalid method", HttpError::HttpRequestMethodInvalid))?;
        // As wasmtime-wasi-http's `handle` with these hooks: HTTPS unless the guest names another scheme, which
        // `is_supported_scheme` refuses.
        let scheme = match request.scheme {
            None | Some(GuestScheme::Https) => Scheme::HTTPS,
            Some(GuestScheme::Http | GuestScheme::Other(_)) => {
                return Err(refuse("a scheme other than https", HttpError::HttpProtocolError));
            }
        };
        let mut uri = http::Uri::builder().scheme(scheme).authority(request.authority.unwrap_or_default());
        if let Some(path) = request.path_with_query {
            uri = uri.path_and_query(path);
        }
        let uri = uri.build().map_err(|_| refuse("an invalid URI", HttpError::HttpRequestUriInvalid))?;
        let mut built =
            http::Request::new(http_body_util::Empty::<Bytes>::new().map_err(|never| match never {}).boxed_unsync());
        *built.method_mut() = method;
        *built.uri_mut() = uri;
        *built.headers_mut() = request.headers.into();
        Ok(built)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(uri: &str, headers: &[(&str, &str)]) -> http::Request<()> {
        let mut b = http::Request::get(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn policy_allows_only_secret_reads_on_the_api_server_without_credentials() {
        let list = "https://kubernetes.default.svc/api/v1/namespaces/airflow/secrets?labelSelector=a%3Db";
        assert_eq!(check_request(&req(list, &[("accept", "application/json")])), Ok(()));
        assert_eq!(
            check_request(&req("https://kubernetes.default.svc:443/api/v1/namespaces/a/secrets/b", &[])),
            Ok(())
        );
        for path in [
            "/api/v1/namespaces",
            "/api/v1/namespaces/airflow/configmaps",
            "/api/v1/namespaces/airflow/secrets/a/b",
            "/api/v1/namespaces/../secrets",
            "/api/v1/namespaces//secrets",
            // Encoded separators and dots: the API server decodes the path before routing.
            "/api/v1/namespaces/airflow%2Fpods%2Fp%2Fproxy%2F/secrets",
            "/api/v1/namespaces/airflow/secrets/%2e%2e",
            "/api/v1/namespaces/airflow/secrets/a%2Fb",
            "/api/v1/namespaces/%61irflow/secrets",
            "/api/v1/namespaces/airflow/secrets/..",
            "/api/v1/namespaces/Airflow/secrets",
            "/api/v1/namespaces/airflow/secrets/a_b",
            "/apis/rbac.authorization.k8s.io/v1/clusterroles",
            "/version",
        ] {
            assert_eq!(
                check_request(&req(&format!("https://kubernetes.default.svc{path}"), &[])),
                Err(PolicyViolation::Path(path.into())),
                "{path}"
            );
        }
        let delete =
            http::Request::delete("https://kubernetes.default.svc/api/v1/namespaces/a/secrets/b").body(()).unwrap();
        assert_eq!(check_request(&delete), Err(PolicyViolation::Method("DELETE".into())));
        assert_eq!(
            check_request(&req(list, &[("impersonate-user", "system:admin")])),
            Err(PolicyViolation::Header("impersonate-user".into()))
        );
        assert_eq!(
            check_request(&req("https://example.com/api/v1/namespaces/a/secrets", &[])),
            Err(PolicyViolation::Authority("example.com".into()))
        );
        assert_eq!(
            check_request(&req("https://kubernetes.default.svc:6443/api/v1/namespaces/a/secrets", &[])),
            Err(PolicyViolation::Authority("kubernetes.default.svc:6443".into()))
        );
        assert_eq!(
            check_request(&req("http://kubernetes.default.svc/api/v1/namespaces/a/secrets", &[])),
            Err(PolicyViolation::Scheme("http".into()))
        );
        assert_eq!(
            check_request(&req(
                "https://kubernetes.default.svc/api/v1/namespaces/a/secrets",
                &[("Authorization", "Bearer x")]
            )),
            Err(PolicyViolation::Header("authorization".into()))
        );
    }

    #[test]
    fn the_token_never_reaches_the_component_in_an_answer() {
        let token = b"s3cr3t-token";
        let echoed = http::Response::builder()
            .status(502)
            .header("x-echo", "Bearer s3cr3t-token")
            .header("x-other", "fine")
            .body(Bytes::from_static(b"{\"message\":\"refused Bearer s3cr3t-token (s3cr3t-tokens3cr3t-token)\"}"))
            .unwrap();
        let seen = without_secret(echoed, &secret_forms(token));
        assert_eq!(seen.headers()["x-echo"], "Bearer [REDACTED]");
        assert_eq!(seen.headers()["x-other"], "fine");
        assert_eq!(seen.body().as_ref(), b"{\"message\":\"refused Bearer [REDACTED] ([REDACTED][REDACTED])\"}");
        let forms = secret_forms(token);
        assert_eq!(redact(b"nothing here", &forms), None);
        assert_eq!(redact(b"s3cr3t-toke", &forms), None);
    }

    /// The token also leaves in its other forms: base64 (a legacy service-account-token Secret holds it so,
    /// and any alignment inside a longer value), URL-safe base64, and Go's JSON escaping; the redacted answer
    /// loses its now wrong `Content-Length`.
    #[test]
    fn the_tokens_encoded_forms_are_redacted_too() {
        use base64::Engine as _;
        let token = b"eyJhbGciOiJSUzI1NiJ9.payload-with?marks>and&more<";
        let b64 = base64::engine::general_purpose::STANDARD;
        let url = base64::engine::general_purpose::URL_SAFE;
        for encoded in [
            b64.encode(token),
            b64.encode([b"x".as_slice(), token, b"tail"].concat()),
            b64.encode([b"xy".as_slice(), token].concat()),
            url.encode([b"prefix!".as_slice(), token, b"!"].concat()),
        ] {
            let answer = http::Response::builder()
                .header("content-length", encoded.len().to_string())
                .body(Bytes::from(format!(r#"{{"data": {{"token": "{encoded}"}}}}"#)))
                .unwrap();
            let seen = without_secret(answer, &secret_forms(token));
            assert!(String::from_utf8_lossy(seen.body()).contains("[REDACTED]"), "{encoded}");
            assert!(seen.headers().get("content-length").is_none());
        }
        let go_json = br#"{"message": "eyJhbGciOiJSUzI1NiJ9.payload-with?marks\u003eand\u0026more\u003c"}"#;
        let seen = without_secret(http::Response::new(Bytes::from_static(go_json)), &secret_forms(token));
        assert_eq!(seen.body().as_ref(), br#"{"message": "[REDACTED]"}"#);
    }

    #[test]
    fn only_list_and_read_parameters_pass() {
        let base = "https://kubernetes.default.svc/api/v1/namespaces/a/secrets";
        for query in ["labelSelector=a%3Db&resourceVersion=0", "limit=500&continue=x&fieldSelector=a", ""] {
            assert_eq!(check_request(&req(&format!("{base}?{query}"), &[])), Ok(()), "{query}");
        }
        for (query, name) in
            [("watch=true", "watch"), ("labelSelector=a&w%61tch=1", "watch"), ("timeoutSeconds=9", "timeoutSeconds")]
        {
            assert_eq!(
                check_request(&req(&format!("{base}?{query}"), &[])),
                Err(PolicyViolation::Query(name.into())),
                "{query}"
            );
        }
        assert_eq!(
            check_request(&req(base, &[("content-length", "10")])),
            Err(PolicyViolation::Header("content-length".into()))
        );
        let long = format!("/{}", "a".repeat(1000));
        let Err(PolicyViolation::Path(shown)) =
            check_request(&req(&format!("https://kubernetes.default.svc{long}"), &[]))
        else {
            panic!("refused")
        };
        assert_eq!(shown.chars().count(), MAX_SHOWN + 1, "a guest string is cut in the log");
    }

    #[test]
    fn credential_headers_are_forbidden_to_the_guest() {
        for name in ["authorization", "cookie", "proxy-authorization", "impersonate-user", "host", "connection"] {
            assert!(is_forbidden_guest_header(&HeaderName::from_static(name)), "{name}");
        }
        assert!(!is_forbidden_guest_header(&ACCEPT));
    }
}
