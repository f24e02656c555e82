//! The `secrets` CLI, run in-process against the emulator: output, exit statuses, messages.

use wasm_secrets::cli::{EXIT_FOUND, EXIT_MALFORMED, EXIT_NOT_FOUND, EXIT_UPSTREAM, EXIT_USAGE, run};

use crate::support::Cluster;

/// What a CLI run produced (shared with other test modules).
pub(crate) struct Output {
    pub(crate) code: u8,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

pub(crate) async fn secrets(cluster: &Cluster, args: &[&str]) -> Output {
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
pub(crate) fn shared_cache_dir() -> String {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("cache dir")).path().display().to_string()
}

/// `airflow connections get smtp_default` (Airflow 3.3.2), from shared/fixtures/airflow-vectors.json.
const AIRFLOW_SMTP_TABLE: &str = "id   | conn_id      | conn_type | description | host             | schema | login | password | port | is_encrypted | is_extra_encrypted | extra_dejson | get_uri                                  \n=====+==============+===========+=============+==================+========+=======+==========+======+==============+====================+==============+==========================================\nNone | smtp_default | smtp      | None        | smtp.example.com |        | user  | password | 587  | False        | False              | {}           | smtp://user:password@smtp.example.com:587\n";
pub(crate) const AIRFLOW_SMTP_JSON: &str = "[{\"id\": null, \"conn_id\": \"smtp_default\", \"conn_type\": \"smtp\", \"description\": null, \"host\": \"smtp.example.com\", \"schema\": \"\", \"login\": \"user\", \"password\": \"password\", \"port\": \"587\", \"is_encrypted\": \"False\", \"is_extra_encrypted\": \"False\", \"extra_dejson\": {}, \"get_uri\": \"smtp://user:password@smtp.example.com:587\"}]\n";

/// The recorded table ends with rich's caption `" "`, centred on the table's width (194 cells).
fn smtp_table_with_caption() -> String {
    format!("{AIRFLOW_SMTP_TABLE}{}\n", " ".repeat(194))
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_get_smtp_default_matches_airflow() {
    let cluster = Cluster::start().await;
    let out = secrets(&cluster, &["connections", "get", "smtp_default"]).await;
    assert_eq!(out.code, EXIT_FOUND, "stderr: {}", out.stderr);
    assert_eq!(out.stdout, smtp_table_with_caption(), "the whole table, with rich's blank caption line");
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
    assert!(
        out.stderr.starts_with("error: provider `kubernetes`: invalid configuration: unknown key `connection_label`"),
        "{}",
        out.stderr
    );
    assert!(cluster.requests().is_empty());

    let (mut o, mut e) = (Vec::new(), Vec::new());
    let no_env = |_: &str| None;
    let code = run(["secrets", "--no-cache", "variables", "get", "x"], &no_env, &mut o, &mut e).await;
    assert_eq!(code, EXIT_USAGE);
    // Outside a pod the Kubernetes provider cannot be set up; like Airflow's lazily created client, that fails
    // its lookups (the chain moves on to the environment, which has nothing here) instead of the command.
    let stderr = String::from_utf8(e).unwrap();
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: provider `kubernetes`: invalid configuration: Service host/port is not set."),
        "{stderr}"
    );

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
        out.stderr
            .starts_with("error: provider `kubernetes`: access denied: the Kubernetes API answered 403 (Forbidden)"),
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
    assert_eq!(artifacts.len(), 2, "one cached artifact per component of the default chain: {artifacts:?}");
}

/// `secrets connections parse ...` run in-process with `stdin`: offline, so no cluster and no environment.
async fn parse(args: &[&str], stdin: &str) -> Output {
    let mut argv = vec!["secrets", "connections", "parse"];
    argv.extend_from_slice(args);
    let no_env = |_: &str| None;
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = wasm_secrets::cli::run_with_input(argv, &no_env, &mut stdin.as_bytes(), &mut out, &mut err).await;
    Output { code, stdout: String::from_utf8(out).unwrap(), stderr: String::from_utf8(err).unwrap() }
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_parse_prints_what_get_would_print() {
    let value = "smtp://user:password@smtp.example.com:587";
    let out = parse(&["--conn-id", "smtp_default", "-o", "json", value], "").await;
    assert_eq!((out.code, out.stdout.as_str(), out.stderr.as_str()), (EXIT_FOUND, AIRFLOW_SMTP_JSON, ""));
    let out = parse(&["--conn-id", "smtp_default", "-"], &format!("{value}\n")).await;
    assert_eq!(out.code, EXIT_FOUND, "{}", out.stderr);
    assert_eq!(out.stdout, smtp_table_with_caption());
    let out = parse(&["-o", "plain"], value).await;
    assert_eq!(
        out.stdout,
        "id    conn_id    conn_type    description    host              schema    login    password      port  is_encrypted    is_extra_encrypted    extra_dejson    get_uri\n      <parsed>   smtp                        smtp.example.com            user     password       587  False           False                 {}              smtp://user:password@smtp.example.com:587\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_parse_dialect_changes_get_uri() {
    let value = "postgres://u:p@h/db?n=1";
    let server = parse(&["-o", "yaml", value], "").await;
    assert_eq!(server.code, EXIT_FOUND);
    assert!(
        server.stdout.contains("  get_uri: postgres://u:p@h/db?__extra__=%7B%22n%22%3A+1%7D\n"),
        "{}",
        server.stdout
    );
    assert!(server.stdout.contains("  extra_dejson:\n    n: '1'\n"), "{}", server.stdout);
    let worker = parse(&["--dialect", "worker", "-o", "yaml", value], "").await;
    assert!(worker.stdout.contains("  get_uri: postgres://u:p@h/db?n=1\n"), "{}", worker.stdout);
    let from_kwargs = parse(&["--backend-kwargs", r#"{"dialect": "worker"}"#, "-o", "yaml", value], "").await;
    assert_eq!(from_kwargs.stdout, worker.stdout);
    let bad = parse(&["--dialect", "both", value], "").await;
    assert_eq!(bad.code, EXIT_USAGE);
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_parse_rejects_malformed_values_without_echoing_them() {
    for (value, message) in [
        (
            "mysql://u:s3cr3t/x@h:1/db",
            "error: invalid connection value (server dialect): the port in the connection URI is not an integer\n",
        ),
        (
            "   \n",
            "error: invalid connection value (server dialect): the connection value is empty or contains only whitespace\n",
        ),
        (
            r#"{"password": "s3cr3t", "port": "x"}"#,
            "error: invalid connection value (server dialect): the `port` field of the connection JSON is not an integer\n",
        ),
    ] {
        let out = parse(&[], value).await;
        assert_eq!((out.code, out.stdout.as_str(), out.stderr.as_str()), (EXIT_MALFORMED, "", message));
    }
    let out = parse(&["--dialect", "worker", "a://b:c://d@e://f"], "").await;
    assert_eq!(out.code, EXIT_MALFORMED);
    assert_eq!(
        out.stderr,
        "error: invalid connection value (worker dialect): invalid connection URI: more than two `://` separators\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dialect_option_reaches_the_provider() {
    let cluster = Cluster::start().await;
    cluster.insert(
        "q",
        serde_json::json!({"airflow.apache.org/connection-id": "q"}),
        serde_json::json!({"value": crate::support::b64("postgres://u:p@h/db?n=1")}),
    );
    let out = secrets(&cluster, &["--dialect", "worker", "connections", "get", "q", "-o", "json"]).await;
    assert_eq!(out.code, EXIT_FOUND, "{}", out.stderr);
    assert!(
        out.stdout.contains(r#""extra_dejson": {"n": "1"}, "get_uri": "postgres://u:p@h/db?n=1"}]"#),
        "{}",
        out.stdout
    );
    let out = secrets(&cluster, &["--backend-kwargs", r#"{"dialect": "client"}"#, "connections", "get", "q"]).await;
    assert_eq!(out.code, EXIT_USAGE);
    assert_eq!(
        out.stderr,
        "error: provider `kubernetes`: invalid configuration: `dialect` in backend_kwargs must be \"server\" or \"worker\", got another string\n"
    );
}

/// Files that hold credentials (a kubeconfig, the host configuration with backend_kwargs) are never quoted in
/// an error: a syntax error next to a credential names the file, the place and the problem only.
#[tokio::test(flavor = "multi_thread")]
async fn parse_errors_never_quote_a_credential() {
    const CANARY: &str = "canary-credential-4f2a9";
    let cluster = Cluster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    token: {CANARY}\n    bad: [unclosed\n\
             contexts: []\n"
        ),
    )
    .unwrap();
    let config = dir.path().join("secrets.toml");
    std::fs::write(
        &config,
        format!(
            "[[providers]]\nname = \"k\"\ncomponent = \"builtin:kubernetes\"\n\
             backend_kwargs = {{ namespace = \"airflow\", password = \"{CANARY}\" bad\n"
        ),
    )
    .unwrap();
    let typed = dir.path().join("typed.toml");
    std::fs::write(
        &typed,
        format!("[[providers]]\nname = \"k\"\ncomponent = \"builtin:kubernetes\"\nreuse_instances = \"{CANARY}\"\n"),
    )
    .unwrap();
    for args in [
        vec!["--kubeconfig", kubeconfig.to_str().unwrap(), "variables", "get", "x"],
        vec!["--config", config.to_str().unwrap(), "variables", "get", "x"],
        vec!["--config", typed.to_str().unwrap(), "variables", "get", "x"],
        vec!["--config", config.to_str().unwrap(), "providers", "list"],
    ] {
        let out = secrets(&cluster, &args).await;
        assert_eq!(out.code, EXIT_USAGE, "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains(CANARY) && !out.stdout.contains(CANARY), "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains("line "), "{args:?}: the place is named: {}", out.stderr);
    }
}

/// `--timeout` is bounded (1 s to a day): 0 and values that would overflow a deadline are usage errors.
#[tokio::test(flavor = "multi_thread")]
async fn the_timeout_is_bounded() {
    let cluster = Cluster::start().await;
    for timeout in ["0", "86401", "18446744073709551615"] {
        let out = secrets(&cluster, &["--timeout", timeout, "variables", "get", "my_var"]).await;
        assert_eq!(out.code, EXIT_USAGE, "{timeout}: {}", out.stderr);
        assert!(out.stderr.contains("--timeout"), "{timeout}: {}", out.stderr);
    }
    let out = secrets(&cluster, &["--timeout", "86400", "variables", "get", "my_var"]).await;
    assert_eq!((out.code, out.stdout.as_str()), (EXIT_FOUND, "my_secret_value\n"), "{}", out.stderr);
}
