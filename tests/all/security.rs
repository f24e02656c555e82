//! The host's security boundary, tested with a hostile component: it may reach only the API server, it cannot
//! bring its own credentials, and its time and memory are bounded.

use std::time::Duration;

use wasm_secrets::grants::env_with_prefixes;
use wasm_secrets::{Grants, LookupError, Provider, ProviderOptions};

use crate::support::{Cluster, TOKEN, resident_bytes, rogue_provider};

fn rogue(cluster: &Cluster, attempt: serde_json::Value) -> Provider {
    cluster.provider_with(rogue_provider(), &attempt.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn well_behaved_request_reaches_the_api_with_the_hosts_token() {
    let cluster = Cluster::start().await;
    let result = rogue(&cluster, serde_json::json!({})).get_conn_value("x", None).await;
    assert_eq!(result, Ok(Some("200".to_owned())));
    let requests = cluster.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/api/v1/namespaces/airflow/secrets");
    assert_eq!(requests[0].header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
}

#[tokio::test(flavor = "multi_thread")]
async fn other_hosts_are_refused() {
    let cluster = Cluster::start().await;
    let real_address = cluster.emulator.addr().to_string();
    for authority in
        ["example.com", "example.com:443", real_address.as_str(), "kubernetes.default.svc:6443", "10.96.0.1"]
    {
        let result = rogue(&cluster, serde_json::json!({"authority": authority})).get_conn_value("x", None).await;
        assert_eq!(
            result,
            Err(LookupError::DeniedByHost("HttpRequestDenied".into())),
            "a request to {authority} must be refused"
        );
    }
    assert!(cluster.requests().is_empty(), "nothing reached the API server: {:?}", cluster.requests());
}

#[tokio::test(flavor = "multi_thread")]
async fn only_secret_reads_are_allowed() {
    let cluster = Cluster::start().await;
    for attempt in [
        serde_json::json!({"method": "DELETE", "path": "/api/v1/namespaces/airflow/secrets/my-var-secret"}),
        serde_json::json!({"method": "POST", "path": "/api/v1/namespaces/airflow/secrets"}),
        serde_json::json!({"path": "/api/v1/namespaces/airflow/configmaps"}),
        serde_json::json!({"path": "/apis/rbac.authorization.k8s.io/v1/clusterroles"}),
        serde_json::json!({"headers": [["impersonate-user", "system:admin"]]}),
        serde_json::json!({"headers": [["x-remote-user", "admin"]]}),
        // The API server decodes the path before routing: an encoded `/` in the namespace reaches a pod's proxy
        // subresource, an encoded `..` is a dot segment. Only Kubernetes names pass the host's policy.
        serde_json::json!({"path": "/api/v1/namespaces/airflow%2Fpods%2Fp%2Fproxy%2F/secrets"}),
        serde_json::json!({"path": "/api/v1/namespaces/airflow/secrets/%2e%2e"}),
        serde_json::json!({"path": "/api/v1/namespaces/airflow/secrets/my-var-secret%2Fproxy"}),
        serde_json::json!({"path": "/api/v1/namespaces/%61irflow/secrets"}),
    ] {
        let result = rogue(&cluster, attempt.clone()).get_conn_value("x", None).await;
        assert!(matches!(result, Err(LookupError::DeniedByHost(_))), "{attempt}: {result:?}");
    }
    assert!(cluster.requests().is_empty(), "nothing reached the API server: {:?}", cluster.requests());
    assert!(cluster.emulator.get_secret("airflow", "my-var-secret").is_some(), "nothing was deleted");
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_is_refused() {
    let cluster = Cluster::start().await;
    let result = rogue(&cluster, serde_json::json!({"scheme": "http"})).get_conn_value("x", None).await;
    assert!(result.is_err(), "{result:?}");
    assert!(cluster.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn guest_cannot_set_authorization() {
    let cluster = Cluster::start().await;
    for header in ["authorization", "Authorization", "proxy-authorization", "cookie", "host", "impersonate-user"] {
        let attempt = serde_json::json!({"headers": [[header, "Bearer stolen-or-forged"]]});
        let result = rogue(&cluster, attempt).get_conn_value("x", None).await;
        let Err(LookupError::DeniedByHost(message)) = &result else { panic!("{header}: {result:?}") };
        assert!(message.contains("Forbidden"), "{header}: {message}");
    }
    assert!(cluster.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn runaway_guest_is_stopped_by_the_deadline() {
    let cluster = Cluster::start().await;
    let options = ProviderOptions { lookup_timeout: Duration::from_millis(300), ..ProviderOptions::default() };
    let provider = Provider::new(rogue_provider(), cluster.cluster_config(), "{}", options).unwrap();
    let started = std::time::Instant::now();
    let result = provider.get_config("spin").await;
    assert!(
        matches!(&result, Err(LookupError::Provider(m)) if m.ends_with("exceeded its time limit and was stopped")),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(10), "stopped promptly: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_hungry_guest_is_stopped_by_the_limit() {
    let cluster = Cluster::start().await;
    let options = ProviderOptions { memory_limit_bytes: 16 * 1024 * 1024, ..ProviderOptions::default() };
    let provider = Provider::new(rogue_provider(), cluster.cluster_config(), "{}", options).unwrap();
    let result = provider.get_config("allocate").await;
    assert!(
        matches!(&result, Err(LookupError::Provider(m)) if m.ends_with("exceeded its memory limit of 16 MiB and was stopped")),
        "the memory limit is named, not an opaque trap: {result:?}"
    );
}

/// What a component makes the host hold outside the store's memory limit is bounded: a request body's stream
/// accepts no bytes, and a component whose header fields grow past `MAX_FIELDS_BYTES` or that keeps creating
/// resources past `MAX_TABLE_ENTRIES` is stopped, saying so. Nothing reaches the API server.
#[tokio::test(flavor = "multi_thread")]
async fn host_memory_outside_the_store_is_bounded() {
    use wasm_secrets::state::{MAX_FIELDS_BYTES, MAX_TABLE_ENTRIES};
    let cluster = Cluster::start().await;
    let provider = Provider::new(rogue_provider(), cluster.cluster_config(), "{}", ProviderOptions::default()).unwrap();

    // Without the bound, each body would hold 1 MiB in the host until the store is dropped.
    let hoard = provider.get_config("body-hoard:100").await.unwrap();
    assert_eq!(hoard.as_deref(), Some("buffered 0 bytes in 100 bodies"));

    let name = wasm_secrets_artifacts::ROGUE_PROVIDER_PATH;
    let error = provider.get_config("fields-flood").await.unwrap_err();
    let stopped = format!("{name} built header fields larger than {MAX_FIELDS_BYTES} bytes and was stopped");
    assert_eq!(error, LookupError::Provider(stopped));
    let error = provider.get_config("resource-hoard").await.unwrap_err();
    let stopped = format!(
        "{name} held more than {MAX_TABLE_ENTRIES} resources (requests, answers, streams, header fields, ...) at \
         once and was stopped"
    );
    assert_eq!(error, LookupError::Provider(stopped));
    assert!(cluster.requests().is_empty(), "nothing was sent: {:?}", cluster.requests());
    assert_eq!(provider.get_config("calls").await.unwrap().as_deref(), Some("1"), "the next lookup is served");
}

/// The hostile-component suite: each attempt ends within the lookup's deadline, the host's memory stays
/// bounded (the floods would hold hundreds of MiB or more without the bounds), nothing beyond the bounds
/// reaches the API server or the log, and the same provider serves the next lookup.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_components_are_contained() {
    let cluster = Cluster::start().await;
    let options = ProviderOptions { lookup_timeout: Duration::from_secs(20), ..ProviderOptions::default() };
    let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = std::sync::Arc::clone(&logs);
    let options = ProviderOptions {
        log: std::sync::Arc::new(move |_, m: &str| sink.lock().unwrap().push(m.to_owned())),
        ..options
    };
    let provider = Provider::new(rogue_provider(), cluster.cluster_config(), "{}", options).unwrap();
    let before = resident_bytes();

    let started = std::time::Instant::now();
    let fan_out = provider.get_config("fan-out:64").await.unwrap().unwrap();
    let (answered, refused) = fan_out
        .strip_prefix("answered ")
        .and_then(|r| r.split_once(", refused "))
        .map(|(a, r)| (a.parse::<usize>().unwrap(), r.parse::<usize>().unwrap()))
        .unwrap();
    assert_eq!(answered + refused, 64, "{fan_out}");
    assert!(answered <= wasm_secrets::provider::MAX_REQUESTS_PER_LOOKUP, "{fan_out}");
    assert!(cluster.requests().len() <= wasm_secrets::provider::MAX_REQUESTS_PER_LOOKUP, "{fan_out}");

    let flood = provider.get_config("body-flood:512").await.unwrap().unwrap();
    assert!(flood.starts_with("refused"), "a 512 MiB request body is refused: {flood}");
    assert!(cluster.requests().len() <= wasm_secrets::provider::MAX_REQUESTS_PER_LOOKUP, "nothing was sent");

    assert_eq!(provider.get_config("log-flood").await.unwrap().as_deref(), Some("logged"));
    {
        let logs = logs.lock().unwrap();
        assert_eq!(
            logs.len(),
            wasm_secrets::state::MAX_LOG_RECORDS_PER_LOOKUP + 1,
            "records beyond the bound are dropped, with one warning"
        );
        assert!(logs.iter().all(|m| m.len() <= wasm_secrets::state::MAX_LOG_RECORD_BYTES + 100), "records are cut");
        assert!(logs.last().unwrap().ends_with("the rest are dropped"), "{:?}", logs.last());
    }

    let socket = provider.get_config("socket").await.unwrap().unwrap();
    assert!(socket.starts_with("refused"), "no socket is granted: {socket}");

    let grown = resident_bytes().saturating_sub(before);
    assert!(grown < 256 * 1024 * 1024, "the host's memory grew by {} MiB", grown / (1024 * 1024));
    assert!(started.elapsed() < Duration::from_secs(60), "every attempt ended: {:?}", started.elapsed());

    // The same provider serves the next lookup.
    assert_eq!(provider.get_conn_value("x", None).await, Ok(Some("200".to_owned())));
}

/// The world imports `wasi:http/outgoing-handler` and the `host` interface; Rust's standard library adds the
/// `wasi:cli` interfaces it links (environment, exit, stdio) and `wasi:random/insecure-seed` (the seed of
/// `HashMap`'s hasher). The host's WASI context grants nothing through them: no variables, no arguments,
/// no stdio. No filesystem, no sockets.
#[test]
fn provider_imports_nothing_beyond_the_world_and_std_stubs() {
    let mut imports = crate::support::kubernetes_provider().imports();
    imports.sort();
    println!("imports: {imports:#?}");
    for name in &imports {
        let allowed = name.starts_with("wasi:http/")
            || name.starts_with("wasi:io/")
            || name.starts_with("wasi:clocks/monotonic-clock")
            || name.starts_with("wasm-secrets:provider/")
            || name.starts_with("wasi:cli/")
            || name.starts_with("wasi:random/insecure-seed@");
        assert!(allowed, "unexpected import {name}");
        assert!(!name.starts_with("wasi:filesystem") && !name.starts_with("wasi:sockets"), "{name}");
    }
    assert!(imports.iter().any(|n| n.starts_with("wasi:http/outgoing-handler@")));
    assert!(imports.iter().any(|n| n == "wasm-secrets:provider/host@0.3.0"));
}

/// The rogue component with `grants` and its default configuration (no cluster unless granted).
fn rogue_with(grants: Grants) -> Provider {
    Provider::with_grants(rogue_provider(), grants, "{}", ProviderOptions::default()).expect("provider")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_sees_only_the_environment_variables_granted_to_it() {
    let process_env = [
        ("AIRFLOW_VAR_REGION", "eu"),
        ("AIRFLOW_CONN_DB", "postgres://u:p@h/db"),
        ("AWS_SECRET_ACCESS_KEY", "do-not-leak"),
        ("HOME", "/root"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    let grants = Grants { env: env_with_prefixes(process_env, &["AIRFLOW_VAR_"]), ..Grants::default() };
    let seen = rogue_with(grants).get_config("env").await.unwrap();
    assert_eq!(seen.as_deref(), Some("AIRFLOW_VAR_REGION"));
    let nothing = rogue_with(Grants::default()).get_config("env").await.unwrap();
    assert_eq!(nothing.as_deref(), Some(""));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_reads_only_the_files_granted_to_it_and_no_directory() {
    let dir = tempfile::tempdir().unwrap();
    let granted = dir.path().join("connections.env");
    let sibling = dir.path().join("id_rsa");
    std::fs::write(&granted, "smtp_default=smtp://u:p@h\n").unwrap();
    std::fs::write(&sibling, "PRIVATE KEY").unwrap();
    let provider = rogue_with(Grants { files: vec![granted.clone()], ..Grants::default() });
    let read = |path: &std::path::Path| format!("read:{}", path.display());
    assert_eq!(provider.get_config(&read(&granted)).await.unwrap().as_deref(), Some("read 26 bytes"));
    for refused in [sibling.as_path(), dir.path(), std::path::Path::new("/etc/passwd")] {
        let answer = provider.get_config(&read(refused)).await.unwrap().unwrap();
        assert!(answer.starts_with("refused: FileError::Denied(\"the host grants this provider no file "), "{answer}");
    }
    let fs = provider.get_config("fs").await.unwrap().unwrap();
    assert!(fs.starts_with("refused: "), "no directory is pre-opened: {fs}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_without_the_kubernetes_grant_reaches_nothing() {
    let cluster = Cluster::start().await;
    let result = rogue_with(Grants::default()).get_conn_value("x", None).await;
    assert!(matches!(&result, Err(LookupError::DeniedByHost(_))), "{result:?}");
    assert!(cluster.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn lookups_get_fresh_instances_unless_reuse_is_asked_and_a_failed_instance_is_never_reused() {
    let fresh = rogue_with(Grants::default());
    for _ in 0..3 {
        assert_eq!(fresh.get_config("calls").await.unwrap().as_deref(), Some("1"), "a fresh store per lookup");
    }
    let options = ProviderOptions {
        reuse_instances: 1,
        lookup_timeout: Duration::from_millis(300),
        ..ProviderOptions::default()
    };
    let reusing = Provider::with_grants(rogue_provider(), Grants::default(), "{}", options).unwrap();
    let calls: Vec<Option<String>> =
        [reusing.get_config("calls").await, reusing.get_config("calls").await, reusing.get_config("calls").await]
            .into_iter()
            .map(Result::unwrap)
            .collect();
    assert_eq!(calls, [Some("1".to_owned()), Some("2".to_owned()), Some("3".to_owned())]);
    // The reused instance runs away and is stopped: it is dropped, and the next lookup starts afresh.
    let stopped = reusing.get_config("spin").await;
    assert!(matches!(stopped, Err(LookupError::Provider(_) | LookupError::Timeout(_))), "{stopped:?}");
    assert_eq!(reusing.get_config("calls").await.unwrap().as_deref(), Some("1"));
}

/// A broken server or proxy that echoes the request's credentials in an error: the host removes its token from
/// the answer before the component sees it, so no error, log line or Debug output carries it.
#[tokio::test(flavor = "multi_thread")]
async fn an_echoed_token_never_reaches_the_component() {
    let cluster = Cluster::start().await;
    cluster.emulator.set_fault(Some(kube_emulator::Fault::EchoAuthorization(502)));
    let error = cluster.provider("").get_variable("my_var", None).await.unwrap_err();
    let shown = format!("{error} {error:?} {:?}", cluster.logs());
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(shown.contains("the upstream refused the request with authorization Bearer [REDACTED]"), "{shown}");
    let requests = cluster.requests();
    assert_eq!(requests[0].header("authorization"), Some(format!("Bearer {TOKEN}").as_str()), "the token was sent");
}

/// An instance kept for several lookups cannot pile up answers across them: the answers the host holds for a
/// store (handed over and not yet dropped by the component) stay within its memory limit, whichever lookup
/// asked for them.
#[tokio::test(flavor = "multi_thread")]
async fn answers_kept_across_lookups_stay_bounded() {
    let cluster = Cluster::start().await;
    let value = "a".repeat(700 * 1024);
    for i in 0..2 {
        cluster.insert(
            &format!("big-{i}"),
            serde_json::json!({"big": "yes"}),
            serde_json::json!({"value": crate::support::b64(&value)}),
        );
    }
    let options = ProviderOptions { memory_limit_bytes: 16 * 1024 * 1024, ..ProviderOptions::default() };
    let attempt = serde_json::json!({"path": "/api/v1/namespaces/airflow/secrets?labelSelector=big%3Dyes"});
    let provider = Provider::new(rogue_provider(), cluster.cluster_config(), &attempt.to_string(), options).unwrap();
    let mut instance = provider.instance().await.unwrap();
    let (mut held, mut refused) = (0, 0);
    for _ in 0..4 {
        let answer = instance.lookup(wasm_secrets::Lookup::Config("hoard:4")).await.unwrap().into_text().unwrap();
        let (h, r) = answer
            .strip_prefix("held ")
            .and_then(|rest| rest.split_once(", refused "))
            .map(|(h, r)| (h.parse::<usize>().unwrap(), r.parse::<usize>().unwrap()))
            .unwrap();
        held += h;
        refused += r;
    }
    // Each answer is about 1.9 MiB: eight fit in 16 MiB, the other eight are refused.
    assert_eq!((held, refused), (8, 8));
}
