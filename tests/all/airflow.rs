//! Real Airflow 3.3.2 (target/airflow-venv, scripts/airflow-venv.sh) with this repository's backend class
//! (airflow-backend/, `wasm_secrets_airflow.WasmSecretsBackend`) asking `secrets serve`, next to Airflow's own
//! `KubernetesSecretsBackend` asking the same emulator: `airflow connections get` and `airflow variables get`
//! print the same thing and exit with the same status.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::serve::{Daemon, cluster, config};
use crate::support::Cluster;

/// The interpreter of the Airflow virtualenv: `$WASM_SECRETS_AIRFLOW_PYTHON`, else target/airflow-venv (created
/// by scripts/test.sh). Missing is a failure, never a skip.
pub(crate) fn airflow_python() -> PathBuf {
    if let Some(python) = std::env::var_os("WASM_SECRETS_AIRFLOW_PYTHON") {
        return python.into();
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/airflow-venv/bin/python");
    assert!(
        venv.exists(),
        "Airflow is required for this test and {} does not exist: run `bash scripts/airflow-venv.sh` from the \
         workspace root (scripts/test.sh does), or set WASM_SECRETS_AIRFLOW_PYTHON",
        venv.display()
    );
    venv
}

/// What one `airflow` command printed: exit status, stdout without Airflow's own log lines, stderr's last line.
#[derive(Debug, PartialEq, Eq)]
struct Printed {
    status: Option<i32>,
    stdout: String,
    last_error_line: String,
}

/// Airflow's log records (structlog: `2026-12-02T08:18:51.016302Z [warning  ] ...`) are not the command's
/// output: the backends log differently (Airflow's masks its client's settings), so they are left out.
fn is_log_line(line: &str) -> bool {
    line.len() > 28
        && line.as_bytes()[4] == b'-'
        && line.as_bytes()[10] == b'T'
        && line[27..].trim_start().starts_with('[')
}

/// Runs `airflow <args>` (tests/airflow/airflow_cli.py) with `[secrets] backend` and `backend_kwargs`.
fn airflow(cluster: &Cluster, home: &Path, backend: &str, kwargs: &str, args: &[&str]) -> Printed {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("airflow/airflow_cli.py");
    let output = Command::new(airflow_python())
        .arg(script)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AIRFLOW_HOME", home)
        .env("AIRFLOW__SECRETS__BACKEND", backend)
        .env("AIRFLOW__SECRETS__BACKEND_KWARGS", kwargs)
        .env("WASM_SECRETS_SA_DIR", cluster.sa_path())
        // `[api] secret_key` from the secrets backend's `get_config("api_secret_key")` (Airflow's `_secret` options).
        .env("AIRFLOW__API__SECRET_KEY_SECRET", "api_secret_key")
        .env("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        .env("KUBERNETES_SERVICE_PORT", cluster.emulator.addr().port().to_string())
        .output()
        .expect("Airflow runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    Printed {
        status: output.status.code(),
        stdout: stdout.lines().filter(|l| !is_log_line(l)).map(|l| format!("{l}\n")).collect(),
        last_error_line: stderr.lines().rfind(|l| !l.trim().is_empty()).unwrap_or_default().to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn airflow_prints_the_same_with_our_backend_class_as_with_its_own() {
    let cluster = cluster().await;
    cluster.insert(
        "api-key",
        serde_json::json!({"airflow.apache.org/config-key": "api_secret_key"}),
        serde_json::json!({"value": crate::support::b64("an-api-secret-key")}),
    );
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("host.toml");
    let uid = rustix::process::getuid().as_raw();
    let serve = format!(
        "[[serve.callers]]\nuid = {uid}\ngrants = [\"connection:*\", \"config:*\", \"variable:my_var\", \"variable:nope\"]\n"
    );
    std::fs::write(&config_path, config(&cluster, false, &serve)).unwrap();
    let socket = dir.path().join("secrets.sock");
    let _daemon = Daemon::start(&cluster, &config_path, None, &socket);
    let home = dir.path().join("airflow-home");
    std::fs::create_dir(&home).unwrap();

    let theirs = "airflow.providers.cncf.kubernetes.secrets.kubernetes_secrets_backend.KubernetesSecretsBackend";
    let ours = "wasm_secrets_airflow.WasmSecretsBackend";
    let our_kwargs = serde_json::json!({"socket_path": socket, "timeout": 30}).to_string();
    let commands: [&[&str]; 6] = [
        &["connections", "get", "smtp_default", "-o", "json"],
        &["connections", "get", "my_postgres_db", "-o", "yaml"],
        &["connections", "get", "my_postgres_db"],
        &["variables", "get", "my_var"],
        &["variables", "get", "nope"],
        &["config", "get-value", "api", "secret_key"],
    ];
    let mut runs = Vec::new();
    for args in commands {
        let (cluster, home, kwargs) = (&cluster, home.clone(), our_kwargs.clone());
        let (expected, got) = tokio::task::block_in_place(|| {
            (airflow(cluster, &home, theirs, "{}", args), airflow(cluster, &home, ours, &kwargs, args))
        });
        assert_eq!(got, expected, "airflow {}", args.join(" "));
        runs.push(got);
    }
    // What they print, exactly (so that "the same" is not "both failed alike").
    assert_eq!(runs[0].status, Some(0));
    assert!(runs[0].stdout.contains(r#""get_uri": "smtp://user:password@smtp.example.com:587""#), "{}", runs[0].stdout);
    assert!(runs[1].stdout.contains("host: db.example.com\n"), "{}", runs[1].stdout);
    assert_eq!((runs[3].status, runs[3].stdout.as_str()), (Some(0), "my_secret_value\n"));
    assert_eq!((runs[4].status, runs[4].last_error_line.as_str()), (Some(1), "Variable nope does not exist."));
    assert_eq!((runs[5].status, runs[5].stdout.as_str()), (Some(0), "an-api-secret-key\n"));
}

/// The backend class's answers to what Airflow's search through its backends must tell apart: not found
/// (`None`: ask the next backend), refused (`AirflowSecretsBackendAccessDenied`: stop), the daemon gone (an
/// error Airflow logs before asking the next backend).
const PY_OUTCOMES: &str = r#"
import sys
from airflow.sdk.exceptions import AirflowSecretsBackendAccessDenied
from wasm_secrets_airflow import DaemonError, WasmSecretsBackend
ours = WasmSecretsBackend(socket_path=sys.argv[1], timeout=30)
print("found", ours.get_variable("my_var"))
print("missing", ours.get_variable("nope"))
try:
    ours.get_variable("my_var_2")
except AirflowSecretsBackendAccessDenied as e:
    print("denied", e.status, e.kind)
try:
    WasmSecretsBackend(socket_path=sys.argv[1] + ".gone").get_variable("my_var")
except AirflowSecretsBackendAccessDenied:
    print("wrongly denied")
except DaemonError as e:
    print("unreachable", e.kind)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backend_class_tells_not_found_from_refused_from_unreachable() {
    let cluster = cluster().await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("host.toml");
    let uid = rustix::process::getuid().as_raw();
    std::fs::write(
        &config_path,
        config(
            &cluster,
            false,
            &format!("[[serve.callers]]\nuid = {uid}\ngrants = [\"variable:my_var\", \"variable:nope\"]\n"),
        ),
    )
    .unwrap();
    let socket = dir.path().join("secrets.sock");
    let _daemon = Daemon::start(&cluster, &config_path, None, &socket);
    let home = dir.path().join("airflow-home");
    std::fs::create_dir(&home).unwrap();
    let output = tokio::task::block_in_place(|| {
        Command::new(airflow_python())
            .args(["-c", PY_OUTCOMES])
            .arg(&socket)
            .env_clear()
            .env("AIRFLOW_HOME", &home)
            .output()
            .unwrap()
    });
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "found my_secret_value\nmissing None\ndenied 403 forbidden\nunreachable unreachable\n"
    );
}

/// A Unix socket whose listen backlog is full refuses a connection at once (`EAGAIN`) rather than making it wait:
/// the backend class's client waits and tries again until its deadline. The listener here takes nobody, with its
/// backlog full, past a first client's deadline (0.2 s: a timeout), then for 0.3 s more, then answers.
const PY_FULL_BACKLOG: &str = r#"
import socket, sys, threading, time
from wasm_secrets_airflow.client import DaemonClient, DaemonError
path = sys.argv[1]
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(path)
server.listen(0)
fillers = []
while True:
    filler = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    filler.setblocking(False)
    try:
        filler.connect(path)
    except BlockingIOError:
        filler.close()
        break
    fillers.append(filler)
def serve():
    time.sleep(0.3)
    for filler in fillers:
        filler.close()
    while True:
        conn, _ = server.accept()
        if conn.recv(4096):
            conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n{"value":"my_v"}')
        conn.close()
print("backlog full:", len(fillers) > 0)
try:
    DaemonClient(path, timeout=0.2).variable("x")
except DaemonError as e:
    print("busy past the deadline:", e.kind)
threading.Thread(target=serve, daemon=True).start()
print("answer:", DaemonClient(path, timeout=30).variable("x"))
"#;

#[test]
fn the_backend_class_waits_for_a_daemon_whose_backlog_is_full() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(airflow_python())
        .args(["-c", PY_FULL_BACKLOG])
        .arg(dir.path().join("busy.sock"))
        .env_clear()
        .env("AIRFLOW_HOME", dir.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "backlog full: True\nbusy past the deadline: timeout\nanswer: my_v\n"
    );
}
