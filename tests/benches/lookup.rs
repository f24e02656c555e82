//! Lookup-latency benchmarks (criterion). See `BENCHMARKS.md` at the workspace root for how to run them and
//! what the numbers mean.
//!
//! - `parse`: the native, pure steps of a lookup (Airflow connection parsing, base64 decoding, the guest's
//!   selector, request path and Secret-list selection), without wasm.
//! - `guest_call`: one lookup through the component with the API server answering from memory (no network):
//!   a fresh instance per lookup with the pooling allocator and with on-demand allocation, a reused instance,
//!   instantiation alone, and the same steps done natively (the baseline of the guest's overhead).
//! - `cache`: a lookup answered by the host's cache, called with `block_on` and awaited in a task.
//! - `startup`: loading the provider component, compiled from scratch vs loaded from the artifact cache.
//! - `end_to_end`: a variable lookup through the component against the local API emulator over HTTPS (with the
//!   default settings: a fresh pooled instance; also on demand, and on one reused instance), next to
//!   the same list request (same path, selector and `resourceVersion=0`, checked on the emulator) made natively
//!   with kube-rs and decoded to the same value, so the ratio shows the component's overhead.
//! - `live`: a lookup from a synced live view, with and without the TTL cache in front, next to a TTL-cache hit
//!   and a lookup with neither, against the emulator; and the delay from a patched Secret to the view having
//!   applied it. The API requests of 1,000 lookups in each mode are printed on stderr.
//!
//! Like for like: every case that runs lookups runs them on one multi-threaded tokio runtime (the `secrets`
//! command's), so cases of different groups can be subtracted from each other; the native baseline of the
//! guest's work takes every step the guest takes (selector, path, list parsing, Python-lenient base64, UTF-8).
//! Every fixture (emulator, provider, client, runtime) is built outside the timed closures. Smoke mode (each
//! benchmark runs once, used by CI): `cargo bench -p wasm-secrets-e2e --bench lookup -- --test`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark setup: a failure aborts the run")]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use airflow_compat::Dialect;
use bytes::Bytes;
use criterion::{Criterion, SamplingMode, criterion_main};
use k8s_openapi::api::core::v1::Secret;
use kube::api::ListParams;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use kube_emulator::{Access, Emulator, EmulatorConfig};
use secrecy::SecretString;
use tokio::runtime::Runtime;
use wasm_secrets::cluster::DetectedNamespace;
use wasm_secrets::live::{Kind as LiveKind, Status};
use wasm_secrets::token::TokenSource;
use wasm_secrets::transport::{Responder, StoreTransport, TransportOptions};
use wasm_secrets::{
    Allocation, ArtifactCache, Cache, CacheSettings, Chain, ClusterConfig, Link, LiveOptions, Lookup, Provider,
    ProviderComponent, ProviderOptions,
};
use wasm_secrets_provider_kubernetes::config::{DEFAULT_TEAM_LABEL, DEFAULT_VARIABLES_LABEL};

/// Bounds every wait of the live group on the view: a view that never gets there fails the run.
const BOUND: Duration = Duration::from_secs(60);

/// The namespace of the seeded secrets and of the service account.
const NAMESPACE: &str = "airflow";
/// The token the emulator accepts in `airflow`.
const TOKEN: &str = "bench-service-account-token";
/// The Airflow documentation's sample secrets (the same seed as the demo and the end-to-end tests).
const SEED: &str = include_str!("../../examples/secrets/airflow-seed.yaml");
/// The selector Airflow (and our provider) sends for `get_variable("my_var")` with team handling on.
const MY_VAR_SELECTOR: &str = "airflow.apache.org/variable-key=my_var,!airflow.apache.org/team";

/// A connection URI as stored in the seed's `my-smtp-secret`.
const CONNECTION_URI: &str = "smtp://user:password@smtp.example.com:587";
/// A JSON connection as stored in the seed's `my-postgres-secret`.
const CONNECTION_JSON: &str = r#"{"conn_type": "postgres", "host": "db.example.com", "login": "user", "password": "pass", "port": 5432, "schema": "mydb"}"#;
/// The base64 value of the seed's `my-var-secret` (`my_secret_value`).
const VARIABLE_B64: &str = "bXlfc2VjcmV0X3ZhbHVl";

/// A Secret list as a real API server answers the `my_var` query: one item created with `kubectl create
/// secret` and `kubectl label`, so with `managedFields` (the emulator omits those; real servers send them).
const SECRET_LIST_BODY: &str = r#"{"kind":"SecretList","apiVersion":"v1","metadata":{"resourceVersion":"48213"},"items":[{"metadata":{"name":"my-var-secret","namespace":"airflow","uid":"6f1c2d7e-3b1a-4c9e-9a55-0d6c1e2b7f41","resourceVersion":"48190","creationTimestamp":"2026-11-20T09:14:03Z","labels":{"airflow.apache.org/variable-key":"my_var"},"managedFields":[{"manager":"kubectl-create","operation":"Update","apiVersion":"v1","time":"2026-11-20T09:14:03Z","fieldsType":"FieldsV1","fieldsV1":{"f:data":{".":{},"f:value":{}},"f:type":{}}},{"manager":"kubectl-label","operation":"Update","apiVersion":"v1","time":"2026-11-20T09:14:04Z","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:labels":{".":{},"f:airflow.apache.org/variable-key":{}}}}}]},"data":{"value":"bXlfc2VjcmV0X3ZhbHVl"},"type":"Opaque"}]}"#;

/// The native, pure steps of a lookup.
fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    group.bench_function("airflow_compat/parse_connection/uri", |b| {
        b.iter(|| airflow_compat::parse_connection(black_box(CONNECTION_URI), Dialect::Server).unwrap());
    });
    group.bench_function("airflow_compat/parse_connection/json", |b| {
        b.iter(|| airflow_compat::parse_connection(black_box(CONNECTION_JSON), Dialect::Server).unwrap());
    });
    group.bench_function("airflow_compat/decode_secret_value", |b| {
        b.iter(|| airflow_compat::decode_secret_value(black_box(VARIABLE_B64)).unwrap());
    });
    group.bench_function("guest/selector/queries", |b| {
        b.iter(|| {
            wasm_secrets_provider_kubernetes::selector::queries(
                black_box(DEFAULT_VARIABLES_LABEL),
                black_box("my_var"),
                Some(DEFAULT_TEAM_LABEL),
                None,
            )
        });
    });
    group.bench_function("guest/request/list_secrets_path", |b| {
        b.iter(|| {
            wasm_secrets_provider_kubernetes::request::list_secrets_path(
                black_box(NAMESPACE),
                black_box(MY_VAR_SELECTOR),
            )
        });
    });
    group.bench_function("guest/secrets/select", |b| {
        b.iter(|| {
            wasm_secrets_provider_kubernetes::secrets::select(
                black_box(SECRET_LIST_BODY.as_bytes()),
                "value",
                MY_VAR_SELECTOR,
                NAMESPACE,
                true,
            )
            .unwrap()
        });
    });
    group.finish();
}

/// The Kubernetes provider component built by this workspace.
fn component_path() -> &'static Path {
    Path::new(wasm_secrets_artifacts::KUBERNETES_PROVIDER_PATH)
}

/// The compiled-artifact cache of the lookup benchmarks, kept between runs in cargo's scratch directory so a
/// run (and a profile of it) does not spend its first seconds in Cranelift.
fn artifact_cache() -> ArtifactCache {
    ArtifactCache::Dir(Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-artifact-cache"))
}

/// Loading the provider component: Cranelift compilation vs loading the cached artifact.
fn startup(c: &mut Criterion) {
    let mut group = c.benchmark_group("startup");
    // One compilation takes a large fraction of a second: few samples, one iteration each.
    group.sample_size(10).sampling_mode(SamplingMode::Flat).measurement_time(Duration::from_secs(20));
    group.bench_function("from_file/compile", |b| {
        b.iter(|| ProviderComponent::from_file(component_path(), &ArtifactCache::Disabled).unwrap());
    });
    group.finish();

    let cache_dir = tempfile::tempdir().unwrap();
    let cache = ArtifactCache::Dir(cache_dir.path().join("wasm-secrets"));
    // Warm-up: compile once and write the artifact, so every timed load is a cache hit.
    drop(ProviderComponent::from_file(component_path(), &cache).unwrap());
    let written = std::fs::read_dir(cache_dir.path().join("wasm-secrets")).unwrap().count();
    assert_eq!(written, 1, "the warm-up wrote one cached artifact");
    let mut group = c.benchmark_group("startup");
    group.bench_function("from_file/cached_artifact", |b| {
        b.iter(|| ProviderComponent::from_file(component_path(), &cache).unwrap());
    });
    group.finish();
}

/// The running emulator, seeded, with a service-account directory and a kubeconfig for the same token.
struct Fixture {
    emulator: Emulator,
    /// Holds `sa` and `kubeconfig`; removed on drop.
    _dir: tempfile::TempDir,
    sa_dir: PathBuf,
    kubeconfig: PathBuf,
}

impl Fixture {
    async fn start() -> Self {
        let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
        emulator.create_namespace(NAMESPACE);
        emulator.add_token(TOKEN, Access::Namespaces(vec![NAMESPACE.to_owned()]));
        let loaded = emulator.load_manifests(SEED, NAMESPACE).unwrap();
        assert_eq!(loaded, 4, "namespace + 3 secrets");
        let dir = tempfile::tempdir().unwrap();
        let sa_dir = dir.path().join("sa");
        emulator.write_service_account_dir(&sa_dir, TOKEN, NAMESPACE).unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        emulator.write_kubeconfig(&kubeconfig, TOKEN, NAMESPACE).unwrap();
        Self { emulator, _dir: dir, sa_dir, kubeconfig }
    }

    /// Our provider, configured as in a pod whose API server is the emulator.
    fn provider(&self, allocation: Allocation) -> Provider {
        self.provider_on(allocation, ProviderOptions::default())
    }

    /// [`Fixture::provider`] with `options` (live mode, for one), pooled.
    fn provider_with(&self, options: ProviderOptions) -> Provider {
        self.provider_on(Allocation::default(), options)
    }

    fn provider_on(&self, allocation: Allocation, options: ProviderOptions) -> Provider {
        let port = self.emulator.addr().port().to_string();
        let env = move |key: &str| match key {
            "KUBERNETES_SERVICE_HOST" => Some("127.0.0.1".to_owned()),
            "KUBERNETES_SERVICE_PORT" => Some(port.clone()),
            _ => None,
        };
        let cluster = ClusterConfig::in_cluster(&self.sa_dir, env).unwrap();
        let bytes = std::fs::read(component_path()).unwrap();
        let component =
            ProviderComponent::from_bytes_with(&bytes, "kubernetes provider", &artifact_cache(), allocation).unwrap();
        Provider::new(component, cluster, "", options).unwrap()
    }

    /// A kube-rs client from the emulator's kubeconfig (as `tests/kube-emulator/src/clients.rs` builds it).
    async fn kube_client(&self) -> Client {
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig).unwrap();
        let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await.unwrap();
        Client::try_from(config).unwrap()
    }
}

/// The value kube-rs's answer holds for `my_var`, taken as our provider takes it: the first item's `value` data
/// key (k8s-openapi has base64-decoded it while deserializing), as UTF-8 text.
fn kube_rs_value(list: &kube::core::ObjectList<Secret>) -> Option<String> {
    let bytes = list.items.first()?.data.as_ref()?.get("value")?;
    String::from_utf8(bytes.0.clone()).ok()
}

/// A variable lookup through the component vs the same list request made natively with kube-rs.
fn end_to_end(c: &mut Criterion, rt: &Runtime) {
    let fixture = rt.block_on(Fixture::start());
    let (provider, on_demand) = {
        let _guard = rt.enter();
        (fixture.provider(Allocation::default()), fixture.provider(Allocation::OnDemand))
    };
    let api: Api<Secret> = rt.block_on(async { Api::namespaced(fixture.kube_client().await, NAMESPACE) });
    // `resourceVersion=0` as our provider (and Airflow's client) sends it: served from the API server's cache.
    let params = ListParams::default().labels(MY_VAR_SELECTOR).at("0");

    // Check both paths answer, and open their pooled connections, before timing.
    for p in [&provider, &on_demand] {
        let value = rt.block_on(p.get_variable("my_var", None)).unwrap();
        assert_eq!(value.as_deref(), Some("my_secret_value"));
    }
    let mut reused = rt.block_on(provider.instance()).unwrap();
    let lookup = Lookup::Variable("my_var", None);
    assert_eq!(rt.block_on(reused.lookup(lookup)).unwrap().into_text().as_deref(), Some("my_secret_value"));
    let list = rt.block_on(api.list(&params)).unwrap();
    assert_eq!(kube_rs_value(&list).as_deref(), Some("my_secret_value"));
    // Both send the same request: the last two the emulator received, ours then kube-rs's.
    let requests = fixture.emulator.requests();
    let mut last = requests.iter().rev();
    let (theirs, ours) = (last.next().unwrap(), last.next().unwrap());
    // The same parameters, in the same order and encoding; kube-rs 5 starts its query with an empty pair
    // (`?&labelSelector=...`), which the server ignores.
    let pairs = |query: &Option<String>| -> Vec<String> {
        query.iter().flat_map(|q| q.split('&')).filter(|p| !p.is_empty()).map(str::to_owned).collect()
    };
    assert_eq!(ours.raw_path, theirs.raw_path, "the same path");
    assert_eq!(pairs(&ours.query), pairs(&theirs.query), "the same query parameters");
    assert_eq!(ours.query.as_deref(), MY_VAR_PATH_AND_QUERY.split_once('?').map(|(_, q)| q));

    // The emulator logs every request; start the measurement with an empty log.
    fixture.emulator.clear_requests();
    let mut group = c.benchmark_group("end_to_end");
    group.bench_function("wasm_provider/get_variable", |b| {
        b.iter(|| rt.block_on(provider.get_variable(black_box("my_var"), None)).unwrap());
    });
    group.bench_function("wasm_provider_on_demand/get_variable", |b| {
        b.iter(|| rt.block_on(on_demand.get_variable(black_box("my_var"), None)).unwrap());
    });
    group.bench_function("wasm_provider_reused_instance/get_variable", |b| {
        b.iter(|| rt.block_on(reused.lookup(black_box(lookup))).unwrap());
    });
    group.bench_function("kube_rs/list", |b| {
        b.iter(|| kube_rs_value(&rt.block_on(api.list(black_box(&params))).unwrap()).unwrap());
    });
    group.finish();

    drop(reused);
    drop((provider, on_demand, api));
    rt.block_on(fixture.emulator.clone().shutdown());
}

/// The query our provider sends for `get_variable("my_var")`, as the in-memory API server expects it.
const MY_VAR_PATH_AND_QUERY: &str = "/api/v1/namespaces/airflow/secrets?labelSelector=airflow.apache.org%2Fvariable-key%3Dmy_var%2C%21airflow.apache.org%2Fteam&resourceVersion=0";

/// A provider on `allocation` whose API server answers from memory: [`SECRET_LIST_BODY`] for the `my_var`
/// query (checked, token included), 404 for anything else. Policy, token injection, the wasi-http plumbing
/// and the guest all run; only the network does not.
fn in_memory_provider(allocation: Allocation) -> Provider {
    in_memory_provider_of(&std::fs::read(component_path()).unwrap(), "kubernetes provider", allocation)
}

/// [`in_memory_provider`] for the component `bytes`, named `name`.
fn in_memory_provider_of(bytes: &[u8], name: &str, allocation: Allocation) -> Provider {
    let responder: Responder = Arc::new(|parts: &http::request::Parts| {
        let expected = parts.uri.path_and_query().map(|pq| pq.as_str()) == Some(MY_VAR_PATH_AND_QUERY)
            && parts.headers.get(http::header::AUTHORIZATION).map(|v| v.as_bytes())
                == Some(format!("Bearer {TOKEN}").as_bytes());
        let (status, body) = if expected { (200, SECRET_LIST_BODY) } else { (404, "{}") };
        http::Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Bytes::from_static(body.as_bytes()))
            .unwrap()
    });
    let token = TokenSource::Static(SecretString::from(TOKEN));
    let transport = Arc::new(StoreTransport::in_memory(responder, token, TransportOptions::default()));
    let component = ProviderComponent::from_bytes_with(bytes, name, &artifact_cache(), allocation).unwrap();
    let namespace = DetectedNamespace::Found(NAMESPACE.to_owned());
    Provider::with_transport(component, transport, namespace, "", ProviderOptions::default())
}

/// One lookup through the component with the API server in memory: the host's and the guest's cost
/// without the network, per allocation strategy, and with the instance reused.
fn guest_call(c: &mut Criterion, rt: &Runtime) {
    let pooled = rt.block_on(async { in_memory_provider(Allocation::Pooling { slots: 16 }) });
    let on_demand = rt.block_on(async { in_memory_provider(Allocation::OnDemand) });
    for provider in [&pooled, &on_demand] {
        let value = rt.block_on(provider.get_variable("my_var", None)).unwrap();
        assert_eq!(value.as_deref(), Some("my_secret_value"));
    }
    let mut reused = rt.block_on(pooled.instance()).unwrap();
    let lookup = Lookup::Variable("my_var", None);
    let answer = rt.block_on(reused.lookup(lookup)).unwrap();
    assert_eq!(answer.into_text().as_deref(), Some("my_secret_value"));

    let mut group = c.benchmark_group("guest_call");
    group.bench_function("pooling/fresh_instance", |b| {
        b.iter(|| rt.block_on(pooled.get_variable(black_box("my_var"), None)).unwrap());
    });
    group.bench_function("on_demand/fresh_instance", |b| {
        b.iter(|| rt.block_on(on_demand.get_variable(black_box("my_var"), None)).unwrap());
    });
    group.bench_function("pooling/reused_instance", |b| {
        b.iter(|| rt.block_on(reused.lookup(black_box(lookup))).unwrap());
    });
    group.bench_function("pooling/instantiate_only", |b| {
        b.iter(|| rt.block_on(pooled.instance()).unwrap());
    });
    group.bench_function("on_demand/instantiate_only", |b| {
        b.iter(|| rt.block_on(on_demand.instance()).unwrap());
    });
    // The same work done natively (selector, request path, list parsing, base64 and UTF-8 decoding): the baseline
    // the guest overhead is measured against.
    group.bench_function("native/same_steps", |b| {
        b.iter(|| {
            let queries = wasm_secrets_provider_kubernetes::selector::queries(
                DEFAULT_VARIABLES_LABEL,
                black_box("my_var"),
                Some(DEFAULT_TEAM_LABEL),
                None,
            );
            let path = wasm_secrets_provider_kubernetes::request::list_secrets_path(NAMESPACE, MY_VAR_SELECTOR);
            let selected = wasm_secrets_provider_kubernetes::secrets::select(
                black_box(SECRET_LIST_BODY.as_bytes()),
                "value",
                MY_VAR_SELECTOR,
                NAMESPACE,
                true,
            )
            .unwrap();
            let encoded = selected.encoded.as_deref().unwrap();
            let value = airflow_compat::decode_secret_value(encoded).unwrap();
            black_box((queries, path, value))
        });
    });
    group.finish();
    drop(reused);
}

/// The pre-initialisation experiment (issue 14): the Kubernetes provider built with its `preinit` feature, whose
/// `wizer-initialize` runs one lookup against an answer in memory, measured as built (`plain`) and after
/// wasmtime-wizer ran that function and snapshotted the instance into a new component (`initialized`): does a
/// fresh instance that starts warm look up faster? Runs when `WASM_SECRETS_BENCH_PREINIT` names that build:
///
/// ```sh
/// cargo build --target wasm32-wasip2 --profile guest -p wasm-secrets-provider-kubernetes --features preinit
/// WASM_SECRETS_BENCH_PREINIT=target/wasm32-wasip2/guest/wasm_secrets_provider_kubernetes.wasm \
///     cargo bench -p wasm-secrets-e2e --bench lookup -- guest_call/preinit
/// ```
fn preinit(c: &mut Criterion, rt: &Runtime) {
    let Some(path) = std::env::var_os("WASM_SECRETS_BENCH_PREINIT") else {
        return;
    };
    let plain = std::fs::read(&path).expect("WASM_SECRETS_BENCH_PREINIT names a readable component");
    let initialized = rt.block_on(wizer::initialize(&plain));
    eprintln!("preinit: component {} bytes as built, {} bytes initialized", plain.len(), initialized.len());
    let pool = Allocation::Pooling { slots: 16 };
    let plain = rt.block_on(async { in_memory_provider_of(&plain, "preinit plain", pool) });
    let initialized = rt.block_on(async { in_memory_provider_of(&initialized, "preinit initialized", pool) });
    let mut group = c.benchmark_group("guest_call");
    for (name, provider) in
        [("preinit/plain_fresh_instance", &plain), ("preinit/initialized_fresh_instance", &initialized)]
    {
        let value = rt.block_on(provider.get_variable("my_var", None)).unwrap();
        assert_eq!(value.as_deref(), Some("my_secret_value"));
        group.bench_function(name, |b| {
            b.iter(|| rt.block_on(provider.get_variable(black_box("my_var"), None)).unwrap());
        });
    }
    group.finish();
}

/// wasmtime-wizer on this process's wasmtime (no second build, no other engine settings): instruments the
/// component, instantiates it with every import a trap, calls `wizer-initialize` and snapshots the instance.
mod wizer {
    use wasmtime::component::{Component, Instance, Lift, Linker, WasmList};
    use wasmtime::{Engine, Store};
    use wasmtime_wizer::{ComponentInstanceState, Wizer};

    pub(crate) async fn initialize(bytes: &[u8]) -> Vec<u8> {
        let mut wizer = Wizer::new();
        // Kept: the rewrite drops the core export but the component still lifts it (wasmtime-wizer 48.0.8).
        wizer.keep_init_func(true);
        let (context, instrumented) = wizer.instrument_component(bytes).unwrap();
        let engine = Engine::default();
        let component = Component::new(&engine, &instrumented).unwrap();
        let mut linker = Linker::new(&engine);
        linker.define_unknown_imports_as_traps(&component).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = linker.instantiate_async(&mut store, &component).await.unwrap();
        let init = instance.get_typed_func::<(), ()>(&mut store, "wizer-initialize").unwrap();
        init.call_async(&mut store, ()).await.unwrap();
        wizer.snapshot_component(&context, &mut State { store, instance }).await.unwrap()
    }

    /// What wasmtime-wizer reads the instance's state through.
    struct State {
        store: Store<()>,
        instance: Instance,
    }

    impl State {
        async fn call<R: Lift + Send + Sync + 'static, T>(
            &mut self,
            instance: &str,
            func: &str,
            with: impl FnOnce(&Store<()>, R) -> T,
        ) -> T {
            let (_, exported) = self.instance.get_export(&mut self.store, None, instance).unwrap();
            let (_, func) = self.instance.get_export(&mut self.store, Some(&exported), func).unwrap();
            let func = self.instance.get_typed_func::<(), (R,)>(&mut self.store, func).unwrap();
            let (result,) = func.call_async(&mut self.store, ()).await.unwrap();
            with(&self.store, result)
        }
    }

    impl ComponentInstanceState for State {
        async fn call_func_ret_list_u8(&mut self, instance: &str, func: &str, contents: impl FnOnce(&[u8]) + Send) {
            self.call(instance, func, |store, list: WasmList<u8>| contents(list.as_le_slice(store))).await;
        }
        async fn call_func_ret_s32(&mut self, instance: &str, func: &str) -> i32 {
            self.call(instance, func, |_, r| r).await
        }
        async fn call_func_ret_s64(&mut self, instance: &str, func: &str) -> i64 {
            self.call(instance, func, |_, r| r).await
        }
        async fn call_func_ret_f32(&mut self, instance: &str, func: &str) -> u32 {
            self.call(instance, func, |_, r: f32| r.to_bits()).await
        }
        async fn call_func_ret_f64(&mut self, instance: &str, func: &str) -> u64 {
            self.call(instance, func, |_, r: f64| r.to_bits()).await
        }
    }
}

/// A lookup answered by the host's cache: a chain with the cache on, after the first lookup filled it.
fn cache_hit(c: &mut Criterion, rt: &Runtime) {
    let provider = rt.block_on(async { in_memory_provider(Allocation::OnDemand) });
    let settings = CacheSettings { enabled: true, ..CacheSettings::default() };
    let chain = Chain::new(
        vec![Link { name: "kubernetes".to_owned(), provider }],
        Some(Cache::new(settings)),
        ProviderOptions::default().log,
    );
    let value = rt.block_on(chain.get_variable("my_var", None)).unwrap();
    assert_eq!(value.as_deref(), Some("my_secret_value"));
    let mut group = c.benchmark_group("cache");
    // From outside the runtime, as a synchronous caller does: `block_on` per lookup.
    group.bench_function("hit/get_variable", |b| {
        b.iter(|| rt.block_on(chain.get_variable(black_box("my_var"), None)).unwrap());
    });
    // Awaited in a task, as an async scheduler does: the hit alone, without entering the runtime each time.
    group.bench_function("hit/get_variable_awaited", |b| {
        b.iter_custom(|iterations| {
            rt.block_on(async {
                let started = std::time::Instant::now();
                for _ in 0..iterations {
                    black_box(chain.get_variable(black_box("my_var"), None).await.unwrap());
                }
                started.elapsed()
            })
        });
    });
    group.finish();
}

/// Live mode (docs/live-view.md) against the emulator, next to the TTL cache and no cache, in one group so the
/// ratios come from one run: a lookup answered from a synced live view (a fresh pooled instance reading the
/// view through `host.view`, no request), the same with the TTL cache in front, a TTL-cache hit without live
/// mode, a lookup with neither (a LIST over HTTPS), and the delay from a change in the store (a merge patch of
/// the Secret) to the view having applied it, so that the next lookup answers the new value.
fn live(c: &mut Criterion, rt: &Runtime) {
    let fixture = rt.block_on(Fixture::start());
    let live_options = || ProviderOptions { live: Some(LiveOptions::default()), ..ProviderOptions::default() };
    let chain = |provider: Provider, cache: bool| {
        let cache = cache.then(|| Cache::new(CacheSettings { enabled: true, ..CacheSettings::default() }));
        Chain::new(vec![Link { name: "kubernetes".to_owned(), provider }], cache, ProviderOptions::default().log)
    };
    let (no_cache, ttl_cache, live_only, live_cached) = {
        let _guard = rt.enter();
        (
            chain(fixture.provider(Allocation::default()), false),
            chain(fixture.provider(Allocation::default()), true),
            chain(fixture.provider_with(live_options()), false),
            chain(fixture.provider_with(live_options()), true),
        )
    };
    // Every chain answers, each live view is synced, and the API requests of its first 1,000 lookups (the
    // first one included) are counted: lists and lookups' LISTs, and watches apart.
    let mut counts = Vec::new();
    for (name, chain) in
        [("no cache", &no_cache), ("TTL cache", &ttl_cache), ("live", &live_only), ("live + TTL cache", &live_cached)]
    {
        fixture.emulator.clear_requests();
        let value = rt.block_on(chain.get_variable("my_var", None)).unwrap();
        assert_eq!(value.as_deref(), Some("my_secret_value"));
        if let Some(view) = chain.links()[0].provider.live_view() {
            let kinds = [LiveKind::Connection, LiveKind::Variable, LiveKind::Config];
            let synced = view.wait_until(|v| kinds.iter().all(|k| v.status(*k) == Status::Synced));
            rt.block_on(async { tokio::time::timeout(BOUND, synced).await.expect("every kind synced") });
        }
        for _ in 1..1000 {
            rt.block_on(chain.get_variable("my_var", None)).unwrap();
        }
        let requests = fixture.emulator.requests();
        let watches = requests.iter().filter(|r| r.query.as_deref().is_some_and(|q| q.contains("watch=true"))).count();
        counts.push(format!("{name}: {} (and {watches} watches)", requests.len() - watches));
    }
    eprintln!("live: API requests of the first 1,000 lookups of my_var: {}", counts.join(", "));

    let mut group = c.benchmark_group("live");
    group.bench_function("off/no_cache/get_variable", |b| {
        b.iter(|| rt.block_on(no_cache.get_variable(black_box("my_var"), None)).unwrap());
    });
    group.bench_function("off/ttl_cache_hit/get_variable", |b| {
        b.iter(|| rt.block_on(ttl_cache.get_variable(black_box("my_var"), None)).unwrap());
    });
    group.bench_function("view/get_variable", |b| {
        b.iter(|| rt.block_on(live_only.get_variable(black_box("my_var"), None)).unwrap());
    });
    group.bench_function("view_and_ttl_cache_hit/get_variable", |b| {
        b.iter(|| rt.block_on(live_cached.get_variable(black_box("my_var"), None)).unwrap());
    });
    group.finish();
    // From the patch (the store's write) to the first lookup that answers the new value: the emulator's watch
    // event, its delivery over HTTPS, the provider's decoding, the view applying it, and one lookup from the
    // view (about `view/get_variable`). The other chains are dropped first, so no other view decodes the same
    // events meanwhile.
    drop((no_cache, ttl_cache, live_cached));
    let view = Arc::clone(live_only.links()[0].provider.live_view().unwrap());
    let changes = std::sync::atomic::AtomicU64::new(0);
    let mut group = c.benchmark_group("live");
    group.bench_function("change_to_visible/patch", |b| {
        b.iter_custom(|iterations| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let n = changes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let expected = format!("value {n}");
                    let patch = serde_json::json!({"data": {"value": b64(&expected)}});
                    let started = std::time::Instant::now();
                    let mut applied = view.applied();
                    fixture.emulator.patch_secret(NAMESPACE, "my-var-secret", &patch).unwrap();
                    // Whatever the view applies (a bookmark, say), the lookup decides whether the change is in.
                    loop {
                        tokio::time::timeout(BOUND, view.wait_until(|v| v.applied() > applied)).await.unwrap();
                        applied = view.applied();
                        let value = live_only.get_variable("my_var", None).await.unwrap();
                        if value.as_deref() == Some(expected.as_str()) {
                            break;
                        }
                    }
                    total += started.elapsed();
                }
                total
            })
        });
    });
    group.finish();

    drop((live_only, view));
    rt.block_on(fixture.emulator.clone().shutdown());
}

/// base64 of `s`, as a Secret's data holds it.
fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Every group, in order (what `criterion_group!` would generate, with documentation).
fn benches() {
    let mut criterion = Criterion::default().configure_from_args();
    // One runtime for every case that runs lookups, of the flavour the `secrets` command uses.
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    parse(&mut criterion);
    guest_call(&mut criterion, &rt);
    preinit(&mut criterion, &rt);
    cache_hit(&mut criterion, &rt);
    startup(&mut criterion);
    end_to_end(&mut criterion, &rt);
    live(&mut criterion, &rt);
}

criterion_main!(benches);
