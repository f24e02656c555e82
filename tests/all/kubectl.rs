//! The Airflow documentation's workflow, end to end: secrets created and labelled with the real `kubectl`
//! exactly as the documentation shows, then read back through the component with the `secrets` CLI. kubectl
//! (1.32 and later) sends its create bodies as Protobuf; the JSON create path is the Python client's, in the
//! emulator's conformance tests.

use kube_emulator::Access;
use wasm_secrets::cli::EXIT_FOUND;

use crate::cli::{AIRFLOW_SMTP_JSON, secrets};
use crate::support::{Cluster, NAMESPACE};

const POSTGRES_JSON: &str = r#"{"conn_type": "postgres", "host": "db.example.com", "login": "user", "password": "pass", "port": 5432, "schema": "mydb"}"#;

/// Runs the real kubectl with `kubeconfig` and an isolated `home`; fails the test when it fails.
pub(crate) async fn kubectl(home: &std::path::Path, kubeconfig: &std::path::Path, args: &[&str]) {
    let (home, kubeconfig) = (home.to_owned(), kubeconfig.to_owned());
    let owned: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = owned.iter().map(String::as_str).collect();
        kube_emulator::kubectl::run(&home, &kubeconfig, &args)
    })
    .await
    .unwrap()
    .expect("kubectl must be installed: the conformance tests fail without it");
    assert!(out.success, "kubectl {args:?} failed: {}{}", out.stdout, out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn airflow_docs_with_kubectl() {
    let cluster = Cluster::start_empty("32").await;
    cluster.emulator.add_token("kubectl-admin", Access::All);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    cluster.emulator.write_kubeconfig(&kubeconfig, "kubectl-admin", NAMESPACE).unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();

    let value_smtp = "--from-literal=value=smtp://user:password@smtp.example.com:587".to_owned();
    let value_pg = format!("--from-literal=value={POSTGRES_JSON}");
    for (name, literal, label) in [
        ("my-smtp-secret", value_smtp.as_str(), "airflow.apache.org/connection-id=smtp_default"),
        ("my-postgres-secret", value_pg.as_str(), "airflow.apache.org/connection-id=my_postgres_db"),
        ("my-var-secret", "--from-literal=value=my_secret_value", "airflow.apache.org/variable-key=my_var"),
    ] {
        kubectl(&home, &kubeconfig, &["create", "secret", "generic", name, literal, "--namespace=airflow"]).await;
        kubectl(&home, &kubeconfig, &["label", "secret", name, label, "--namespace=airflow"]).await;
    }
    let create = cluster.requests().into_iter().find(|r| r.method == "POST").expect("a create request");
    assert_eq!(create.header("content-type"), Some("application/vnd.kubernetes.protobuf"), "kubectl's create body");

    let out = secrets(&cluster, &["connections", "get", "smtp_default", "-o", "json"]).await;
    assert_eq!((out.code, out.stdout.as_str(), out.stderr.as_str()), (EXIT_FOUND, AIRFLOW_SMTP_JSON, ""));
    let out = secrets(&cluster, &["connections", "get", "my_postgres_db", "-o", "json"]).await;
    assert_eq!(out.code, EXIT_FOUND, "{}", out.stderr);
    let row = &serde_json::from_str::<serde_json::Value>(&out.stdout).unwrap()[0];
    assert_eq!(
        (&row["conn_type"], &row["host"], &row["login"], &row["password"], &row["port"], &row["schema"]),
        (&"postgres".into(), &"db.example.com".into(), &"user".into(), &"pass".into(), &"5432".into(), &"mydb".into())
    );
    assert_eq!(row["get_uri"], "postgres://user:pass@db.example.com:5432/mydb");
    let out = secrets(&cluster, &["variables", "get", "my_var"]).await;
    assert_eq!((out.code, out.stdout.as_str()), (EXIT_FOUND, "my_secret_value\n"));
}
