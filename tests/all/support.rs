//! Shared test harness: an emulator seeded with the Airflow documentation's secrets, a service-account
//! directory, and the components compiled once per test binary.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use kube_emulator::{Access, Emulator, EmulatorConfig, RecordedRequest};
use wasm_secrets::state::LogLevel;
use wasm_secrets::{ArtifactCache, ClusterConfig, Provider, ProviderComponent, ProviderOptions};

/// The token the host reads from the service-account directory.
/// The resident memory of this process, from `/proc/self/status`.
pub fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024
}

pub const TOKEN: &str = "e2e-service-account-token";
/// The namespace of the service account and of the seeded secrets.
pub const NAMESPACE: &str = "airflow";
/// The Airflow documentation's sample secrets.
pub const SEED: &str = include_str!("../../examples/secrets/airflow-seed.yaml");

/// Compiles the component at `path` the first time, then hands out clones (one compile per test binary).
fn load_once(cell: &'static OnceLock<ProviderComponent>, path: &str) -> ProviderComponent {
    cell.get_or_init(|| {
        ProviderComponent::from_file(Path::new(path), &ArtifactCache::Disabled)
            .unwrap_or_else(|e| panic!("the component {path} loads: {e}"))
    })
    .clone()
}

/// The Kubernetes provider, compiled once.
pub fn kubernetes_provider() -> ProviderComponent {
    static COMPONENT: OnceLock<ProviderComponent> = OnceLock::new();
    load_once(&COMPONENT, wasm_secrets_artifacts::KUBERNETES_PROVIDER_PATH)
}

/// The rogue fixture, compiled once.
pub fn rogue_provider() -> ProviderComponent {
    static COMPONENT: OnceLock<ProviderComponent> = OnceLock::new();
    load_once(&COMPONENT, wasm_secrets_artifacts::ROGUE_PROVIDER_PATH)
}

/// A running emulator with the seed loaded, a token allowed in `airflow`, and a service-account directory.
pub struct Cluster {
    pub emulator: Emulator,
    pub sa_dir: tempfile::TempDir,
    pub logs: Arc<Mutex<Vec<(LogLevel, String)>>>,
}

impl Cluster {
    pub async fn start() -> Self {
        let cluster = Self::start_empty("32").await;
        let loaded = cluster.emulator.load_manifests(SEED, NAMESPACE).expect("seed manifests load");
        assert_eq!(loaded, 4, "namespace + 3 secrets");
        cluster.emulator.clear_requests();
        cluster
    }

    /// An emulator reporting Kubernetes `1.<minor>`, with the `airflow` namespace and no secrets.
    pub async fn start_empty(minor: &str) -> Self {
        let config = EmulatorConfig { minor_version: minor.to_owned(), ..EmulatorConfig::default() };
        let emulator = Emulator::start(config).await.expect("emulator starts");
        emulator.create_namespace(NAMESPACE);
        emulator.add_token(TOKEN, Access::Namespaces(vec![NAMESPACE.to_owned()]));
        let sa_dir = tempfile::tempdir().expect("temp dir");
        emulator.write_service_account_dir(sa_dir.path(), TOKEN, NAMESPACE).expect("service account dir");
        emulator.clear_requests();
        Self { emulator, sa_dir, logs: Arc::default() }
    }

    /// The environment a pod would see.
    pub fn env(&self) -> impl Fn(&str) -> Option<String> + Sync + use<> {
        let port = self.emulator.addr().port().to_string();
        move |key| match key {
            "KUBERNETES_SERVICE_HOST" => Some("127.0.0.1".to_owned()),
            "KUBERNETES_SERVICE_PORT" => Some(port.clone()),
            _ => None,
        }
    }

    pub fn sa_path(&self) -> PathBuf {
        self.sa_dir.path().to_owned()
    }

    pub fn cluster_config(&self) -> ClusterConfig {
        ClusterConfig::in_cluster(self.sa_dir.path(), self.env()).expect("in-cluster config")
    }

    /// A provider with `backend_kwargs`, whose log records are captured in `self.logs`.
    pub fn provider_with(&self, component: ProviderComponent, backend_kwargs: &str) -> Provider {
        let logs = Arc::clone(&self.logs);
        let options = ProviderOptions {
            log: Arc::new(move |level, message| logs.lock().expect("log lock").push((level, message.to_owned()))),
            ..ProviderOptions::default()
        };
        Provider::new(component, self.cluster_config(), backend_kwargs, options).expect("provider")
    }

    pub fn provider(&self, backend_kwargs: &str) -> Provider {
        self.provider_with(kubernetes_provider(), backend_kwargs)
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.emulator.requests()
    }

    pub fn logs(&self) -> Vec<(LogLevel, String)> {
        self.logs.lock().expect("log lock").clone()
    }

    pub fn insert(&self, name: &str, labels: serde_json::Value, data: serde_json::Value) {
        self.emulator
            .insert_secret(NAMESPACE, serde_json::json!({"metadata": {"name": name, "labels": labels}, "data": data}))
            .expect("insert secret");
    }
}

/// base64 of `s`, like `kubectl create secret --from-literal` stores it.
pub fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// The list query Airflow's client sends for `selector`.
pub fn list_query(selector_encoded: &str) -> String {
    format!("labelSelector={selector_encoded}&resourceVersion=0")
}

/// Asserts that exactly these list requests reached the API, each with the host's token.
pub fn assert_list_requests(requests: &[RecordedRequest], expected_queries: &[&str]) {
    let seen: Vec<(String, String, Option<String>)> =
        requests.iter().map(|r| (r.method.clone(), r.path.clone(), r.query.clone())).collect();
    let expected: Vec<(String, String, Option<String>)> = expected_queries
        .iter()
        .map(|q| ("GET".to_owned(), format!("/api/v1/namespaces/{NAMESPACE}/secrets"), Some((*q).to_owned())))
        .collect();
    assert_eq!(seen, expected, "requests the API server saw");
    for r in requests {
        assert_eq!(r.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()), "host-injected token");
        assert_eq!(r.header("accept"), Some("application/json"));
        assert_eq!(r.status, 200);
    }
}
