//! Loading a provider component: compile once (or load the cached compilation), link, and keep an
//! `InstancePre` from which every lookup instantiates a fresh, isolated store.
//!
//! Compiling a component with Cranelift takes 100 ms to 1.5 s; a CLI that did it on every start would be
//! slow. So the compiled artifact is cached on disk, keyed by the component's SHA-256 and by wasmtime's
//! engine-compatibility hash. Deserializing is `unsafe` in wasmtime because the bytes are trusted to be
//! wasmtime's own output: [`crate::artifact_cache`] reads only from a directory and files this user owns and
//! nobody else can write, and bypasses the cache otherwise.

use std::hash::{Hash as _, Hasher as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Semaphore;

use sha2::{Digest as _, Sha256};
use wasmtime::component::{Component, HasSelf, InstancePre, Linker, Resource};
use wasmtime::{Config, Engine, EngineWeak, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::artifact_cache::CacheDir;
use crate::bindings::{ProviderPre, host, types};
use crate::error::LoadError;
use crate::state::State;

/// How often the engine's epoch advances; guest deadlines are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// A compiled and linked provider component, ready to instantiate.
#[derive(Clone)]
pub struct ProviderComponent {
    engine: Engine,
    pre: ProviderPre<State>,
    name: String,
    /// With the pooling allocator: one permit per slot of the engine's pool, shared by every component on it.
    slots: Option<Slots>,
}

impl std::fmt::Debug for ProviderComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderComponent").field("name", &self.name).finish_non_exhaustive()
    }
}

/// How instance memory is allocated.
///
/// Each lookup instantiates the component afresh (isolation between lookups). With on-demand allocation that
/// means `mmap`/`munmap` of linear memories and tables per lookup; the pooling allocator reserves slots once
/// and recycles them, which wasmtime recommends for instance-per-request hosts (BENCHMARKS.md measures the
/// difference). Pooling is the default, with [`DEFAULT_POOL_SLOTS`] slots. Every component loaded with the
/// same allocation shares one engine and one pool, so the slots bound the provider instances of the whole
/// process: lookups in flight plus the idle instances kept for reuse. A lookup that finds every slot taken
/// waits for one, up to its lookup timeout, then fails with an error that says so. The pool reserves address
/// space, not memory: about two linear-memory reservations (4 GiB each on 64-bit) per slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocation {
    /// Allocate and free per instance: no bound on concurrent instances, no reservation.
    OnDemand,
    /// Recycle pre-reserved slots for up to this many concurrent instances.
    Pooling {
        /// Concurrent provider instances (lookups in flight and idle reused instances) the pool holds.
        slots: u32,
    },
}

/// The slots of the default pool: provider instances the process runs at once (lookups in flight, across
/// every provider, plus idle instances kept for reuse). A `secrets` command runs one lookup at a time; a host
/// that runs more lookups at once than this sees the others wait for a slot.
pub const DEFAULT_POOL_SLOTS: u32 = 64;

impl Default for Allocation {
    fn default() -> Self {
        Self::Pooling { slots: DEFAULT_POOL_SLOTS }
    }
}

/// Where compiled artifacts are cached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactCache {
    /// Compile on every load.
    Disabled,
    /// Cache in this directory.
    Dir(PathBuf),
}

impl ArtifactCache {
    /// `$XDG_CACHE_HOME/wasm-secrets`, else `$HOME/.cache/wasm-secrets`, else no cache.
    pub fn default_dir(env: impl Fn(&str) -> Option<String>) -> Self {
        let base = env("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| env("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".cache")));
        base.map_or(Self::Disabled, |b| Self::Dir(b.join("wasm-secrets")))
    }
}

impl ProviderComponent {
    /// Loads the component at `path`.
    pub fn from_file(path: &Path, cache: &ArtifactCache) -> Result<Self, LoadError> {
        let bytes = crate::files::read_regular_file(path, crate::files::MAX_COMPONENT_BYTES)
            .map_err(|e| LoadError::ReadComponent(e, path.to_owned()))?;
        Self::from_bytes(&bytes, &path.display().to_string(), cache)
    }

    /// Loads a component from its bytes, with the default allocation (pooling); `name` is used in messages.
    pub fn from_bytes(bytes: &[u8], name: &str, cache: &ArtifactCache) -> Result<Self, LoadError> {
        Self::from_bytes_with(bytes, name, cache, Allocation::default())
    }

    /// [`ProviderComponent::from_bytes`] with an instance allocation strategy.
    pub fn from_bytes_with(
        bytes: &[u8],
        name: &str,
        cache: &ArtifactCache,
        allocation: Allocation,
    ) -> Result<Self, LoadError> {
        let (engine, slots) = engine_for(allocation)?;
        let component = compile_with(&engine, bytes, name, cache)?;
        let mut linker = Linker::<State>::new(&engine);
        let link = |e: wasmtime::Error| LoadError::Link(name.to_owned(), format!("{e:#}"));
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(link)?;
        add_http_to_linker(&mut linker).map_err(link)?;
        host::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s).map_err(link)?;
        types::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s).map_err(link)?;
        let instance_pre: InstancePre<State> = linker.instantiate_pre(&component).map_err(link)?;
        let pre = ProviderPre::new(instance_pre).map_err(link)?;
        Ok(Self { engine, pre, name: name.to_owned(), slots })
    }

    /// The pool's slots, when the component is pooled: a provider takes one permit per instance it holds.
    pub(crate) fn slots(&self) -> Option<&Slots> {
        self.slots.as_ref()
    }

    /// The engine (to create stores).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The pre-linked instance.
    pub fn pre(&self) -> &ProviderPre<State> {
        &self.pre
    }

    /// The names of the interfaces the component imports, for example `wasi:http/outgoing-handler@0.2.12`.
    pub fn imports(&self) -> Vec<String> {
        let component = self.pre.instance_pre().component();
        component.component_type().imports(&self.engine).map(|(name, _)| name.to_owned()).collect()
    }

    /// The name used in messages (the component's path, or `built-in kubernetes provider`).
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// The `wasi:http` version whose `outgoing-handler` the host serves itself (the providers' WIT imports this
/// one; the linker serves other 0.2 versions from it too).
const OUTGOING_HANDLER: &str = "wasi:http/outgoing-handler@0.2.12";

/// `wasi:http`: wasmtime-wasi-http's `types`, and an `outgoing-handler` whose `handle` answers in place
/// ([`crate::transport::ProviderHooks::handle_in_place`]): the returned future is already resolved.
fn add_http_to_linker(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode;
    use wasmtime_wasi_http::p2::types::{HostFutureIncomingResponse, HostOutgoingRequest};
    let options = wasmtime_wasi_http::p2::bindings::LinkOptions::default();
    wasmtime_wasi_http::p2::bindings::http::types::add_to_linker::<State, wasmtime_wasi_http::WasiHttp>(
        linker,
        &options.into(),
        <State as wasmtime_wasi_http::WasiHttpView>::http,
    )?;
    type Params = (Resource<HostOutgoingRequest>, Option<Resource<wasmtime_wasi_http::RequestOptions>>);
    type Returns = (Result<Resource<HostFutureIncomingResponse>, ErrorCode>,);
    linker.instance(OUTGOING_HANDLER)?.func_wrap_async(
        "handle",
        |mut store: wasmtime::StoreContextMut<'_, State>, (request, options): Params| {
            // The span wasmtime's generated bindings open for every import, so traces show this call too.
            let span = tracing::trace_span!("wit-bindgen import", module = "outgoing-handler", function = "handle");
            Box::new(tracing::Instrument::instrument(
                async move {
                    let exchange = store.data_mut().handle_in_place(request, options)?;
                    let response = exchange.await;
                    Ok::<Returns, wasmtime::Error>((Ok(store.data_mut().push_response(response)?),))
                },
                span,
            ))
        },
    )?;
    Ok(())
}

/// The largest linear memory a pooled slot holds: what a 32-bit memory can address, as with on-demand
/// allocation, so [`crate::ProviderOptions::memory_limit_bytes`] alone bounds a store (the slot's address space
/// is reserved either way).
const POOLED_MEMORY_BYTES: usize = 4 * 1024 * 1024 * 1024;

/// The slots of a pooled engine: one permit per instance, and how many there are (for messages).
#[derive(Debug, Clone)]
pub(crate) struct Slots {
    /// One permit per slot.
    pub(crate) permits: Arc<Semaphore>,
    /// The pool's size.
    pub(crate) total: u32,
    /// How many instances are kept idle for reuse, by every provider on this pool.
    idle: Arc<AtomicU32>,
}

impl Slots {
    fn new(total: u32) -> Self {
        Self { permits: Arc::new(Semaphore::new(total as usize)), total, idle: Arc::default() }
    }

    /// A place for one more idle instance, unless half the slots are idle already: idle instances never take
    /// the slots lookups in flight need, however many providers keep instances (`reuse_instances`).
    pub(crate) fn keep_idle(&self) -> Option<IdleMark> {
        let most = self.total / 2;
        self.idle.fetch_update(SeqCst, SeqCst, |idle| (idle < most).then_some(idle + 1)).ok()?;
        Some(IdleMark(Arc::clone(&self.idle)))
    }
}

/// One instance counted as idle in [`Slots`]; dropped when the instance is taken for a lookup or dropped.
#[derive(Debug)]
pub(crate) struct IdleMark(Arc<AtomicU32>);

impl Drop for IdleMark {
    fn drop(&mut self) {
        self.0.fetch_sub(1, SeqCst);
    }
}

/// An engine and, when it pools, its slots.
type SharedEngine = (Engine, Option<Slots>);

/// The engine for `allocation`, one per allocation and process: the components of a chain share one epoch
/// thread, one code registry and (pooled) one pool, whose slots bound the process's instances.
fn engine_for(allocation: Allocation) -> Result<SharedEngine, LoadError> {
    static SHARED: Mutex<Vec<(Allocation, SharedEngine)>> = Mutex::new(Vec::new());
    let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, engine)) = shared.iter().find(|(a, _)| *a == allocation) {
        return Ok(engine.clone());
    }
    let engine = pooled_or_on_demand(allocation, new_engine)?;
    let slots = match allocation {
        Allocation::OnDemand => None,
        Allocation::Pooling { slots } => Some(Slots::new(slots)),
    };
    shared.push((allocation, (engine.clone(), slots.clone())));
    Ok((engine, slots))
}

/// The engine `new` makes for `allocation`; when a pool cannot be set up (its address space reservation fails
/// under `ulimit -v`, for one), an on-demand engine, with a warning. The slots still bound the instances.
fn pooled_or_on_demand(
    allocation: Allocation,
    new: impl Fn(Allocation) -> Result<Engine, LoadError>,
) -> Result<Engine, LoadError> {
    match (allocation, new(allocation)) {
        (Allocation::Pooling { slots }, Err(e)) => {
            tracing::warn!(
                error = %e,
                "the pooling allocator ({slots} slots) could not be set up; instances are allocated on demand"
            );
            new(Allocation::OnDemand)
        }
        (_, made) => made,
    }
}

/// The most core instances one provider instance may hold: a provider component has a few (the program, WASI
/// shims and fix-ups).
pub const MAX_CORE_INSTANCES: u32 = 8;
/// The most linear memories one provider instance may hold (the store's memory limit applies to each).
pub const MAX_MEMORIES: u32 = 2;
/// The most tables one provider instance may hold.
pub const MAX_TABLES: u32 = 8;

/// A new engine with its epoch ticker.
fn new_engine(allocation: Allocation) -> Result<Engine, LoadError> {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.wasm_component_model(true);
    // Providers speak wasi 0.2 (no component-model async): without the concurrency support a dependency's
    // features may switch on, a store does not set up its concurrent-execution state on every instantiation.
    config.concurrency_support(false);
    if let Allocation::Pooling { slots } = allocation {
        let mut pool = PoolingAllocationConfig::default();
        // A slot is one component's worth of core instances, memories and tables, and no component may take
        // more: otherwise one component could use up what the slots of the others stand for, and their
        // lookups would fail although they hold a slot.
        pool.total_component_instances(slots)
            .total_core_instances(slots.saturating_mul(MAX_CORE_INSTANCES))
            .total_memories(slots.saturating_mul(MAX_MEMORIES))
            .total_tables(slots.saturating_mul(MAX_TABLES))
            .max_core_instances_per_component(MAX_CORE_INSTANCES)
            .max_memories_per_component(MAX_MEMORIES)
            .max_tables_per_component(MAX_TABLES)
            .total_stacks(slots)
            .max_memory_size(POOLED_MEMORY_BYTES);
        // Giving a slot back resets what the instance wrote with `madvise`, which on a multi-threaded process
        // flushes the other cores' TLBs by interrupt (about a quarter of a fresh-instance lookup, BENCHMARKS.md).
        // wasmtime's PAGEMAP_SCAN reset (`pagemap_scan` with `linear_memory_keep_resident`) avoids that, but in
        // wasmtime 48 it resets only written pages that are present: a written page swapped out (or being moved
        // by the kernel) at that moment keeps its contents for the next instance of the slot, which may belong
        // to another provider. Not used, for that isolation.
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    let engine = Engine::new(&config).map_err(|e| LoadError::Engine(format!("{e:#}")))?;
    spawn_epoch_ticker(engine.weak());
    Ok(engine)
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until the engine is dropped.
fn spawn_epoch_ticker(engine: EngineWeak) {
    std::thread::spawn(move || {
        while let Some(engine) = engine.upgrade() {
            engine.increment_epoch();
            drop(engine);
            std::thread::sleep(EPOCH_TICK);
        }
    });
}

/// Compiles `bytes` for `engine`, through the compiled-component cache when there is one (a task component
/// is cached as a provider is: crate::embed).
pub(crate) fn compile_with(
    engine: &Engine,
    bytes: &[u8],
    name: &str,
    cache: &ArtifactCache,
) -> Result<Component, LoadError> {
    match cache {
        ArtifactCache::Disabled => compile(engine, bytes, name),
        ArtifactCache::Dir(dir) => cached_compile(engine, bytes, name, dir),
    }
}

fn compile(engine: &Engine, bytes: &[u8], name: &str) -> Result<Component, LoadError> {
    Component::new(engine, bytes).map_err(|e| LoadError::Compile(name.to_owned(), format!("{e:#}")))
}

/// The cache entry for `bytes` under `engine`'s configuration.
fn cache_file_name(engine: &Engine, bytes: &[u8]) -> String {
    let mut compat = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut compat);
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}-{:016x}.cwasm", compat.finish())
}

/// Compiles `bytes`, or loads the artifact an earlier run cached in `dir`. A cache that cannot be trusted
/// (see [`crate::artifact_cache`]) is bypassed with a warning: the component is compiled and nothing is read
/// from or written to it.
fn cached_compile(engine: &Engine, bytes: &[u8], name: &str, dir: &Path) -> Result<Component, LoadError> {
    let cache = match CacheDir::open(dir) {
        Ok(cache) => cache,
        Err(e) => {
            tracing::warn!(error = %e, "bypassing the compiled-component cache");
            return compile(engine, bytes, name);
        }
    };
    let entry = cache_file_name(engine, bytes);
    match cache.load(&entry) {
        Ok(Some(artifact)) => {
            #[expect(
                unsafe_code,
                reason = "the artifact comes from a cache only this user can write (see artifact_cache)"
            )]
            // SAFETY: `CacheDir::load` read it from a directory and a regular file owned by this user and
            // writable by nobody else, which only `CacheDir::store` below writes, from
            // `Engine::precompile_component` output keyed by the engine-compatibility hash.
            let loaded = unsafe { Component::deserialize(engine, &artifact) };
            match loaded {
                Ok(component) => return Ok(component),
                Err(e) => tracing::warn!(entry = %entry, error = %e, "ignoring an unusable cached artifact"),
            }
        }
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(error = %e, "bypassing the compiled-component cache");
            return compile(engine, bytes, name);
        }
    }
    let serialized =
        engine.precompile_component(bytes).map_err(|e| LoadError::Compile(name.to_owned(), format!("{e:#}")))?;
    if let Err(e) = cache.store(&entry, &serialized) {
        tracing::warn!(error = %e, "cannot write the compiled-component cache");
    }
    #[expect(unsafe_code, reason = "the bytes were produced by this engine a moment ago")]
    // SAFETY: `serialized` is the output of `precompile_component` on this very engine.
    let component = unsafe { Component::deserialize(engine, &serialized) };
    component.map_err(|e| LoadError::Compile(name.to_owned(), format!("{e:#}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pool that cannot be set up falls back to on-demand allocation; an on-demand engine that cannot be made
    /// is the error.
    #[test]
    fn a_pool_that_cannot_be_set_up_falls_back_to_on_demand() {
        let asked = std::sync::Mutex::new(Vec::new());
        let pool_fails = |allocation: Allocation| {
            asked.lock().unwrap().push(allocation);
            match allocation {
                Allocation::Pooling { .. } => Err(LoadError::Engine("mmap failed".to_owned())),
                Allocation::OnDemand => new_engine(allocation),
            }
        };
        let pooled = Allocation::Pooling { slots: 4 };
        assert!(pooled_or_on_demand(pooled, pool_fails).is_ok());
        assert_eq!(*asked.lock().unwrap(), [pooled, Allocation::OnDemand]);
        let nothing = |_| Err(LoadError::Engine("no memory".to_owned()));
        assert!(matches!(pooled_or_on_demand(pooled, nothing), Err(LoadError::Engine(m)) if m == "no memory"));
        assert!(matches!(pooled_or_on_demand(Allocation::OnDemand, nothing), Err(LoadError::Engine(_))));
    }

    /// Half the slots at most are kept idle; a place is free again once its instance is taken or dropped.
    #[test]
    fn at_most_half_the_slots_are_kept_idle() {
        let slots = Slots::new(5);
        let (first, _second) = (slots.keep_idle().unwrap(), slots.keep_idle().unwrap());
        assert!(slots.keep_idle().is_none());
        drop(first);
        assert!(slots.keep_idle().is_some());
        assert!(Slots::new(1).keep_idle().is_none(), "a pool of one slot keeps none idle");
    }

    #[test]
    fn default_cache_dir() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
        };
        assert_eq!(
            ArtifactCache::default_dir(env(&[("XDG_CACHE_HOME", "/c"), ("HOME", "/h")])),
            ArtifactCache::Dir(PathBuf::from("/c/wasm-secrets"))
        );
        assert_eq!(
            ArtifactCache::default_dir(env(&[("HOME", "/h")])),
            ArtifactCache::Dir(PathBuf::from("/h/.cache/wasm-secrets"))
        );
        assert_eq!(ArtifactCache::default_dir(env(&[])), ArtifactCache::Disabled);
    }

    /// An artifact planted in a cache directory others can write is never loaded: here the environment
    /// provider's compiled code stands under the Kubernetes provider's name, and the Kubernetes provider (the
    /// only one that imports wasi:http) must come out.
    #[cfg(unix)]
    #[test]
    fn a_planted_artifact_in_a_shared_cache_is_not_loaded() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let (engine, _) = engine_for(Allocation::default()).unwrap();
        let planted = engine.precompile_component(wasm_secrets_artifacts::ENVIRONMENT_PROVIDER).unwrap();
        let entry = dir.path().join(cache_file_name(&engine, wasm_secrets_artifacts::KUBERNETES_PROVIDER));
        std::fs::write(&entry, planted).unwrap();
        let cache = ArtifactCache::Dir(dir.path().to_owned());
        let loaded =
            ProviderComponent::from_bytes(wasm_secrets_artifacts::KUBERNETES_PROVIDER, "kubernetes", &cache).unwrap();
        assert!(
            loaded.imports().iter().any(|i| i.starts_with("wasi:http/outgoing-handler@")),
            "the planted artifact was loaded: {:?}",
            loaded.imports()
        );
    }

    /// A component path that is a FIFO is refused at once instead of blocking the start.
    #[cfg(unix)]
    #[test]
    fn a_component_path_that_is_not_a_regular_file_is_refused() {
        use crate::files::testing::{test_fifo, within_seconds};
        let dir = tempfile::tempdir().unwrap();
        let fifo = test_fifo(dir.path());
        let result = within_seconds(5, move || {
            ProviderComponent::from_file(&fifo, &ArtifactCache::Disabled).map(|_| ()).map_err(|e| e.to_string())
        });
        assert!(result.as_ref().is_err_and(|e| e.ends_with("it is not a regular file")), "{result:?}");
    }
}
