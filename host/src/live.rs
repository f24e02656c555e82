//! The live view's memory (docs/live-view.md): per kind, what the provider decoded from a list and the watch
//! that follows it, as an ordered multimap the host keeps without reading it. Pure: `host/src/follow.rs` drives
//! the list and the watch; lookups read through the `host.view` import.
//!
//! Why these rules:
//! - Items are grouped by id and ordered by name, the API server's list order, so a lookup's first match is
//!   the one a LIST would return first.
//! - A kind is answered only once its first list has finished (`Synced`), and no longer once following it
//!   failed: then lookups ask the store as usual, so a view never hides an outage behind old answers.
//! - Every byte kept is counted against a budget: a store (or a component) that hands over more gets its
//!   view dropped, not the host's memory.
//! - Every change says which ids it touched, so the chain's cache forgets exactly those.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// The kinds a live view follows (the WIT `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Connections.
    Connection,
    /// Variables.
    Variable,
    /// Config values.
    Config,
}

impl Kind {
    /// Every followed kind.
    pub const ALL: [Self; 3] = [Self::Connection, Self::Variable, Self::Config];

    /// The cache's kind for the same lookups.
    pub fn cache_kind(self) -> crate::cache::Kind {
        match self {
            Self::Connection => crate::cache::Kind::Connection,
            Self::Variable => crate::cache::Kind::Variable,
            Self::Config => crate::cache::Kind::Config,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One item as a provider decoded it. The payload may hold a secret: it is never shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Item {
    /// The object's name (identity and order).
    pub name: String,
    /// The id lookups find it by.
    pub id: String,
    /// The provider's encoding of the rest.
    pub payload: Vec<u8>,
}

impl Item {
    /// What keeping it costs, in bytes (its strings and payload, plus a fixed overhead per item for the maps).
    pub fn cost(&self) -> usize {
        self.name.len() + self.id.len() + self.payload.len() + ITEM_OVERHEAD
    }
}

/// Name and id only.
impl std::fmt::Debug for Item {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Item({:?}, id {:?}, {} payload bytes)", self.name, self.id, self.payload.len())
    }
}

/// What the maps spend per item besides its bytes (keys are held twice, plus map nodes), counted so that many
/// tiny items cannot slip past the budget.
const ITEM_OVERHEAD: usize = 128;

/// The items of one kind: by id, then by name.
#[derive(Default, Clone, PartialEq, Eq)]
pub struct KindView {
    by_id: HashMap<String, BTreeMap<String, Arc<[u8]>>>,
    id_of: HashMap<String, String>,
    bytes: usize,
}

/// Counts only: the payloads may hold secrets.
impl std::fmt::Debug for KindView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KindView").field("items", &self.id_of.len()).field("bytes", &self.bytes).finish()
    }
}

/// A change that does not fit the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the live view would hold more than its budget of {budget} bytes")]
pub struct OverBudget {
    /// The budget.
    pub budget: usize,
}

impl KindView {
    /// The view of a complete list, within `budget` bytes.
    pub fn from_items(items: Vec<Item>, budget: usize) -> Result<Self, OverBudget> {
        let mut view = Self::default();
        for item in items {
            view.put(item, budget)?;
        }
        Ok(view)
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Items held.
    pub fn len(&self) -> usize {
        self.id_of.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.id_of.is_empty()
    }

    /// Stores `item`, replacing whatever its name held; the ids it touched (its old one and its new one).
    pub fn put(&mut self, item: Item, budget: usize) -> Result<Vec<String>, OverBudget> {
        let cost = item.cost();
        let mut touched = self.remove(&item.name).into_iter().collect::<Vec<_>>();
        if self.bytes + cost > budget {
            return Err(OverBudget { budget });
        }
        self.bytes += cost;
        self.id_of.insert(item.name.clone(), item.id.clone());
        self.by_id.entry(item.id.clone()).or_default().insert(item.name, item.payload.into());
        if !touched.contains(&item.id) {
            touched.push(item.id);
        }
        Ok(touched)
    }

    /// Forgets the item of `name`; the id it answered for.
    pub fn remove(&mut self, name: &str) -> Option<String> {
        let id = self.id_of.remove(name)?;
        if let Some(items) = self.by_id.get_mut(&id) {
            if let Some(payload) = items.remove(name) {
                self.bytes -= name.len() + id.len() + payload.len() + ITEM_OVERHEAD;
            }
            if items.is_empty() {
                self.by_id.remove(&id);
            }
        }
        Some(id)
    }

    /// The items of `id`, in name order; `None` when they hold more than `max_bytes` ([`Item::cost`]).
    pub fn items(&self, id: &str, max_bytes: usize) -> Option<Vec<Item>> {
        let Some(items) = self.by_id.get(id) else {
            return Some(Vec::new());
        };
        let cost: usize =
            items.iter().map(|(name, payload)| name.len() + id.len() + payload.len() + ITEM_OVERHEAD).sum();
        if cost > max_bytes {
            return None;
        }
        Some(
            items
                .iter()
                .map(|(name, payload)| Item { name: name.clone(), id: id.to_owned(), payload: payload.to_vec() })
                .collect(),
        )
    }

    /// Every id the view holds items for, in no particular order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.by_id.keys().map(String::as_str)
    }

    /// The ids whose items differ between `self` and `other` (what a relist changed).
    pub fn changed_ids(&self, other: &Self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .by_id
            .iter()
            .filter(|(id, items)| other.by_id.get(*id) != Some(*items))
            .map(|(id, _)| id.clone())
            .collect();
        ids.extend(other.by_id.keys().filter(|id| !self.by_id.contains_key(*id)).cloned());
        ids
    }
}

/// Where following one kind stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Status {
    /// Not started, or the first list is under way: lookups ask the store.
    #[default]
    Starting,
    /// The provider cannot follow this kind with its configuration: lookups ask the store, for good.
    NotFollowed,
    /// Listed, and followed since: lookups are answered from the view.
    Synced,
    /// Following failed: the driver lists again after a pause. Meanwhile lookups ask the store, except that
    /// ids the view holds are answered from it, as stale, while `stale_ok` and for at most the maximum
    /// staleness after `since` (see [`LiveView::items`]). The items are also what tells, once listed again,
    /// which ids changed.
    Failed {
        /// Why, for the log.
        why: String,
        /// When following stopped: the age of every answer the view gives from now on.
        since: std::time::Instant,
        /// Whether the failure lets known values be served (the store unreachable or failing; never access
        /// denied, a refused request or a spent budget).
        stale_ok: bool,
    },
}

#[derive(Debug, Default)]
struct KindState {
    status: Status,
    view: KindView,
    /// When the view was last known current: its last list, or the last line its watch delivered.
    current_at: Option<std::time::Instant>,
    /// Whether a watch of the kind is open (answered 2xx and not ended).
    watching: bool,
}

impl KindState {
    /// The status after a failure at `now`: staleness counts from the moment the view was last known current
    /// (a failure after a failure keeps the first one's time); only a view that was current, or failed in a way
    /// that allows it, may stand in for the store.
    fn failed(&self, why: String, stale_ok: bool, now: std::time::Instant) -> Status {
        match &self.status {
            Status::Failed { since, stale_ok: was_ok, .. } => {
                Status::Failed { why, since: *since, stale_ok: stale_ok && *was_ok }
            }
            Status::Synced => Status::Failed { why, since: self.current_at.unwrap_or(now), stale_ok },
            _ => Status::Failed { why, since: now, stale_ok: false },
        }
    }
}

/// Counts of what following cost and found, for metrics and `secrets bench`.
#[derive(Debug, Default)]
pub struct LiveCounts {
    /// Complete lists (the first one and every relist).
    pub lists: AtomicU64,
    /// Lists made (and finished) because the watch's version expired (410 Gone).
    pub relists: AtomicU64,
    /// Watches opened again after one ended or broke.
    pub watch_restarts: AtomicU64,
    /// Watch lines applied (changes and bookmarks).
    pub events: AtomicU64,
    /// Failures while listing or watching.
    pub failures: AtomicU64,
    /// Lookups answered from the view.
    pub answered: AtomicU64,
    /// Of those, answered while following had failed (known values served through an outage).
    pub stale: AtomicU64,
}

/// The items a lookup gets from the view, and their age when following has failed (a stale answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewAnswer {
    /// The items of the id, in name order.
    pub items: Vec<Item>,
    /// `Some(age)` when served while following has failed.
    pub stale: Option<std::time::Duration>,
}

/// Called with the ids a change touched, so a cache forgets them.
pub type ChangeHook = Arc<dyn Fn(Kind, &[String]) + Send + Sync>;

/// One provider's live view: a [`KindView`] and a [`Status`] per kind, shared by its driver and its lookups.
pub struct LiveView {
    kinds: [Mutex<KindState>; 3],
    budget: usize,
    max_answer: usize,
    max_staleness: std::time::Duration,
    clock: crate::cache::Clock,
    counts: LiveCounts,
    hook: Mutex<Option<ChangeHook>>,
    /// Bumped after every applied change or status change: what tests and `secrets bench` wait on.
    applied: tokio::sync::watch::Sender<u64>,
    /// Bumped whenever a watch opens or ends ([`LiveView::wait_following`]); apart from `applied`, which counts
    /// what reached the view.
    watches: tokio::sync::watch::Sender<u64>,
}

impl std::fmt::Debug for LiveView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let statuses: Vec<_> = Kind::ALL.iter().map(|k| (k, self.status(*k))).collect();
        f.debug_struct("LiveView").field("status", &statuses).field("budget", &self.budget).finish_non_exhaustive()
    }
}

impl LiveView {
    /// An empty view; each kind holds at most `budget` bytes, and a lookup gets at most `max_answer` bytes of
    /// items (more, and it asks the store, whose answer is bounded the same way).
    pub fn new(budget: usize, max_answer: usize) -> Self {
        Self {
            kinds: Default::default(),
            budget,
            max_answer,
            max_staleness: std::time::Duration::ZERO,
            clock: Arc::new(std::time::Instant::now),
            counts: LiveCounts::default(),
            hook: Mutex::new(None),
            applied: tokio::sync::watch::Sender::new(0),
            watches: tokio::sync::watch::Sender::new(0),
        }
    }

    fn kind(&self, kind: Kind) -> std::sync::MutexGuard<'_, KindState> {
        self.kinds[kind.index()].lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Serves ids the view holds for up to `max_staleness` after following failed (zero, the default: never),
    /// reading the time from `clock`.
    #[must_use]
    pub fn with_staleness(mut self, max_staleness: std::time::Duration, clock: crate::cache::Clock) -> Self {
        self.max_staleness = max_staleness;
        self.clock = clock;
        self
    }

    /// The byte budget of each kind.
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// The counters.
    pub fn counts(&self) -> &LiveCounts {
        &self.counts
    }

    /// Calls `hook` with the ids every later change touches.
    pub fn on_change(&self, hook: ChangeHook) {
        *self.hook.lock().unwrap_or_else(PoisonError::into_inner) = Some(hook);
    }

    /// Where following `kind` stands.
    pub fn status(&self, kind: Kind) -> Status {
        self.kind(kind).status.clone()
    }

    /// Items held for `kind`.
    pub fn len(&self, kind: Kind) -> usize {
        self.kind(kind).view.len()
    }

    /// Every id of `kind`, sorted, while `kind` is synced; `None` otherwise (a listing then asks the provider,
    /// which asks the store: a stale view cannot vouch for what it lacks).
    pub fn ids(&self, kind: Kind) -> Option<Vec<String>> {
        let state = self.kind(kind);
        if state.status != Status::Synced {
            return None;
        }
        let mut ids: Vec<String> = state.view.ids().map(str::to_owned).collect();
        drop(state);
        ids.sort_unstable();
        Some(ids)
    }

    /// The items of `id` when `kind` is synced and they fit a lookup's answer; `None` otherwise (the lookup asks
    /// the store). While following has failed, an id the view holds items for is still answered, with the
    /// answer's age, if the failure allows it and the age is within the maximum staleness: known values are
    /// served through an outage; an unknown id, or anything later, asks the store and meets the failure.
    pub fn items(&self, kind: Kind, id: &str) -> Option<ViewAnswer> {
        let state = self.kind(kind);
        let age = match &state.status {
            Status::Synced => None,
            Status::Failed { since, stale_ok: true, .. } => {
                let age = (self.clock)().saturating_duration_since(*since);
                if self.max_staleness.is_zero() || age > self.max_staleness {
                    return None;
                }
                Some(age)
            }
            _ => return None,
        };
        let items = state.view.items(id, self.max_answer)?;
        drop(state);
        if age.is_some() && items.is_empty() {
            return None;
        }
        self.counts.answered.fetch_add(1, Ordering::Relaxed);
        if age.is_some() {
            self.counts.stale.fetch_add(1, Ordering::Relaxed);
        }
        Some(ViewAnswer { items, stale: age })
    }

    /// A complete list of `kind`: it replaces the view, and `kind` is synced.
    ///
    /// The cache forgets the changed ids before the kind answers (when it did not already): an answer a lookup
    /// got from this view is then never dropped for a change it already saw.
    pub fn replace(&self, kind: Kind, view: KindView) {
        let now = (self.clock)();
        let mut state = self.kind(kind);
        let touched = state.view.changed_ids(&view);
        state.view = view;
        state.current_at = Some(now);
        drop(state);
        self.counts.lists.fetch_add(1, Ordering::Relaxed);
        self.touched(kind, &touched);
        self.set_status(kind, Status::Synced);
    }

    /// Applies a put; over the budget, the kind fails (at once, under the same lock: no lookup sees the view
    /// without the item it lost) and serves nothing until it is listed again.
    pub fn put(&self, kind: Kind, item: Item) -> Result<(), OverBudget> {
        let now = (self.clock)();
        let mut state = self.kind(kind);
        match state.view.put(item, self.budget) {
            Ok(touched) => {
                state.current_at = Some(now);
                drop(state);
                self.touched(kind, &touched);
                Ok(())
            }
            Err(over) => {
                state.status = state.failed(over.to_string(), false, now);
                drop(state);
                self.counts.failures.fetch_add(1, Ordering::Relaxed);
                self.applied.send_modify(|n| *n += 1);
                Err(over)
            }
        }
    }

    /// Applies a removal.
    pub fn remove(&self, kind: Kind, name: &str) {
        let now = (self.clock)();
        let mut state = self.kind(kind);
        let touched = state.view.remove(name);
        state.current_at = Some(now);
        drop(state);
        self.touched(kind, touched.as_slice());
    }

    /// Counts an applied line that changed nothing (a bookmark): the view is current as of now.
    pub fn progress(&self, kind: Kind) {
        let now = (self.clock)();
        self.kind(kind).current_at = Some(now);
        self.counts.events.fetch_add(1, Ordering::Relaxed);
        self.applied.send_modify(|n| *n += 1);
    }

    /// The watch's version of `kind` expired: until the relist is done the view misses changes, so it answers as
    /// a failed one (known ids within the maximum staleness, from the last moment it was current).
    pub fn expired(&self, kind: Kind) {
        let now = (self.clock)();
        let mut state = self.kind(kind);
        state.status = state.failed("the watch's version expired; listing again".to_owned(), true, now);
        drop(state);
        self.applied.send_modify(|n| *n += 1);
    }

    /// `kind` cannot be followed: lookups ask the store.
    pub fn not_followed(&self, kind: Kind) {
        self.set_status(kind, Status::NotFollowed);
    }

    /// Following `kind` failed: the view stops answering (lookups ask the store) until the next complete list,
    /// except for known ids within the maximum staleness when `stale_ok` ([`LiveView::items`]), counted from the
    /// last moment the view was current. The cache is left alone: what it holds is served until its TTL, as
    /// without live mode, and the next list tells which ids changed meanwhile.
    pub fn fail(&self, kind: Kind, why: String, stale_ok: bool) {
        let now = (self.clock)();
        let mut state = self.kind(kind);
        state.status = state.failed(why, stale_ok, now);
        drop(state);
        // Counted before the change is announced: whoever it wakes sees the count.
        self.counts.failures.fetch_add(1, Ordering::Relaxed);
        self.applied.send_modify(|n| *n += 1);
    }

    fn set_status(&self, kind: Kind, status: Status) {
        self.kind(kind).status = status;
        self.applied.send_modify(|n| *n += 1);
    }

    fn touched(&self, kind: Kind, ids: &[String]) {
        self.counts.events.fetch_add(1, Ordering::Relaxed);
        let hook = self.hook.lock().unwrap_or_else(PoisonError::into_inner).clone();
        if let Some(hook) = hook
            && !ids.is_empty()
        {
            hook(kind, ids);
        }
        self.applied.send_modify(|n| *n += 1);
    }

    /// Changes and status changes applied so far.
    pub fn applied(&self) -> u64 {
        *self.applied.borrow()
    }

    /// Waits until `done` holds for the view (checked after every applied change).
    pub async fn wait_until(&self, mut done: impl FnMut(&Self) -> bool) {
        let mut applied = self.applied.subscribe();
        while !done(self) {
            if applied.changed().await.is_err() {
                return;
            }
        }
    }

    /// Records whether a watch of `kind` is open.
    pub fn set_watching(&self, kind: Kind, watching: bool) {
        self.kind(kind).watching = watching;
        self.watches.send_modify(|n| *n += 1);
    }

    /// Whether a watch of `kind` is open.
    pub fn is_watching(&self, kind: Kind) -> bool {
        self.kind(kind).watching
    }

    /// Waits until every kind has finished its first list and every synced kind has its watch open: from then
    /// on, lookups it answers send nothing and nothing is sent until a change, a bookmark or the watch's end
    /// (what `secrets bench` waits for after its warm-up, so the measured lookups see the steady state). A kind
    /// still listing is waited for too: a warm-up that looked up only one kind must not leave another kind's
    /// list and watch to be sent during the measured lookups.
    pub async fn wait_following(&self) {
        let (mut applied, mut watches) = (self.applied.subscribe(), self.watches.subscribe());
        while !Kind::ALL.iter().all(|&k| match self.status(k) {
            Status::Starting => false,
            Status::Synced => self.is_watching(k),
            Status::NotFollowed | Status::Failed { .. } => true,
        }) {
            tokio::select! {
                changed = applied.changed() => if changed.is_err() { return },
                changed = watches.changed() => if changed.is_err() { return },
            }
        }
    }

    /// Waits until every kind has finished its first list (synced, not followed or failed).
    pub async fn wait_started(&self) {
        self.wait_until(|view| Kind::ALL.iter().all(|k| view.status(*k) != Status::Starting)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str, id: &str, payload: &str) -> Item {
        Item { name: name.into(), id: id.into(), payload: payload.as_bytes().to_vec() }
    }

    fn names(items: &[Item]) -> Vec<(&str, &str)> {
        items.iter().map(|i| (i.name.as_str(), std::str::from_utf8(&i.payload).unwrap())).collect()
    }

    #[test]
    fn items_are_grouped_by_id_in_name_order_and_moves_touch_both_ids() {
        let mut view =
            KindView::from_items(vec![item("b", "x", "2"), item("a", "x", "1"), item("c", "y", "3")], 1 << 20).unwrap();
        assert_eq!(names(&view.items("x", 1 << 20).unwrap()), vec![("a", "1"), ("b", "2")]);
        assert_eq!(view.items("x", 10), None, "more than a lookup may get");
        assert_eq!(format!("{view:?}"), format!("KindView {{ items: 3, bytes: {} }}", view.bytes()));
        assert_eq!(view.len(), 3);
        // `b` moves from x to y: both ids are touched.
        assert_eq!(view.put(item("b", "y", "4"), 1 << 20).unwrap(), vec!["x".to_owned(), "y".to_owned()]);
        assert_eq!(names(&view.items("y", 1 << 20).unwrap()), vec![("b", "4"), ("c", "3")]);
        assert_eq!(view.remove("a"), Some("x".into()));
        assert_eq!(view.items("x", 1 << 20), Some(Vec::new()));
        assert_eq!(view.remove("a"), None);
        let bytes = view.bytes();
        view.put(item("c", "y", "3"), 1 << 20).unwrap();
        assert_eq!(view.bytes(), bytes, "replacing an item does not count it twice");
    }

    #[test]
    fn the_budget_bounds_what_is_kept() {
        let one = item("a", "x", "p").cost();
        assert_eq!(
            KindView::from_items(vec![item("a", "x", "p"), item("b", "x", "p")], 2 * one - 1),
            Err(OverBudget { budget: 2 * one - 1 })
        );
        let view = LiveView::new(one, 1 << 20);
        view.replace(Kind::Variable, KindView::default());
        view.put(Kind::Variable, item("a", "x", "p")).unwrap();
        assert_eq!(view.items(Kind::Variable, "x").map(|a| a.items.len()), Some(1));
        assert!(view.put(Kind::Variable, item("b", "x", "p")).is_err());
        assert_eq!(view.items(Kind::Variable, "x"), None, "a kind over its budget stops answering");
        assert!(matches!(view.status(Kind::Variable), Status::Failed { stale_ok: false, .. }));
    }

    #[test]
    fn only_a_synced_kind_answers_and_changes_report_their_ids() {
        let view = LiveView::new(1 << 20, 1 << 20);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        view.on_change(Arc::new(move |kind, ids| log.lock().unwrap().push((kind, ids.to_vec()))));
        assert_eq!(view.items(Kind::Connection, "db"), None, "not listed yet");
        view.replace(Kind::Connection, KindView::from_items(vec![item("s", "db", "v")], 1 << 20).unwrap());
        assert_eq!(
            view.items(Kind::Connection, "nope").map(|a| a.items),
            Some(Vec::new()),
            "absent ids are known absent"
        );
        view.put(Kind::Connection, item("t", "db", "w")).unwrap();
        view.remove(Kind::Connection, "s");
        assert_eq!(names(&view.items(Kind::Connection, "db").unwrap().items), vec![("t", "w")]);
        view.fail(Kind::Connection, "the watch broke".into(), true);
        assert_eq!(view.items(Kind::Connection, "db"), None);
        view.not_followed(Kind::Config);
        assert_eq!(
            *seen.lock().unwrap(),
            vec![
                (Kind::Connection, vec!["db".to_owned()]),
                (Kind::Connection, vec!["db".to_owned()]),
                (Kind::Connection, vec!["db".to_owned()]),
            ],
            "a failure leaves the cache alone"
        );
        // Listed again: only the ids that changed meanwhile are touched.
        let relisted = KindView::from_items(vec![item("t", "db", "w"), item("u", "new", "x")], 1 << 20).unwrap();
        view.replace(Kind::Connection, relisted);
        assert_eq!(seen.lock().unwrap().last(), Some(&(Kind::Connection, vec!["new".to_owned()])));
        assert_eq!(names(&view.items(Kind::Connection, "db").unwrap().items), vec![("t", "w")]);
        assert_eq!(format!("{:?}", item("n", "i", "secret")), "Item(\"n\", id \"i\", 6 payload bytes)");
    }

    #[test]
    fn ids_are_listed_sorted_only_while_synced() {
        let view = LiveView::new(1 << 20, 1 << 20);
        assert_eq!(view.ids(Kind::Variable), None, "not listed yet");
        let items = vec![item("s1", "b", "1"), item("s2", "a", "2"), item("s3", "b", "3")];
        view.replace(Kind::Variable, KindView::from_items(items, 1 << 20).unwrap());
        assert_eq!(view.ids(Kind::Variable), Some(vec!["a".to_owned(), "b".to_owned()]), "distinct, sorted");
        assert_eq!(view.ids(Kind::Connection), None, "per kind");
        view.fail(Kind::Variable, "the watch broke".into(), true);
        assert_eq!(view.ids(Kind::Variable), None, "a stale view cannot vouch for what it lacks");
    }

    #[tokio::test]
    async fn following_means_every_kind_listed_and_every_synced_kind_watched() {
        let view = LiveView::new(1 << 20, 1 << 20);
        let soon = std::time::Duration::from_millis(50);
        let following = || tokio::time::timeout(soon, view.wait_following());
        assert!(following().await.is_err(), "no kind has finished its first list");
        view.replace(Kind::Variable, KindView::default());
        view.set_watching(Kind::Variable, true);
        assert!(following().await.is_err(), "connections and config are still listing (their requests are to come)");
        view.not_followed(Kind::Config);
        view.fail(Kind::Connection, "down".into(), true);
        assert!(following().await.is_ok(), "a kind not followed or failed is not waited for");
        view.replace(Kind::Connection, KindView::default());
        assert!(following().await.is_err(), "synced, no watch yet");
        view.set_watching(Kind::Connection, true);
        assert!(following().await.is_ok());
        view.set_watching(Kind::Variable, false);
        assert!(following().await.is_err());
    }
}
