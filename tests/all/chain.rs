//! The provider chain and the cache, configured by a host configuration file, against the emulator: swapping
//! a provider by editing the file, Airflow's precedence rules, and the API requests the cache saves.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use kube_emulator::{Access, Fault};
use serde_json::json;
use wasm_secrets::cli::{EXIT_FOUND, EXIT_NOT_FOUND, EXIT_UPSTREAM, EXIT_USAGE, FixedEnvironment, run};
use wasm_secrets::setup::OpenContext;
use wasm_secrets::state::LogLevel;
use wasm_secrets::{ArtifactCache, Chain, ChainError, ChainSpec, LookupError, ProviderOptions};

use crate::cli::{Output, shared_cache_dir};
use crate::support::{Cluster, NAMESPACE, TOKEN, b64};

const MY_VAR_QUERY: &str =
    "labelSelector=airflow.apache.org%2Fvariable-key%3Dmy_var%2C%21airflow.apache.org%2Fteam&resourceVersion=0";

/// The `[[providers]]` entry of the built-in Kubernetes provider pointed at `cluster`.
pub(crate) fn kubernetes_entry(cluster: &Cluster, name: &str) -> String {
    format!(
        "[[providers]]\nname = \"{name}\"\ncomponent = \"builtin:kubernetes\"\nkubernetes = {{ service_account_dir = \"{}\" }}\n",
        cluster.sa_path().display()
    )
}

pub(crate) const ENVIRONMENT_ENTRY: &str =
    "[[providers]]\nname = \"environment\"\ncomponent = \"builtin:environment\"\n";

/// The pod's environment plus `vars`.
fn environment(cluster: &Cluster, vars: &[(&str, &str)]) -> FixedEnvironment {
    let port = cluster.emulator.addr().port().to_string();
    let mut all = vec![
        ("KUBERNETES_SERVICE_HOST".to_owned(), "127.0.0.1".to_owned()),
        ("KUBERNETES_SERVICE_PORT".to_owned(), port),
        ("HOME".to_owned(), "/nonexistent".to_owned()),
    ];
    all.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    FixedEnvironment(all)
}

/// Opens the chain `toml` describes, with `vars` in the environment; log records go to `cluster.logs`.
pub(crate) async fn open(cluster: &Cluster, toml: &str, vars: &[(&str, &str)]) -> Chain {
    let spec = ChainSpec::parse(toml, Path::new("test.toml")).expect("valid host configuration");
    let env = environment(cluster, vars);
    let env_fn = |k: &str| wasm_secrets::cli::Environment::var(&env, k);
    let logs = Arc::clone(&cluster.logs);
    let options = ProviderOptions {
        log: Arc::new(move |level, message| logs.lock().expect("log lock").push((level, message.to_owned()))),
        ..ProviderOptions::default()
    };
    let ctx = OpenContext {
        artifacts: ArtifactCache::Dir(shared_cache_dir().into()),
        env: &env_fn,
        env_vars: wasm_secrets::cli::Environment::vars(&env),
        options,
    };
    spec.open(&ctx).await.expect("the chain opens")
}

/// `secrets` in the pod's environment plus `vars`: with `--config config`, else Airflow's default chain
/// (the Kubernetes provider with the cluster's service account, then the environment).
pub(crate) async fn secrets(cluster: &Cluster, config: Option<&Path>, args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut argv = vec!["secrets".to_owned(), "--cache-dir".to_owned(), shared_cache_dir()];
    match config {
        Some(path) => argv.extend(["--config".to_owned(), path.display().to_string()]),
        None => argv.extend(["--service-account-dir".to_owned(), cluster.sa_path().display().to_string()]),
    }
    argv.extend(args.iter().map(|a| (*a).to_owned()));
    let env = environment(cluster, vars);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run(argv, &env, &mut out, &mut err).await;
    Output { code, stdout: String::from_utf8(out).unwrap(), stderr: String::from_utf8(err).unwrap() }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_is_swapped_by_editing_only_the_config_file() {
    let cluster = Cluster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("secrets.toml");
    let vars = [("AIRFLOW_VAR_MY_VAR", "from-the-environment")];

    // A component given by path, exactly as an operator would swap in their own build.
    std::fs::write(
        &config,
        format!(
            "[[providers]]\nname = \"store\"\ncomponent = \"{}\"\nkubernetes = {{ service_account_dir = \"{}\" }}\n",
            wasm_secrets_artifacts::KUBERNETES_PROVIDER_PATH,
            cluster.sa_path().display()
        ),
    )
    .unwrap();
    let first = secrets(&cluster, Some(&config), &["variables", "get", "my_var"], &vars).await;
    assert_eq!((first.code, first.stdout.as_str(), first.stderr.as_str()), (EXIT_FOUND, "my_secret_value\n", ""));
    assert_eq!(cluster.requests().len(), 1);

    std::fs::write(
        &config,
        format!(
            "[[providers]]\nname = \"store\"\ncomponent = \"{}\"\nenv_prefixes = [\"AIRFLOW_VAR_\"]\n",
            wasm_secrets_artifacts::ENVIRONMENT_PROVIDER_PATH
        ),
    )
    .unwrap();
    let second = secrets(&cluster, Some(&config), &["variables", "get", "my_var"], &vars).await;
    assert_eq!(
        (second.code, second.stdout.as_str(), second.stderr.as_str()),
        (EXIT_FOUND, "from-the-environment\n", "")
    );
    assert_eq!(cluster.requests().len(), 1, "the environment provider sent nothing to the API server");

    let listed = secrets(&cluster, Some(&config), &["providers", "list"], &[]).await;
    assert_eq!(listed.code, EXIT_FOUND);
    assert_eq!(
        listed.stdout,
        format!(
            "Providers, in lookup order:\n  1. store  {}\n       kwargs: (none: defaults)\n       kubernetes API: not granted\n       environment: AIRFLOW_VAR_*\n       files: not granted\nCache: off\n",
            wasm_secrets_artifacts::ENVIRONMENT_PROVIDER_PATH
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_first_provider_that_finds_a_value_wins_in_the_configured_order() {
    let cluster = Cluster::start().await;
    let vars = [("AIRFLOW_VAR_MY_VAR", "env-value"), ("AIRFLOW_VAR_ONLY_IN_ENV", "env-only")];

    let kubernetes_first =
        open(&cluster, &format!("{}{ENVIRONMENT_ENTRY}", kubernetes_entry(&cluster, "k8s")), &vars).await;
    assert_eq!(kubernetes_first.get_variable("my_var", None).await.unwrap().as_deref(), Some("my_secret_value"));
    // Not found in Kubernetes (one request), then found in the environment.
    cluster.emulator.clear_requests();
    assert_eq!(kubernetes_first.get_variable("only_in_env", None).await.unwrap().as_deref(), Some("env-only"));
    assert_eq!(cluster.requests().len(), 1);
    assert_eq!(kubernetes_first.get_variable("nowhere", None).await.unwrap(), None);

    let environment_first =
        open(&cluster, &format!("{ENVIRONMENT_ENTRY}{}", kubernetes_entry(&cluster, "k8s")), &vars).await;
    cluster.emulator.clear_requests();
    assert_eq!(environment_first.get_variable("my_var", None).await.unwrap().as_deref(), Some("env-value"));
    assert!(cluster.requests().is_empty(), "the environment answered first: {:?}", cluster.requests());
    // Airflow's own "not found" warnings from the Kubernetes provider; a miss is not an error to report.
    let logs: Vec<String> = cluster.logs().into_iter().map(|(_, m)| m).collect();
    assert_eq!(
        logs,
        ["only_in_env", "nowhere"].map(|k| format!(
            "No secret found with label airflow.apache.org/variable-key={k},!airflow.apache.org/team in namespace airflow."
        ))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_connection_value_falls_through_but_an_empty_variable_is_found() {
    let cluster = Cluster::start().await;
    cluster.insert("c", json!({"airflow.apache.org/connection-id": "blank"}), json!({"value": ""}));
    cluster.insert("v", json!({"airflow.apache.org/variable-key": "blank"}), json!({"value": ""}));
    let vars = [("AIRFLOW_CONN_BLANK", "http://env-host"), ("AIRFLOW_VAR_BLANK", "env")];
    let chain = open(&cluster, &format!("{}{ENVIRONMENT_ENTRY}", kubernetes_entry(&cluster, "k8s")), &vars).await;
    let conn = chain.get_connection("blank", None).await.unwrap().expect("found in the environment");
    assert_eq!(conn.host.as_deref(), Some("env-host"));
    assert_eq!(chain.get_variable("blank", None).await.unwrap().as_deref(), Some(""), "Airflow: `is not None`");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_error_is_logged_and_the_next_provider_is_asked() {
    let cluster = Cluster::start().await;
    let vars = [("AIRFLOW_VAR_MY_VAR", "env-value")];
    let chain = open(&cluster, &format!("{}{ENVIRONMENT_ENTRY}", kubernetes_entry(&cluster, "k8s")), &vars).await;
    cluster.emulator.set_fault(Some(Fault::Status(503)));
    assert_eq!(chain.get_variable("my_var", None).await.unwrap().as_deref(), Some("env-value"));
    let logs = cluster.logs();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(logs[0].0, LogLevel::Warning);
    assert!(
        logs[0].1.starts_with("provider `k8s` could not look up variable `my_var` (unavailable): "),
        "{}",
        logs[0].1
    );
    assert!(logs[0].1.ends_with("; trying the next provider"), "{}", logs[0].1);
    assert!(!logs[0].1.contains("env-value") && !logs[0].1.contains("my_secret_value"));

    // Strict (the CLI): not found anywhere after a failure reports the failure.
    let strict =
        open(&cluster, &format!("{}{ENVIRONMENT_ENTRY}", kubernetes_entry(&cluster, "k8s")), &[]).await.strict(true);
    let err = strict.get_variable("my_var", None).await.unwrap_err();
    assert_eq!(err.provider, "k8s");
    assert!(matches!(err.error, LookupError::Unavailable(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn access_denied_stops_the_chain() {
    let cluster = Cluster::start().await;
    cluster.emulator.add_token(TOKEN, Access::Nothing);
    let vars = [("AIRFLOW_VAR_MY_VAR", "env-value"), ("AIRFLOW_CONN_SMTP_DEFAULT", "smtp://env")];
    let chain = open(&cluster, &format!("{}{ENVIRONMENT_ENTRY}", kubernetes_entry(&cluster, "k8s")), &vars).await;
    let err: ChainError = chain.get_variable("my_var", None).await.unwrap_err();
    assert_eq!(err.provider, "k8s");
    assert!(matches!(err.error, LookupError::AccessDenied(_)), "{err}");
    let err = chain.get_connection("smtp_default", None).await.unwrap_err();
    assert!(matches!(err.error, LookupError::AccessDenied(_)), "{err}");
    assert!(cluster.logs().is_empty(), "nothing fell through: {:?}", cluster.logs());

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("secrets.toml");
    std::fs::write(&config, format!("{}{ENVIRONMENT_ENTRY}", kubernetes_entry(&cluster, "k8s"))).unwrap();
    let out = secrets(&cluster, Some(&config), &["variables", "get", "my_var"], &vars).await;
    assert_eq!(out.code, EXIT_UPSTREAM);
    assert!(out.stderr.starts_with("error: provider `k8s`: access denied: "), "{}", out.stderr);
    assert_eq!(out.stdout, "");
}

pub(crate) fn cached(cluster: &Cluster, ttl_seconds: u64) -> String {
    format!("[cache]\nenabled = true\nttl_seconds = {ttl_seconds}\n{}", kubernetes_entry(cluster, "k8s"))
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_cache_on_a_thousand_lookups_send_one_request() {
    let cluster = Cluster::start().await;
    let chain = open(&cluster, &cached(&cluster, 900), &[]).await;
    for _ in 0..1000 {
        assert_eq!(chain.get_variable("my_var", None).await.unwrap().as_deref(), Some("my_secret_value"));
    }
    let requests = cluster.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, format!("/api/v1/namespaces/{NAMESPACE}/secrets"));
    assert_eq!(requests[0].query.as_deref(), Some(MY_VAR_QUERY));

    // Connections are cached as parsed: a hit is exactly the miss.
    let first = chain.get_connection("smtp_default", None).await.unwrap();
    for _ in 0..99 {
        assert_eq!(chain.get_connection("smtp_default", None).await.unwrap(), first);
    }
    assert_eq!(cluster.requests().len(), 2);

    // Invalidation forces the next lookup to the API.
    chain.cache().expect("enabled").clear();
    chain.get_variable("my_var", None).await.unwrap();
    assert_eq!(cluster.requests().len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_concurrent_first_lookups_send_one_request() {
    let cluster = Cluster::start().await;
    let chain = Arc::new(open(&cluster, &cached(&cluster, 900), &[]).await);
    // Slow answers make sure every lookup starts while the first is still in flight.
    cluster.emulator.set_fault(Some(Fault::Latency(Duration::from_millis(300))));
    let lookups: Vec<_> = (0..50)
        .map(|_| {
            let chain = Arc::clone(&chain);
            tokio::spawn(async move { chain.get_connection("smtp_default", None).await })
        })
        .collect();
    for lookup in lookups {
        let conn = lookup.await.unwrap().unwrap().expect("found");
        assert_eq!(conn.host.as_deref(), Some("smtp.example.com"));
    }
    assert_eq!(cluster.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_entry_is_fetched_again_and_a_changed_secret_is_seen_after_the_ttl() {
    let cluster = Cluster::start().await;
    cluster.insert("rot", json!({"airflow.apache.org/variable-key": "rotating"}), json!({"value": b64("v1")}));
    let chain = open(&cluster, &cached(&cluster, 1), &[]).await;
    assert_eq!(chain.get_variable("rotating", None).await.unwrap().as_deref(), Some("v1"));
    cluster.emulator.patch_secret(NAMESPACE, "rot", &json!({"data": {"value": b64("v2")}})).expect("patch");
    assert_eq!(chain.get_variable("rotating", None).await.unwrap().as_deref(), Some("v1"), "within the TTL");
    assert_eq!(cluster.requests().len(), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(chain.get_variable("rotating", None).await.unwrap().as_deref(), Some("v2"), "after the TTL");
    assert_eq!(cluster.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn not_found_is_cached_for_variables_but_not_for_connections() {
    let cluster = Cluster::start().await;
    let chain = open(&cluster, &cached(&cluster, 900), &[]).await;
    for _ in 0..5 {
        assert_eq!(chain.get_variable("missing", None).await.unwrap(), None);
        assert_eq!(chain.get_connection("missing", None).await.unwrap(), None);
    }
    assert_eq!(cluster.requests().len(), 1 + 5, "one variable request, five connection requests");
}

/// The default chain's environment provider follows Airflow's `[core] multi_team` switch from the environment
/// (`AIRFLOW__CORE__MULTI_TEAM`): on, an id holding `___` (a team-scoped name) is never looked up there.
#[tokio::test(flavor = "multi_thread")]
async fn the_default_chain_takes_the_multi_team_switch_from_the_environment() {
    let cluster = Cluster::start().await;
    let var = ("AIRFLOW_VAR_BLUE___DB", "team-value");
    let out = secrets(&cluster, None, &["variables", "get", "blue___db"], &[var]).await;
    assert_eq!((out.code, out.stdout.as_str()), (EXIT_FOUND, "team-value\n"), "off by default: {}", out.stderr);
    for on in ["True", "1", "t # comment"] {
        let out =
            secrets(&cluster, None, &["variables", "get", "blue___db"], &[var, ("AIRFLOW__CORE__MULTI_TEAM", on)])
                .await;
        assert_eq!((out.code, out.stdout.as_str()), (EXIT_NOT_FOUND, ""), "{on}: {}", out.stderr);
    }
    let out =
        secrets(&cluster, None, &["variables", "get", "blue___db"], &[var, ("AIRFLOW__CORE__MULTI_TEAM", "yes")]).await;
    assert_eq!(out.code, EXIT_USAGE, "{}", out.stderr);
    assert!(out.stderr.contains("AIRFLOW__CORE__MULTI_TEAM must be true or false"), "{}", out.stderr);
}

/// An outage hides nothing once it is over: "not found" reached because a provider failed (the default,
/// non-strict chain falls through then) is not cached, even for variables, whose "not found" is.
#[tokio::test(flavor = "multi_thread")]
async fn an_outage_is_not_cached_as_not_found() {
    let cluster = Cluster::start().await;
    let chain = open(&cluster, &cached(&cluster, 900), &[]).await;
    cluster.emulator.set_fault(Some(Fault::Status(503)));
    assert_eq!(chain.get_variable("my_var", None).await.unwrap(), None, "the outage: not found, logged");
    cluster.emulator.set_fault(None);
    assert_eq!(chain.get_variable("my_var", None).await.unwrap().as_deref(), Some("my_secret_value"));
    assert_eq!(chain.get_variable("my_var", None).await.unwrap().as_deref(), Some("my_secret_value"));
    assert_eq!(cluster.requests().len(), 2, "the outage's answer was not kept; the real one is");
}

#[tokio::test(flavor = "multi_thread")]
async fn local_files_answer_behind_kubernetes_and_ungranted_files_are_refused() {
    let cluster = Cluster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let connections = dir.path().join("connections.yaml");
    let variables = dir.path().join("variables.env");
    std::fs::write(
        &connections,
        "warehouse:\n  conn_type: postgres\n  host: wh.example.com\n  login: etl\n  password: s3cr3t\n  port: 5432\n\
         smtp_default: smtp://file-user:x@file-host:25\n",
    )
    .unwrap();
    std::fs::write(&variables, "# dev overrides\nregion=eu-west-1\nmy_var=from-file\n").unwrap();
    let files_entry = format!(
        "[[providers]]\nname = \"files\"\ncomponent = \"builtin:local-files\"\n\
         backend_kwargs = {{ connections_file_path = \"{}\", variables_file_path = \"{}\" }}\n",
        connections.display(),
        variables.display()
    );
    let chain = open(&cluster, &format!("{}{files_entry}", kubernetes_entry(&cluster, "k8s")), &[]).await;
    let warehouse = chain.get_connection("warehouse", None).await.unwrap().expect("from the file");
    assert_eq!(
        (warehouse.conn_type.as_deref(), warehouse.host.as_deref(), warehouse.port),
        (Some("postgres"), Some("wh.example.com"), Some(5432))
    );
    assert_eq!(chain.get_variable("region", None).await.unwrap().as_deref(), Some("eu-west-1"));
    // Kubernetes comes first: its smtp_default and my_var win over the files'.
    let smtp = chain.get_connection("smtp_default", None).await.unwrap().expect("found");
    assert_eq!(smtp.host.as_deref(), Some("smtp.example.com"));
    assert_eq!(chain.get_variable("my_var", None).await.unwrap().as_deref(), Some("my_secret_value"));

    // A custom entry that names the file in its kwargs but is granted no file is refused by the host.
    let ungranted = format!("{files_entry}files = []\n");
    let chain = open(&cluster, &ungranted, &[]).await;
    let logs_before = cluster.logs().len();
    assert_eq!(chain.get_variable("region", None).await.unwrap(), None);
    let logs = cluster.logs();
    assert_eq!(logs.len(), logs_before + 1, "{logs:?}");
    let warning = &logs[logs_before].1;
    assert!(
        warning.starts_with("provider `files` could not look up variable `region` (denied-by-host): "),
        "{warning}"
    );
    assert!(!warning.contains("eu-west-1"), "{warning}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_default_chain_is_kubernetes_then_the_environment() {
    let cluster = Cluster::start().await;
    let listed = secrets(&cluster, None, &["providers", "list"], &[]).await;
    assert_eq!(listed.code, EXIT_FOUND);
    assert_eq!(
        listed.stdout,
        format!(
            "Providers, in lookup order:\n  1. kubernetes  builtin:kubernetes\n       kwargs: (none: defaults)\n       \
             kubernetes API: in-cluster (service account {})\n       environment: not granted\n       files: not granted\n  \
             2. environment  builtin:environment\n       kwargs: (none: defaults)\n       kubernetes API: not granted\n       \
             environment: AIRFLOW_CONN_*, AIRFLOW_VAR_*, _FSEC_*\n       files: not granted\nCache: off\n",
            cluster.sa_path().display()
        )
    );
    assert!(cluster.requests().is_empty(), "listing contacts nothing");

    let vars = [("AIRFLOW_CONN_ENV_ONLY", "mysql://env-host/db")];
    let out = secrets(&cluster, None, &["connections", "get", "env_only", "-o", "json"], &vars).await;
    assert_eq!(out.code, EXIT_FOUND, "{}", out.stderr);
    assert!(out.stdout.contains(r#""host": "env-host""#), "{}", out.stdout);
    assert_eq!(
        out.stderr,
        "[WARNING] No secret found with label airflow.apache.org/connection-id=env_only,!airflow.apache.org/team in namespace airflow.\n",
        "provider log records go to the CLI's error stream"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn flyte_secrets_come_from_a_named_secret_or_the_environment() {
    let cluster = Cluster::start().await;
    cluster
        .emulator
        .insert_secret(NAMESPACE, json!({"metadata": {"name": "user-info"}, "data": {"user_secret": b64("k8s-value")}}))
        .unwrap();
    let out = secrets(&cluster, None, &["flyte-secrets", "get", "user-info", "user_secret"], &[]).await;
    assert_eq!((out.code, out.stdout.as_str(), out.stderr.as_str()), (EXIT_FOUND, "k8s-value\n", ""));
    let requests = cluster.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, format!("/api/v1/namespaces/{NAMESPACE}/secrets/user-info"));
    assert_eq!(requests[0].query, None);

    let vars = [("_FSEC_OTHER-GROUP_API_KEY", "env-value")];
    let out = secrets(&cluster, None, &["flyte-secrets", "get", "other-group", "api_key"], &vars).await;
    assert_eq!((out.code, out.stdout.as_str(), out.stderr.as_str()), (EXIT_FOUND, "env-value\n", ""));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_reports_a_failure_instead_of_not_found() {
    let cluster = Cluster::start().await;
    cluster.emulator.set_fault(Some(Fault::Status(503)));
    let out = secrets(&cluster, None, &["variables", "get", "my_var"], &[]).await;
    assert_eq!(out.code, EXIT_UPSTREAM, "{}", out.stderr);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stderr);
    assert!(
        lines[0].starts_with("[WARNING] provider `kubernetes` could not look up variable `my_var` (unavailable): "),
        "{}",
        lines[0]
    );
    assert!(lines[1].starts_with("error: provider `kubernetes`: secret store unavailable: "), "{}", lines[1]);
    // Found in the environment: the failure is only a warning.
    let out = secrets(&cluster, None, &["variables", "get", "my_var"], &[("AIRFLOW_VAR_MY_VAR", "env")]).await;
    assert_eq!((out.code, out.stdout.as_str()), (EXIT_FOUND, "env\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn outside_a_cluster_the_environment_still_answers_like_airflow() {
    let vars = FixedEnvironment(vec![("AIRFLOW_VAR_REGION".to_owned(), "eu-west-1".to_owned())]);
    let args = ["secrets", "--cache-dir", &shared_cache_dir(), "variables", "get", "region"].map(str::to_owned);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run(args, &vars, &mut out, &mut err).await;
    let (stdout, stderr) = (String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap());
    assert_eq!((code, stdout.as_str()), (EXIT_FOUND, "eu-west-1\n"), "{stderr}");
    assert!(
        stderr.starts_with(
            "[WARNING] provider `kubernetes` could not look up variable `region` (invalid-configuration): \
             invalid configuration: Service host/port is not set."
        ),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn single_backend_flags_that_the_config_file_replaces_are_refused_with_it() {
    let no_env = |_: &str| None;
    for flag in ["--component", "--kubeconfig"] {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let args = ["secrets", "--config", "secrets.toml", flag, "x", "variables", "get", "v"];
        assert_eq!(run(args, &no_env, &mut out, &mut err).await, wasm_secrets::cli::EXIT_USAGE);
        let stderr = String::from_utf8(err).unwrap();
        assert!(stderr.contains("cannot be used with"), "{flag}: {stderr}");
    }
}

/// Metrics and the audit log follow every lookup: where the answer came from (cache, which provider), how it
/// ended, the API server's statuses; and neither ever shows a value.
/// A lookup its caller stops waiting for still gets an audit line, `cancelled`, with the caller's name.
#[tokio::test(flavor = "multi_thread")]
async fn a_lookup_dropped_before_its_answer_is_audited_as_cancelled() {
    let cluster = Cluster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let audit_path = dir.path().join("audit.jsonl");
    let audit = Arc::new(wasm_secrets::audit::AuditLog::open(&audit_path).unwrap());
    let chain = open(&cluster, &kubernetes_entry(&cluster, "k8s"), &[]).await.with_audit(audit);
    cluster.emulator.set_fault(Some(Fault::Latency(Duration::from_secs(5))));
    let lookup = chain.lookup_as(Some("task-9"), wasm_secrets::Lookup::Variable("my_var", Some("blue")));
    assert!(tokio::time::timeout(Duration::from_millis(300), lookup).await.is_err(), "the caller stopped waiting");
    cluster.emulator.set_fault(None);
    let text = std::fs::read_to_string(&audit_path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    let record: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(
        (&record["caller"], &record["id"], &record["team"], &record["outcome"], &record["provider"]),
        (&json!("task-9"), &json!("my_var"), &json!("blue"), &json!("cancelled"), &json!(null))
    );
    assert!(!text.contains("my_secret_value"));
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_and_the_audit_log_count_every_lookup_and_show_no_value() {
    let cluster = Cluster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let audit_path = dir.path().join("audit.jsonl");
    let audit = Arc::new(wasm_secrets::audit::AuditLog::open(&audit_path).unwrap());
    let env_value = "postgres://user:env-pass-77@db.example.com/app";
    let config = format!("{}{ENVIRONMENT_ENTRY}", cached(&cluster, 900));
    let chain = open(&cluster, &config, &[("AIRFLOW_CONN_ENV_CONN", env_value)]).await.with_metrics().with_audit(audit);

    for _ in 0..3 {
        assert_eq!(chain.get_variable("my_var", None).await.unwrap().as_deref(), Some("my_secret_value"));
    }
    for _ in 0..2 {
        assert_eq!(chain.get_variable("missing", None).await.unwrap(), None);
    }
    assert_eq!(chain.get_conn_value("env_conn", None).await.unwrap().as_deref(), Some(env_value));
    cluster.emulator.set_fault(Some(Fault::Status(503)));
    assert_eq!(chain.get_connection("smtp_default", None).await.unwrap(), None, "falls through the outage");
    cluster.emulator.set_fault(Some(Fault::Status(403)));
    let denied = chain.lookup_as(Some("task-7"), wasm_secrets::Lookup::Variable("other", Some("blue"))).await;
    assert!(
        matches!(denied, Err(ChainError { ref provider, error: LookupError::AccessDenied(_) }) if provider == "k8s")
    );
    cluster.emulator.set_fault(None);

    let text = chain.render_metrics().expect("metrics are on");
    let lines: Vec<&str> = text.lines().collect();
    let requests = cluster.requests().len();
    for expected in [
        "wasm_secrets_lookups_total{kind=\"variable\",outcome=\"found\"} 3",
        "wasm_secrets_lookups_total{kind=\"variable\",outcome=\"not_found\"} 2",
        "wasm_secrets_lookups_total{kind=\"variable\",outcome=\"error\"} 1",
        "wasm_secrets_lookups_total{kind=\"connection\",outcome=\"found\"} 1",
        "wasm_secrets_lookups_total{kind=\"connection\",outcome=\"not_found\"} 1",
        "wasm_secrets_lookup_duration_seconds_count{kind=\"variable\"} 6",
        "wasm_secrets_lookup_duration_seconds_count{kind=\"connection\"} 2",
        "wasm_secrets_cache_lookups_total{kind=\"variable\",result=\"hit\"} 3",
        "wasm_secrets_cache_lookups_total{kind=\"variable\",result=\"miss\"} 3",
        "wasm_secrets_cache_lookups_total{kind=\"connection\",result=\"miss\"} 2",
        "wasm_secrets_provider_answers_total{provider=\"k8s\",kind=\"variable\",outcome=\"found\"} 1",
        "wasm_secrets_provider_answers_total{provider=\"k8s\",kind=\"variable\",outcome=\"not_found\"} 1",
        "wasm_secrets_provider_answers_total{provider=\"environment\",kind=\"variable\",outcome=\"not_found\"} 1",
        "wasm_secrets_provider_answers_total{provider=\"k8s\",kind=\"connection\",outcome=\"not_found\"} 1",
        "wasm_secrets_provider_answers_total{provider=\"environment\",kind=\"connection\",outcome=\"found\"} 1",
        "wasm_secrets_provider_answers_total{provider=\"environment\",kind=\"connection\",outcome=\"not_found\"} 1",
        "wasm_secrets_provider_errors_total{provider=\"k8s\",kind=\"connection\",error=\"unavailable\"} 1",
        "wasm_secrets_provider_errors_total{provider=\"k8s\",kind=\"variable\",error=\"access-denied\"} 1",
        "wasm_secrets_api_requests_total{provider=\"k8s\",status=\"200\"} 3",
        "wasm_secrets_api_requests_total{provider=\"k8s\",status=\"403\"} 1",
        "wasm_secrets_audit_failures_total 0",
    ] {
        assert!(lines.contains(&expected), "missing `{expected}` in:\n{text}");
    }
    let by_status: u64 = lines
        .iter()
        .filter(|l| l.starts_with("wasm_secrets_api_requests_total{provider=\"k8s\""))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(by_status, u64::try_from(requests).unwrap(), "every request the emulator received, by status");

    let audit = std::fs::read_to_string(&audit_path).unwrap();
    let records: Vec<serde_json::Value> = audit.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let summary: Vec<_> = records
        .iter()
        .map(|r| {
            let s = |f: &str| r[f].as_str().map(str::to_owned);
            (s("kind"), s("id"), s("team"), s("provider"), r["cached"].as_bool(), s("outcome"), s("error"), s("caller"))
        })
        .collect();
    let row = |kind: &str,
               id: &str,
               team: Option<&str>,
               provider: &str,
               cached: bool,
               outcome: &str,
               error: Option<&str>| {
        let o = |s: &str| Some(s.to_owned());
        (o(kind), o(id), team.map(str::to_owned), o(provider), Some(cached), o(outcome), error.map(str::to_owned), None)
    };
    let mut expected = vec![
        row("variable", "my_var", None, "k8s", false, "found", None),
        row("variable", "my_var", None, "k8s", true, "found", None),
        row("variable", "my_var", None, "k8s", true, "found", None),
        row("variable", "missing", None, "environment", false, "not_found", None),
        row("variable", "missing", None, "environment", true, "not_found", None),
        row("connection", "env_conn", None, "environment", false, "found", None),
        row("connection", "smtp_default", None, "environment", false, "not_found", None),
        row("variable", "other", Some("blue"), "k8s", false, "error", Some("access-denied")),
    ];
    expected[7].7 = Some("task-7".to_owned());
    assert_eq!(summary, expected);
    for r in &records {
        assert!(r["time"].as_str().is_some_and(|t| t.len() == 27 && t.ends_with('Z')), "{r}");
        assert!(r["duration_us"].as_u64().is_some(), "{r}");
    }
    for secret in ["my_secret_value", "env-pass-77", TOKEN] {
        assert!(!audit.contains(secret) && !text.contains(secret), "{secret} leaked");
    }
}

/// Serve stale: during an outage a known answer is served (with a warning and a metric) until it is older than
/// `max_staleness_seconds`; an unknown one fails with the outage's error; access denied is never hidden.
#[tokio::test(flavor = "multi_thread")]
async fn an_outage_serves_known_answers_stale_up_to_the_maximum_staleness() {
    let cluster = Cluster::start().await;
    let config = format!(
        "[cache]\nenabled = true\nttl_seconds = 1\nmax_staleness_seconds = 3\n{}",
        kubernetes_entry(&cluster, "k8s")
    );
    let chain = open(&cluster, &config, &[]).await.strict(true).with_metrics();
    assert_eq!(chain.get_variable("my_var", None).await.unwrap().as_deref(), Some("my_secret_value"));
    tokio::time::sleep(Duration::from_millis(1100)).await;

    cluster.emulator.set_fault(Some(Fault::Status(503)));
    assert_eq!(chain.get_variable("my_var", None).await.unwrap().as_deref(), Some("my_secret_value"), "stale");
    assert_eq!(chain.get_variable("my_var", None).await.unwrap().as_deref(), Some("my_secret_value"), "still");
    let unknown = chain.get_variable("never_seen", None).await;
    assert!(matches!(unknown, Err(ChainError { error: LookupError::Unavailable(_), .. })), "{unknown:?}");
    let warnings: Vec<String> = cluster
        .logs
        .lock()
        .unwrap()
        .iter()
        .filter(|(level, m)| *level == LogLevel::Warning && m.starts_with("serving "))
        .map(|(_, m)| m.clone())
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].starts_with("serving variable `my_var` from the cache, 1 s old, because the providers cannot answer now: provider `k8s`: "),
        "{warnings:?}"
    );
    assert!(!warnings.iter().any(|w| w.contains("my_secret_value")));
    let metrics = chain.render_metrics().unwrap();
    assert!(
        metrics.lines().any(|l| l == "wasm_secrets_cache_lookups_total{kind=\"variable\",result=\"stale\"} 2"),
        "{metrics}"
    );

    // Access denied is never hidden behind a stale answer.
    cluster.emulator.set_fault(Some(Fault::Status(403)));
    let denied = chain.get_variable("my_var", None).await;
    assert!(matches!(denied, Err(ChainError { error: LookupError::AccessDenied(_), .. })), "{denied:?}");

    // The denial dropped the entry; fill it again, then outlive the maximum staleness.
    cluster.emulator.set_fault(None);
    assert_eq!(chain.get_variable("my_var", None).await.unwrap().as_deref(), Some("my_secret_value"));
    let filled = std::time::Instant::now();
    cluster.emulator.set_fault(Some(Fault::Status(503)));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(chain.get_variable("my_var", None).await.unwrap().as_deref(), Some("my_secret_value"), "stale again");
    tokio::time::sleep(Duration::from_secs(3).saturating_sub(filled.elapsed()) + Duration::from_millis(100)).await;
    let too_old = chain.get_variable("my_var", None).await;
    assert!(matches!(too_old, Err(ChainError { error: LookupError::Unavailable(_), .. })), "{too_old:?}");
    cluster.emulator.set_fault(None);
    assert_eq!(chain.get_variable("my_var", None).await.unwrap().as_deref(), Some("my_secret_value"));
}
