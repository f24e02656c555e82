//! The `secrets` CLI, run in-process against the emulator: output, exit statuses, messages.

use wasm_secrets::cli::{EXIT_FOUND, EXIT_MALFORMED, EXIT_NOT_FOUND, EXIT_UPSTREAM, EXIT_USAGE, run};

use crate::support::Cluster;

struct Output {
    code: u8,
    stdout: String,
    stderr: String,
}

async fn secrets(cluster: &Cluster, args: &[&str]) -> Output {
    let sa = cluster.sa_path();
    let mut argv: Vec<String> =
        vec!["secrets".into(), "--cache-dir".into(), shared_cache_dir(), "--service-account-dir".into()];
    argv.push(sa.display().to_string());
    argv.extend(args.iter().map(|a| (*a).to_owned()));
    let env = cluster.env();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run(argv, &env, &mut out, &mut err).await;
    Output { code, stdout: String::from_utf8(out).unwrap(), stderr: String::from_utf8(err).unwrap() }
}

/// One compiled-artifact cache for the whole test run, so the CLI compiles the component once, not per test.
fn shared_cache_dir() -> String {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("cache dir")).path().display().to_string()
}

/// `airflow connections get smtp_default` (Airflow 3.3.2), from shared/fixtures/airflow-vectors.json.
const AIRFLOW_SMTP_TABLE: &str = "id   | conn_id      | conn_type | description | host             | schema | login | password | port | is_encrypted | is_extra_encrypted | extra_dejson | get_uri                                  \n=====+==============+===========+=============+==================+========+=======+==========+======+==============+====================+==============+==========================================\nNone | smtp_default | smtp      | None        | smtp.example.com |        | user  | password | 587  | False        | False              | {}           | smtp://user:password@smtp.example.com:587\n";
const AIRFLOW_SMTP_JSON: &str = "[{\"id\": null, \"conn_id\": \"smtp_default\", \"conn_type\": \"smtp\", \"description\": null, \"host\": \"smtp.example.com\", \"schema\": \"\", \"login\": \"user\", \"password\": \"password\", \"port\": \"587\", \"is_encrypted\": \"False\", \"is_extra_encrypted\": \"False\", \"extra_dejson\": {}, \"get_uri\": \"smtp://user:password@smtp.example.com:587\"}]\n";

#[tokio::test(flavor = "multi_thread")]
async fn connections_get_smtp_default_matches_airflow() {
    let cluster = Cluster::start().await;
    let out = secrets(&cluster, &["connections", "get", "smtp_default"]).await;
    assert_eq!(out.code, EXIT_FOUND, "stderr: {}", out.stderr);
    assert!(out.stdout.starts_with(AIRFLOW_SMTP_TABLE), "stdout:\n{}", out.stdout);
    assert_eq!(out.stderr, "");
    let out = secrets(&cluster, &["connections", "get", "smtp_default", "-o", "json"]).await;
    assert_eq!((out.code, out.stdout.as_str()), (EXIT_FOUND, AIRFLOW_SMTP_JSON));
}

#[tokio::test(flavor = "multi_thread")]
async fn variables_get_prints_the_value() {
    let cluster = Cluster::start().await;
    let out = secrets(&cluster, &["variables", "get", "my_var"]).await;
    assert_eq!((out.code, out.stdout.as_str(), out.stderr.as_str()), (EXIT_FOUND, "my_secret_value\n", ""));
}

#[tokio::test(flavor = "multi_thread")]
async fn not_found_exits_1_with_a_message() {
    let cluster = Cluster::start().await;
    let out = secrets(&cluster, &["variables", "get", "nope"]).await;
    assert_eq!(out.code, EXIT_NOT_FOUND);
    assert_eq!(out.stdout, "");
    assert!(out.stderr.ends_with("Variable nope does not exist\n"), "{}", out.stderr);
    let out = secrets(&cluster, &["connections", "get", "nope"]).await;
    assert_eq!(out.code, EXIT_NOT_FOUND);
    assert!(out.stderr.ends_with("Connection not found: the conn_id `nope` isn't defined\n"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn configuration_errors_exit_2() {
    let cluster = Cluster::start().await;
    let out =
        secrets(&cluster, &["--backend-kwargs", r#"{"connection_label": "x"}"#, "variables", "get", "my_var"]).await;
    assert_eq!(out.code, EXIT_USAGE);
    assert!(out.stderr.starts_with("error: invalid configuration: unknown key `connection_label`"), "{}", out.stderr);
    assert!(cluster.requests().is_empty());

    let (mut o, mut e) = (Vec::new(), Vec::new());
    let no_env = |_: &str| None;
    let code = run(["secrets", "--no-cache", "variables", "get", "x"], &no_env, &mut o, &mut e).await;
    assert_eq!(code, EXIT_USAGE);
    assert!(String::from_utf8(e).unwrap().starts_with("error: Service host/port is not set."));

    let out = secrets(&cluster, &["variables"]).await;
    assert_eq!(out.code, EXIT_USAGE, "missing subcommand is a usage error");
}

#[tokio::test(flavor = "multi_thread")]
async fn access_denied_exits_3() {
    let cluster = Cluster::start().await;
    cluster.emulator.create_namespace("kube-system");
    let out =
        secrets(&cluster, &["--backend-kwargs", r#"{"namespace": "kube-system"}"#, "variables", "get", "x"]).await;
    assert_eq!(out.code, EXIT_UPSTREAM);
    assert!(
        out.stderr.starts_with("error: access denied: the Kubernetes API answered 403 (Forbidden)"),
        "{}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_value_exits_4_without_echoing_it() {
    let cluster = Cluster::start().await;
    cluster.insert(
        "bad",
        serde_json::json!({"airflow.apache.org/connection-id": "bad"}),
        serde_json::json!({"value": crate::support::b64("mysql://u:s3cr3t/x@h:1/db")}),
    );
    let out = secrets(&cluster, &["connections", "get", "bad"]).await;
    assert_eq!(out.code, EXIT_MALFORMED, "{}", out.stderr);
    assert!(!out.stderr.contains("s3cr3t"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn help_documents_exit_statuses() {
    let (mut o, mut e) = (Vec::new(), Vec::new());
    let no_env = |_: &str| None;
    let code = run(["secrets", "--help"], &no_env, &mut o, &mut e).await;
    assert_eq!(code, EXIT_FOUND);
    let help = String::from_utf8(o).unwrap();
    for needle in
        ["connections", "variables", "config", "--backend-kwargs", "--component", "--kubeconfig", "Exit status:"]
    {
        assert!(help.contains(needle), "--help mentions {needle}:\n{help}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn compiled_component_is_cached() {
    let cluster = Cluster::start().await;
    let cache = tempfile::tempdir().unwrap();
    let cache_arg = cache.path().display().to_string();
    let sa = cluster.sa_path().display().to_string();
    let env = cluster.env();
    for _ in 0..2 {
        let (mut o, mut e) = (Vec::new(), Vec::new());
        let args = ["secrets", "--cache-dir", &cache_arg, "--service-account-dir", &sa, "variables", "get", "my_var"];
        assert_eq!(run(args, &env, &mut o, &mut e).await, EXIT_FOUND, "{}", String::from_utf8_lossy(&e));
        assert_eq!(String::from_utf8(o).unwrap(), "my_secret_value\n");
    }
    let artifacts: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".cwasm"))
        .collect();
    assert_eq!(artifacts.len(), 1, "one cached artifact: {artifacts:?}");
}
