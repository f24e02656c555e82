//! What a store holds for one lookup: a WASI context that grants only the provider's environment variables,
//! the HTTP hooks, resource limits, and the host functions of the `host` interface.

use std::path::PathBuf;
use std::sync::Arc;

use wasmtime::component::{Resource, ResourceTable};
use wasmtime::{ResourceLimiter, StoreLimits};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::types::{HostFutureIncomingResponse, HostOutgoingRequest};
use wasmtime_wasi_http::{RequestOptions, WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::bindings::{host, types};
use crate::grants::{FileReadError, read_granted_file};
use crate::live::{Item, LiveView};
use crate::transport::ProviderHooks;

/// Severity of a provider log record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Informational.
    Info,
    /// Worth an operator's attention.
    Warning,
}

/// Where provider log records go. The default sends them to `tracing`.
pub type LogSink = Arc<dyn Fn(LogLevel, &str) + Send + Sync>;

/// The most resources (requests, answers, streams, pollables, header fields, ...) a store may hold at once. A
/// lookup needs a few dozen (a request and its answer are about ten, and a lookup sends at most
/// [`crate::provider::MAX_REQUESTS_PER_LOOKUP`]); wasmtime's default is a million.
pub const MAX_TABLE_ENTRIES: usize = 1_000;

/// The most bytes one set of header fields a component builds may hold (names and values, plus wasmtime's
/// per-entry accounting). A provider sends a handful of short headers; wasmtime's default is 128 KiB.
pub const MAX_FIELDS_BYTES: usize = 8 * 1024;

/// The most log records one lookup may send; later ones are dropped, with one warning saying so.
pub const MAX_LOG_RECORDS_PER_LOOKUP: usize = 100;
/// The longest log record passed on; a longer one is cut (on a character boundary) and marked.
pub const MAX_LOG_RECORD_BYTES: usize = 4 * 1024;

/// A store's resource limiter: wasmtime's [`StoreLimits`] (counts of instances, memories and tables, table
/// elements), with one bound for all of the store's linear memories together (`StoreLimits` bounds each memory
/// alone, and a component may define several), remembering whether it refused to grow a memory: the trap that
/// usually follows (the guest's allocator aborts) is then reported as the memory limit, not as an opaque
/// `unreachable`. Providers' stores and task components' stores (crate::embed) both use it.
#[derive(Debug)]
pub struct Limits {
    inner: StoreLimits,
    memory_bytes: usize,
    used: usize,
    memory_refused: bool,
}

impl Limits {
    /// `inner`'s limits, and at most `memory_bytes` of linear memory in all.
    pub fn new(inner: StoreLimits, memory_bytes: usize) -> Self {
        Self { inner, memory_bytes, used: 0, memory_refused: false }
    }

    /// Whether a memory growth was refused since the lookup started.
    pub fn memory_refused(&self) -> bool {
        self.memory_refused
    }
}

impl ResourceLimiter for Limits {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        if maximum.is_some_and(|max| desired > max) {
            // Past the memory's own maximum: wasmtime refuses it; nothing is counted.
            return Ok(false);
        }
        let more = desired.saturating_sub(current);
        let allowed = self.used.saturating_add(more) <= self.memory_bytes
            && self.inner.memory_growing(current, desired, maximum)?;
        if allowed {
            self.used = self.used.saturating_add(more);
        }
        self.memory_refused |= !allowed;
        Ok(allowed)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

/// The data of one store.
pub struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: ProviderHooks,
    pub(crate) limits: Limits,
    namespace: Result<String, String>,
    log: LogSink,
    log_records: usize,
    files: Arc<[PathBuf]>,
    live: LiveGrant,
    /// Whether this lookup read the live view while it was stale.
    served_stale: bool,
}

/// What a store may do with the provider's live view: read it (a lookup in live mode), or hand it listed
/// items (a `live.decode-list` call). Neither, by default.
#[derive(Debug, Default)]
pub struct LiveGrant {
    /// The view a lookup reads through `host.view`.
    pub view: Option<Arc<LiveView>>,
    /// Where `host.listed` puts items.
    pub collector: Option<Collector>,
    /// Where `host.listed-id` puts ids (a `lookup.list-ids` call).
    pub ids: Option<IdCollector>,
}

/// The ids one `lookup.list-ids` call hands over: distinct, within a byte budget.
#[derive(Debug, Default)]
pub struct IdCollector {
    ids: std::collections::BTreeSet<String>,
    bytes: usize,
    budget: usize,
    refused: bool,
}

impl IdCollector {
    /// What one id costs besides its bytes (the set's own bookkeeping, roughly).
    pub const ID_OVERHEAD: usize = 64;

    /// An empty collector that accepts distinct ids worth at most `budget` bytes (each its length plus
    /// [`Self::ID_OVERHEAD`]); a repeated id costs nothing.
    pub fn new(budget: usize) -> Self {
        Self { budget, ..Self::default() }
    }

    /// Accepts `id` if it fits; once one did not, accepts nothing more.
    pub fn push(&mut self, id: String) -> bool {
        if self.refused {
            return false;
        }
        if self.ids.contains(&id) {
            return true;
        }
        let cost = id.len().saturating_add(Self::ID_OVERHEAD);
        if self.bytes.saturating_add(cost) > self.budget {
            self.refused = true;
            return false;
        }
        self.bytes += cost;
        self.ids.insert(id);
        true
    }

    /// Whether an id was refused.
    pub fn refused(&self) -> bool {
        self.refused
    }

    /// The accepted ids, sorted.
    pub fn into_ids(self) -> Vec<String> {
        self.ids.into_iter().collect()
    }
}

/// The items one `live.decode-list` call hands over, within a byte budget.
#[derive(Debug, Default)]
pub struct Collector {
    items: Vec<Item>,
    bytes: usize,
    budget: usize,
    refused: bool,
}

impl Collector {
    /// An empty collector that accepts at most `budget` bytes ([`Item::cost`]).
    pub fn new(budget: usize) -> Self {
        Self { budget, ..Self::default() }
    }

    /// Accepts `item` if it fits; once one did not, accepts nothing more.
    pub fn push(&mut self, item: Item) -> bool {
        let cost = item.cost();
        if self.refused || self.bytes.saturating_add(cost) > self.budget {
            self.refused = true;
            return false;
        }
        self.bytes += cost;
        self.items.push(item);
        true
    }

    /// Whether an item was refused.
    pub fn refused(&self) -> bool {
        self.refused
    }

    /// The accepted items, in the order they came.
    pub fn into_items(self) -> Vec<Item> {
        self.items
    }
}

/// What one store is given besides its limits.
pub struct StoreGrants {
    /// The HTTP hooks (policy, credentials, transport).
    pub hooks: ProviderHooks,
    /// The answer of `detected-namespace`.
    pub namespace: Result<String, String>,
    /// The WASI environment: only the granted variables.
    pub env: Arc<[(String, String)]>,
    /// The files `read-file` may read.
    pub files: Arc<[PathBuf]>,
    /// Where log records go.
    pub log: LogSink,
    /// The live view, for a lookup or a list decoding.
    pub live: LiveGrant,
}

impl State {
    /// A store state whose WASI context holds the granted environment variables and nothing else: no
    /// arguments, no directories, no stdio, no sockets.
    pub fn new(grants: StoreGrants, limits: Limits) -> Self {
        let mut wasi = WasiCtx::builder();
        wasi.envs(&grants.env);
        // Table entries and what they hold are host memory outside the store's memory limit, so each is
        // bounded: at most MAX_TABLE_ENTRIES resources, header fields of at most MAX_FIELDS_BYTES each (about
        // 8 MiB at worst, below the default memory limit), request bodies that accept no bytes
        // (`ProviderHooks::p2_outgoing_body_chunk_size`), answers within the store's answer budget.
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_TABLE_ENTRIES);
        let mut http = WasiHttpCtx::new();
        http.set_field_size_limit(MAX_FIELDS_BYTES);
        Self {
            wasi: wasi.build(),
            http,
            table,
            hooks: grants.hooks,
            limits,
            namespace: grants.namespace,
            log: grants.log,
            log_records: 0,
            files: grants.files,
            live: grants.live,
            served_stale: false,
        }
    }

    /// Whether the lookup read the live view while it was stale (its answer is then not cached, and a "not
    /// found" from it is asked again of the store).
    pub fn served_stale(&self) -> bool {
        self.served_stale
    }

    /// Passes a provider's log record on, at most [`MAX_LOG_RECORDS_PER_LOOKUP`] per lookup.
    fn record_log(&mut self, level: LogLevel, message: &str) {
        self.log_records += 1;
        match self.log_records.cmp(&(MAX_LOG_RECORDS_PER_LOOKUP + 1)) {
            std::cmp::Ordering::Greater => {}
            std::cmp::Ordering::Equal => (self.log)(
                LogLevel::Warning,
                &format!("the provider sent more than {MAX_LOG_RECORDS_PER_LOOKUP} log records; the rest are dropped"),
            ),
            std::cmp::Ordering::Less => (self.log)(level, &bounded_log_record(message)),
        }
    }

    /// The items `host.listed` accepted in this store (an empty collector when it had none).
    pub fn take_collector(&mut self) -> Collector {
        self.live.collector.take().unwrap_or_default()
    }

    /// The ids `host.listed-id` accepted in this store (an empty collector when it had none).
    pub fn take_ids(&mut self) -> IdCollector {
        self.live.ids.take().unwrap_or_default()
    }

    /// Resets what is counted per lookup (requests, answer bytes, log records, a refused memory growth), for
    /// the next lookup on this store.
    pub fn start_lookup(&mut self) {
        self.hooks.start_lookup();
        self.log_records = 0;
        self.served_stale = false;
        self.limits.memory_refused = false;
    }
}

impl State {
    /// `wasi:http/outgoing-handler.handle`, answered in place ([`ProviderHooks::handle_in_place`]): takes the
    /// guest's request out of the table and returns the exchange, which owns everything it needs.
    pub(crate) fn handle_in_place(
        &mut self,
        request: Resource<HostOutgoingRequest>,
        options: Option<Resource<RequestOptions>>,
    ) -> wasmtime::Result<impl Future<Output = HostFutureIncomingResponse> + Send + 'static> {
        // `handle` takes both by value; a component that declares them borrowed would otherwise have the host
        // delete entries it still holds. Refused, as a trap.
        if !request.owned() || options.as_ref().is_some_and(|o| !o.owned()) {
            wasmtime::bail!("outgoing-handler.handle takes its request and options by value, not borrowed");
        }
        let request = self.table.delete(request)?;
        if let Some(options) = options {
            // The host's own timeouts apply; the guest's request options are not used.
            self.table.delete(options)?;
        }
        Ok(self.hooks.handle_in_place(request))
    }

    /// The guest's handle to an answered request.
    pub(crate) fn push_response(
        &mut self,
        response: HostFutureIncomingResponse,
    ) -> wasmtime::Result<Resource<HostFutureIncomingResponse>> {
        Ok(self.table.push(response)?)
    }
}

/// `message` cut to at most [`MAX_LOG_RECORD_BYTES`] on a character boundary, marked when cut.
fn bounded_log_record(message: &str) -> std::borrow::Cow<'_, str> {
    if message.len() <= MAX_LOG_RECORD_BYTES {
        return message.into();
    }
    let mut end = MAX_LOG_RECORD_BYTES;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… (cut: the record had {} bytes)", &message[..end], message.len()).into()
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

impl types::Host for State {}

impl host::Host for State {
    fn log(&mut self, level: host::LogLevel, message: String) -> wasmtime::Result<()> {
        let level = match level {
            host::LogLevel::Info => LogLevel::Info,
            host::LogLevel::Warning => LogLevel::Warning,
        };
        self.record_log(level, &message);
        Ok(())
    }

    fn detected_namespace(&mut self) -> wasmtime::Result<Result<String, String>> {
        Ok(self.namespace.clone())
    }

    fn listed(&mut self, item: types::Item) -> wasmtime::Result<bool> {
        let Some(collector) = self.live.collector.as_mut() else {
            return Ok(false);
        };
        Ok(collector.push(Item { name: item.name, id: item.id, payload: item.payload }))
    }

    fn listed_id(&mut self, id: String) -> wasmtime::Result<bool> {
        let Some(ids) = self.live.ids.as_mut() else {
            return Ok(false);
        };
        Ok(ids.push(id))
    }

    fn view(&mut self, kind: types::Kind, id: String) -> wasmtime::Result<Option<Vec<types::Item>>> {
        let Some(view) = &self.live.view else {
            return Ok(None);
        };
        let kind = crate::live::Kind::from(kind);
        let Some(answer) = view.items(kind, &id) else {
            return Ok(None);
        };
        if let Some(age) = answer.stale {
            self.served_stale = true;
            let shown: String = id.chars().take(200).flat_map(char::escape_debug).collect();
            let message = format!(
                "serving {} `{shown}` from the live view, {} s old, because following the store failed",
                kind.cache_kind().singular(),
                age.as_secs()
            );
            // Counted with the provider's own records: a component cannot flood the log through `view`.
            self.record_log(LogLevel::Warning, &message);
        }
        Ok(Some(answer.items.into_iter().map(|i| types::Item { name: i.name, id: i.id, payload: i.payload }).collect()))
    }

    /// The read runs on tokio's blocking pool: a file on a hung mount then holds a blocking-pool thread,
    /// not a runtime thread, and the lookup's timeout still ends the lookup.
    fn read_file(
        &mut self,
        path: String,
    ) -> impl Future<Output = wasmtime::Result<Result<Vec<u8>, host::FileError>>> + Send {
        let files = Arc::clone(&self.files);
        async move {
            let reader = path.clone();
            let read = tokio::task::spawn_blocking(move || read_granted_file(&reader, &files)).await;
            let read = read.unwrap_or_else(|_| Err(FileReadError::Io(path.clone(), "the read failed".to_owned())));
            Ok(read.map_err(|e| match e {
                FileReadError::NotFound(_) => host::FileError::NotFound,
                FileReadError::Denied(_) => {
                    tracing::warn!(path = %path, "refused a provider file read");
                    host::FileError::Denied(e.to_string())
                }
                FileReadError::Io(..) => host::FileError::Io(e.to_string()),
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::IdCollector;

    #[test]
    fn the_id_collector_keeps_distinct_ids_within_its_budget() {
        let mut ids = IdCollector::new(2 * (IdCollector::ID_OVERHEAD + 2));
        assert!(ids.push("bb".into()));
        assert!(ids.push("bb".into()), "a repeated id costs nothing");
        assert!(ids.push("aa".into()));
        assert!(!ids.push("c".into()), "over the budget");
        assert!(!ids.push("aa".into()), "nothing once refused");
        assert!(ids.refused());
        assert_eq!(ids.into_ids(), ["aa", "bb"]);
    }
}
