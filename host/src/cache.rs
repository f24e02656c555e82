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
//! - Serve stale, off by default (`max_staleness`): during an outage (the store unreachable or failing), an
//!   answer past its TTL but younger than the maximum staleness is served instead of the failure, and said
//!   so (`Served::stale`). Never for access denied, a refused request, a broken stored value or a failed
//!   component; never after `invalidate`; the old answer is dropped once a new one is kept.
//! - A size bound: when full, expired entries go first, then the oldest ones.
//! - Airflow's cache stores `conn.get_uri()` and re-parses it on a hit, so a connection that does not survive
//!   the round trip changes on cache hits. This cache stores the parsed connection itself: a hit returns
//!   exactly what the miss returned (docs/airflow-compatibility.md lists this difference).
//! - A hit is cheap because it is the point of a cache: it takes a read lock (concurrent hits never wait for
//!   each other), finds the entry from the borrowed id (no key is built), and hands out the shared value (a
//!   reference-count increment, no copy). Only a miss takes the write lock.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use airflow_compat::Connection;

use tokio::sync::OnceCell;

use crate::chain::ChainError;
use crate::metrics::CacheResult;

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

    /// The singular name, as metrics labels and the audit log show it.
    pub fn singular(self) -> &'static str {
        match self {
            Self::Connection => "connection",
            Self::Variable => "variable",
            Self::Config => "config",
            Self::Secret => "secret",
        }
    }

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
    /// How old an answer may be and still be served while the providers cannot give it (an outage): zero
    /// (the default) serves nothing stale. Counted from when a provider gave the answer, so only values above
    /// the TTL have an effect. Never on access denied.
    pub max_staleness: Duration,
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
            max_staleness: Duration::ZERO,
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
/// different keys. Built with [`Key::new`] or [`Key::secret`], so a key always matches the lookups it names.
#[derive(Debug, Clone)]
pub struct Key {
    /// Which lookup function (`conn-value` and `connection` share the connections kind).
    op: Op,
    /// The connection id, variable key or config key; for a Flyte secret, the group.
    id: String,
    /// For a Flyte secret, the key in the group.
    secret_key: Option<String>,
    /// The team, when scoped.
    team: Option<String>,
}

/// A [`Key`]'s parts, borrowed from the lookup: how a lookup finds its entry without allocating a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyRef<'a> {
    /// Which lookup function.
    pub op: Op,
    /// The connection id, variable key or config key; for a Flyte secret, the group.
    pub id: &'a str,
    /// For a Flyte secret, the key in the group.
    pub secret_key: Option<&'a str>,
    /// The team, when scoped.
    pub team: Option<&'a str>,
}

impl KeyRef<'_> {
    /// The owned key (what a miss stores).
    pub fn owned(self) -> Key {
        Key {
            op: self.op,
            id: self.id.to_owned(),
            secret_key: self.secret_key.map(str::to_owned),
            team: self.team.map(str::to_owned),
        }
    }
}

impl<'a> From<&'a Key> for KeyRef<'a> {
    fn from(key: &'a Key) -> Self {
        key.parts()
    }
}

/// Keys and borrowed keys alike, so the map of [`Key`]s can be searched with a [`KeyRef`] (the standard
/// `Borrow` pattern for composite keys): both hash and compare as their [`KeyRef`].
trait Keyed {
    fn parts(&self) -> KeyRef<'_>;
}

impl Keyed for Key {
    fn parts(&self) -> KeyRef<'_> {
        KeyRef { op: self.op, id: &self.id, secret_key: self.secret_key.as_deref(), team: self.team.as_deref() }
    }
}

impl Keyed for KeyRef<'_> {
    fn parts(&self) -> KeyRef<'_> {
        *self
    }
}

impl<'a> Borrow<dyn Keyed + 'a> for Key {
    fn borrow(&self) -> &(dyn Keyed + 'a) {
        self
    }
}

impl Hash for dyn Keyed + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parts().hash(state);
    }
}

impl PartialEq for dyn Keyed + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for dyn Keyed + '_ {}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parts().hash(state);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for Key {}

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
    /// The key of `op` for `id` (and `team`). For [`Op::Secret`], `id` is `group\0key` (split at the first
    /// NUL; without one, the key is empty) and `team` is not used; [`Key::secret`] takes the two apart, and is
    /// the only way to name a group holding a NUL. Every key this makes is one a lookup can use.
    pub fn new(op: Op, id: &str, team: Option<&str>) -> Self {
        match op {
            Op::Secret => {
                let (group, key) = id.split_once('\0').unwrap_or((id, ""));
                Self::secret(group, key)
            }
            _ => KeyRef { op, id, secret_key: None, team }.owned(),
        }
    }

    /// The kind whose TTL applies.
    pub fn kind(&self) -> Kind {
        self.op.kind()
    }

    /// The key of the Flyte secret `group`/`key`.
    pub fn secret(group: &str, key: &str) -> Self {
        KeyRef { op: Op::Secret, id: group, secret_key: Some(key), team: None }.owned()
    }
}

/// An answer as the chain and the cache hand it out: found values are shared, so a cache hit gives out a
/// reference (a reference-count increment), never a copy.
#[derive(Clone, PartialEq, Eq)]
pub enum Value {
    /// A text value (raw connection value, variable, config value, Flyte secret), or not found.
    Text(Option<Arc<str>>),
    /// A parsed connection, or not found.
    Connection(Option<Arc<Connection>>),
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the value itself.
        f.write_str(if self.is_found() { "Value(<found>)" } else { "Value(<not found>)" })
    }
}

impl From<crate::provider::Answer> for Value {
    fn from(answer: crate::provider::Answer) -> Self {
        match answer {
            crate::provider::Answer::Text(v) => Self::Text(v.map(Arc::from)),
            crate::provider::Answer::Connection(c) => Self::Connection(c.map(Arc::new)),
        }
    }
}

impl Value {
    /// Whether a value was found.
    pub fn is_found(&self) -> bool {
        match self {
            Self::Text(v) => v.is_some(),
            Self::Connection(c) => c.is_some(),
        }
    }

    /// The text value (`None` for a connection answer).
    pub fn into_text(self) -> Option<Arc<str>> {
        match self {
            Self::Text(v) => v,
            Self::Connection(_) => None,
        }
    }

    /// The connection (`None` for a text answer).
    pub fn into_connection(self) -> Option<Arc<Connection>> {
        match self {
            Self::Connection(c) => c,
            Self::Text(_) => None,
        }
    }

    /// The bytes of text the value holds (a connection's fields added up).
    pub fn byte_len(&self) -> usize {
        match self {
            Self::Text(v) => v.as_ref().map_or(0, |t| t.len()),
            Self::Connection(c) => c.as_ref().map_or(0, |c| {
                [&c.conn_type, &c.description, &c.host, &c.schema, &c.login, &c.password, &c.extra]
                    .iter()
                    .map(|f| f.as_ref().map_or(0, String::len))
                    .sum::<usize>()
            }),
        }
    }
}

/// What one fetch produced: the answer, and whether it may be kept (an answer reached while a provider failed
/// may not: it hides nothing longer than the failure lasts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The answer.
    pub value: Value,
    /// Whether every provider asked answered (found or not found) without failing.
    pub keep: bool,
    /// The position in the chain of the provider that answered, or of the last one asked (`None`: none was).
    pub provider: Option<usize>,
    /// Whether the answer came from a provider's live view while it was stale (following the store had failed,
    /// docs/live-view.md); such an answer is never kept.
    pub stale_view: bool,
}

/// A lookup as the cache served it: the answer, where it came from, and which provider gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// The answer, or the error every waiter gets.
    pub result: Result<Value, ChainError>,
    /// A hit, a fetch of this caller's, or another caller's fetch waited for.
    pub source: CacheResult,
    /// [`Fetched::provider`] of the answer (`None` for an error: [`ChainError::provider`] names it).
    pub provider: Option<usize>,
    /// For a stale answer ([`CacheResult::Stale`]): its age, and why the providers could not answer now.
    pub stale: Option<Stale>,
    /// [`Fetched::stale_view`] of the answer.
    pub stale_view: bool,
}

/// What a stale answer stands in for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stale {
    /// How long ago a provider gave the answer.
    pub age: Duration,
    /// Why the providers could not answer now (an error's message, which never holds a value).
    pub why: String,
    /// The kind of that error (`None`: "not found" reached while a provider failed).
    pub error: Option<&'static str>,
}

#[derive(Debug, Clone)]
struct Stored {
    value: Value,
    at: Instant,
    keep: bool,
    provider: Option<usize>,
    stale_view: bool,
}

/// A fetch's outcome, shared by everyone who waited for it.
type Outcome = Result<Stored, ChainError>;

/// An entry: its outcome once known, and the answer it replaced (kept to serve stale during an outage, until
/// a new answer is kept or the entry is invalidated).
#[derive(Debug, Default)]
struct SlotCell {
    outcome: OnceCell<Outcome>,
    previous: Mutex<Option<Stored>>,
    /// Set when `invalidate`, `invalidate_kind` or `clear` removed the entry: nothing in it is served stale.
    invalidated: AtomicBool,
}

impl SlotCell {
    fn previous(&self) -> Option<Stored> {
        if self.invalidated.load(Ordering::Acquire) {
            return None;
        }
        self.previous.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn invalidate(&self) {
        self.invalidated.store(true, Ordering::Release);
        self.previous.lock().unwrap_or_else(PoisonError::into_inner).take();
    }
}

impl std::ops::Deref for SlotCell {
    type Target = OnceCell<Outcome>;

    fn deref(&self) -> &Self::Target {
        &self.outcome
    }
}

type Slot = Arc<SlotCell>;

/// The time source; tests substitute a fake clock.
pub type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// The cache's entries. foldhash, seeded per process: hash flooding by chosen ids stays hard, and a hit hashes
/// its key several times faster than with std's SipHash.
type SlotMap = HashMap<Key, Slot, foldhash::fast::RandomState>;

/// A bounded, coalescing TTL cache of lookup answers.
pub struct Cache {
    settings: CacheSettings,
    slots: RwLock<SlotMap>,
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
        Self { settings, slots: RwLock::new(HashMap::default()), clock }
    }

    /// The settings.
    pub fn settings(&self) -> &CacheSettings {
        &self.settings
    }

    /// How many entries (answers and lookups in flight) the cache holds.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets the answer for `key`; the next lookup asks the providers again. A lookup in flight for `key`
    /// still completes for its waiters but is not kept.
    /// Nothing of it is served stale afterwards, by lookups in flight either.
    pub fn invalidate(&self, key: &Key) {
        if let Some(slot) = self.write().remove(key) {
            slot.invalidate();
        }
    }

    /// Forgets every answer of `kind` for any of `ids`, whatever the lookup function and team: what a live
    /// view's change touched (see [`crate::live`]).
    pub fn invalidate_ids(&self, kind: Kind, ids: &[String]) {
        if ids.is_empty() {
            return;
        }
        let ids: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
        self.write().retain(|k, slot| {
            let keep = k.kind() != kind || !ids.contains(k.id.as_str());
            if !keep {
                slot.invalidate();
            }
            keep
        });
    }

    /// Forgets every answer of `kind`.
    pub fn invalidate_kind(&self, kind: Kind) {
        self.write().retain(|k, slot| {
            let keep = k.kind() != kind;
            if !keep {
                slot.invalidate();
            }
            keep
        });
    }

    /// Forgets everything.
    pub fn clear(&self) {
        for (_, slot) in self.write().drain() {
            slot.invalidate();
        }
    }

    /// The fresh answer for `key`, else the outcome of `fetch`, run once for all concurrent callers of `key`
    /// (they all get its answer, or its error). The outcome is kept only when it is an answer every provider
    /// gave without failing, and, for "not found", when [`CacheSettings::caches_not_found`] says so.
    pub async fn get_or_fetch<'k, F, Fut>(&self, key: impl Into<KeyRef<'k>>, fetch: F) -> Result<Value, ChainError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Fetched, ChainError>>,
    {
        self.serve(key, fetch).await.result
    }

    /// [`Cache::get_or_fetch`], saying where the answer came from (for metrics and the audit log).
    pub async fn serve<'k, F, Fut>(&self, key: impl Into<KeyRef<'k>>, fetch: F) -> Served
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Fetched, ChainError>>,
    {
        let key = key.into();
        if let Some((value, provider)) = self.hit(key) {
            return Served { result: Ok(value), source: CacheResult::Hit, provider, stale: None, stale_view: false };
        }
        let slot = self.slot(key);
        let clock = Arc::clone(&self.clock);
        let fetched_here = AtomicBool::new(false);
        let outcome = slot
            .get_or_init(|| {
                fetched_here.store(true, Ordering::Relaxed);
                async move {
                    let fetched = fetch().await?;
                    Ok(Stored {
                        value: fetched.value,
                        at: clock(),
                        // A stale view's answer is never kept, whatever the fetch says.
                        keep: fetched.keep && !fetched.stale_view,
                        provider: fetched.provider,
                        stale_view: fetched.stale_view,
                    })
                }
            })
            .await;
        let source = if fetched_here.load(Ordering::Relaxed) { CacheResult::Miss } else { CacheResult::Coalesced };
        if self.keeps(key.op.kind(), outcome) {
            // A new answer is kept: the one it replaced is no longer needed (a rotated password leaves memory).
            slot.previous.lock().unwrap_or_else(PoisonError::into_inner).take();
        } else {
            let stale = slot.previous().and_then(|previous| self.stale(outcome, &previous));
            let mut slots = self.write();
            if slots.get(&key as &dyn Keyed).is_some_and(|s| Arc::ptr_eq(s, &slot)) {
                match &stale {
                    // The answer stays, expired, for the next lookup to try the providers and fall back to.
                    Some((previous, _)) => {
                        let cell =
                            SlotCell { outcome: OnceCell::new_with(Some(Ok(previous.clone()))), ..SlotCell::default() };
                        slots.insert(key.owned(), Arc::new(cell));
                    }
                    None => {
                        slots.remove(&key as &dyn Keyed);
                    }
                }
            }
            drop(slots);
            if let Some((previous, stale)) = stale {
                return Served {
                    result: Ok(previous.value),
                    source: CacheResult::Stale,
                    provider: previous.provider,
                    stale: Some(stale),
                    stale_view: false,
                };
            }
        }
        match outcome {
            Ok(stored) => Served {
                result: Ok(stored.value.clone()),
                source,
                provider: stored.provider,
                stale: None,
                stale_view: stored.stale_view,
            },
            Err(error) => Served { result: Err(error.clone()), source, provider: None, stale: None, stale_view: false },
        }
    }

    /// `previous`, when it may stand in for `outcome`: the store could not be reached or answered badly
    /// (`unavailable`, `timeout` or `upstream`: never access denied, a refused request, a broken stored value, a
    /// configuration error or a failed component), or "not found" was reached while a provider failed; and
    /// `previous` is no older than [`CacheSettings::max_staleness`]. With why the providers could not answer.
    fn stale(&self, outcome: &Outcome, previous: &Stored) -> Option<(Stored, Stale)> {
        use crate::LookupError::{Timeout, Unavailable, Upstream};
        let age = (self.clock)().saturating_duration_since(previous.at);
        if self.settings.max_staleness.is_zero() || age > self.settings.max_staleness {
            return None;
        }
        let (why, error) = match outcome {
            Err(e) if matches!(e.error, Unavailable(_) | Timeout(_) | Upstream(_)) => {
                (e.to_string(), Some(e.error.kind()))
            }
            Ok(s) if !s.keep && !s.value.is_found() => ("a provider failed".to_owned(), None),
            _ => return None,
        };
        Some((previous.clone(), Stale { age, why, error }))
    }

    /// Whether `outcome` stays for later lookups of `kind`.
    fn keeps(&self, kind: Kind, outcome: &Outcome) -> bool {
        matches!(outcome, Ok(s) if s.keep && (s.value.is_found() || self.settings.caches_not_found(kind)))
    }

    /// Whether `outcome` answers a lookup of `kind` at `now`: kept, and younger than the kind's TTL.
    fn is_fresh(&self, kind: Kind, outcome: &Outcome, now: Instant) -> bool {
        self.keeps(kind, outcome)
            && outcome.as_ref().is_ok_and(|s| now.saturating_duration_since(s.at) < self.settings.ttl(kind))
    }

    /// The fresh answer for `key`, if the cache holds one: under the read lock, with nothing allocated.
    fn hit(&self, key: KeyRef<'_>) -> Option<(Value, Option<usize>)> {
        let now = (self.clock)();
        let slots = self.read();
        let outcome = slots.get(&key as &dyn Keyed)?.get()?;
        match outcome {
            Ok(stored) if self.is_fresh(key.op.kind(), outcome, now) => Some((stored.value.clone(), stored.provider)),
            _ => None,
        }
    }

    /// The slot to read or fill: the existing one while fresh or in flight, else a new one.
    fn slot(&self, key: KeyRef<'_>) -> Slot {
        let now = (self.clock)();
        let mut slots = self.write();
        if let Some(slot) = slots.get(&key as &dyn Keyed) {
            // In flight, or a kept answer younger than its TTL; a finished outcome that is not kept is replaced.
            let fresh = slot.get().is_none_or(|outcome| self.is_fresh(key.op.kind(), outcome, now));
            if fresh {
                return Arc::clone(slot);
            }
        }
        // What an outage may serve stale (held only when that is on): a kept answer past its TTL, else what the
        // entry being replaced held (its own fetch failed and its waiters have not put the answer back yet).
        let previous = slots.get(&key as &dyn Keyed).filter(|_| !self.settings.max_staleness.is_zero()).and_then(
            |slot| match slot.get() {
                Some(outcome) if self.keeps(key.op.kind(), outcome) => outcome.as_ref().ok().cloned(),
                _ => slot.previous(),
            },
        );
        if !slots.contains_key(&key as &dyn Keyed) && slots.len() >= self.settings.max_entries {
            self.make_room(&mut slots, now);
        }
        let slot = Arc::new(SlotCell { previous: Mutex::new(previous), ..SlotCell::default() });
        slots.insert(key.owned(), Arc::clone(&slot));
        slot
    }

    /// Drops expired entries and abandoned slots; if that is not enough, the oldest tenth of the answers.
    /// Scanning is O(entries) but happens only when the cache is full.
    fn make_room(&self, slots: &mut SlotMap, now: Instant) {
        slots.retain(|k, slot| match slot.get() {
            Some(Ok(s)) => now.saturating_duration_since(s.at) < self.settings.ttl(k.kind()),
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

    // The map stays consistent across a panic (every update is a single insert or remove).
    fn read(&self) -> RwLockReadGuard<'_, SlotMap> {
        self.slots.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, SlotMap> {
        self.slots.write().unwrap_or_else(PoisonError::into_inner)
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
        Value::Text(Some(s.into()))
    }

    async fn lookup(cache: &Cache, key: &Key, calls: &AtomicUsize, answer: Value) -> Value {
        let result = cache
            .get_or_fetch(key, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok(Fetched { value: answer, keep: true, provider: Some(0), stale_view: false })
            })
            .await;
        result.unwrap()
    }

    fn down() -> ChainError {
        ChainError { provider: "p".into(), error: crate::LookupError::Unavailable("down".into()) }
    }

    /// A 10 s TTL and a maximum staleness of 60 s.
    fn stale_settings() -> CacheSettings {
        CacheSettings { ttl: [Duration::from_secs(10); 4], max_staleness: Duration::from_secs(60), ..enabled() }
    }

    async fn serve(cache: &Cache, key: &Key, outcome: Result<Fetched, ChainError>) -> Served {
        cache.serve(key, || async { outcome }).await
    }

    fn found(s: &str) -> Result<Fetched, ChainError> {
        Ok(Fetched { value: text(s), keep: true, provider: Some(0), stale_view: false })
    }

    #[tokio::test]
    async fn an_outage_serves_the_last_answer_up_to_the_maximum_staleness() {
        let clock = FakeClock::new();
        let settings = stale_settings();
        let cache = Cache::with_clock(settings, clock.clock());
        let key = Key::new(Op::Variable, "v", None);
        assert_eq!(serve(&cache, &key, found("1")).await.source, CacheResult::Miss);
        clock.advance(Duration::from_secs(11));
        // An error: the answer of 11 s ago, stale.
        let served = serve(&cache, &key, Err(down())).await;
        assert_eq!((served.result, served.source, served.provider), (Ok(text("1")), CacheResult::Stale, Some(0)));
        let stale = served.stale.expect("stale");
        assert_eq!(
            (stale.age, stale.why.as_str(), stale.error),
            (Duration::from_secs(11), "provider `p`: secret store unavailable: down", Some("unavailable"))
        );
        // "Not found" reached while a provider failed: the same.
        clock.advance(Duration::from_secs(49));
        let failed = Ok(Fetched { value: Value::Text(None), keep: false, provider: Some(1), stale_view: false });
        let served = serve(&cache, &key, failed).await;
        assert_eq!((served.result, served.source), (Ok(text("1")), CacheResult::Stale));
        assert_eq!(served.stale.map(|s| (s.why, s.error)), Some(("a provider failed".to_owned(), None)));
        // Older than the maximum: the error itself.
        clock.advance(Duration::from_secs(1));
        let served = serve(&cache, &key, Err(down())).await;
        assert_eq!((served.result, served.source, served.stale), (Err(down()), CacheResult::Miss, None));
        // Gone for good: the next answer starts afresh.
        assert_eq!(serve(&cache, &key, found("2")).await.result, Ok(text("2")));
    }

    #[tokio::test]
    async fn an_invalidated_entry_is_never_served_stale_even_by_a_lookup_in_flight() {
        let clock = FakeClock::new();
        let settings = stale_settings();
        let cache = Cache::with_clock(settings, clock.clock());
        let key = Key::new(Op::Variable, "v", None);
        serve(&cache, &key, found("1")).await;
        clock.advance(Duration::from_secs(11));
        // The operator invalidates while the next lookup is asking the (failing) providers.
        let served = cache
            .serve(&key, || async {
                cache.invalidate(&key);
                Err(down())
            })
            .await;
        assert_eq!((served.result, served.source), (Err(down()), CacheResult::Miss));
        assert_eq!(serve(&cache, &key, Err(down())).await.result, Err(down()));
        // clear() too.
        serve(&cache, &key, found("2")).await;
        clock.advance(Duration::from_secs(11));
        let served = cache
            .serve(&key, || async {
                cache.clear();
                Err(down())
            })
            .await;
        assert_eq!(served.result, Err(down()));
    }

    #[tokio::test]
    async fn only_an_unreachable_or_failing_store_is_covered_by_a_stale_answer() {
        use crate::LookupError::{InvalidConfiguration, MalformedPayload, Provider, Timeout, Upstream};
        for (error, stale) in [
            (Timeout("t".into()), true),
            (Upstream("500".into()), true),
            (MalformedPayload("bad base64".into()), false),
            (InvalidConfiguration("kwargs".into()), false),
            (Provider("trapped".into()), false),
        ] {
            let clock = FakeClock::new();
            let settings = stale_settings();
            let cache = Cache::with_clock(settings, clock.clock());
            let key = Key::new(Op::Variable, "v", None);
            serve(&cache, &key, found("1")).await;
            clock.advance(Duration::from_secs(11));
            let failure = ChainError { provider: "p".into(), error: error.clone() };
            let served = serve(&cache, &key, Err(failure.clone())).await;
            let expected = if stale { Ok(text("1")) } else { Err(failure) };
            assert_eq!(served.result, expected, "{error:?}");
        }
    }

    #[tokio::test]
    async fn nothing_stale_on_access_denied_a_real_answer_or_with_the_default_settings() {
        let clock = FakeClock::new();
        let settings = stale_settings();
        let cache = Cache::with_clock(settings, clock.clock());
        let key = Key::new(Op::Connection, "c", None);
        serve(&cache, &key, found("1")).await;
        clock.advance(Duration::from_secs(11));
        let denied = ChainError { provider: "p".into(), error: crate::LookupError::AccessDenied("403".into()) };
        assert_eq!(serve(&cache, &key, Err(denied.clone())).await.result, Err(denied));
        // The denial dropped the entry: nothing is left to serve stale.
        assert_eq!(serve(&cache, &key, Err(down())).await.result, Err(down()));
        // A deleted secret ("not found" with every provider answering) is an answer, not an outage.
        serve(&cache, &key, found("1")).await;
        clock.advance(Duration::from_secs(11));
        let gone = Ok(Fetched { value: Value::Text(None), keep: true, provider: Some(0), stale_view: false });
        let served = serve(&cache, &key, gone).await;
        assert_eq!((served.result, served.source), (Ok(Value::Text(None)), CacheResult::Miss));

        let defaults =
            Cache::with_clock(CacheSettings { ttl: [Duration::from_secs(10); 4], ..enabled() }, clock.clock());
        serve(&defaults, &key, found("1")).await;
        clock.advance(Duration::from_secs(11));
        assert_eq!(serve(&defaults, &key, Err(down())).await.result, Err(down()), "off by default");
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
        let during = cache
            .get_or_fetch(&key, || async {
                Ok(Fetched { value: Value::Text(None), keep: false, provider: None, stale_view: false })
            })
            .await;
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
        let (_, calls, results) =
            burst(50, || Ok(Fetched { value: text("once"), keep: true, provider: Some(0), stale_view: false })).await;
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
    async fn invalidating_ids_forgets_every_lookup_of_them_and_nothing_else() {
        let cache = Cache::new(CacheSettings { enabled: true, ..CacheSettings::default() });
        let keys = [
            Key::new(Op::ConnValue, "db", None),
            Key::new(Op::Connection, "db", Some("blue")),
            Key::new(Op::ConnValue, "other", None),
            Key::new(Op::Variable, "db", None),
        ];
        for key in &keys {
            let fetched = || async {
                Ok(Fetched { value: Value::Text(Some("v".into())), keep: true, provider: Some(0), stale_view: false })
            };
            cache.get_or_fetch(key, fetched).await.unwrap();
        }
        assert_eq!(cache.len(), 4);
        cache.invalidate_ids(Kind::Connection, &["db".to_owned()]);
        assert_eq!(cache.len(), 2);
        assert!(cache.hit(KeyRef::from(&keys[2])).is_some());
        assert!(cache.hit(KeyRef::from(&keys[3])).is_some(), "another kind's entry of the same id stays");
    }

    #[tokio::test]
    async fn invalidation_forgets() {
        let cache = Cache::with_clock(enabled(), FakeClock::new().clock());
        let calls = AtomicUsize::new(0);
        let key = Key::secret("g", "k");
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

    /// A hit hands out the stored value itself (shared), found from a borrowed key.
    #[tokio::test]
    async fn a_hit_shares_the_stored_value() {
        let cache = Cache::with_clock(enabled(), FakeClock::new().clock());
        let calls = AtomicUsize::new(0);
        let key = Key::new(Op::Variable, "v", Some("team-a"));
        let first = lookup(&cache, &key, &calls, text("value")).await.into_text().unwrap();
        let borrowed = KeyRef { op: Op::Variable, id: "v", secret_key: None, team: Some("team-a") };
        let hit = cache.hit(borrowed).expect("a fresh entry").0.into_text().unwrap();
        assert!(Arc::ptr_eq(&first, &hit), "the same allocation, not a copy");
        assert_eq!(cache.hit(KeyRef { team: None, ..borrowed }), None, "another team is another key");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn keys_and_borrowed_keys_hash_and_compare_alike() {
        use std::hash::BuildHasher as _;
        let state = foldhash::fast::RandomState::default();
        for key in [Key::new(Op::Connection, "c", None), Key::new(Op::ConnValue, "c", Some("t")), Key::secret("g", "k")]
        {
            let borrowed = KeyRef::from(&key);
            assert_eq!(state.hash_one(&key), state.hash_one(&borrowed as &dyn Keyed));
            assert_eq!(borrowed.owned(), key);
        }
        // A Flyte group and key are two parts: no separator inside either can make two secrets one key.
        assert_ne!(Key::secret("a\0b", "c"), Key::secret("a", "b\0c"));
        assert_eq!(Key::new(Op::Secret, "g\0k", None), Key::secret("g", "k"), "the joined form names the same key");
        assert_eq!(Key::new(Op::Secret, "g", None), Key::secret("g", ""), "without a NUL, the key is empty");
        assert_ne!(Key::new(Op::ConnValue, "c", None), Key::new(Op::Connection, "c", None));
    }

    #[test]
    fn debug_never_shows_values() {
        let v = Value::Text(Some("hunter2-canary".into()));
        assert_eq!(format!("{v:?}"), "Value(<found>)");
    }
}
