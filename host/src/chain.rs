//! An ordered chain of providers with Airflow's rules, behind an optional [`Cache`].
//!
//! Airflow asks its secrets backends in order (the configured backend, then environment variables, then the
//! metastore) and stops at the first answer. The rules, from Airflow's `Connection.get_connection_from_secrets`,
//! `Variable.get_variable_from_secrets` and the Task SDK's `_get_connection`/`_get_variable`:
//! - the first provider that finds a value wins; for connections an empty value counts as not found (Airflow's
//!   `if value:`), for variables and Flyte secrets an empty string is a value (`is not None`);
//! - a provider's error is logged (provider and error kind, never a value) and the next provider is tried;
//! - access denied (401/403 from the store) stops the lookup. Airflow stops only on
//!   `AirflowSecretsBackendAccessDenied`, which its Kubernetes backend never raises (a 401/403 falls through
//!   there): a deliberate difference, so a credentials problem is fixed rather than hidden by a later provider;
//! - config values (`*_secret` options) come only from the configured backend in Airflow, and its errors
//!   raise `AirflowConfigException`; here every provider is asked in order, but any error stops the lookup.
//! - when no provider has the value, the answer is "not found".

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use airflow_compat::Connection;

use crate::audit::{AuditLog, Record};
use crate::cache::{Cache, Fetched, KeyRef, Op, Value};
use crate::error::LookupError;
use crate::metrics::{CacheResult, Metrics, Outcome};
use crate::provider::{Lookup, Provider};
use crate::state::{LogLevel, LogSink};

/// How many lookups of one [`Chain::get_many`] run at once: enough to overlap the store's latency, few enough
/// that a bulk read of thousands of ids does not hold thousands of instances (or requests) at once.
pub const MAX_CONCURRENT_LOOKUPS: usize = 16;

/// One provider of a chain, with the name the configuration gives it.
#[derive(Debug)]
pub struct Link {
    /// The name used in logs and `secrets providers list`.
    pub name: String,
    /// The provider.
    pub provider: Provider,
}

/// A lookup's answer and where it came from: the cache's source (`None` without a cache), the position of the
/// provider that gave it, and for a stale answer the kind of the failure it stands in for.
struct Answered {
    result: Result<Value, ChainError>,
    source: Option<CacheResult>,
    provider: Option<usize>,
    stale_error: Option<&'static str>,
    /// Whether a provider's live view answered while it was stale.
    stale_view: bool,
}

/// The most distinct ids one listing reads (each is a lookup through the chain).
pub const MAX_LISTED_ENTRIES: usize = 20_000;

/// The most bytes of found values (and their ids) one listing holds.
pub const MAX_LISTED_VALUE_BYTES: usize = 64 * 1024 * 1024;

/// The longest one listing may take, lookups included.
pub const MAX_LISTING_TIME: Duration = Duration::from_secs(300);

/// Why a listing ([`Chain::list`]) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    /// A provider's listing, or the lookup of a listed id, failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The providers listed more distinct ids than one listing reads.
    #[error("the providers list more than {limit} {kind}; a listing reads at most that many")]
    TooMany {
        /// What was listed (`connections`, ...).
        kind: &'static str,
        /// [`MAX_LISTED_ENTRIES`].
        limit: usize,
    },
    /// The values found take more than one listing holds.
    #[error("the {kind} found take more than {limit} bytes; a listing holds at most that much")]
    TooLarge {
        /// What was listed.
        kind: &'static str,
        /// [`MAX_LISTED_VALUE_BYTES`].
        limit: usize,
    },
    /// The listing did not finish in time.
    #[error("listing the {kind} took more than {limit:?}")]
    Timeout {
        /// What was listed.
        kind: &'static str,
        /// [`MAX_LISTING_TIME`].
        limit: Duration,
    },
}

/// A lookup that stopped the chain: which provider, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("provider `{provider}`: {error}")]
pub struct ChainError {
    /// The provider's name.
    pub provider: String,
    /// What it reported.
    #[source]
    pub error: LookupError,
}

/// Providers asked in order, with an optional cache in front.
pub struct Chain {
    links: Vec<Link>,
    cache: Option<Arc<Cache>>,
    log: LogSink,
    strict: bool,
    metrics: Option<Metrics>,
    audit: Option<Arc<AuditLog>>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("links", &self.links)
            .field("cache", &self.cache)
            .field("metrics", &self.metrics.is_some())
            .field("audit", &self.audit.as_ref().map(|a| a.path()))
            .finish_non_exhaustive()
    }
}

/// The chain's view of a [`Lookup`]: its cache key, its log description, and Airflow's found/stop rules.
trait Rules<'a> {
    fn key(self) -> KeyRef<'a>;
    fn describe(self) -> String;
    fn answers(self, value: &Value) -> bool;
    fn stops_on(self, error: &LookupError) -> bool;
    fn not_found(self) -> Value;
}

impl<'a> Rules<'a> for Lookup<'a> {
    fn key(self) -> KeyRef<'a> {
        let key = |op, id, team| KeyRef { op, id, secret_key: None, team };
        match self {
            Self::ConnValue(id, team) => key(Op::ConnValue, id, team),
            Self::Connection(id, team) => key(Op::Connection, id, team),
            Self::Variable(k, team) => key(Op::Variable, k, team),
            Self::Config(k) => key(Op::Config, k, None),
            Self::Secret(group, k) => KeyRef { op: Op::Secret, id: group, secret_key: Some(k), team: None },
        }
    }

    /// What the log says is being looked up (ids are not secret; values never appear).
    fn describe(self) -> String {
        match self {
            Self::ConnValue(id, _) | Self::Connection(id, _) => format!("connection `{id}`"),
            Self::Variable(key, _) => format!("variable `{key}`"),
            Self::Config(key) => format!("config value `{key}`"),
            Self::Secret(group, key) => format!("secret `{group}/{key}`"),
        }
    }

    /// Whether `value` ends the search.
    fn answers(self, value: &Value) -> bool {
        match (self, value) {
            (Self::ConnValue(..), Value::Text(v)) => v.as_deref().is_some_and(|v| !v.is_empty()),
            (_, Value::Text(v)) => v.is_some(),
            (_, Value::Connection(c)) => c.is_some(),
        }
    }

    /// Whether `error` ends the search instead of falling through to the next provider.
    fn stops_on(self, error: &LookupError) -> bool {
        matches!(error, LookupError::AccessDenied(_)) || matches!(self, Self::Config(_))
    }

    fn not_found(self) -> Value {
        match self {
            Self::Connection(..) => Value::Connection(None),
            _ => Value::Text(None),
        }
    }
}

/// A lookup under way in [`Chain::lookup_as`]: dropped while still armed (its future was dropped before the
/// answer), it writes the lookup's audit line with the outcome `cancelled`.
struct Unfinished<'c, 'r> {
    chain: &'c Chain,
    caller: Option<&'r str>,
    request: Lookup<'r>,
    wall: Option<SystemTime>,
    started: Instant,
    armed: bool,
}

impl Drop for Unfinished<'_, '_> {
    fn drop(&mut self) {
        let Some(wall) = self.wall.filter(|_| self.armed) else {
            return;
        };
        let key = self.request.key();
        self.chain.audit(&Record {
            time: crate::audit::rfc3339_utc(wall),
            caller: self.caller,
            kind: key.op.kind().singular(),
            id: key.id,
            key: key.secret_key,
            team: key.team,
            provider: None,
            cached: false,
            stale: false,
            outcome: "cancelled",
            error: None,
            duration_us: u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX),
        });
    }
}

/// The lookup a listing of `kind` makes for `id` (a connection is parsed, as `connections list` shows it).
fn listing_lookup<'a>(kind: crate::live::Kind, id: &'a str, team: Option<&'a str>) -> Lookup<'a> {
    match kind {
        crate::live::Kind::Connection => Lookup::Connection(id, team),
        crate::live::Kind::Variable => Lookup::Variable(id, team),
        crate::live::Kind::Config => Lookup::Config(id),
    }
}

impl Chain {
    /// A chain asking `links` in order; `cache` (when given and enabled) answers repeated lookups; `log`
    /// receives a warning for every provider error the chain falls through.
    ///
    /// A provider in live mode tells the cache which ids each change of its view touched, so the cache forgets
    /// exactly those and the next lookup of them reads the view: a change is seen as soon as it is applied,
    /// whatever the TTL.
    pub fn new(links: Vec<Link>, cache: Option<Cache>, log: LogSink) -> Self {
        let cache = cache.filter(|c| c.settings().enabled).map(Arc::new);
        if let Some(cache) = &cache {
            for view in links.iter().filter_map(|l| l.provider.live_view()) {
                let cache = Arc::downgrade(cache);
                view.on_change(Arc::new(move |kind, ids| {
                    if let Some(cache) = cache.upgrade() {
                        cache.invalidate_ids(kind.cache_kind(), ids);
                    }
                }));
            }
        }
        Self { links, cache, log, strict: false, metrics: None, audit: None }
    }

    /// Counts every lookup from now on ([`Chain::metrics`], [`Chain::render_metrics`]). Off by default: a
    /// lookup then reads no clock it does not need.
    #[must_use]
    pub fn with_metrics(mut self) -> Self {
        self.metrics = Some(Metrics::new(self.links.iter().map(|l| l.name.as_str())));
        self
    }

    /// Appends a line to `audit` for every lookup from now on (see [`crate::audit`]).
    #[must_use]
    pub fn with_audit(mut self, audit: Arc<AuditLog>) -> Self {
        self.audit = Some(audit);
        self
    }

    /// The counters, when [`Chain::with_metrics`] switched them on.
    pub fn metrics(&self) -> Option<&Metrics> {
        self.metrics.as_ref()
    }

    /// The metrics in Prometheus' text format, with the API requests of each provider's transport by status;
    /// `None` unless [`Chain::with_metrics`] switched them on.
    pub fn render_metrics(&self) -> Option<String> {
        let metrics = self.metrics.as_ref()?;
        let statuses: Vec<_> =
            self.links.iter().filter_map(|l| Some((l.name.as_str(), l.provider.api_statuses()?))).collect();
        let views: Vec<_> =
            self.links.iter().filter_map(|l| Some((l.name.as_str(), l.provider.live_view()?.as_ref()))).collect();
        let mut text = metrics.render(&statuses);
        text.push_str(&crate::metrics::render_live(&views));
        Some(text)
    }

    /// When no provider has the value but some provider failed, report that failure instead of "not found".
    /// Airflow answers "not found" (the failures are only logged); the `secrets` CLI is strict, because a
    /// script must not read "the secret does not exist" when the store was merely unreachable.
    #[must_use]
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// The cache, when enabled: for invalidation and inspection.
    pub fn cache(&self) -> Option<&Cache> {
        self.cache.as_deref()
    }

    /// The providers of the chain, in order.
    pub fn links(&self) -> &[Link] {
        &self.links
    }

    /// Requests the chain's providers have sent to their API servers so far, counted in the host's transport
    /// (providers built on one shared transport with [`Provider::with_transport`] each count all of its
    /// requests).
    pub fn api_requests(&self) -> u64 {
        self.links.iter().map(|l| l.provider.api_requests()).sum()
    }

    /// Validates every provider's configuration, naming the first provider that rejects its own.
    pub async fn validate(&self) -> Result<(), ChainError> {
        for link in &self.links {
            link.provider.validate_config().await.map_err(|error| ChainError { provider: link.name.clone(), error })?;
        }
        Ok(())
    }

    /// The raw connection value from the first provider that has a non-empty one. Values are shared with the
    /// cache (`Arc`): a cache hit copies nothing.
    pub async fn get_conn_value(&self, conn_id: &str, team: Option<&str>) -> Result<Option<Arc<str>>, ChainError> {
        Ok(self.lookup(Lookup::ConnValue(conn_id, team)).await?.into_text())
    }

    /// The connection from the first provider that has it.
    pub async fn get_connection(
        &self,
        conn_id: &str,
        team: Option<&str>,
    ) -> Result<Option<Arc<Connection>>, ChainError> {
        Ok(self.lookup(Lookup::Connection(conn_id, team)).await?.into_connection())
    }

    /// The variable from the first provider that has it.
    pub async fn get_variable(&self, key: &str, team: Option<&str>) -> Result<Option<Arc<str>>, ChainError> {
        Ok(self.lookup(Lookup::Variable(key, team)).await?.into_text())
    }

    /// The config value from the first provider that has it; any provider error stops the lookup.
    pub async fn get_config(&self, key: &str) -> Result<Option<Arc<str>>, ChainError> {
        Ok(self.lookup(Lookup::Config(key)).await?.into_text())
    }

    /// The Flyte secret `group`/`key` from the first provider that has it.
    pub async fn get_secret(&self, group: &str, key: &str) -> Result<Option<Arc<str>>, ChainError> {
        Ok(self.lookup(Lookup::Secret(group, key)).await?.into_text())
    }

    /// Many lookups at once (a bulk read): each goes through the cache and the providers exactly as a single
    /// lookup would, with the same answers, errors and audit lines; at most [`MAX_CONCURRENT_LOOKUPS`] run at a
    /// time. The answers come in the order of `requests`, one per request.
    pub async fn get_many(&self, requests: &[Lookup<'_>]) -> Vec<Result<Value, ChainError>> {
        use futures_util::stream::{self, StreamExt as _};
        // Unordered, so one slow lookup does not hold back the ones after it; put back in order at the end.
        let mut answers: Vec<(usize, Result<Value, ChainError>)> = stream::iter(
            requests.iter().enumerate().map(|(i, request)| async move { (i, self.lookup(*request).await) }),
        )
        .buffer_unordered(MAX_CONCURRENT_LOOKUPS)
        .collect()
        .await;
        answers.sort_unstable_by_key(|(i, _)| *i);
        answers.into_iter().map(|(_, answer)| answer).collect()
    }

    /// Every entry of `kind` the chain answers for `team`, in id order: what `secrets connections list` and
    /// `secrets variables list` print. Each provider lists the ids it might answer
    /// ([`crate::Provider::list_ids`]); every id of their union is then looked up through the chain as any
    /// lookup is (the cache, the live view, the first-provider-wins rule, team scope, the audit log and the
    /// metrics), [`MAX_CONCURRENT_LOOKUPS`] at a time, and kept when found, so a listed value is always what a
    /// lookup of its id answers.
    ///
    /// A provider's listing error stops the listing where the same error would stop a lookup (access denied,
    /// any error for configuration values, any error in a strict chain); otherwise it is logged and the other
    /// providers' entries are listed. A lookup that fails stops the listing, except `invalid-request` (an id
    /// one provider lists that another's store rejects: Airflow's `get` fails on it too), which is logged and
    /// not listed. Bounded: at most [`MAX_LISTED_ENTRIES`] ids, [`MAX_LISTED_VALUE_BYTES`] of values found and
    /// [`MAX_LISTING_TIME`] in all.
    pub async fn list(&self, kind: crate::live::Kind, team: Option<&str>) -> Result<Vec<(String, Value)>, ListError> {
        self.list_as(None, kind, team, |_| true).await
    }

    /// [`Chain::list`] on behalf of `caller`, whom the audit line of every lookup it makes names, of the listed
    /// ids `wanted` keeps: the others are never looked up (a task's pattern grant, docs/embedding.md).
    pub async fn list_as(
        &self,
        caller: Option<&str>,
        kind: crate::live::Kind,
        team: Option<&str>,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<Vec<(String, Value)>, ListError> {
        let plural = kind.cache_kind().plural();
        let listing = async {
            let rules = listing_lookup(kind, "", team);
            let mut ids = std::collections::BTreeSet::new();
            let mut first_failure = None;
            for link in &self.links {
                match link.provider.list_ids(kind, team).await {
                    Ok(listed) => ids.extend(listed.into_iter().filter(|id| wanted(id))),
                    Err(error) if rules.stops_on(&error) => {
                        return Err(ChainError { provider: link.name.clone(), error }.into());
                    }
                    Err(error) => {
                        let message = format!(
                            "provider `{}` could not list its {plural} ({}): {error}; listing the other providers'",
                            link.name,
                            error.kind(),
                        );
                        (self.log)(LogLevel::Warning, &message);
                        first_failure.get_or_insert(ChainError { provider: link.name.clone(), error });
                    }
                }
                if ids.len() > MAX_LISTED_ENTRIES {
                    return Err(ListError::TooMany { kind: plural, limit: MAX_LISTED_ENTRIES });
                }
            }
            if let Some(failure) = first_failure.filter(|_| self.strict) {
                return Err(failure.into());
            }
            self.read_listed(caller, kind, team, ids.into_iter().collect()).await
        };
        tokio::time::timeout(MAX_LISTING_TIME, listing)
            .await
            .unwrap_or(Err(ListError::Timeout { kind: plural, limit: MAX_LISTING_TIME }))
    }

    /// The found entries among `ids` (sorted), read [`MAX_CONCURRENT_LOOKUPS`] at a time; stops at the first
    /// failure that stops a listing, or once the values found exceed [`MAX_LISTED_VALUE_BYTES`].
    async fn read_listed(
        &self,
        caller: Option<&str>,
        kind: crate::live::Kind,
        team: Option<&str>,
        ids: Vec<String>,
    ) -> Result<Vec<(String, Value)>, ListError> {
        use futures_util::stream::{self, StreamExt as _};
        let plural = kind.cache_kind().plural();
        let mut answers = stream::iter(ids.into_iter().enumerate().map(|(i, id)| async move {
            let answer = self.lookup_as(caller, listing_lookup(kind, &id, team)).await;
            (i, id, answer)
        }))
        .buffer_unordered(MAX_CONCURRENT_LOOKUPS);
        let mut entries = Vec::new();
        let mut bytes = 0usize;
        while let Some((i, id, answer)) = answers.next().await {
            match answer {
                Ok(value) if value.is_found() => {
                    bytes = bytes.saturating_add(value.byte_len()).saturating_add(id.len());
                    if bytes > MAX_LISTED_VALUE_BYTES {
                        return Err(ListError::TooLarge { kind: plural, limit: MAX_LISTED_VALUE_BYTES });
                    }
                    entries.push((i, id, value));
                }
                Ok(_) => {}
                // Every provider that failed rejected the id (see `ask_in_order`).
                Err(error) if matches!(error.error, LookupError::InvalidRequest(_)) => {
                    let shown: String = id.chars().take(200).flat_map(char::escape_debug).collect();
                    let message = format!("not listing `{shown}`: {error}");
                    (self.log)(LogLevel::Warning, &message);
                }
                // Dropping the stream cancels the lookups still under way.
                Err(error) => return Err(error.into()),
            }
        }
        entries.sort_unstable_by_key(|(i, _, _)| *i);
        Ok(entries.into_iter().map(|(_, id, value)| (id, value)).collect())
    }

    async fn lookup(&self, request: Lookup<'_>) -> Result<Value, ChainError> {
        self.lookup_as(None, request).await
    }

    /// `request` through the cache and the providers, on behalf of `caller`: what the embedding host says
    /// about who asks (a task's name, a peer's uid), recorded in the audit log with the lookup.
    pub async fn lookup_as(&self, caller: Option<&str>, request: Lookup<'_>) -> Result<Value, ChainError> {
        if self.metrics.is_none() && self.audit.is_none() {
            return self.answer(request).await.result;
        }
        let wall = self.audit.as_ref().map(|_| SystemTime::now());
        let started = Instant::now();
        // A lookup whose caller stops waiting (a timeout, a listing that stopped) still gets its audit line, with
        // the outcome `cancelled`: the requests it sent are accounted for.
        let mut unfinished = Unfinished { chain: self, caller, request, wall, started, armed: true };
        let answered = self.answer(request).await;
        unfinished.armed = false;
        let Answered { result, source, provider, stale_error, stale_view } = answered;
        let duration = started.elapsed();
        let kind = request.key().op.kind();
        let outcome = match &result {
            Ok(value) if value.is_found() => Outcome::Found,
            Ok(_) => Outcome::NotFound,
            Err(_) => Outcome::Error,
        };
        if let Some(metrics) = &self.metrics {
            metrics.record_lookup(kind, outcome, duration);
            if let Some(source) = source {
                metrics.record_cache(kind, source);
            }
        }
        if let Some(wall) = wall {
            let key = request.key();
            let provider = match &result {
                Err(error) => Some(error.provider.as_str()),
                Ok(_) => provider.and_then(|i| self.links.get(i)).map(|l| l.name.as_str()),
            };
            self.audit(&Record {
                time: crate::audit::rfc3339_utc(wall),
                caller,
                kind: kind.singular(),
                id: key.id,
                key: key.secret_key,
                team: key.team,
                provider,
                cached: matches!(source, Some(CacheResult::Hit | CacheResult::Coalesced | CacheResult::Stale)),
                stale: source == Some(CacheResult::Stale) || stale_view,
                outcome: outcome.label(),
                // A stale answer says which failure it stood in for.
                error: result.as_ref().err().map(|e| e.error.kind()).or(stale_error),
                duration_us: u64::try_from(duration.as_micros()).unwrap_or(u64::MAX),
            });
        }
        result
    }

    /// Writes the audit line of `request`, which `caller` was refused before any cache or provider was asked
    /// (outcome `refused`): an embedding host's own access rule said no (a task's grants, docs/embedding.md).
    pub fn audit_refused(&self, caller: Option<&str>, request: Lookup<'_>) {
        let key = request.key();
        self.write_refused(caller, key.op.kind().singular(), key.id, key.secret_key, key.team);
    }

    /// Writes the audit line of a request `caller` made that names no lookup at all (a `wasi:config` key of no
    /// known form): refused, kind `invalid`, the request as the id.
    pub fn audit_refused_key(&self, caller: Option<&str>, request: &str) {
        self.write_refused(caller, "invalid", request, None, None);
    }

    fn write_refused(&self, caller: Option<&str>, kind: &'static str, id: &str, key: Option<&str>, team: Option<&str>) {
        if self.audit.is_none() {
            return;
        }
        self.audit(&Record {
            time: crate::audit::rfc3339_utc(SystemTime::now()),
            caller,
            kind,
            id,
            key,
            team,
            provider: None,
            cached: false,
            stale: false,
            outcome: "refused",
            error: None,
            duration_us: 0,
        });
    }

    /// Writes `record` to the audit log, if there is one; a failure is counted and its first message logged.
    fn audit(&self, record: &Record<'_>) {
        let Some(audit) = &self.audit else {
            return;
        };
        match audit.write(record) {
            Ok(None) => {}
            // Written, but the rotation after it failed.
            Ok(Some(message)) => (self.log)(LogLevel::Warning, &message),
            Err(first) => {
                if let Some(metrics) = &self.metrics {
                    metrics.record_audit_failure();
                }
                if let Some(message) = first {
                    (self.log)(LogLevel::Warning, &message);
                }
            }
        }
    }

    /// `request` through the cache (when on, warning about a stale answer) or straight from the providers.
    async fn answer(&self, request: Lookup<'_>) -> Answered {
        match &self.cache {
            Some(cache) => {
                let served = cache.serve(request.key(), || self.ask_in_order(request)).await;
                self.warn_if_stale(request, &served);
                let stale_error = served.stale.as_ref().and_then(|s| s.error);
                Answered {
                    result: served.result,
                    source: Some(served.source),
                    provider: served.provider,
                    stale_error,
                    stale_view: served.stale_view,
                }
            }
            None => match self.ask_in_order(request).await {
                Ok(fetched) => Answered {
                    result: Ok(fetched.value),
                    source: None,
                    provider: fetched.provider,
                    stale_error: None,
                    stale_view: fetched.stale_view,
                },
                Err(error) => {
                    Answered { result: Err(error), source: None, provider: None, stale_error: None, stale_view: false }
                }
            },
        }
    }

    /// Says so when `served` is a stale answer (see [`crate::CacheSettings::max_staleness`]).
    fn warn_if_stale(&self, request: Lookup<'_>, served: &crate::cache::Served) {
        if let Some(stale) = &served.stale {
            let message = format!(
                "serving {} from the cache, {} s old, because the providers cannot answer now: {}",
                request.describe(),
                stale.age.as_secs(),
                stale.why
            );
            (self.log)(LogLevel::Warning, &message);
        }
    }

    /// The providers' answer, and whether it may be cached: not when a provider failed on the way.
    async fn ask_in_order(&self, request: Lookup<'_>) -> Result<Fetched, ChainError> {
        let mut first_failure = None;
        let kind = request.key().op.kind();
        for (i, link) in self.links.iter().enumerate() {
            let answer = link.provider.lookup_observed(request).await;
            // An answer a stale live view gave is served, not cached: a fresh TTL would outlive the staleness.
            let stale = matches!(answer, Ok((_, true)));
            let answer = answer.map(|(answer, _)| Value::from(answer));
            if let Some(metrics) = &self.metrics {
                let counted = match &answer {
                    Ok(value) => Ok(request.answers(value)),
                    Err(error) => Err(error.kind()),
                };
                metrics.record_provider(i, kind, counted);
            }
            match answer {
                Ok(value) if request.answers(&value) => {
                    tracing::debug!(provider = %link.name, "{} found", request.describe());
                    return Ok(Fetched {
                        value,
                        keep: first_failure.is_none() && !stale,
                        provider: Some(i),
                        stale_view: stale,
                    });
                }
                Ok(_) => {}
                Err(error) if request.stops_on(&error) => {
                    return Err(ChainError { provider: link.name.clone(), error });
                }
                Err(error) => {
                    let message = format!(
                        "provider `{}` could not look up {} ({}): {error}; trying the next provider",
                        link.name,
                        request.describe(),
                        error.kind(),
                    );
                    (self.log)(LogLevel::Warning, &message);
                    // The failure reported is the first one, unless it is `invalid-request` (the id is one this
                    // store cannot express) and a later provider failed otherwise: that failure says more, and
                    // an `invalid-request` then always means that every provider that failed rejected the id.
                    let rejected_id = |f: &ChainError| matches!(f.error, LookupError::InvalidRequest(_));
                    if first_failure
                        .as_ref()
                        .is_none_or(|f| rejected_id(f) && !matches!(error, LookupError::InvalidRequest(_)))
                    {
                        first_failure = Some(ChainError { provider: link.name.clone(), error });
                    }
                }
            }
        }
        match first_failure {
            Some(failure) if self.strict => Err(failure),
            failure => Ok(Fetched {
                value: request.not_found(),
                keep: failure.is_none(),
                provider: self.links.len().checked_sub(1),
                stale_view: false,
            }),
        }
    }
}
