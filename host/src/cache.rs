//! The lookup cache: Airflow's `[secrets] use_cache`, plus what its users keep asking for (a size bound,
//! explicit invalidation, one upstream request for a burst of identical lookups).
//!
//! Semantics, and why:
//! - Off by default, like Airflow: a cache trades freshness for fewer API calls, an operator's choice.
//! - One TTL per kind (connections, variables, config, Flyte secrets), default 900 s like Airflow's
//!   `cache_ttl_seconds`. An entry is fresh for TTL after the lookup that filled it finished.
//! - "Not found" is cached for variables only by default, like Airflow's `SecretCache.save_variable`, which
//!   stores `None` too, while connections are saved only when found. Configurable per kind.
//! - Errors are never cached, and neither is an answer reached while a provider failed (the chain falls
//!   through to "not found" then): the next lookup asks again, so an outage hides nothing once it is over.
//! - Concurrent lookups of one key are coalesced: the first runs the chain, the others wait for its outcome,
//!   so a burst of workers asking for the same connection sends one request. They share a failure too: N
//!   waiters of a failed lookup wait one lookup's time, not N. The outcome is shared while the caller that
//!   runs the fetch is alive: if that caller is cancelled (its future dropped), the fetch stops with it and
//!   the next waiter runs it again, so a cancelled caller never leaves the others without an answer.
//! - A size bound: when full, expired entries go first, then the oldest ones.
//! - Airflow's cache stores `conn.get_uri()` and re-parses it on a hit, so a connection that does not survive
//!   the round trip changes on cache hits. This cache stores the parsed connection itself: a hit returns
//!   exactly what the miss returned (docs/airflow-compatibility.md lists this difference).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

use crate::chain::ChainError;

/// What a lookup is for. Each kind has its own TTL and its own negative-caching switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Connections (`get-conn-value` and `get-connection`).
    Connection,
    /// Variables.
    Variable,
    /// Configuration values.
    Config,
    /// Flyte secrets (group and key).
    Secret,
}

impl Kind {
    /// Every kind, in a stable order.
    pub const ALL: [Self; 4] = [Self::Connection, Self::Variable, Self::Config, Self::Secret];

    /// The plural name used in configuration files and messages.
    pub fn plural(self) -> &'static str {
        match self {
            Self::Connection => "connections",
            Self::Variable => "variables",
            Self::Config => "config",
            Self::Secret => "secrets",
        }
    }
}

/// Cache settings. `Default` is Airflow's: disabled, 900 s, "not found" cached for variables only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSettings {
    /// Whether lookups are cached at all.
    pub enabled: bool,
    /// How long an entry stays fresh, per kind.
    pub ttl: [Duration; 4],
    /// Whether "not found" is cached, per kind.
    pub cache_not_found: [bool; 4],
    /// The most entries kept.
    pub max_entries: usize,
}

/// Airflow's default `cache_ttl_seconds`.
pub const DEFAULT_TTL: Duration = Duration::from_secs(900);

/// The default size bound.
pub const DEFAULT_MAX_ENTRIES: usize = 10_000;

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            ttl: [DEFAULT_TTL; 4],
            cache_not_found: Kind::ALL.map(|k| k == Kind::Variable),
            max_entries: DEFAULT_MAX_ENTRIES,
        }
    }
}

impl CacheSettings {
    /// The TTL of `kind`.
    pub fn ttl(&self, kind: Kind) -> Duration {
        self.ttl[kind as usize]
    }

    /// Whether "not found" is cached for `kind`.
    pub fn caches_not_found(&self, kind: Kind) -> bool {
        self.cache_not_found[kind as usize]
    }
}

/// What a lookup asked for. Different lookups of one id (the raw value and the parsed connection) are
/// different keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// The kind.
    pub kind: Kind,
    /// Which lookup function (`conn-value` and `connection` share the connections kind).
    pub op: Op,
    /// The id, variable key, config key, or `group\0key`.
    pub id: String,
    /// The team, when scoped.
    pub team: Option<String>,
}

/// The lookup function behind a [`Key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `get-conn-value`.
    ConnValue,
    /// `get-connection`.
    Connection,
    /// `get-variable`.
    Variable,
    /// `get-config`.
    Config,
    /// `get-secret`.
    Secret,
}

impl Op {
    /// The kind whose TTL applies.
    pub fn kind(self) -> Kind {
        match self {
            Self::ConnValue | Self::Connection => Kind::Connection,
            Self::Variable => Kind::Variable,
            Self::Config => Kind::Config,
            Self::Secret => Kind::Secret,
        }
    }
}

impl Key {
    /// The key of `op` for `id` (and `team`).
    pub fn new(op: Op, id: &str, team: Option<&str>) -> Self {
        Self { kind: op.kind(), op, id: id.to_owned(), team: team.map(str::to_owned) }
    }
}

/// A cached answer: what a provider lookup returns.
pub use crate::provider::Answer as Value;

/// What one fetch produced: the answer, and whether it may be kept (an answer reached while a provider failed
/// may not: it hides nothing longer than the failure lasts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The answer.
    pub value: Value,
    /// Whether every provider asked answered (found or not found) without failing.
    pub keep: bool,
}

#[derive(Debug)]
struct Stored {
    value: Value,
    at: Instant,
    keep: bool,
}

/// A fetch's outcome, shared by everyone who waited for it.
type Outcome = Result<Stored, ChainError>;

type Slot = Arc<OnceCell<Outcome>>;

/// The time source; tests substitute a fake clock.
pub type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// A bounded, coalescing TTL cache of lookup answers.
pub struct Cache {
    settings: CacheSettings,
    slots: Mutex<HashMap<Key, Slot>>,
    clock: Clock,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache").field("settings", &self.settings).field("entries", &self.len()).finish()
    }
}

impl Cache {
    /// A cache with `settings` and the system clock.
    pub fn new(settings: CacheSettings) -> Self {
        Self::with_clock(settings, Arc::new(Instant::now))
    }

    /// A cache with `settings` and `clock`.
    pub fn with_clock(settings: CacheSettings, clock: Clock) -> Self {
        Self { settings, slots: Mutex::new(HashMap::new()), clock }
    }

    /// The settings.
    pub fn settings(&self) -> &CacheSettings {
        &self.settings
    }

    /// How many entries (answers and lookups in flight) the cache holds.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets the answer for `key`; the next lookup asks the providers again. A lookup in flight for `key`
    /// still completes for its waiters but is not kept.
    pub fn invalidate(&self, key: &Key) {
        self.lock().remove(key);
    }

    /// Forgets every answer of `kind`.
    pub fn invalidate_kind(&self, kind: Kind) {
        self.lock().retain(|k, _| k.kind != kind);
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// The fresh answer for `key`, else the outcome of `fetch`, run once for all concurrent callers of `key`
    /// (they all get its answer, or its error). The outcome is kept only when it is an answer every provider
    /// gave without failing, and, for "not found", when [`CacheSettings::caches_not_found`] says so.
    pub async fn get_or_fetch<F, Fut>(&self, key: &Key, fetch: F) -> Result<Value, ChainError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Fetched, ChainError>>,
    {
        let slot = self.slot(key);
        let clock = Arc::clone(&self.clock);
        let outcome = slot
            .get_or_init(|| async move {
                let fetched = fetch().await?;
                Ok(Stored { value: fetched.value, at: clock(), keep: fetched.keep })
            })
            .await;
        if !self.keeps(key.kind, outcome) {
            let mut slots = self.lock();
            if slots.get(key).is_some_and(|s| Arc::ptr_eq(s, &slot)) {
                slots.remove(key);
            }
        }
        match outcome {
            Ok(stored) => Ok(stored.value.clone()),
            Err(error) => Err(error.clone()),
        }
    }

    /// Whether `outcome` stays for later lookups of `kind`.
    fn keeps(&self, kind: Kind, outcome: &Outcome) -> bool {
        matches!(outcome, Ok(s) if s.keep && (s.value.is_found() || self.settings.caches_not_found(kind)))
    }

    /// The slot to read or fill: the existing one while fresh or in flight, else a new one.
    fn slot(&self, key: &Key) -> Slot {
        let ttl = self.settings.ttl(key.kind);
        let now = (self.clock)();
        let mut slots = self.lock();
        if let Some(slot) = slots.get(key) {
            // In flight, or a kept answer younger than its TTL; a finished outcome that is not kept is replaced.
            let fresh = match slot.get() {
                None => true,
                Some(outcome) => {
                    self.keeps(key.kind, outcome)
                        && outcome.as_ref().is_ok_and(|s| now.saturating_duration_since(s.at) < ttl)
                }
            };
            if fresh {
                return Arc::clone(slot);
            }
        }
        if !slots.contains_key(key) && slots.len() >= self.settings.max_entries {
            self.make_room(&mut slots, now);
        }
        let slot = Slot::default();
        slots.insert(key.clone(), Arc::clone(&slot));
        slot
    }

    /// Drops expired entries and abandoned slots; if that is not enough, the oldest tenth of the answers.
    /// Scanning is O(entries) but happens only when the cache is full.
    fn make_room(&self, slots: &mut HashMap<Key, Slot>, now: Instant) {
        slots.retain(|k, slot| match slot.get() {
            Some(Ok(s)) => now.saturating_duration_since(s.at) < self.settings.ttl(k.kind),
            Some(Err(_)) => false,
            // In flight (someone holds it) is kept; a slot whose fetch was abandoned and that nobody holds is not.
            None => Arc::strong_count(slot) > 1,
        });
        if slots.len() < self.settings.max_entries {
            return;
        }
        let mut ages: Vec<(Instant, Key)> = slots
            .iter()
            .filter_map(|(k, s)| s.get().and_then(|o| o.as_ref().ok()).map(|stored| (stored.at, k.clone())))
            .collect();
        ages.sort_by_key(|(at, _)| *at);
        let excess = slots.len() + 1 - self.settings.max_entries;
        let evict = excess.max(self.settings.max_entries / 10).min(ages.len());
        for (_, key) in ages.into_iter().take(evict) {
            slots.remove(&key);
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Slot>> {
        // The map stays consistent across a panic (every update is a single insert or remove).
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    use super::*;

    struct FakeClock {
        start: Instant,
        millis: Arc<AtomicU64>,
    }

    impl FakeClock {
        fn new() -> Self {
            Self { start: Instant::now(), millis: Arc::new(AtomicU64::new(0)) }
        }
        fn clock(&self) -> Clock {
            let (start, millis) = (self.start, Arc::clone(&self.millis));
            Arc::new(move || start + Duration::from_millis(millis.load(Ordering::SeqCst)))
        }
        fn advance(&self, d: Duration) {
            self.millis.fetch_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX), Ordering::SeqCst);
        }
    }

    fn enabled() -> CacheSettings {
        CacheSettings { enabled: true, ..CacheSettings::default() }
    }

    fn text(s: &str) -> Value {
        Value::Text(Some(s.to_owned()))
    }

    async fn lookup(cache: &Cache, key: &Key, calls: &AtomicUsize, answer: Value) -> Value {
        let result = cache
            .get_or_fetch(key, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok(Fetched { value: answer, keep: true })
            })
            .await;
        result.unwrap()
    }

    fn down() -> ChainError {
        ChainError { provider: "p".into(), error: crate::LookupError::Unavailable("down".into()) }
    }

    #[tokio::test]
    async fn a_fresh_entry_answers_and_an_expired_one_is_fetched_again() {
        let clock = FakeClock::new();
        let cache = Cache::with_clock(enabled(), clock.clock());
        let key = Key::new(Op::Variable, "v", None);
        let calls = AtomicUsize::new(0);
        assert_eq!(lookup(&cache, &key, &calls, text("1")).await, text("1"));
        clock.advance(Duration::from_secs(899));
        assert_eq!(lookup(&cache, &key, &calls, text("2")).await, text("1"));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        clock.advance(Duration::from_secs(1));
        assert_eq!(lookup(&cache, &key, &calls, text("2")).await, text("2"));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn not_found_is_cached_for_variables_only_by_default() {
        let cache = Cache::with_clock(enabled(), FakeClock::new().clock());
        let calls = AtomicUsize::new(0);
        let var = Key::new(Op::Variable, "missing", None);
        for _ in 0..3 {
            assert_eq!(lookup(&cache, &var, &calls, Value::Text(None)).await, Value::Text(None));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let conn = Key::new(Op::Connection, "missing", None);
        for _ in 0..3 {
            assert_eq!(lookup(&cache, &conn, &calls, Value::Connection(None)).await, Value::Connection(None));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn errors_are_not_cached() {
        let cache = Cache::with_clock(enabled(), FakeClock::new().clock());
        let key = Key::new(Op::Config, "k", None);
        let failed = cache.get_or_fetch(&key, || async { Err(down()) }).await;
        assert_eq!(failed, Err(down()));
        let calls = AtomicUsize::new(0);
        assert_eq!(lookup(&cache, &key, &calls, text("up")).await, text("up"));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    /// "Not found" reached while a provider failed (the default chain falls through then) is not kept, even
    /// for variables: a short outage must not hide a variable for the whole TTL.
    #[tokio::test]
    async fn an_answer_reached_during_a_failure_is_not_kept() {
        let cache = Cache::with_clock(enabled(), FakeClock::new().clock());
        let key = Key::new(Op::Variable, "v", None);
        let during = cache.get_or_fetch(&key, || async { Ok(Fetched { value: Value::Text(None), keep: false }) }).await;
        assert_eq!(during, Ok(Value::Text(None)));
        assert!(cache.is_empty());
        let calls = AtomicUsize::new(0);
        assert_eq!(lookup(&cache, &key, &calls, text("back")).await, text("back"));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    /// `n` concurrent lookups of one key whose fetch waits until every lookup has started, then answers
    /// `outcome`: the cache, the number of fetches, and each lookup's result.
    async fn burst(
        n: usize,
        outcome: fn() -> Result<Fetched, ChainError>,
    ) -> (Arc<Cache>, Arc<AtomicUsize>, Vec<Result<Value, ChainError>>) {
        let cache = Arc::new(Cache::new(enabled()));
        let calls = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Notify::new());
        let key = Key::new(Op::Connection, "burst", None);
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let (cache, calls, gate, key) =
                    (Arc::clone(&cache), Arc::clone(&calls), Arc::clone(&gate), key.clone());
                tokio::spawn(async move {
                    cache
                        .get_or_fetch(&key, || async {
                            calls.fetch_add(1, Ordering::SeqCst);
                            gate.notified().await;
                            outcome()
                        })
                        .await
                })
            })
            .collect();
        while calls.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        gate.notify_one();
        let mut results = Vec::with_capacity(n);
        for task in tasks {
            results.push(task.await.unwrap());
        }
        (cache, calls, results)
    }

    /// The concurrent waiters of a failed lookup share its failure: one fetch, not one after another (which
    /// would make the last of N waiters wait N lookup timeouts).
    #[tokio::test]
    async fn the_waiters_of_a_failed_fetch_share_its_failure() {
        let (cache, calls, results) = burst(20, || Err(down())).await;
        for result in results {
            assert_eq!(result, Err(down()));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(cache.is_empty(), "the failure is not kept");
    }

    #[tokio::test]
    async fn ttls_are_per_kind() {
        let clock = FakeClock::new();
        let mut settings = enabled();
        settings.ttl[Kind::Connection as usize] = Duration::from_secs(10);
        let cache = Cache::with_clock(settings, clock.clock());
        let calls = AtomicUsize::new(0);
        let conn = Key::new(Op::ConnValue, "c", None);
        let var = Key::new(Op::Variable, "c", None);
        lookup(&cache, &conn, &calls, text("a")).await;
        lookup(&cache, &var, &calls, text("a")).await;
        clock.advance(Duration::from_secs(10));
        lookup(&cache, &conn, &calls, text("b")).await;
        lookup(&cache, &var, &calls, text("b")).await;
        assert_eq!(calls.load(Ordering::SeqCst), 3, "the connection expired, the variable did not");
    }

    #[tokio::test]
    async fn concurrent_lookups_of_one_key_fetch_once() {
        let (_, calls, results) = burst(50, || Ok(Fetched { value: text("once"), keep: true })).await;
        for result in results {
            assert_eq!(result, Ok(text("once")));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn the_size_bound_evicts_the_oldest_first() {
        let clock = FakeClock::new();
        let cache = Cache::with_clock(CacheSettings { max_entries: 3, ..enabled() }, clock.clock());
        let calls = AtomicUsize::new(0);
        for id in ["a", "b", "c"] {
            lookup(&cache, &Key::new(Op::Variable, id, None), &calls, text(id)).await;
            clock.advance(Duration::from_secs(1));
        }
        lookup(&cache, &Key::new(Op::Variable, "d", None), &calls, text("d")).await;
        assert_eq!(cache.len(), 3);
        lookup(&cache, &Key::new(Op::Variable, "b", None), &calls, text("b")).await;
        assert_eq!(calls.load(Ordering::SeqCst), 4, "b was kept");
        lookup(&cache, &Key::new(Op::Variable, "a", None), &calls, text("a")).await;
        assert_eq!(calls.load(Ordering::SeqCst), 5, "a, the oldest, was evicted");
    }

    #[tokio::test]
    async fn invalidation_forgets() {
        let cache = Cache::with_clock(enabled(), FakeClock::new().clock());
        let calls = AtomicUsize::new(0);
        let key = Key::new(Op::Secret, "g\0k", None);
        lookup(&cache, &key, &calls, text("1")).await;
        cache.invalidate(&key);
        assert_eq!(lookup(&cache, &key, &calls, text("2")).await, text("2"));
        cache.invalidate_kind(Kind::Secret);
        assert!(cache.is_empty());
        lookup(&cache, &key, &calls, text("3")).await;
        cache.clear();
        assert!(cache.is_empty());
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn debug_never_shows_values() {
        let v = Value::Text(Some("hunter2-canary".to_owned()));
        assert_eq!(format!("{v:?}"), "Answer(<found>)");
    }
}
