//! Conformance: real, unmodified clients against the emulator.
//!
//! - kube-rs (the crate our host uses), configured from the kubeconfig the emulator writes;
//! - the real `kubectl` for server minors 31 (JSON create) and 32 (Protobuf create). If
//!   `kubectl` is not installed these tests fail: they are the proof the emulator is faithful.

use std::path::Path;
use std::process::Command;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use serde_json::{Value, json};

use crate::{Access, Emulator, EmulatorConfig};

async fn kube_client(emulator: &Emulator, dir: &Path, token: &str) -> Client {
    let path = dir.join("kubeconfig");
    emulator.write_kubeconfig(&path, token, "airflow").unwrap();
    let kubeconfig = Kubeconfig::read_from(&path).unwrap();
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await.unwrap();
    Client::try_from(config).unwrap()
}

#[tokio::test]
async fn kube_rs_round_trip() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    emulator.create_namespace("airflow");
    emulator.add_token("T0k3n", Access::Namespaces(vec!["airflow".into()]));
    let dir = tempfile::tempdir().unwrap();
    let client = kube_client(&emulator, dir.path(), "T0k3n").await;

    let version = client.apiserver_version().await.unwrap();
    assert_eq!((version.major.as_str(), version.minor.as_str()), ("1", "32"));

    let api: Api<Secret> = Api::namespaced(client.clone(), "airflow");
    let secret: Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "from-rust", "labels": {"airflow.apache.org/connection-id": "rust"}},
        "stringData": {"value": "hello"}
    }))
    .unwrap();
    let created = api.create(&PostParams::default(), &secret).await.unwrap();
    assert_eq!(created.type_.as_deref(), Some("Opaque"));
    assert_eq!(created.data.unwrap()["value"].0, b"hello");
    assert!(created.string_data.is_none());

    emulator.clear_requests();
    let list =
        api.list(&ListParams::default().labels("airflow.apache.org/connection-id=rust").match_any()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    let empty = api.list(&ListParams::default().labels("nothing=here")).await.unwrap();
    assert!(empty.items.is_empty());
    let requests = emulator.requests();
    assert_eq!(
        requests[0].query.as_deref(),
        Some(
            "&labelSelector=airflow.apache.org%2Fconnection-id%3Drust&resourceVersion=0&resourceVersionMatch=NotOlderThan"
        )
    );
    assert_eq!(requests[0].header("authorization"), Some("Bearer T0k3n"));
    assert_eq!(requests[0].header("accept"), None, "kube-rs sends no Accept on list");

    let patched = api
        .patch("from-rust", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"extra": "yes"}}})))
        .await
        .unwrap();
    assert_eq!(patched.metadata.labels.unwrap()["extra"], "yes");
    let patched = api
        .patch(
            "from-rust",
            &PatchParams::default(),
            &Patch::Strategic(json!({"metadata": {"labels": {"extra": null}}})),
        )
        .await
        .unwrap();
    assert!(!patched.metadata.labels.unwrap().contains_key("extra"));

    let missing = api.get("does-not-exist").await.unwrap_err();
    match missing {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 404);
            assert_eq!(status.reason, "NotFound");
        }
        other => panic!("unexpected error {other:?}"),
    }
    let deleted = api.delete("from-rust", &DeleteParams::default()).await.unwrap();
    assert!(deleted.is_right(), "secrets are deleted with a Success Status");
    assert!(api.get_opt("from-rust").await.unwrap().is_none());

    let forbidden: Api<Secret> = Api::namespaced(client, "kube-system");
    match forbidden.list(&ListParams::default()).await.unwrap_err() {
        kube::Error::Api(status) => assert_eq!(status.code, 403),
        other => panic!("unexpected error {other:?}"),
    }
    emulator.shutdown().await;
}

/// Runs `kubectl <args>`; see [`crate::kubectl::run`].
fn kubectl(home: &Path, kubeconfig: &Path, args: &[&str]) -> (bool, String, String) {
    let out = crate::kubectl::run(home, kubeconfig, args)
        .unwrap_or_else(|e| panic!("kubectl must be installed to prove conformance: {e}"));
    (out.success, out.stdout, out.stderr)
}

/// kubectl (1.32 and later) through the Airflow docs' secret life cycle; its create body is Protobuf. The JSON
/// create path is the Python client's (`python_client`).
#[tokio::test]
async fn kubectl_flow() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    emulator.create_namespace("airflow");
    emulator.add_token("kubectl-token", Access::All);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    emulator.write_kubeconfig(&kubeconfig, "kubectl-token", "airflow").unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();

    let run = |args: Vec<&'static str>| {
        let home = home.clone();
        let kubeconfig = kubeconfig.clone();
        tokio::task::spawn_blocking(move || kubectl(&home, &kubeconfig, &args))
    };

    let (ok, out, err) = run(vec![
        "create",
        "secret",
        "generic",
        "my-smtp-secret",
        "--from-literal=value=smtp://user:password@smtp.example.com:587",
        "-n",
        "airflow",
    ])
    .await
    .unwrap();
    assert!(ok, "create failed: {out}{err}");
    assert_eq!(out.trim(), "secret/my-smtp-secret created");
    let post = emulator.requests().into_iter().find(|r| r.method == "POST").unwrap();
    assert_eq!(post.path, "/api/v1/namespaces/airflow/secrets");
    assert_eq!(post.header("content-type"), Some("application/vnd.kubernetes.protobuf"));
    assert_eq!(post.status, 201);
    assert_eq!(
        emulator.get_secret("airflow", "my-smtp-secret").unwrap()["data"]["value"],
        "c210cDovL3VzZXI6cGFzc3dvcmRAc210cC5leGFtcGxlLmNvbTo1ODc="
    );

    let (ok, out, err) = run(vec![
        "label",
        "secret",
        "my-smtp-secret",
        "airflow.apache.org/connection-id=smtp_default",
        "-n",
        "airflow",
    ])
    .await
    .unwrap();
    assert!(ok, "label failed: {out}{err}");
    assert_eq!(out.trim(), "secret/my-smtp-secret labeled");
    let patch = emulator.requests().into_iter().find(|r| r.method == "PATCH").unwrap();
    assert_eq!(patch.header("content-type"), Some("application/merge-patch+json"));

    let (ok, out, err) = run(vec![
        "get",
        "secrets",
        "-l",
        "airflow.apache.org/connection-id=smtp_default",
        "-n",
        "airflow",
        "-o",
        "json",
    ])
    .await
    .unwrap();
    assert!(ok, "get failed: {out}{err}");
    let list: Value = serde_json::from_str(&out).unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["metadata"]["name"], "my-smtp-secret");
    assert_eq!(items[0]["metadata"]["labels"]["airflow.apache.org/connection-id"], "smtp_default");
    assert_eq!(items[0]["data"]["value"], "c210cDovL3VzZXI6cGFzc3dvcmRAc210cC5leGFtcGxlLmNvbTo1ODc=");
    let list_request = emulator
        .requests()
        .into_iter()
        .find(|r| r.method == "GET" && r.path == "/api/v1/namespaces/airflow/secrets")
        .unwrap();
    assert_eq!(
        list_request.query.as_deref(),
        Some("labelSelector=airflow.apache.org%2Fconnection-id%3Dsmtp_default&limit=500")
    );

    let (ok, out, err) = run(vec!["delete", "secret", "my-smtp-secret", "-n", "airflow"]).await.unwrap();
    assert!(ok, "delete failed: {out}{err}");
    // kubectl 1.37 names the namespace; earlier releases do not.
    let deleted = out.trim();
    assert!(
        deleted == "secret \"my-smtp-secret\" deleted from airflow namespace"
            || deleted == "secret \"my-smtp-secret\" deleted",
        "{deleted}"
    );
    assert!(emulator.get_secret("airflow", "my-smtp-secret").is_none());

    let (ok, _, err) = run(vec!["get", "secret", "my-smtp-secret", "-n", "airflow"]).await.unwrap();
    assert!(!ok);
    assert_eq!(err.trim(), "Error from server (NotFound): secrets \"my-smtp-secret\" not found");
    assert!(emulator.requests().iter().all(|r| r.status != 0 && r.status < 500), "{:#?}", emulator.requests());
    emulator.shutdown().await;
}

type WatcherItem = Result<kube::runtime::watcher::Event<Secret>, kube::runtime::watcher::Error>;

/// The next watcher item, failing the test after 10 s.
async fn next_event(events: &mut tokio::sync::mpsc::UnboundedReceiver<WatcherItem>) -> WatcherItem {
    tokio::time::timeout(std::time::Duration::from_secs(10), events.recv())
        .await
        .expect("the watcher produced nothing within 10 s")
        .expect("the watcher stream ended")
}

/// `Event` summarized as (kind, name, `data.value`).
fn summary(event: &kube::runtime::watcher::Event<Secret>) -> (&'static str, String, String) {
    use kube::runtime::watcher::Event;
    let describe = |secret: &Secret| {
        let value = secret
            .data
            .as_ref()
            .and_then(|d| d.get("value"))
            .map(|v| String::from_utf8_lossy(&v.0).into_owned())
            .unwrap_or_default();
        (secret.metadata.name.clone().unwrap_or_default(), value)
    };
    let (kind, (name, value)) = match event {
        Event::Apply(s) => ("Apply", describe(s)),
        Event::Delete(s) => ("Delete", describe(s)),
        Event::Init => ("Init", (String::new(), String::new())),
        Event::InitApply(s) => ("InitApply", describe(s)),
        Event::InitDone => ("InitDone", (String::new(), String::new())),
    };
    (kind, name, value)
}

fn expected(kind: &'static str, name: &str, value: &str) -> (&'static str, String, String) {
    (kind, name.to_owned(), value.to_owned())
}

async fn kube_rs_watcher_flow(config: kube::runtime::watcher::Config) {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    emulator.create_namespace("airflow");
    emulator.add_token("T0k3n", Access::Namespaces(vec!["airflow".into()]));
    let label = "airflow.apache.org/connection-id";
    emulator
        .insert_secret(
            "airflow",
            json!({"metadata":{"name":"existing","labels":{label:"old"}},"stringData":{"value":"0"}}),
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let client = kube_client(&emulator, dir.path(), "T0k3n").await;
    let api: Api<Secret> = Api::namespaced(client, "airflow");
    // Drive the watcher in its own task: it only sends the WATCH request when polled after the
    // initial list, and the writes below must happen while that request is open.
    let (tx, mut stream) = tokio::sync::mpsc::unbounded_channel();
    let watcher = kube::runtime::watcher(api.clone(), config.labels(label));
    let driver = tokio::spawn(async move {
        use futures::StreamExt as _;
        let mut watcher = Box::pin(watcher);
        while let Some(item) = watcher.next().await {
            if tx.send(item).is_err() {
                break;
            }
        }
    });

    assert_eq!(summary(&next_event(&mut stream).await.unwrap()), expected("Init", "", ""));
    assert_eq!(summary(&next_event(&mut stream).await.unwrap()), expected("InitApply", "existing", "0"));
    assert_eq!(summary(&next_event(&mut stream).await.unwrap()), expected("InitDone", "", ""));
    // The watch request is open once the initial state is delivered; wait for it in the log
    // (bounded) so the writes below are live events, not part of a re-list.
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while !emulator.requests().iter().any(|r| r.query.as_deref().is_some_and(|q| q.contains("watch=true"))) {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap();

    let secret: Secret =
        serde_json::from_value(json!({"metadata":{"name":"added","labels":{label:"new"}},"stringData":{"value":"1"}}))
            .unwrap();
    api.create(&PostParams::default(), &secret).await.unwrap();
    assert_eq!(summary(&next_event(&mut stream).await.unwrap()), expected("Apply", "added", "1"));
    api.patch("added", &PatchParams::default(), &Patch::Merge(json!({"stringData":{"value":"2"}}))).await.unwrap();
    assert_eq!(summary(&next_event(&mut stream).await.unwrap()), expected("Apply", "added", "2"));
    api.delete("added", &DeleteParams::default()).await.unwrap();
    assert_eq!(summary(&next_event(&mut stream).await.unwrap()), expected("Delete", "added", "2"));
    // Leaving the selector looks like a delete to the watcher.
    emulator.patch_secret("airflow", "existing", &json!({"metadata":{"labels":{label:null}}})).unwrap();
    assert_eq!(summary(&next_event(&mut stream).await.unwrap()), expected("Delete", "existing", "0"));

    // Falling out of the history window: ERROR 410, then the watcher re-lists.
    emulator.set_history_limit(0);
    emulator.insert_secret("airflow", json!({"metadata":{"name":"after","labels":{label:"x"}}})).unwrap();
    match next_event(&mut stream).await {
        Err(kube::runtime::watcher::Error::WatchError(status)) => {
            assert_eq!((status.code, status.reason.as_str()), (410, "Expired"));
        }
        other => panic!("expected the 410 watch error, got {other:?}"),
    }
    assert_eq!(summary(&next_event(&mut stream).await.unwrap()), expected("Init", "", ""));
    assert_eq!(summary(&next_event(&mut stream).await.unwrap()), expected("InitApply", "after", ""));
    assert_eq!(summary(&next_event(&mut stream).await.unwrap()), expected("InitDone", "", ""));
    driver.abort();
    assert!(emulator.requests().iter().all(|r| r.status == 200 || r.status == 201), "{:#?}", emulator.requests());
    emulator.shutdown().await;
}

#[tokio::test]
async fn kube_rs_watcher_list_watch() {
    kube_rs_watcher_flow(kube::runtime::watcher::Config::default()).await;
}

#[tokio::test]
async fn kube_rs_watcher_streaming_list() {
    kube_rs_watcher_flow(kube::runtime::watcher::Config::default().streaming_lists()).await;
}

/// The Airflow docs' example connection, as `kubectl create secret … --from-literal=value=…` stores it.
const POSTGRES_JSON: &str = r#"{"conn_type": "postgres", "host": "db.example.com", "login": "user", "password": "pass", "port": 5432, "schema": "mydb"}"#;

/// The interpreter with the `kubernetes` client: `$WASM_SECRETS_PYTHON`, else the workspace's
/// `target/py` virtualenv (created by scripts/test.sh). Missing is a failure, never a skip.
fn python_interpreter() -> std::path::PathBuf {
    if let Some(python) = std::env::var_os("WASM_SECRETS_PYTHON") {
        return python.into();
    }
    // tests/kube-emulator -> the workspace root.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let venv = root.join("target/py/bin/python");
    assert!(
        venv.exists(),
        "the Python kubernetes client is required for this conformance test and {} does not exist; create it \
         from the workspace root with `python3 -m venv target/py && target/py/bin/pip install -r \
         tests/kube-emulator/python/requirements.txt` (scripts/test.sh does this), or set WASM_SECRETS_PYTHON to an \
         interpreter that can `import kubernetes`",
        venv.display()
    );
    venv
}

/// Performs one `NEED <action>` of the Python script on the emulator side.
fn python_action(emulator: &Emulator, action: &str) {
    let label = "airflow.apache.org/connection-id";
    match action {
        "watch-writes" => {
            emulator
                .insert_secret(
                    "airflow",
                    json!({"metadata":{"name":"py-watched","labels":{label:"py"}},"stringData":{"value":"1"}}),
                )
                .unwrap();
            emulator.patch_secret("airflow", "py-watched", &json!({"data":{"value":"Mg=="}})).unwrap();
            emulator.patch_secret("airflow", "py-watched", &json!({"metadata":{"labels":{label:null}}})).unwrap();
        }
        "write-and-compact" => {
            emulator.insert_secret("airflow", json!({"metadata":{"name":"py-unrelated"}})).unwrap();
            emulator.compact_history();
        }
        "429-once" => emulator.set_fault_times(crate::Fault::TooManyRequests { retry_after_secs: 1 }, 1),
        "429-always" => emulator.set_fault(Some(crate::Fault::TooManyRequests { retry_after_secs: 0 })),
        "clear-fault" => emulator.set_fault(None),
        other => panic!("the Python script asked for an unknown action {other:?}"),
    }
}

/// Runs the script, answering its `NEED` lines; returns (success, stdout lines, stderr).
fn run_python_script(emulator: &Emulator, args: &[&Path]) -> (bool, Vec<String>, String) {
    use std::io::{BufRead as _, Read as _, Write as _};
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/test_python_client.py");
    let python = python_interpreter();
    let mut child = Command::new(&python)
        .arg(&script)
        .args(args)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut lines = Vec::new();
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(action) = line.strip_prefix("NEED ") {
            python_action(emulator, action);
            writeln!(stdin, "DONE").unwrap();
            stdin.flush().unwrap();
        }
        lines.push(line);
    }
    let status = child.wait().unwrap();
    (status.success(), lines, errors.join().unwrap())
}

#[tokio::test]
async fn python_client() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    emulator.create_namespace("airflow");
    emulator.create_namespace("kube-system");
    emulator.add_token("py-token", Access::Namespaces(vec!["airflow".into()]));
    emulator
        .insert_secret(
            "airflow",
            json!({"metadata":{"name":"my-postgres-secret","labels":{"airflow.apache.org/connection-id":"my_postgres_db"}},
                   "stringData":{"value":POSTGRES_JSON}}),
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    emulator.write_kubeconfig(&kubeconfig, "py-token", "airflow").unwrap();
    let bad_kubeconfig = dir.path().join("bad-kubeconfig");
    emulator.write_kubeconfig(&bad_kubeconfig, "wrong-token", "airflow").unwrap();

    let driver = emulator.clone();
    // The script also bounds itself with an alarm (60 s), so the blocking task always ends.
    let run = tokio::task::spawn_blocking(move || {
        run_python_script(&driver, &[kubeconfig.as_path(), Path::new("airflow"), bad_kubeconfig.as_path()])
    });
    let (ok, lines, stderr) =
        tokio::time::timeout(std::time::Duration::from_secs(90), run).await.expect("the Python client hung").unwrap();
    assert!(ok, "the Python client test failed:\n{}\n{stderr}", lines.join("\n"));
    let checks: Vec<&str> = lines.iter().filter_map(|l| l.strip_prefix("OK ")).collect();
    assert_eq!(
        checks,
        ["list", "create", "watch", "watch-410", "401", "403", "404", "409", "422", "429-retried", "429-exhausted"],
        "{lines:?}"
    );
    assert_eq!(lines.last().map(String::as_str), Some("ALL OK"));

    let requests = emulator.requests();
    assert!(requests[0].header("user-agent").is_some_and(|ua| ua.starts_with("OpenAPI-Generator/36.0.3/python")));
    // Airflow's backend requests (team-scoped, then global), byte for byte what the Kubernetes provider builds
    // for the same lookup.
    let airflow_requests: Vec<String> =
        requests[..2].iter().map(|r| format!("{}?{}", r.path, r.query.as_deref().unwrap_or_default())).collect();
    assert_eq!(
        airflow_requests,
        [
            "/api/v1/namespaces/airflow/secrets?labelSelector=airflow.apache.org%2Fconnection-id%3Dmy_postgres_db%2Cairflow.apache.org%2Fteam%3Danalytics&resourceVersion=0",
            "/api/v1/namespaces/airflow/secrets?labelSelector=airflow.apache.org%2Fconnection-id%3Dmy_postgres_db%2C%21airflow.apache.org%2Fteam&resourceVersion=0",
        ]
    );
    let provider_requests: Vec<String> = wasm_secrets_provider_kubernetes::selector::queries(
        "airflow.apache.org/connection-id",
        "my_postgres_db",
        Some("airflow.apache.org/team"),
        Some("analytics"),
    )
    .iter()
    .map(|query| wasm_secrets_provider_kubernetes::request::list_secrets_path("airflow", &query.selector))
    .collect();
    assert_eq!(provider_requests, airflow_requests);
    // The JSON create path: the Python client's body, decoded and stored as the real server stores it.
    let create = requests.iter().find(|r| r.method == "POST" && r.status == 201).expect("the Python client's create");
    assert_eq!(create.header("content-type"), Some("application/json"));
    let stored = emulator.get_secret("airflow", "py-created").expect("stored");
    assert_eq!(stored["metadata"]["labels"]["airflow.apache.org/variable-key"], "py_created");
    assert_eq!(stored["data"]["value"], "c210cDovL3B5OnB3QHNtdHAuZXhhbXBsZS5jb206NTg3");
    assert!(stored.get("stringData").is_none(), "stringData is folded into data");

    // kubernetes 36 encodes the query with urllib's `urlencode`: `/` as `%2F`, booleans as Python writes them.
    let watch = requests.iter().find(|r| r.query.as_deref().is_some_and(|q| q.contains("watch=True"))).unwrap();
    assert_eq!(
        watch.query.as_deref(),
        Some(
            "allowWatchBookmarks=True&labelSelector=airflow.apache.org%2Fconnection-id&resourceVersion=0&timeoutSeconds=2&watch=True"
        )
    );
    // The transparent retry: one 429, then the same list succeeded.
    let retried: Vec<u16> = requests
        .iter()
        .filter(|r| r.query.as_deref() == Some("labelSelector=airflow.apache.org%2Fconnection-id"))
        .map(|r| r.status)
        .collect();
    assert_eq!(retried, [429, 200]);
    // A persistent 429: retried by the client (urllib3 honours Retry-After), then surfaced.
    let refused = requests.iter().filter(|r| r.query.as_deref() == Some("labelSelector=always%3D429")).count();
    assert!(refused >= 2, "the client retried the 429 ({refused} attempts)");
    assert!(
        requests.iter().filter(|r| r.query.as_deref() == Some("labelSelector=always%3D429")).all(|r| r.status == 429)
    );
    emulator.shutdown().await;
}

/// `kubectl <args>` with `kubeconfig`, off the async runtime (the emulator keeps serving).
async fn kubectl_async(home: &Path, kubeconfig: &Path, args: &[&str]) -> (bool, String, String) {
    let (home, kubeconfig) = (home.to_owned(), kubeconfig.to_owned());
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let run = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        kubectl(&home, &kubeconfig, &args)
    });
    tokio::time::timeout(std::time::Duration::from_secs(60), run).await.expect("kubectl hung").unwrap()
}

/// The Airflow docs' kubectl commands, checked byte for byte in the store, then the error shapes
/// as kubectl prints them.
async fn kubectl_airflow_docs_flow(minor: &str) {
    let emulator =
        Emulator::start(EmulatorConfig { minor_version: minor.to_owned(), ..EmulatorConfig::default() }).await.unwrap();
    emulator.create_namespace("airflow");
    emulator.add_token("kubectl-token", Access::All);
    emulator.add_token_as("nothing-token", "system:serviceaccount:airflow:nobody", Access::Nothing);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    emulator.write_kubeconfig(&kubeconfig, "kubectl-token", "airflow").unwrap();
    let forbidden = dir.path().join("forbidden-kubeconfig");
    emulator.write_kubeconfig(&forbidden, "nothing-token", "airflow").unwrap();
    let unauthorized = dir.path().join("bad-kubeconfig");
    emulator.write_kubeconfig(&unauthorized, "wrong-token", "airflow").unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let postgres_literal = format!("--from-literal=value={POSTGRES_JSON}");

    let commands: [&[&str]; 4] = [
        &["create", "secret", "generic", "my-postgres-secret", &postgres_literal, "-n", "airflow"],
        &["label", "secret", "my-postgres-secret", "airflow.apache.org/connection-id=my_postgres_db", "-n", "airflow"],
        &["create", "secret", "generic", "my-var-secret", "--from-literal=value=my_value", "-n", "airflow"],
        &["label", "secret", "my-var-secret", "airflow.apache.org/variable-key=my_var", "-n", "airflow"],
    ];
    for command in commands {
        let (ok, out, err) = kubectl_async(&home, &kubeconfig, command).await;
        assert!(ok, "kubectl {command:?} failed: {out}{err}");
    }
    let decode = |name: &str| {
        let secret = emulator.get_secret("airflow", name).unwrap();
        let value = secret["data"]["value"].as_str().unwrap();
        (base64::Engine::decode(&base64::engine::general_purpose::STANDARD, value).unwrap(), secret)
    };
    let (postgres, secret) = decode("my-postgres-secret");
    assert_eq!(postgres, POSTGRES_JSON.as_bytes());
    assert_eq!(secret["metadata"]["labels"], json!({"airflow.apache.org/connection-id": "my_postgres_db"}));
    assert_eq!(secret["type"], "Opaque");
    let (variable, secret) = decode("my-var-secret");
    assert_eq!(variable, b"my_value");
    assert_eq!(secret["metadata"]["labels"], json!({"airflow.apache.org/variable-key": "my_var"}));

    // 409, 422, 404, 403 and 401 as kubectl reports them.
    let (ok, _, err) = kubectl_async(&home, &kubeconfig, commands[0]).await;
    assert!(!ok);
    assert_eq!(err.trim(), "error: failed to create secret secrets \"my-postgres-secret\" already exists");
    let (ok, _, err) = kubectl_async(
        &home,
        &kubeconfig,
        &["create", "secret", "generic", "Bad_Name", "--from-literal=value=x", "-n", "airflow"],
    )
    .await;
    assert!(!ok);
    assert!(
        err.starts_with("error: failed to create secret Secret \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"),
        "{err}"
    );
    let (ok, _, err) = kubectl_async(&home, &kubeconfig, &["get", "secret", "nope", "-n", "airflow"]).await;
    assert!(!ok);
    assert_eq!(err.trim(), "Error from server (NotFound): secrets \"nope\" not found");
    let (ok, _, err) = kubectl_async(&home, &forbidden, &["get", "secrets", "-n", "airflow"]).await;
    assert!(!ok);
    assert_eq!(
        err.trim(),
        "Error from server (Forbidden): secrets is forbidden: User \"system:serviceaccount:airflow:nobody\" cannot list resource \"secrets\" in API group \"\" in the namespace \"airflow\""
    );
    let (ok, _, err) = kubectl_async(&home, &unauthorized, &["get", "secrets", "-n", "airflow"]).await;
    assert!(!ok);
    assert!(err.trim().ends_with("error: You must be logged in to the server (Unauthorized)"), "{err}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn kubectl_131_airflow_docs_and_errors() {
    kubectl_airflow_docs_flow("31").await;
}

#[tokio::test]
async fn kubectl_132_airflow_docs_and_errors() {
    kubectl_airflow_docs_flow("32").await;
}
