//! Lookups through the component, with the exact requests the API server saw.

use std::time::Duration;

use serde_json::json;
use wasm_secrets::LookupError;
use wasm_secrets::state::LogLevel;

use crate::support::{Cluster, assert_list_requests, b64, list_query};

const SMTP_QUERY: &str = "airflow.apache.org%2Fconnection-id%3Dsmtp_default%2C%21airflow.apache.org%2Fteam";

#[tokio::test(flavor = "multi_thread")]
async fn smtp_default_uri_connection() {
    let cluster = Cluster::start().await;
    let provider = cluster.provider("");
    let conn = provider.get_connection("smtp_default", None).await.unwrap().expect("found");
    assert_eq!(conn.conn_type.as_deref(), Some("smtp"));
    assert_eq!(conn.host.as_deref(), Some("smtp.example.com"));
    assert_eq!(conn.schema.as_deref(), Some(""));
    assert_eq!(conn.login.as_deref(), Some("user"));
    assert_eq!(conn.password.as_deref(), Some("password"));
    assert_eq!(conn.port, Some(587));
    assert_eq!(conn.extra, None);
    assert_eq!(conn.description, None);
    assert_eq!(conn.get_uri(airflow_compat::Dialect::Server), "smtp://user:password@smtp.example.com:587");
    assert_list_requests(&cluster.requests(), &[&list_query(SMTP_QUERY)]);
    assert!(cluster.logs().is_empty(), "{:?}", cluster.logs());
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_conn_value_is_returned_verbatim() {
    let cluster = Cluster::start().await;
    let value = cluster.provider("").get_conn_value("smtp_default", None).await.unwrap();
    assert_eq!(value.as_deref(), Some("smtp://user:password@smtp.example.com:587"));
}

#[tokio::test(flavor = "multi_thread")]
async fn my_postgres_db_json_connection() {
    let cluster = Cluster::start().await;
    let conn = cluster.provider("").get_connection("my_postgres_db", None).await.unwrap().expect("found");
    assert_eq!(conn.conn_type.as_deref(), Some("postgres"));
    assert_eq!(conn.host.as_deref(), Some("db.example.com"));
    assert_eq!(conn.login.as_deref(), Some("user"));
    assert_eq!(conn.password.as_deref(), Some("pass"));
    assert_eq!(conn.port, Some(5432));
    assert_eq!(conn.schema.as_deref(), Some("mydb"));
    assert_eq!(conn.extra, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn my_var_variable_and_namespace_autodetected() {
    let cluster = Cluster::start().await;
    // No namespace in backend_kwargs: it comes from the service account's `namespace` file.
    let value = cluster.provider("{}").get_variable("my_var", None).await.unwrap();
    assert_eq!(value.as_deref(), Some("my_secret_value"));
    assert_list_requests(
        &cluster.requests(),
        &[&list_query("airflow.apache.org%2Fvariable-key%3Dmy_var%2C%21airflow.apache.org%2Fteam")],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn variables_and_config_keep_trailing_newlines() {
    let cluster = Cluster::start().await;
    cluster.insert("v", json!({"airflow.apache.org/variable-key": "nl"}), json!({"value": b64("line\n\n")}));
    cluster.insert(
        "c",
        json!({"airflow.apache.org/config-key": "sql_alchemy_conn"}),
        json!({"value": b64("postgresql://x\n")}),
    );
    let provider = cluster.provider("");
    assert_eq!(provider.get_variable("nl", None).await.unwrap().as_deref(), Some("line\n\n"));
    assert_eq!(provider.get_config("sql_alchemy_conn").await.unwrap().as_deref(), Some("postgresql://x\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn custom_label_keys() {
    let cluster = Cluster::start().await;
    cluster.insert("org-conn", json!({"my-org.io/connection": "warehouse"}), json!({"value": b64("postgres://h/db")}));
    cluster.insert("org-var", json!({"my-org.io/variable": "region"}), json!({"value": b64("eu-west-1")}));
    let provider =
        cluster.provider(r#"{"connections_label": "my-org.io/connection", "variables_label": "my-org.io/variable"}"#);
    assert_eq!(provider.get_conn_value("warehouse", None).await.unwrap().as_deref(), Some("postgres://h/db"));
    assert_eq!(provider.get_variable("region", None).await.unwrap().as_deref(), Some("eu-west-1"));
    // The default label no longer finds the seed's connection.
    assert_eq!(provider.get_conn_value("smtp_default", None).await.unwrap(), None);
    assert_list_requests(
        &cluster.requests(),
        &[
            &list_query("my-org.io%2Fconnection%3Dwarehouse%2C%21airflow.apache.org%2Fteam"),
            &list_query("my-org.io%2Fvariable%3Dregion%2C%21airflow.apache.org%2Fteam"),
            &list_query("my-org.io%2Fconnection%3Dsmtp_default%2C%21airflow.apache.org%2Fteam"),
        ],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn custom_data_key() {
    let cluster = Cluster::start().await;
    cluster.insert(
        "two-keys",
        json!({"airflow.apache.org/connection-id": "multi"}),
        json!({"value": b64("http://wrong"), "uri": b64("http://right:8080")}),
    );
    let provider = cluster.provider(r#"{"connections_data_key": "uri"}"#);
    let conn = provider.get_connection("multi", None).await.unwrap().expect("found");
    assert_eq!((conn.host.as_deref(), conn.port), (Some("right"), Some(8080)));
}

#[tokio::test(flavor = "multi_thread")]
async fn disabled_kind_sends_no_request() {
    let cluster = Cluster::start().await;
    let provider = cluster.provider(r#"{"variables_label": null, "config_label": null}"#);
    assert_eq!(provider.get_variable("my_var", None).await.unwrap(), None);
    assert_eq!(provider.get_config("anything").await.unwrap(), None);
    assert!(cluster.requests().is_empty(), "no request for disabled kinds: {:?}", cluster.requests());
    // Connections still work.
    assert!(provider.get_conn_value("smtp_default", None).await.unwrap().is_some());
    assert_eq!(cluster.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn team_scoped_id_without_team_sends_no_request() {
    let cluster = Cluster::start().await;
    assert_eq!(cluster.provider("").get_conn_value("_blue___db", None).await.unwrap(), None);
    assert!(cluster.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn team_secret_first_then_global() {
    let cluster = Cluster::start().await;
    cluster.insert(
        "blue-db",
        json!({"airflow.apache.org/connection-id": "db", "airflow.apache.org/team": "blue"}),
        json!({"value": b64("postgres://blue-host/db")}),
    );
    cluster.insert(
        "global-db",
        json!({"airflow.apache.org/connection-id": "db"}),
        json!({"value": b64("postgres://global-host/db")}),
    );
    let provider = cluster.provider("");
    assert_eq!(provider.get_conn_value("db", Some("blue")).await.unwrap().as_deref(), Some("postgres://blue-host/db"));
    assert_eq!(provider.get_conn_value("db", Some("red")).await.unwrap().as_deref(), Some("postgres://global-host/db"));
    assert_eq!(provider.get_conn_value("db", None).await.unwrap().as_deref(), Some("postgres://global-host/db"));
    assert_list_requests(
        &cluster.requests(),
        &[
            &list_query("airflow.apache.org%2Fconnection-id%3Ddb%2Cairflow.apache.org%2Fteam%3Dblue"),
            &list_query("airflow.apache.org%2Fconnection-id%3Ddb%2Cairflow.apache.org%2Fteam%3Dred"),
            &list_query("airflow.apache.org%2Fconnection-id%3Ddb%2C%21airflow.apache.org%2Fteam"),
            &list_query("airflow.apache.org%2Fconnection-id%3Ddb%2C%21airflow.apache.org%2Fteam"),
        ],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn several_matches_first_wins_with_warning() {
    let cluster = Cluster::start().await;
    cluster.insert("a-first", json!({"airflow.apache.org/variable-key": "dup"}), json!({"value": b64("first")}));
    cluster.insert("b-second", json!({"airflow.apache.org/variable-key": "dup"}), json!({"value": b64("second")}));
    let value = cluster.provider(r#"{"namespace": "airflow"}"#).get_variable("dup", None).await.unwrap();
    assert_eq!(value.as_deref(), Some("first"));
    assert_eq!(
        cluster.logs(),
        vec![(
            LogLevel::Warning,
            "Multiple secrets found with label airflow.apache.org/variable-key=dup,!airflow.apache.org/team in namespace airflow. Using the first one.".to_owned()
        )]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_data_key_is_none_with_warning() {
    let cluster = Cluster::start().await;
    cluster.insert("no-value", json!({"airflow.apache.org/variable-key": "k"}), json!({"other": b64("x")}));
    assert_eq!(cluster.provider("").get_variable("k", None).await.unwrap(), None);
    assert_eq!(
        cluster.logs(),
        vec![(LogLevel::Warning, "Secret 'no-value' does not have data key 'value'.".to_owned())]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn not_found_is_none_with_airflow_warning() {
    let cluster = Cluster::start().await;
    assert_eq!(cluster.provider("").get_connection("nope", None).await.unwrap(), None);
    assert_eq!(
        cluster.logs(),
        vec![(
            LogLevel::Warning,
            "No secret found with label airflow.apache.org/connection-id=nope,!airflow.apache.org/team in namespace airflow.".to_owned()
        )]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn forbidden_namespace_is_access_denied() {
    let cluster = Cluster::start().await;
    cluster.emulator.create_namespace("other");
    let e = cluster.provider(r#"{"namespace": "other"}"#).get_variable("my_var", None).await.unwrap_err();
    let LookupError::AccessDenied(message) = &e else { panic!("expected access denied, got {e:?}") };
    assert!(
        message.starts_with("the Kubernetes API answered 403 (Forbidden): secrets is forbidden: User "),
        "{message}"
    );
    assert!(
        message.ends_with("cannot list resource \"secrets\" in API group \"\" in the namespace \"other\""),
        "{message}"
    );
    let requests = cluster.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].status, 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn revoked_token_is_access_denied() {
    let cluster = Cluster::start().await;
    cluster.emulator.revoke_token(crate::support::TOKEN);
    let e = cluster.provider("").get_variable("my_var", None).await.unwrap_err();
    assert_eq!(e, LookupError::AccessDenied("the Kubernetes API answered 401 (Unauthorized): Unauthorized".into()));
}

#[tokio::test(flavor = "multi_thread")]
async fn server_errors_say_upstream_or_unavailable() {
    let cluster = Cluster::start().await;
    let provider = cluster.provider("");
    cluster.emulator.set_fault(Some(kube_emulator::Fault::Status(500)));
    assert!(matches!(provider.get_variable("my_var", None).await, Err(LookupError::Upstream(_))));
    cluster.emulator.set_fault(Some(kube_emulator::Fault::TooManyRequests { retry_after_secs: 1 }));
    assert_eq!(
        provider.get_variable("my_var", None).await,
        Err(LookupError::Unavailable(
            "the Kubernetes API answered 429: Too many requests, please try again later.".into()
        ))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn undecodable_value_is_malformed_payload() {
    let cluster = Cluster::start().await;
    // Valid base64 (the API server only stores valid base64) of bytes that are not UTF-8.
    cluster.insert("latin1", json!({"airflow.apache.org/variable-key": "latin1"}), json!({"value": "/w=="}));
    let e = cluster.provider("").get_variable("latin1", None).await.unwrap_err();
    let LookupError::MalformedPayload(message) = &e else { panic!("{e:?}") };
    assert!(message.starts_with("data key 'value' of secret 'latin1': "), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_json_connection_never_echoes_the_password() {
    let cluster = Cluster::start().await;
    let value = r#"{"conn_type": "postgres", "password": "hunter2-secret", "port": "not-a-port"}"#;
    cluster.insert("bad-json", json!({"airflow.apache.org/connection-id": "bad_json"}), json!({"value": b64(value)}));
    cluster.insert(
        "bad-uri",
        json!({"airflow.apache.org/connection-id": "bad_uri"}),
        json!({"value": b64("postgres://user:pa/ss-hunter2@host:5432/db")}),
    );
    let provider = cluster.provider("");
    for id in ["bad_json", "bad_uri"] {
        let e = provider.get_connection(id, None).await.unwrap_err();
        let LookupError::MalformedPayload(message) = &e else { panic!("{id}: {e:?}") };
        assert!(message.starts_with(&format!("connection `{id}`: ")), "{message}");
        for text in [message.clone(), format!("{e:?}"), e.to_string()] {
            assert!(!text.contains("hunter2"), "secret leaked: {text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_backend_kwargs_are_rejected_up_front() {
    let cluster = Cluster::start().await;
    let e = cluster.provider(r#"{"connections_prefix": "x"}"#).validate_config().await.unwrap_err();
    assert!(
        matches!(&e, LookupError::InvalidConfiguration(m) if m.starts_with("unknown key `connections_prefix`")),
        "{e:?}"
    );
    let e = cluster.provider(r#"{"namespace": 42}"#).validate_config().await.unwrap_err();
    assert_eq!(
        e,
        LookupError::InvalidConfiguration(
            "`namespace` in backend_kwargs must be a string or null, got a number".into()
        )
    );
    assert!(cluster.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_namespace_file_gives_airflows_error() {
    let cluster = Cluster::start().await;
    std::fs::remove_file(cluster.sa_dir.path().join("namespace")).unwrap();
    let e = cluster.provider("").get_variable("my_var", None).await.unwrap_err();
    assert_eq!(
        e,
        LookupError::InvalidConfiguration(format!(
            "Could not auto-detect Kubernetes namespace from {}. Is automountServiceAccountToken disabled for this pod? Set the 'namespace' parameter explicitly in backend_kwargs.",
            cluster.sa_dir.path().join("namespace").display()
        ))
    );
    // An explicit namespace needs no file.
    let value = cluster.provider(r#"{"namespace": "airflow"}"#).get_variable("my_var", None).await.unwrap();
    assert_eq!(value.as_deref(), Some("my_secret_value"));
}

#[tokio::test(flavor = "multi_thread")]
async fn kubeconfig_outside_the_cluster() {
    let cluster = Cluster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    cluster.emulator.write_kubeconfig(&kubeconfig, crate::support::TOKEN, "airflow").unwrap();
    let provider = kubernetes_provider_from(&kubeconfig).await;
    assert_eq!(provider.get_variable("my_var", None).await.unwrap().as_deref(), Some("my_secret_value"));
}

/// A kubeconfig `server` with a path (an API server behind a Rancher-style proxy): every request goes below
/// that path, as client-go sends it, never to the proxy's own root.
#[tokio::test(flavor = "multi_thread")]
async fn a_kubeconfig_server_path_prefix_is_kept() {
    let config = kube_emulator::EmulatorConfig {
        path_prefix: "/k8s/clusters/c-1".to_owned(),
        ..kube_emulator::EmulatorConfig::default()
    };
    let emulator = kube_emulator::Emulator::start(config).await.unwrap();
    emulator.create_namespace("airflow");
    emulator.add_token(crate::support::TOKEN, kube_emulator::Access::ReadOnly(vec!["airflow".into()]));
    emulator
        .insert_secret(
            "airflow",
            json!({"metadata": {"name": "v", "labels": {"airflow.apache.org/variable-key": "my_var"}},
                   "data": {"value": b64("behind the proxy")}}),
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    emulator.write_kubeconfig(&kubeconfig, crate::support::TOKEN, "airflow").unwrap();
    let provider = kubernetes_provider_from(&kubeconfig).await;
    assert_eq!(provider.get_variable("my_var", None).await.unwrap().as_deref(), Some("behind the proxy"));
    let raw_paths: Vec<String> = emulator.requests().into_iter().map(|r| r.raw_path).collect();
    assert_eq!(raw_paths, ["/k8s/clusters/c-1/api/v1/namespaces/airflow/secrets"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn resource_version_zero_may_be_served_stale_like_airflow() {
    // Airflow lists with resourceVersion=0, which the API server may answer from a lagging watch cache.
    let cluster = Cluster::start().await;
    cluster.emulator.freeze_watch_cache();
    cluster.insert("late", json!({"airflow.apache.org/variable-key": "late"}), json!({"value": b64("new")}));
    let provider = cluster.provider("");
    assert_eq!(provider.get_variable("late", None).await.unwrap(), None, "the stale cache does not have it yet");
    cluster.emulator.thaw_watch_cache();
    assert_eq!(provider.get_variable("late", None).await.unwrap().as_deref(), Some("new"));
}

#[tokio::test(flavor = "multi_thread")]
async fn lookups_share_one_kept_alive_connection() {
    let cluster = Cluster::start().await;
    let provider = cluster.provider("");
    for _ in 0..5 {
        assert_eq!(provider.get_variable("my_var", None).await.unwrap().as_deref(), Some("my_secret_value"));
        // hyper returns a connection to its pool from a task that runs once the connection has read the
        // answer; back-to-back lookups on a loaded machine can outrun it and open a second connection (a
        // race hyper settles by connecting). Lookups a moment apart, as a scheduler's are, share one.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(cluster.requests().len(), 5);
    assert_eq!(cluster.emulator.connections_accepted(), 1, "one TLS connection, kept alive across lookups");
}

#[test]
fn components_of_one_allocation_share_one_engine() {
    // The default (pooled) allocation: one engine, one epoch thread, one pool for the process.
    let kubernetes = crate::support::kubernetes_provider();
    let rogue = crate::support::rogue_provider();
    assert!(wasmtime::Engine::same(kubernetes.engine(), rogue.engine()), "one engine, one epoch thread");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_token_is_picked_up_on_the_first_401() {
    let cluster = Cluster::start().await;
    let provider = cluster.provider("");
    assert_eq!(provider.get_variable("my_var", None).await.unwrap().as_deref(), Some("my_secret_value"));
    // The kubelet rotates the projected token; the API server stops accepting the old one at once, long before
    // the host's 60 s re-read period is over.
    const ROTATED: &str = "e2e-rotated-token";
    cluster.emulator.add_token(ROTATED, kube_emulator::Access::Namespaces(vec![crate::support::NAMESPACE.to_owned()]));
    cluster.emulator.revoke_token(crate::support::TOKEN);
    std::fs::write(cluster.sa_path().join("token"), format!("{ROTATED}\n")).unwrap();
    cluster.emulator.clear_requests();

    assert_eq!(provider.get_variable("my_var", None).await.unwrap().as_deref(), Some("my_secret_value"));
    let seen: Vec<(u16, Option<String>)> =
        cluster.requests().iter().map(|r| (r.status, r.header("authorization").map(str::to_owned))).collect();
    assert_eq!(
        seen,
        [(401, Some(format!("Bearer {}", crate::support::TOKEN))), (200, Some(format!("Bearer {ROTATED}")))]
    );
    // Later lookups use the new token directly.
    cluster.emulator.clear_requests();
    provider.get_variable("my_var", None).await.unwrap();
    assert_eq!(cluster.requests().len(), 1);
}

/// The token file is read on its cadence (every 60 s) and on a 401, not after every answer: a token written
/// to the file (while the old one is still accepted) is not used before the period is over.
#[tokio::test(flavor = "multi_thread")]
async fn the_token_file_is_read_on_its_cadence_only() {
    let cluster = Cluster::start().await;
    let provider = cluster.provider("");
    const NEXT: &str = "e2e-next-token";
    cluster.emulator.add_token(NEXT, kube_emulator::Access::Namespaces(vec![crate::support::NAMESPACE.to_owned()]));
    for _ in 0..2 {
        provider.get_variable("my_var", None).await.unwrap();
    }
    std::fs::write(cluster.sa_path().join("token"), NEXT).unwrap();
    for _ in 0..3 {
        provider.get_variable("my_var", None).await.unwrap();
    }
    let sent: Vec<Option<String>> =
        cluster.requests().iter().map(|r| r.header("authorization").map(str::to_owned)).collect();
    assert_eq!(
        sent,
        vec![Some(format!("Bearer {}", crate::support::TOKEN)); 5],
        "the cached token, until the period ends"
    );
}

/// A lookup timeout beyond any useful value (`Duration::MAX`) is cut to `MAX_LOOKUP_TIMEOUT`: the epoch deadline
/// does not overflow (a panic in a debug build, an immediate timeout in a release build) and the lookup runs.
#[tokio::test(flavor = "multi_thread")]
async fn a_huge_lookup_timeout_is_bounded() {
    let cluster = Cluster::start().await;
    let options = wasm_secrets::ProviderOptions { lookup_timeout: Duration::MAX, ..Default::default() };
    let provider =
        wasm_secrets::Provider::new(crate::support::kubernetes_provider(), cluster.cluster_config(), "", options)
            .unwrap();
    assert_eq!(provider.get_variable("my_var", None).await.unwrap().as_deref(), Some("my_secret_value"));
    let mut instance = provider.instance().await.unwrap();
    let answer = instance.lookup(wasm_secrets::Lookup::Variable("my_var", None)).await.unwrap();
    assert_eq!(answer.into_text().as_deref(), Some("my_secret_value"));
}

/// The host's bound on an answer fits the component's memory: a list answer below it is parsed and decoded
/// within the memory limit, one above it is a clear upstream error, never an out-of-memory trap. (A Secret
/// holds at most 1 MiB, so a large answer is many Secrets matching one selector.)
#[tokio::test(flavor = "multi_thread")]
async fn answer_size_and_memory_limits_agree() {
    let cluster = Cluster::start().await;
    let value = "a".repeat(700 * 1024);
    let add = |from: usize, to: usize, key: &str| {
        for i in from..to {
            cluster.insert(
                &format!("{key}-{i}"),
                json!({"airflow.apache.org/variable-key": key}),
                json!({"value": b64(&value)}),
            );
        }
    };
    add(0, 5, "five"); // about 4.7 MiB of answer
    add(0, 10, "ten"); // about 9.3 MiB
    let edge_value = "b".repeat(750 * 1024);
    for i in 0..8 {
        cluster.insert(
            &format!("edge-{i}"),
            json!({"airflow.apache.org/variable-key": "edge"}),
            json!({"value": b64(&edge_value)}),
        );
    }
    let edge = cluster.provider("").get_variable("edge", None).await;
    assert_eq!(edge.map(|v| v.map(|v| v.len())), Ok(Some(edge_value.len())), "an answer just under 8 MiB is served");
    let found = cluster.provider("").get_variable("five", None).await;
    assert_eq!(found.map(|v| v.map(|v| v.len())), Ok(Some(value.len())), "the first of five matches is served");
    let too_big = cluster.provider("").get_variable("ten", None).await;
    assert_eq!(
        too_big,
        Err(LookupError::Upstream(
            "the answer of the Kubernetes API is larger than the 8388608 bytes the host allows".to_owned()
        ))
    );
    // A smaller memory limit cuts the answer bound with it (16 MiB: answers up to 2 MiB).
    let options = wasm_secrets::ProviderOptions { memory_limit_bytes: 16 * 1024 * 1024, ..Default::default() };
    let small =
        wasm_secrets::Provider::new(crate::support::kubernetes_provider(), cluster.cluster_config(), "", options)
            .unwrap();
    assert_eq!(
        small.get_variable("five", None).await,
        Err(LookupError::Upstream(
            "the answer of the Kubernetes API is larger than the 2097152 bytes the host allows".to_owned()
        ))
    );
}

/// A kubeconfig that names its CA bundle and token file relative to itself, as kubectl writes them: both are
/// found next to the kubeconfig (and read bounded) whatever the working directory.
#[tokio::test(flavor = "multi_thread")]
async fn kubeconfig_files_are_relative_to_the_kubeconfig() {
    let cluster = Cluster::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.crt"), cluster.emulator.ca_pem()).unwrap();
    std::fs::write(dir.path().join("token"), crate::support::TOKEN).unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: 'https://127.0.0.1:{}', \
             certificate-authority: ca.crt}}}}]\nusers: [{{name: u, user: {{tokenFile: token}}}}]\n\
             contexts: [{{name: x, context: {{cluster: c, user: u, namespace: airflow}}}}]\ncurrent-context: x\n",
            cluster.emulator.addr().port()
        ),
    )
    .unwrap();
    let provider = kubernetes_provider_from(&kubeconfig).await;
    assert_eq!(provider.get_variable("my_var", None).await.unwrap().as_deref(), Some("my_secret_value"));
}

/// The Kubernetes provider with default kwargs and options, configured from `kubeconfig`.
async fn kubernetes_provider_from(kubeconfig: &std::path::Path) -> wasm_secrets::Provider {
    let config = wasm_secrets::ClusterConfig::from_kubeconfig(kubeconfig).await.unwrap();
    let options = wasm_secrets::ProviderOptions::default();
    wasm_secrets::Provider::new(crate::support::kubernetes_provider(), config, "", options).unwrap()
}

/// The wasi host functions one lookup calls, in order (`interface.function`): bindgen's `wit-bindgen import`
/// spans, which every traced WASI and wasi-http import opens (resource drops are not traced). Each is a
/// crossing of the component boundary, the largest share of a warm lookup's time (BENCHMARKS.md).
struct HostCalls(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl tracing::Subscriber for HostCalls {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        struct Names(String, String);
        impl tracing::field::Visit for Names {
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                match field.name() {
                    "module" => self.0 = value.to_owned(),
                    "function" => self.1 = value.to_owned(),
                    _ => {}
                }
            }
            fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
        }
        if span.metadata().name() == "wit-bindgen import" {
            let mut names = Names(String::new(), String::new());
            span.record(&mut names);
            self.0.lock().unwrap().push(format!("{}.{}", names.0, names.1));
        }
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// What a warm lookup costs in boundary crossings: the exact list, so a change shows (and fewer is the goal:
/// issue 14's lever "fewer boundary crossings per request"). On the test's own thread (a current-thread
/// runtime), so only this lookup's calls are seen.
#[tokio::test]
async fn a_warm_variable_lookup_makes_these_host_calls() {
    let cluster = Cluster::start().await;
    let provider = cluster.provider("");
    let mut instance = provider.instance().await.unwrap();
    let lookup = wasm_secrets::Lookup::Variable("my_var", None);
    assert_eq!(instance.lookup(lookup).await.unwrap().into_text().as_deref(), Some("my_secret_value"));
    let calls = std::sync::Arc::default();
    let guard = tracing::subscriber::set_default(HostCalls(std::sync::Arc::clone(&calls)));
    assert_eq!(instance.lookup(lookup).await.unwrap().into_text().as_deref(), Some("my_secret_value"));
    drop(guard);
    let calls = calls.lock().unwrap().clone();
    let expected = [
        "types.[static]fields.from-list",
        "types.[constructor]outgoing-request",
        "types.[method]outgoing-request.set-scheme",
        "types.[method]outgoing-request.set-authority",
        "types.[method]outgoing-request.set-path-with-query",
        // Answered in place: the future is resolved when `handle` returns, so one `get` takes the answer.
        "outgoing-handler.handle",
        "types.[method]future-incoming-response.get",
        "types.[method]incoming-response.status",
        "types.[method]incoming-response.consume",
        "types.[method]incoming-body.stream",
        "streams.[method]input-stream.blocking-read",
        "streams.[method]input-stream.blocking-read",
    ];
    assert_eq!(calls, expected, "{} host calls", calls.len());
}

/// The Kubernetes provider in a pool of `slots` slots. A process has one pool per size, so each test that
/// fills a pool uses a size of its own: tests run at once would otherwise take each other's slots.
fn kubernetes_in_pool(slots: u32) -> wasm_secrets::ProviderComponent {
    let cache = wasm_secrets::ArtifactCache::Dir(crate::cli::shared_cache_dir().into());
    let bytes = wasm_secrets_artifacts::KUBERNETES_PROVIDER;
    let pool = wasm_secrets::Allocation::Pooling { slots };
    wasm_secrets::ProviderComponent::from_bytes_with(bytes, "kubernetes", &cache, pool).unwrap()
}

/// With every slot of its pool taken, a lookup waits for one up to its timeout, then says why it failed; a slot
/// given back serves the next lookup at once.
#[tokio::test(flavor = "multi_thread")]
async fn a_full_instance_pool_makes_a_lookup_wait_then_fail_clearly() {
    use wasm_secrets::{Provider, ProviderOptions};
    let cluster = Cluster::start().await;
    let component = kubernetes_in_pool(1);
    let options = ProviderOptions { lookup_timeout: Duration::from_millis(500), ..ProviderOptions::default() };
    let provider = Provider::new(component, cluster.cluster_config(), "", options).unwrap();
    let held = provider.instance().await.unwrap();
    let started = std::time::Instant::now();
    let error = provider.get_variable("my_var", None).await.unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(500), "it waited for a slot");
    assert_eq!(
        error,
        LookupError::Timeout(
            "no instance slot became free within 500ms: the process holds more provider instances at once \
             (lookups in flight and instances kept for reuse) than its pool allows (1)"
                .to_owned()
        )
    );
    assert!(cluster.requests().is_empty(), "no request without an instance");
    drop(held);
    assert_eq!(provider.get_variable("my_var", None).await.unwrap().as_deref(), Some("my_secret_value"));
}

/// One deadline covers the whole lookup: the time spent waiting for a slot is not given again to the call.
#[tokio::test(flavor = "multi_thread")]
async fn the_lookup_timeout_covers_the_wait_for_a_slot_and_the_call() {
    use wasm_secrets::{Provider, ProviderOptions};
    let cluster = Cluster::start().await;
    let component = kubernetes_in_pool(2);
    let timeout = Duration::from_secs(2);
    let options = ProviderOptions { lookup_timeout: timeout, ..ProviderOptions::default() };
    let provider = std::sync::Arc::new(Provider::new(component, cluster.cluster_config(), "", options).unwrap());
    cluster.emulator.set_fault(Some(kube_emulator::Fault::SlowBody(Duration::from_secs(30))));
    let held = (provider.instance().await.unwrap(), provider.instance().await.unwrap());
    let started = std::time::Instant::now();
    let lookup = tokio::spawn({
        let provider = std::sync::Arc::clone(&provider);
        async move { provider.get_variable("my_var", None).await }
    });
    // The lookup waits for the slot for 1.5 s, then gets it and sends its request, whose answer is slow.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    drop(held);
    let error = lookup.await.unwrap().unwrap_err();
    let took = started.elapsed();
    assert_eq!(error, LookupError::Timeout("the lookup did not finish within 2s".to_owned()));
    assert_eq!(cluster.requests().len(), 1, "the request was sent once the slot was free");
    // With a timeout per step, the call alone would have had 2 s more (3.5 s in all).
    assert!(took >= timeout && took < Duration::from_millis(3000), "the lookup took {took:?}");
}

/// Instances kept for reuse never take more than half the pool's slots, across every provider of the process:
/// the other half stays free for lookups in flight.
#[tokio::test(flavor = "multi_thread")]
async fn idle_instances_keep_at_most_half_the_pool_across_providers() {
    use wasm_secrets::{Provider, ProviderOptions};
    let cluster = Cluster::start().await;
    let load = || kubernetes_in_pool(4);
    let reusing = ProviderOptions { reuse_instances: 4, ..ProviderOptions::default() };
    let first = Provider::new(load(), cluster.cluster_config(), "", reusing.clone()).unwrap();
    let second = Provider::new(load(), cluster.cluster_config(), "", reusing).unwrap();
    // Four lookups at once (each answer is slow, so they overlap): four instances, of which two are kept.
    cluster.emulator.set_fault(Some(kube_emulator::Fault::SlowBody(Duration::from_millis(300))));
    let four = futures_join4(&first).await;
    assert!(four.iter().all(|answer| *answer == Ok(Some("my_secret_value".to_owned()))), "{four:?}");
    cluster.emulator.set_fault(None);
    assert!(format!("{first:?}").contains("idle: 2 idle instances"), "{first:?}");
    // The other provider runs in a free slot but keeps nothing: half the pool is idle already.
    assert_eq!(second.get_variable("my_var", None).await.unwrap().as_deref(), Some("my_secret_value"));
    assert!(format!("{second:?}").contains("idle: 0 idle instances"), "{second:?}");
    // A provider that keeps nothing still finds a slot at once.
    let quick = ProviderOptions { lookup_timeout: Duration::from_secs(5), ..ProviderOptions::default() };
    let third = Provider::new(load(), cluster.cluster_config(), "", quick).unwrap();
    assert_eq!(third.get_variable("my_var", None).await.unwrap().as_deref(), Some("my_secret_value"));
    // Dropping the first provider drops its idle instances and their places: the second may keep one now.
    drop(first);
    assert_eq!(second.get_variable("my_var", None).await.unwrap().as_deref(), Some("my_secret_value"));
    assert!(format!("{second:?}").contains("idle: 1 idle instances"), "{second:?}");
}

/// Four lookups of `my_var` on `provider`, at once.
async fn futures_join4(provider: &wasm_secrets::Provider) -> Vec<Result<Option<String>, LookupError>> {
    let lookup = || provider.get_variable("my_var", None);
    let (a, b, c, d) = tokio::join!(lookup(), lookup(), lookup(), lookup());
    vec![a, b, c, d]
}
