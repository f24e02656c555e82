//! The canary sweep: one distinctive value planted as a service-account token, a password, a kwargs value, a
//! line of a secrets file and a stored payload, then every CLI command driven through its error paths. The
//! value must never appear on stderr, in the output of a failed command, in any log event up to trace level
//! (every crate's, through a global subscriber), or in the `Debug` output of the library's types.
//! The Vault provider's sweep is `vault::no_planted_credential_or_payload_leaks_from_the_vault_provider`.

use std::sync::{Arc, Mutex, OnceLock};

use wasm_secrets::cli::{EXIT_FOUND, Environment, FixedEnvironment, run_with_input};

use crate::cli::shared_cache_dir;
use crate::support::{Cluster, NAMESPACE, b64};

/// Every planted value contains this.
pub(crate) const CANARY: &str = "canary-4b1d";
const TOKEN: &str = "canary-4b1d-token-value";
const PASSWORD: &str = "canary-4b1d-password";
const KWARG: &str = "canary-4b1d-kwarg";
const FILE_LINE: &str = "canary-4b1d-file-line";
const PAYLOAD: &str = "canary-4b1d-payload";

/// The log lines (of every test in this process, at trace level) that contained the canary.
pub(crate) fn leaked_log_lines() -> Arc<Mutex<Vec<String>>> {
    static LEAKS: OnceLock<Arc<Mutex<Vec<String>>>> = OnceLock::new();
    Arc::clone(LEAKS.get_or_init(|| {
        let leaks = Arc::new(Mutex::new(Vec::new()));
        let sink = Sweep(Arc::clone(&leaks));
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
        leaks
    }))
}

/// A log writer that keeps only the lines holding the canary.
#[derive(Clone)]
struct Sweep(Arc<Mutex<Vec<String>>>);

impl std::io::Write for Sweep {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        if text.contains(CANARY) {
            self.0.lock().unwrap().push(text.into_owned());
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Run {
    code: u8,
    stdout: String,
    stderr: String,
}

async fn secrets(cluster: &Cluster, env: &dyn Environment, args: &[&str], stdin: &str) -> Run {
    let mut argv: Vec<String> = vec!["secrets".into(), "--cache-dir".into(), shared_cache_dir()];
    argv.extend(["--service-account-dir".into(), cluster.sa_path().display().to_string()]);
    argv.extend(args.iter().map(|a| (*a).to_owned()));
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run_with_input(argv, env, &mut stdin.as_bytes(), &mut out, &mut err).await;
    Run { code, stdout: String::from_utf8(out).unwrap(), stderr: String::from_utf8(err).unwrap() }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_planted_secret_leaks_through_any_error_path() {
    let leaks = leaked_log_lines();
    let cluster = Cluster::start().await;
    // The service account's token is the canary from now on.
    cluster.emulator.add_token(TOKEN, kube_emulator::Access::Namespaces(vec![NAMESPACE.to_owned()]));
    std::fs::write(cluster.sa_dir.path().join("token"), TOKEN).unwrap();
    let conn = |id: &str| serde_json::json!({"airflow.apache.org/connection-id": id});
    cluster.insert(
        "bad-port",
        conn("bad_port"),
        serde_json::json!({"value": b64(&format!("postgresql://u:{PASSWORD}@db:99999/x"))}),
    );
    cluster.insert(
        "bad-json",
        conn("bad_json"),
        serde_json::json!({"value": b64(&format!(r#"{{"password": "{PASSWORD}", "port": "x{PAYLOAD}"}}"#))}),
    );
    cluster.insert(
        "bad-extra",
        conn("bad_extra"),
        serde_json::json!({"value": b64(&format!("x://h?__extra__={PAYLOAD}"))}),
    );
    let mut not_utf8 = vec![0xff_u8];
    not_utf8.extend_from_slice(PAYLOAD.as_bytes());
    cluster.insert(
        "bad-utf8",
        serde_json::json!({"airflow.apache.org/variable-key": "bad_utf8"}),
        serde_json::json!({"value": base64_of(&not_utf8)}),
    );

    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("connections.env");
    std::fs::write(&env_file, format!("ok=x://h\n{FILE_LINE} without an equal sign\n")).unwrap();
    let json_file = dir.path().join("variables.json");
    std::fs::write(&json_file, format!("{{\"v\": \"{FILE_LINE}\",, }}")).unwrap();
    let host_config = dir.path().join("secrets.toml");
    std::fs::write(
        &host_config,
        format!(
            "[[providers]]\nname = \"files\"\ncomponent = \"builtin:local-files\"\n\
             backend_kwargs = {{ connections_file_path = \"{}\", variables_file_path = \"{}\" }}\n\
             [[providers]]\nname = \"custom\"\ncomponent = \"{}\"\n\
             backend_kwargs = {{ api_token = \"{KWARG}\" }}\n",
            env_file.display(),
            json_file.display(),
            wasm_secrets_artifacts::ENVIRONMENT_PROVIDER_PATH,
        ),
    )
    .unwrap();
    let config = host_config.to_str().unwrap();
    let pod = cluster.env();
    let with_env_conn = FixedEnvironment(vec![
        ("KUBERNETES_SERVICE_HOST".to_owned(), pod("KUBERNETES_SERVICE_HOST").unwrap()),
        ("KUBERNETES_SERVICE_PORT".to_owned(), pod("KUBERNETES_SERVICE_PORT").unwrap()),
        ("AIRFLOW_CONN_ENV_BAD".to_owned(), format!("x://u:{PASSWORD}@h:port")),
    ]);

    let kwargs_dialect = format!(r#"{{"dialect": "{KWARG}"}}"#);
    let kwargs_type = format!(r#"{{"namespace": ["{KWARG}"]}}"#);
    let bad_uri = format!("postgresql://u:{PASSWORD}@db:notaport/x");
    let runs: Vec<(Vec<&str>, &str)> = vec![
        (vec!["connections", "get", "bad_port"], ""),
        (vec!["connections", "get", "bad_port", "-o", "json"], ""),
        (vec!["connections", "get", "bad_json", "-o", "yaml"], ""),
        (vec!["connections", "get", "bad_extra", "--dialect", "server"], ""),
        (vec!["connections", "get", "env_bad"], ""),
        (vec!["connections", "parse", bad_uri.as_str()], ""),
        (vec!["connections", "parse", "-"], bad_uri.as_str()),
        (vec!["connections", "parse", "--dialect", "worker", "-o", "plain", "-"], bad_uri.as_str()),
        (vec!["variables", "get", "bad_utf8"], ""),
        (vec!["--backend-kwargs", kwargs_dialect.as_str(), "variables", "get", "my_var"], ""),
        (vec!["--backend-kwargs", kwargs_type.as_str(), "config", "get-value", "x"], ""),
        (vec!["--config", config, "connections", "get", "ok"], ""),
        (vec!["--config", config, "variables", "get", "v"], ""),
        (vec!["--config", config, "providers", "list"], ""),
    ];
    let mut failures = 0;
    for (args, stdin) in &runs {
        let run = secrets(&cluster, &with_env_conn, args, stdin).await;
        assert!(!run.stderr.contains(CANARY), "{args:?}: stderr: {}", run.stderr);
        if run.code != EXIT_FOUND {
            failures += 1;
            assert!(!run.stdout.contains(CANARY), "{args:?}: stdout of a failure: {}", run.stdout);
        }
    }
    assert_eq!(failures, runs.len() - 1, "every run but `providers list` fails");

    // A server or proxy that echoes the token, behind every lookup command.
    cluster.emulator.set_fault(Some(kube_emulator::Fault::EchoAuthorization(502)));
    for args in [
        vec!["variables", "get", "my_var"],
        vec!["connections", "get", "smtp_default"],
        vec!["config", "get-value", "sql_alchemy_conn"],
        vec!["flyte-secrets", "get", "group", "key"],
    ] {
        let run = secrets(&cluster, &with_env_conn, &args, "").await;
        assert_ne!(run.code, EXIT_FOUND, "{args:?}");
        assert!(!format!("{}{}", run.stdout, run.stderr).contains(CANARY), "{args:?}: {}", run.stderr);
    }
    cluster.emulator.set_fault(None);

    // Debug output of the library's types holding the planted values.
    let cluster_config = cluster.cluster_config();
    let connection = airflow_compat::Connection {
        password: Some(PASSWORD.to_owned()),
        extra: Some(format!(r#"{{"token": "{PAYLOAD}"}}"#)),
        ..Default::default()
    };
    let spec = wasm_secrets::ChainSpec::from_file(&host_config).unwrap();
    let provider = cluster.provider(&format!(r#"{{"namespace": "{NAMESPACE}", "api_token": "{KWARG}"}}"#));
    let shown = format!("{cluster_config:?} {connection:?} {spec:?} {provider:?}");
    assert!(!shown.contains(CANARY), "{shown}");

    let leaked = leaks.lock().unwrap().clone();
    assert!(leaked.is_empty(), "log events held a planted value: {leaked:#?}");
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
