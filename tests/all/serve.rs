//! `secrets serve` as a process (the `secrets` command's own source, built as `secrets-e2e`), against the
//! emulator: every endpoint, callers granted and refused by uid (a caller started under another uid), SIGHUP
//! reload keeping the live view, SIGTERM draining and removing the socket. Every wait is bounded.

use std::io::{BufRead as _, BufReader};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::support::{Cluster, b64};

/// Bounds every wait: a hang fails the test instead of stalling the suite.
const BOUND: Duration = Duration::from_secs(120);

/// A daemon process, killed when dropped.
pub struct Daemon {
    child: Child,
    socket: PathBuf,
    lines: mpsc::Receiver<String>,
    stderr: Vec<String>,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    /// Starts `secrets --config CONFIG [--audit-log AUDIT] serve --socket SOCKET` for `cluster`'s environment.
    fn spawn(cluster: &Cluster, config: &Path, audit: Option<&Path>, socket: &Path) -> Child {
        Self::spawn_with(cluster, config, audit, socket, &[])
    }

    /// [`Daemon::spawn`] with more arguments for `serve`.
    fn spawn_with(cluster: &Cluster, config: &Path, audit: Option<&Path>, socket: &Path, more: &[&str]) -> Child {
        let mut command = secrets(cluster, config);
        if let Some(audit) = audit {
            command.arg("--audit-log").arg(audit);
        }
        command.arg("serve").arg("--socket").arg(socket).args(more);
        command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        command.spawn().expect("the daemon starts")
    }

    /// Starts the daemon and waits until it listens.
    pub fn start(cluster: &Cluster, config: &Path, audit: Option<&Path>, socket: &Path) -> Self {
        Self::start_with(cluster, config, audit, socket, &[]).0
    }

    /// [`Daemon::start`] with more arguments for `serve`; also returns the line saying where it listens.
    fn start_with(
        cluster: &Cluster,
        config: &Path,
        audit: Option<&Path>,
        socket: &Path,
        more: &[&str],
    ) -> (Self, String) {
        Self::attach(Self::spawn_with(cluster, config, audit, socket, more), socket)
    }

    /// A daemon started as `child` (stderr piped), once it listens on `socket`; and the line saying so.
    fn attach(mut child: Child, socket: &Path) -> (Self, String) {
        let stderr = child.stderr.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let mut daemon = Self { child, socket: socket.to_owned(), lines, stderr: Vec::new() };
        let line = daemon.wait_for_line("listening on");
        (daemon, line)
    }

    /// Waits for a stderr line holding `text`; returns it.
    fn wait_for_line(&mut self, text: &str) -> String {
        let deadline = Instant::now() + BOUND;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.stderr.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => panic!("no line with {text:?} on the daemon's stderr: {:?}", self.stderr),
            }
        }
    }

    fn signal(&self, signal: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(i32::try_from(self.child.id()).unwrap()).unwrap();
        rustix::process::kill_process(pid, signal).unwrap();
    }

    async fn get(&self, target: &str) -> (u16, String) {
        get(&self.socket, target).await
    }

    async fn get_json(&self, target: &str) -> (u16, Value) {
        let (status, body) = self.get(target).await;
        (status, serde_json::from_str(&body).unwrap_or_else(|e| panic!("{target}: not JSON ({e}): {body}")))
    }
}

/// `secrets --config CONFIG --cache-dir ...` in the environment of a pod of `cluster` (and `PATH`).
fn secrets(cluster: &Cluster, config: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_secrets-e2e"));
    command.arg("--config").arg(config).arg("--cache-dir").arg(artifact_dir());
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        .env("KUBERNETES_SERVICE_PORT", cluster.emulator.addr().port().to_string());
    command
}

/// Compiled components, shared by every daemon these tests start.
fn artifact_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-artifact-cache")
}

/// `GET target` over the Unix socket, as one HTTP/1.1 request on its own connection: status and body.
async fn get(socket: &Path, target: &str) -> (u16, String) {
    let exchange = async {
        let mut stream = tokio::net::UnixStream::connect(socket).await.expect("connect to the daemon");
        let request = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        String::from_utf8(response).unwrap()
    };
    let response = tokio::time::timeout(BOUND, exchange).await.expect("the daemon answers in time");
    let (head, body) = response.split_once("\r\n\r\n").expect("a response head");
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    (status, body.to_owned())
}

/// A host configuration: the Kubernetes provider (live when `live`) for `cluster`, then `serve` (when empty:
/// this process's user may read everything, which a daemon running as root must be told).
pub fn config(cluster: &Cluster, live: bool, serve: &str) -> String {
    let all = format!("[[serve.callers]]\nuid = {}\nall = true\n", rustix::process::getuid().as_raw());
    let serve = if serve.is_empty() { all.as_str() } else { serve };
    format!(
        r#"
[[providers]]
name = "kubernetes"
component = "builtin:kubernetes"
kubernetes = {{ service_account_dir = "{}" }}
live = {live}

{serve}
"#,
        cluster.sa_path().display()
    )
}

/// The seed, plus a config value and a team variable.
pub async fn cluster() -> Cluster {
    let cluster = Cluster::start().await;
    cluster.insert(
        "cfg",
        json!({"airflow.apache.org/config-key": "sql_alchemy_conn"}),
        json!({"value": b64("postgresql://airflow@db/airflow")}),
    );
    cluster.insert(
        "team-var",
        json!({"airflow.apache.org/variable-key": "my_var", "airflow.apache.org/team": "alpha"}),
        json!({"value": b64("alpha's")}),
    );
    cluster
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_answers_from_the_chain() {
    let cluster = cluster().await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("host.toml");
    std::fs::write(&config_path, config(&cluster, false, "")).unwrap();
    let audit = dir.path().join("audit.jsonl");
    let socket = dir.path().join("secrets.sock");
    let daemon = Daemon::start(&cluster, &config_path, Some(&audit), &socket);

    // Owner-only socket without a group.
    assert_eq!(std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777, 0o600);

    let (status, conn) = daemon.get_json("/v1/connections/smtp_default").await;
    assert_eq!(status, 200);
    assert_eq!(
        conn,
        json!({"conn_id": "smtp_default", "conn_type": "smtp", "description": null, "host": "smtp.example.com",
               "schema": "", "login": "user", "password": "password", "port": 587, "extra": null,
               "uri": "smtp://user:password@smtp.example.com:587"})
    );
    assert_eq!(
        daemon.get_json("/v1/connections/my_postgres_db/value").await,
        (
            200,
            json!({"value": r#"{"conn_type": "postgres", "host": "db.example.com", "login": "user", "password": "pass", "port": 5432, "schema": "mydb"}"#})
        )
    );
    assert_eq!(
        daemon.get_json("/v1/connections/my_postgres_db/uri").await,
        (200, json!({"uri": "postgres://user:pass@db.example.com:5432/mydb"}))
    );
    assert_eq!(daemon.get_json("/v1/variables/my_var").await, (200, json!({"value": "my_secret_value"})));
    assert_eq!(daemon.get_json("/v1/variables/my_var?team=alpha").await, (200, json!({"value": "alpha's"})));
    assert_eq!(
        daemon.get_json("/v1/config/sql_alchemy_conn").await,
        (200, json!({"value": "postgresql://airflow@db/airflow"}))
    );
    assert_eq!(daemon.get_json("/v1/secrets/my-var-secret/value").await, (200, json!({"value": "my_secret_value"})));
    assert_eq!(
        daemon.get_json("/v1/variables/nope").await,
        (404, json!({"error": "not_found", "message": "no provider holds this variable"}))
    );
    assert_eq!(daemon.get_json("/v1/config/x?team=alpha").await.0, 400);
    // An id no caller may name (label-selector syntax) is a bad request, not a refusal: Airflow's backend class
    // then asks Airflow's next backend, as when its own Kubernetes backend fails on such an id.
    assert_eq!(
        daemon.get_json("/v1/variables/my_var%2C%21x").await,
        (400, json!({"error": "bad_request", "message": "the id or team is one no caller may name (docs/serve.md)"}))
    );
    assert_eq!(daemon.get_json("/v2/variables/x").await.0, 404);
    assert_eq!(daemon.get_json("/healthz").await, (200, json!({"status": "ok"})));
    assert_eq!(daemon.get_json("/readyz").await, (200, json!({"status": "ready", "generation": 1})));

    // Not GET: 405, with `Allow`.
    let mut stream = tokio::net::UnixStream::connect(&socket).await.unwrap();
    stream
        .write_all(b"POST /v1/variables/my_var HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    tokio::time::timeout(BOUND, stream.read_to_string(&mut response)).await.unwrap().unwrap();
    assert!(response.starts_with("HTTP/1.1 405 "), "{response}");
    assert!(response.to_ascii_lowercase().contains("\r\nallow: get\r\n"), "{response}");
    // A request with a body: 413.
    let mut stream = tokio::net::UnixStream::connect(&socket).await.unwrap();
    stream
        .write_all(b"GET /v1/variables/my_var HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc")
        .await
        .unwrap();
    let mut response = String::new();
    tokio::time::timeout(BOUND, stream.read_to_string(&mut response)).await.unwrap().unwrap();
    assert!(response.starts_with("HTTP/1.1 413 "), "{response}");

    let (status, metrics) = daemon.get("/metrics").await;
    assert_eq!(status, 200);
    for line in [
        r#"wasm_secrets_lookups_total{kind="variable",outcome="found"} 2"#,
        r#"wasm_secrets_lookups_total{kind="variable",outcome="not_found"} 1"#,
        r#"wasm_secrets_serve_requests_total{code="200"} 9"#,
        r#"wasm_secrets_serve_requests_total{code="400"} 2"#,
        r#"wasm_secrets_serve_requests_total{code="404"} 2"#,
        r#"wasm_secrets_serve_requests_total{code="405"} 1"#,
        r#"wasm_secrets_serve_requests_total{code="413"} 1"#,
        r#"wasm_secrets_serve_reloads_total{result="ok"} 0"#,
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }

    // The audit log names the caller: this process (uid 0 in CI) and its pid.
    let audit = std::fs::read_to_string(&audit).unwrap();
    let first: Value = serde_json::from_str(audit.lines().next().unwrap()).unwrap();
    let uid = rustix::process::getuid().as_raw();
    let gid = rustix::process::getgid().as_raw();
    assert_eq!(first["caller"], format!("uid={uid} gid={gid} pid={}", std::process::id()));
    assert_eq!((first["kind"].as_str(), first["id"].as_str()), (Some("connection"), Some("smtp_default")));
    assert!(!audit.contains("password"), "no value in the audit log");
}

/// A Python client (standard library only) that asks the daemon for `target` and prints the status and body.
/// A connection the daemon closes unanswered prints `0 null`.
const PY_CLIENT: &str = r#"
import http.client, socket, sys
class Conn(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(sys.argv[1])
c = Conn("localhost", timeout=60)
try:
    c.request("GET", sys.argv[2])
    r = c.getresponse()
    print(r.status, r.read().decode())
except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
    print(0, "null")
"#;

/// Runs [`PY_CLIENT`] as `uid`:`gid`: the status and the body.
fn get_as(uid: u32, gid: u32, socket: &Path, target: &str) -> (u16, Value) {
    use std::os::unix::process::CommandExt as _;
    let output = Command::new("python3")
        .args(["-c", PY_CLIENT])
        .arg(socket)
        .arg(target)
        .uid(uid)
        .gid(gid)
        .env_clear()
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "client as {uid}:{gid}: {stdout}{}", String::from_utf8_lossy(&output.stderr));
    let (status, body) = stdout.trim_end().split_once(' ').unwrap();
    (status.parse().unwrap(), serde_json::from_str(body).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_are_granted_by_uid_and_gid_and_others_refused() {
    // The tests run as root (as CI does), so they can start callers under other uids.
    assert_eq!(rustix::process::getuid().as_raw(), 0, "these tests start callers under other uids: run them as root");
    let cluster = cluster().await;
    let dir = tempfile::tempdir().unwrap();
    // Callers under other uids reach the socket through the directory (search only) and the socket's group.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    let config_path = dir.path().join("host.toml");
    let serve = r#"
[serve]
socket_group = 4242

[[serve.callers]]
uid = 0
all = true

[[serve.callers]]
uid = 4321
grants = ["variable:my_*"]

[[serve.callers]]
gid = 4243
grants = ["connection:smtp_default"]
teams = ["alpha"]
"#;
    std::fs::write(&config_path, config(&cluster, false, serve)).unwrap();
    let audit = dir.path().join("audit.jsonl");
    let socket = dir.path().join("secrets.sock");
    let daemon = Daemon::start(&cluster, &config_path, Some(&audit), &socket);
    let meta = std::fs::metadata(&socket).unwrap();
    assert_eq!((meta.permissions().mode() & 0o777, meta.gid()), (0o660, 4242));

    let socket_for = socket.clone();
    let answers = tokio::task::spawn_blocking(move || {
        let s = &socket_for;
        [
            get_as(4321, 4242, s, "/v1/variables/my_var"),
            get_as(4321, 4242, s, "/v1/connections/smtp_default"),
            get_as(4321, 4242, s, "/v1/variables/my_var?team=alpha"),
            get_as(4322, 4242, s, "/v1/variables/my_var"),
        ]
    })
    .await
    .unwrap();
    assert_eq!(answers[0], (200, json!({"value": "my_secret_value"})));
    let forbidden = |message: &str| (403, json!({"error": "forbidden", "message": message}));
    assert_eq!(answers[1], forbidden("the caller is not granted this entry"));
    assert_eq!(answers[2], forbidden("the caller is not granted this team"));
    // A peer no grant names is not served at all: its connection is closed unanswered (it holds no slot and
    // writes no audit line).
    assert_eq!(answers[3], (0, Value::Null));
    // A caller with neither the uid nor the socket's group cannot connect at all (the socket's mode).
    let refused = tokio::task::spawn_blocking({
        let socket = socket.clone();
        move || {
            use std::os::unix::process::CommandExt as _;
            Command::new("python3")
                .args(["-c", PY_CLIENT])
                .arg(&socket)
                .arg("/healthz")
                .uid(65534)
                .gid(65534)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("PermissionError"), "{refused:?}");
    // Root reads everything (`all = true`).
    assert_eq!(daemon.get_json("/v1/variables/my_var?team=alpha").await, (200, json!({"value": "alpha's"})));
    let (_, metrics) = daemon.get("/metrics").await;
    assert!(metrics.contains("\nwasm_secrets_serve_refused_connections_total 1\n"), "{metrics}");

    // Refusals are audited with the caller and the outcome `refused`, before any provider is asked.
    let lines: Vec<Value> =
        std::fs::read_to_string(&audit).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let outcomes: Vec<(String, &str, &str)> = lines
        .iter()
        .map(|l| {
            let caller = l["caller"].as_str().unwrap();
            let uid = caller.split(' ').next().unwrap().to_owned();
            (uid, l["id"].as_str().unwrap(), l["outcome"].as_str().unwrap())
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("uid=4321".to_owned(), "my_var", "found"),
            ("uid=4321".to_owned(), "smtp_default", "refused"),
            ("uid=4321".to_owned(), "my_var", "refused"),
            ("uid=0".to_owned(), "my_var", "found"),
        ]
    );
}

/// The LIST requests the emulator saw (watches excluded).
fn lists(cluster: &Cluster) -> usize {
    cluster
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && !r.query.as_deref().unwrap_or("").contains("watch="))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_grants_and_keeps_the_unchanged_live_view() {
    use rustix::process::Signal;
    let cluster = cluster().await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("host.toml");
    // A second provider reads the same cluster through a kubeconfig: a file that may change under its name, so a
    // reload opens it again even when its entry is unchanged.
    let kubeconfig = dir.path().join("kubeconfig");
    cluster.emulator.write_kubeconfig(&kubeconfig, crate::support::TOKEN, crate::support::NAMESPACE).unwrap();
    let second = format!(
        "[[providers]]\nname = \"by-kubeconfig\"\ncomponent = \"builtin:kubernetes\"\nkubernetes = {{ kubeconfig = \"{}\" }}\n",
        kubeconfig.display()
    );
    let grants = |list: &str| {
        format!("{second}\n[[serve.callers]]\nuid = {}\ngrants = [{list}]\n", rustix::process::getuid().as_raw())
    };
    std::fs::write(&config_path, config(&cluster, true, &grants(r#""variable:*""#))).unwrap();
    let socket = dir.path().join("secrets.sock");
    let mut daemon = Daemon::start(&cluster, &config_path, None, &socket);
    assert_eq!(daemon.get_json("/v1/variables/my_var").await, (200, json!({"value": "my_secret_value"})));
    assert_eq!(daemon.get_json("/v1/connections/smtp_default/uri").await.0, 403);
    let lists_before = lists(&cluster);
    assert_eq!(lists_before, 3, "one list per followed kind: {:?}", cluster.requests());

    // A configuration that cannot be read keeps the previous one.
    std::fs::write(&config_path, "[[providers]]\nname = 1\n").unwrap();
    daemon.signal(Signal::HUP);
    let line = daemon.wait_for_line("reload failed");
    assert!(line.contains("still serving the previous configuration"), "{line}");
    assert_eq!(daemon.get_json("/readyz").await, (200, json!({"status": "ready", "generation": 1})));

    std::fs::write(&config_path, config(&cluster, true, &grants(r#""variable:*", "connection:smtp_default""#)))
        .unwrap();
    daemon.signal(Signal::HUP);
    let line = daemon.wait_for_line("reloaded the configuration");
    assert!(line.contains("configuration 2; 1 of 2 providers kept"), "{line}");
    assert_eq!(daemon.get_json("/readyz").await, (200, json!({"status": "ready", "generation": 2})));
    assert_eq!(
        daemon.get_json("/v1/connections/smtp_default/uri").await,
        (200, json!({"uri": "smtp://user:password@smtp.example.com:587"}))
    );
    // The live view was kept: no list since (lookups answer from it).
    assert_eq!(daemon.get_json("/v1/variables/my_var").await.0, 200);
    assert_eq!(lists(&cluster), lists_before, "{:?}", cluster.requests());
    let (_, metrics) = daemon.get("/metrics").await;
    assert!(metrics.contains("wasm_secrets_serve_reloads_total{result=\"ok\"} 1\n"), "{metrics}");
    assert!(metrics.contains("wasm_secrets_serve_reloads_total{result=\"failed\"} 1\n"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_stops_and_removes_the_socket() {
    use rustix::process::Signal;
    let cluster = cluster().await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("host.toml");
    std::fs::write(&config_path, config(&cluster, false, "")).unwrap();
    let socket = dir.path().join("secrets.sock");

    // Something that is not a socket is never replaced.
    std::fs::write(&socket, "not a socket").unwrap();
    let output = Daemon::spawn(&cluster, &config_path, None, &socket).wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("exists and is not a socket"), "{output:?}");
    std::fs::remove_file(&socket).unwrap();

    // A daemon running as root with no callers would grant every root process everything: it does not start.
    let open_config = dir.path().join("open.toml");
    std::fs::write(&open_config, config(&cluster, false, "[serve]\n")).unwrap();
    let output = Daemon::spawn(&cluster, &open_config, None, &socket).wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("the daemon runs as root and [serve] names no callers"));

    // A stale socket (its daemon died: connections are refused) is replaced.
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    let mut daemon = Daemon::start(&cluster, &config_path, None, &socket);
    // A second daemon on a live socket refuses to start.
    let output = Daemon::spawn(&cluster, &config_path, None, &socket).wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("another process is serving"), "{output:?}");

    // `secrets probe` (what the DaemonSet's probes run) says it is ready.
    let probe = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_secrets-e2e"));
        command.env_clear().args(["probe", "--socket"]).arg(&socket);
        command.output().unwrap()
    };
    let ready = probe();
    assert_eq!(ready.status.code(), Some(0), "{ready:?}");
    assert_eq!(String::from_utf8_lossy(&ready.stdout), "{\"status\":\"ready\",\"generation\":1}\n");

    // An idle keep-alive connection does not hold the daemon up, and a request sent before SIGTERM is answered.
    let mut idle = tokio::net::UnixStream::connect(&socket).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut buffer = [0u8; 1024];
    let n = tokio::time::timeout(BOUND, idle.read(&mut buffer)).await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&buffer[..n]).starts_with("HTTP/1.1 200 "));
    daemon.signal(Signal::TERM);
    daemon.wait_for_line("stopped");
    let deadline = Instant::now() + BOUND;
    let status = loop {
        if let Some(status) = daemon.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the daemon did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    assert!(!socket.exists(), "the socket is removed");
    let gone = probe();
    assert_eq!(gone.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&gone.stderr).starts_with("error: cannot connect to the daemon at "), "{gone:?}");
    // The idle connection was closed.
    let n = tokio::time::timeout(BOUND, idle.read(&mut buffer)).await.unwrap().unwrap_or(0);
    assert_eq!(n, 0);
}

/// What a command run by `secrets exec` prints of its environment and secrets directory (Python, whose
/// `os.environ` keeps names such as `_FSEC_MY-VAR-SECRET_VALUE` that `sh` drops).
const SHOW: &str = r#"
import os, sys
for name in sorted(os.environ):
    if name.startswith(("AIRFLOW_", "_FSEC_", "FLYTE_")):
        print(f"{name}={os.environ[name]}")
d = os.environ.get("FLYTE_SECRETS_DEFAULT_DIR")
if d:
    print("dir mode", oct(os.stat(d).st_mode & 0o777)[2:])
    f = os.path.join(d, "my-var-secret", "value")
    print("file mode", oct(os.stat(f).st_mode & 0o777)[2:])
    print("file", open(f).read())
sys.exit(7)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_runs_a_command_with_its_secrets_in_the_environment_and_in_files() {
    let cluster = cluster().await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("host.toml");
    std::fs::write(&config_path, config(&cluster, false, "")).unwrap();
    let secrets_parent = dir.path().join("run");
    std::fs::create_dir(&secrets_parent).unwrap();
    let output = tokio::task::spawn_blocking({
        let mut command = secrets(&cluster, &config_path);
        command
            .args(["exec", "--connection", "smtp_default", "--connection", "my_postgres_db", "--variable", "my_var"])
            .args(["--secret", "my-var-secret/value", "--secret", "my-var-secret/value:file", "--dir"])
            .arg(&secrets_parent)
            .args(["--", "python3", "-c", SHOW]);
        move || command.output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        output.status.code(),
        Some(7),
        "the command's status: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let dir_line = stdout.lines().find_map(|l| l.strip_prefix("FLYTE_SECRETS_DEFAULT_DIR=")).unwrap().to_owned();
    assert!(dir_line.starts_with(secrets_parent.to_str().unwrap()), "{dir_line}");
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "AIRFLOW_CONN_MY_POSTGRES_DB=postgres://user:pass@db.example.com:5432/mydb",
            "AIRFLOW_CONN_SMTP_DEFAULT=smtp://user:password@smtp.example.com:587",
            "AIRFLOW_VAR_MY_VAR=my_secret_value",
            &format!("FLYTE_SECRETS_DEFAULT_DIR={dir_line}"),
            "_FSEC_MY-VAR-SECRET_VALUE=my_secret_value",
            "dir mode 700",
            "file mode 600",
            "file my_secret_value",
        ]
    );
    // Nothing of the values on stderr, and the secrets directory is gone.
    assert!(!String::from_utf8_lossy(&output.stderr).contains("my_secret_value"));
    assert_eq!(std::fs::read_dir(&secrets_parent).unwrap().count(), 0, "the secrets directory is removed");

    // A secret that is not found: the command does not start (status 125, the reason on stderr).
    let marker = dir.path().join("started");
    let output = secrets(&cluster, &config_path)
        .args(["exec", "--variable", "my_var", "--variable", "nope", "--", "touch"])
        .arg(&marker)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(125));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.ends_with("\nerror: variable `nope` was not found; the command was not started\n"), "{stderr}");
    assert!(!marker.exists());
    // A command that does not exist: 127.
    let output = secrets(&cluster, &config_path).args(["exec", "--", "/nonexistent/command"]).output().unwrap();
    assert_eq!(output.status.code(), Some(127), "{output:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_asks_the_daemon_with_socket() {
    let cluster = cluster().await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("host.toml");
    let uid = rustix::process::getuid().as_raw();
    let serve = format!(
        "[[serve.callers]]\nuid = {uid}\ngrants = [\"variable:my_var\", \"connection:smtp_default\"]\nteams = [\"alpha\"]\n"
    );
    std::fs::write(&config_path, config(&cluster, false, &serve)).unwrap();
    let socket = dir.path().join("secrets.sock");
    let _daemon = Daemon::start(&cluster, &config_path, None, &socket);
    // The client needs no providers: an empty configuration file would do; it asks only the daemon.
    let run = |args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_secrets-e2e"));
        command.env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
        command.args(["exec", "--socket"]).arg(&socket).args(args);
        command
    };
    let output = tokio::task::spawn_blocking({
        let mut command = run(&["--team", "alpha", "--variable", "my_var", "--connection", "smtp_default", "--"]);
        command.args(["sh", "-c", r#"printf '%s|%s' "$AIRFLOW_VAR_MY_VAR" "$AIRFLOW_CONN_SMTP_DEFAULT""#]);
        move || command.output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(String::from_utf8(output.stdout).unwrap(), "alpha's|smtp://user:password@smtp.example.com:587");
    // A refusal stops before the command, with the daemon's reason.
    let output = tokio::task::spawn_blocking({
        let mut command = run(&["--variable", "other", "--", "true"]);
        move || command.output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(125));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "error: variable `other`: the daemon answered 403 forbidden: the caller is not granted this entry; the command \
         was not started\n"
    );
}

/// The host configuration the DaemonSet runs (deploy/configmap.yaml) is one the daemon accepts, with what its
/// comments say.
#[test]
fn the_deployed_configuration_parses() {
    use wasm_secrets::serve::access::{Access, PeerMatch};
    let manifest = include_str!("../../deploy/configmap.yaml");
    let start = manifest.find("  host.toml: |\n").expect("a host.toml key") + "  host.toml: |\n".len();
    let toml: String = manifest[start..]
        .lines()
        .take_while(|l| l.is_empty() || l.starts_with("    "))
        .map(|l| format!("{}\n", l.get(4..).unwrap_or_default()))
        .collect();
    let config = wasm_secrets::HostConfig::parse(&toml, Path::new("deploy/configmap.yaml")).unwrap();
    assert!(config.chain.providers[0].live);
    assert_eq!(config.serve.socket_group, Some(0));
    assert_eq!(config.serve.callers.len(), 1);
    assert_eq!(config.serve.callers[0].peer, PeerMatch::Uid(50000));
    assert!(
        matches!(&config.serve.callers[0].access, Access::Grants { grants, teams } if grants.len() == 3 && teams.is_empty())
    );
}

#[test]
fn the_daemonsets_arguments_are_the_commands_own() {
    // The container's args, as the DaemonSet lists them (`- --flag=value` lines after `args:`).
    let manifest = include_str!("../../deploy/daemonset.yaml");
    let start = manifest.find("          args:\n").expect("args") + "          args:\n".len();
    let args: Vec<&str> = manifest[start..]
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .map_while(|l| l.strip_prefix("- "))
        .collect();
    assert!(args.contains(&"--audit-log-max-bytes=16777216") && args.contains(&"serve"), "{args:?}");
    // They parse: the command gets as far as reading the configuration file, which is not on this machine.
    let output = Command::new(env!("CARGO_BIN_EXE_secrets-e2e")).args(&args).env_clear().output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("/etc/wasm-secrets/host.toml") && !stderr.contains("argument"), "{stderr}");
}

/// The load test's short mode (scripts/load-serve.sh runs 64 clients for 30 s): 64 concurrent clients against
/// a daemon in live mode, every answer from the live view (no list after the first ones) and none failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_clients_are_answered_from_the_live_view_without_errors() {
    let cluster = cluster().await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("host.toml");
    std::fs::write(&config_path, config(&cluster, true, "")).unwrap();
    let socket = dir.path().join("secrets.sock");
    let daemon = Daemon::start(&cluster, &config_path, None, &socket);
    assert_eq!(daemon.get_json("/v1/variables/my_var").await.0, 200);
    let lists_before = lists(&cluster);
    let output = tokio::task::spawn_blocking({
        let mut command = Command::new(env!("CARGO_BIN_EXE_secrets-e2e"));
        command.env_clear().args(["bench", "--socket"]).arg(&socket);
        command.args([
            "--concurrency",
            "64",
            "--duration",
            "2",
            "--warmup",
            "64",
            "-o",
            "json",
            "variables",
            "get",
            "my_var",
        ]);
        move || command.output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["errors"], 0, "{report}");
    assert_eq!(report["not_found"], 0, "{report}");
    assert_eq!(report["concurrency"], 64);
    assert!(report["lookups"].as_u64().unwrap() >= 64, "{report}");
    assert_eq!(lists(&cluster), lists_before, "answers came from the live view: {:?}", cluster.requests());
    let (_, metrics) = daemon.get("/metrics").await;
    let found = format!(
        "wasm_secrets_lookups_total{{kind=\"variable\",outcome=\"found\"}} {}\n",
        report["lookups"].as_u64().unwrap() + 64 + 1
    );
    assert!(metrics.contains(&found), "{found} in {metrics}");
}

/// A peer that runs as the daemon's user but that no grant names (the DaemonSet's probes, run as root in the
/// daemon's container) is served health, readiness and metrics, and no secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemons_own_user_gets_probes_only_unless_granted() {
    let cluster = cluster().await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("host.toml");
    std::fs::write(&config_path, config(&cluster, false, "[[serve.callers]]\nuid = 4321\nall = true\n")).unwrap();
    let socket = dir.path().join("secrets.sock");
    let daemon = Daemon::start(&cluster, &config_path, None, &socket);
    assert_eq!(daemon.get_json("/readyz").await, (200, json!({"status": "ready", "generation": 1})));
    assert_eq!(
        daemon.get_json("/v1/variables/my_var").await,
        (403, json!({"error": "forbidden", "message": "this peer may ask for /healthz, /readyz and /metrics only"}))
    );
    let (status, metrics) = daemon.get("/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("wasm_secrets_lookups_total{kind=\"variable\",outcome=\"found\"} 0\n"), "{metrics}");
}

/// The soft and hard open-file limits of process `pid`, from /proc.
fn open_files_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits.lines().find(|l| l.starts_with("Max open files")).unwrap();
    let mut fields = line["Max open files".len()..].split_whitespace().map(str::to_owned);
    (fields.next().unwrap(), fields.next().unwrap())
}

/// The daemon raises its soft open-file limit to what its slots need (here 700 connections and 256 more),
/// within the hard limit; under a hard limit below that, it serves anyway and says so at start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_raises_its_open_file_limit_to_what_its_connections_need() {
    let cluster = cluster().await;
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("host.toml");
    let serve = format!(
        "[serve]\nmax_connections = 700\n[[serve.callers]]\nuid = {}\nall = true\n",
        rustix::process::getuid().as_raw()
    );
    std::fs::write(&config_path, config(&cluster, false, &serve)).unwrap();
    let (_, hard) = open_files_limits(std::process::id());
    if hard != "unlimited" {
        assert!(hard.parse::<u64>().unwrap() >= 956, "this test needs a hard open-file limit of 956 or more: {hard}");
    }
    // `ulimit` in a shell that then runs the daemon: first a soft limit of 64, then soft and hard limits of 100.
    for (ulimit, soft, warned) in [("-Sn 64", "956", false), ("-n 100", "100", true)] {
        let socket = dir.path().join(format!("secrets-{soft}.sock"));
        let command = secrets(&cluster, &config_path);
        let daemon = Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit {ulimit} && exec \"$0\" \"$@\""))
            .arg(command.get_program())
            .args(command.get_args())
            .arg("serve")
            .arg("--socket")
            .arg(&socket)
            .env_clear()
            .envs(command.get_envs().filter_map(|(k, v)| Some((k, v?))))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (daemon, _) = Daemon::attach(daemon, &socket);
        let limits = open_files_limits(daemon.child.id());
        let expected_hard = if warned { "100".to_owned() } else { hard.clone() };
        assert_eq!(limits, (soft.to_owned(), expected_hard), "{ulimit}");
        let warning = daemon.stderr.iter().find(|l| l.contains("open-file limit")).cloned();
        if warned {
            let warning = warning.expect("a warning");
            assert!(
                warning.contains("the open-file limit is 100") && warning.contains("need about 956 descriptors"),
                "{warning}"
            );
        } else {
            assert_eq!(warning, None);
        }
        assert_eq!(daemon.get_json("/readyz").await, (200, json!({"status": "ready", "generation": 1})), "{ulimit}");
    }
}

/// `GET target` over TCP at `addr`, with `Authorization: Bearer TOKEN` when `token` is given, on its own
/// connection: status, `WWW-Authenticate` (if sent) and body.
async fn tcp_get(addr: std::net::SocketAddr, target: &str, token: Option<&str>) -> (u16, Option<String>, String) {
    let authorization = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let (status, head, body) = tcp_exchange(
        addr,
        &format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\n{authorization}Connection: close\r\n\r\n"),
    )
    .await;
    (status, header(&head, "www-authenticate"), body)
}

/// `request` sent as it is over its own TCP connection, read until the daemon closes it: status, head and body.
async fn tcp_exchange(addr: std::net::SocketAddr, request: &str) -> (u16, String, String) {
    tokio::time::timeout(BOUND, try_tcp_exchange(addr, request))
        .await
        .expect("the daemon answers in time")
        .expect("the daemon answers")
}

/// [`tcp_exchange`], `None` when the connection is refused, reset or closed without an answer.
async fn try_tcp_exchange(addr: std::net::SocketAddr, request: &str) -> Option<(u16, String, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.ok()?;
    let response = String::from_utf8(response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    Some((status, head.to_owned(), body.to_owned()))
}

/// The value of header `name` in a response head.
fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (key, value) = l.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
    })
}

fn tcp_json(answer: (u16, Option<String>, String)) -> (u16, Value) {
    (answer.0, serde_json::from_str(&answer.2).unwrap_or_else(|e| panic!("not JSON ({e}): {}", answer.2)))
}

/// One request on a kept-alive connection: status, the `Connection` header and body (read to its
/// `Content-Length`).
async fn keep_alive_get(
    stream: &mut tokio::net::TcpStream,
    target: &str,
    token: &str,
) -> (u16, Option<String>, String) {
    let exchange = async {
        let request = format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            let n = stream.read(&mut buffer).await.unwrap();
            assert!(n > 0, "the connection closed early: {:?}", String::from_utf8_lossy(&response));
            response.extend_from_slice(&buffer[..n]);
            let text = String::from_utf8_lossy(&response).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length: usize = header(head, "content-length").and_then(|l| l.parse().ok()).expect("a length");
                if body.len() >= length {
                    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
                    return (status, header(head, "connection"), body.to_owned());
                }
            }
        }
    };
    tokio::time::timeout(BOUND, exchange).await.expect("the daemon answers in time")
}

/// Writes a token file the daemon accepts (mode 0600).
fn write_token(path: &Path, token: &str) {
    std::fs::write(path, token).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// The TCP addresses of a `listening on PATH and ADDR [and ADDR] (TCP, ...` line.
fn tcp_addresses(line: &str) -> Vec<std::net::SocketAddr> {
    let addresses: Vec<_> = line.split(" and ").skip(1).filter_map(|a| a.split(' ').next()?.parse().ok()).collect();
    assert!(!addresses.is_empty(), "no TCP address in {line:?}");
    addresses
}

/// Whether this machine has an IPv6 loopback address to listen on.
fn has_ipv6_loopback() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tcp_a_bearer_token_admits_a_caller_with_its_grants() {
    use rustix::process::Signal;
    let cluster = cluster().await;
    let dir = tempfile::tempdir().unwrap();
    let (ci_file, ops_file) = (dir.path().join("ci-token"), dir.path().join("ops-token"));
    let ci = "ci-0123456789abcdef0123456789abcdef";
    let ops = "ops-fedcba9876543210fedcba9876543210";
    write_token(&ci_file, &format!("{ci}\n"));
    write_token(&ops_file, ops);
    let uid = rustix::process::getuid().as_raw();
    let callers = format!("[serve]\nmax_connections = 2\n[[serve.callers]]\nuid = {uid}\nall = true\n");
    let ci_entry = |grants: &str| {
        format!("[[serve.tokens]]\nname = \"ci\"\ntoken_file = \"{}\"\ngrants = [{grants}]\n", ci_file.display())
    };
    let ops_entry = format!("[[serve.tokens]]\nname = \"ops\"\ntoken_file = \"{}\"\nall = true\n", ops_file.display());
    let serve = |ci_grants: &str| format!("{callers}{}{ops_entry}", ci_entry(ci_grants));
    let config_path = dir.path().join("host.toml");
    std::fs::write(&config_path, config(&cluster, true, &serve(r#""variable:my_var""#))).unwrap();
    let socket = dir.path().join("secrets.sock");
    let audit = dir.path().join("audit.jsonl");
    let (mut daemon, line) =
        Daemon::start_with(&cluster, &config_path, Some(&audit), &socket, &["--listen", "127.0.0.1:0"]);
    let addresses = tcp_addresses(&line);
    let addr = addresses[0];
    assert!(addr.ip() == std::net::Ipv4Addr::LOCALHOST && addr.port() != 0, "{line}");
    // The same port of the other loopback address is held and served too, where the machine has one.
    if has_ipv6_loopback() {
        assert_eq!(addresses[1..], [std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, addr.port()))]);
    } else {
        assert_eq!(addresses.len(), 1, "{line}");
    }
    // A port above the unprivileged ones' start: the daemon warns that others may take it while it is down.
    let start: u16 =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start").unwrap().trim().parse().unwrap();
    let warned = daemon
        .stderr
        .iter()
        .any(|l| l.contains(&format!("may listen on port {} while the daemon is not running", addr.port())));
    assert_eq!(warned, addr.port() >= start, "{:?}", daemon.stderr);

    // Without a token: health and readiness only, and the connection is closed after the answer.
    let (status, head, body) = tcp_exchange(addr, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
    assert_eq!(
        (status, header(&head, "connection").as_deref(), body.as_str()),
        (200, Some("close"), r#"{"status":"ok"}"#)
    );
    assert_eq!(tcp_json(tcp_get(addr, "/readyz", None).await), (200, json!({"status": "ready", "generation": 1})));
    let wrong = "ci-0123456789abcdef0123456789abcdeX";
    for token in [None, Some(wrong), Some(&ci[..31])] {
        for target in ["/v1/variables/my_var", "/metrics", "/v1/connections/smtp_default/uri"] {
            let (status, challenge, body) = tcp_get(addr, target, token).await;
            assert_eq!((status, challenge.as_deref()), (401, Some("Bearer")), "{target} with {token:?}: {body}");
            assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"], "unauthorized");
        }
    }
    // What the socket refuses anyway is refused alike: a method other than GET (here a CORS preflight).
    let preflight = "OPTIONS /v1/variables/my_var HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    assert_eq!(tcp_exchange(addr, preflight).await.0, 405);
    // A page that rebinds its own name to 127.0.0.1 sends that name as Host; two Authorization headers name no
    // one caller.
    let rebound = format!(
        "GET /v1/variables/my_var HTTP/1.1\r\nHost: attacker.example:{}\r\nAuthorization: Bearer {ci}\r\nConnection: close\r\n\r\n",
        addr.port()
    );
    assert_eq!(tcp_exchange(addr, &rebound).await.0, 400);
    let twice = format!(
        "GET /v1/variables/my_var HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {ci}\r\nAuthorization: Bearer {ops}\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(tcp_exchange(addr, &twice).await.0, 400);

    // A token reads what its entry grants, whichever loopback name the client sends as Host.
    for host in ["localhost".to_owned(), format!("localhost:{}", addr.port()), format!("[::1]:{}", addr.port())] {
        let request = format!(
            "GET /v1/variables/my_var HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {ci}\r\nConnection: close\r\n\r\n"
        );
        assert_eq!(tcp_exchange(addr, &request).await.0, 200, "Host: {host}");
    }
    let ci_reads = |target: &'static str| tcp_get(addr, target, Some(ci));
    assert_eq!(tcp_json(ci_reads("/v1/variables/my_var").await), (200, json!({"value": "my_secret_value"})));
    assert_eq!(tcp_json(ci_reads("/v1/connections/smtp_default/uri").await).0, 403);
    assert_eq!(tcp_json(ci_reads("/v1/variables/my_var?team=alpha").await).0, 403);
    for served in &addresses {
        assert_eq!(
            tcp_json(tcp_get(*served, "/v1/connections/smtp_default/uri", Some(ops)).await),
            (200, json!({"uri": "smtp://user:password@smtp.example.com:587"})),
            "{served}"
        );
    }
    let (status, _, metrics) = ci_reads("/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("wasm_secrets_serve_requests_total{code=\"401\"} 9\n"), "{metrics}");
    assert!(metrics.contains("wasm_secrets_serve_requests_total{code=\"400\"} 2\n"), "{metrics}");
    assert!(metrics.contains("wasm_secrets_serve_requests_total{code=\"405\"} 1\n"), "{metrics}");
    // The socket still serves its callers by peer credentials.
    assert_eq!(daemon.get_json("/v1/connections/smtp_default/uri").await.0, 200);

    // The audit log names token callers by their entry's name, never by the token.
    let audit_text = std::fs::read_to_string(&audit).unwrap();
    assert!(!audit_text.contains(ci) && !audit_text.contains(ops), "{audit_text}");
    let lines: Vec<(String, String, String)> = audit_text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|l| {
            let field = |k: &str| l[k].as_str().unwrap().to_owned();
            (field("caller"), field("id"), field("outcome"))
        })
        .collect();
    let line = |caller: &str, id: &str, outcome: &str| (caller.to_owned(), id.to_owned(), outcome.to_owned());
    let mut expected = vec![line("token=ci", "my_var", "found"); 4];
    expected.extend([
        line("token=ci", "smtp_default", "refused"),
        line("token=ci", "my_var", "refused"),
        line("token=ops", "smtp_default", "found"),
    ]);
    assert_eq!(lines[..7], expected);

    // A reload reads the token files again: a rotated token replaces the old one, on a connection kept open
    // across the reload too.
    let mut kept = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (status, connection, _) = keep_alive_get(&mut kept, "/v1/variables/my_var", ci).await;
    assert_eq!((status, connection), (200, None), "a valid token keeps its connection");
    let rotated = "ci-rotated-0123456789abcdefghijklmnop";
    write_token(&ci_file, rotated);
    std::fs::write(&config_path, config(&cluster, true, &serve(r#""variable:*""#))).unwrap();
    daemon.signal(Signal::HUP);
    let reloaded = daemon.wait_for_line("reloaded the configuration");
    assert!(reloaded.contains("(configuration 2;"), "{reloaded}");
    let (status, connection, _) = keep_alive_get(&mut kept, "/v1/variables/my_var", ci).await;
    assert_eq!((status, connection.as_deref()), (401, Some("close")));
    assert_eq!(tcp_get(addr, "/v1/variables/my_var", Some(ci)).await.0, 401);
    assert_eq!(tcp_json(tcp_get(addr, "/v1/variables/my_var?team=alpha", Some(rotated)).await).0, 403);
    assert_eq!(tcp_json(tcp_get(addr, "/v1/variables/my_var", Some(rotated)).await).0, 200);

    // The socket's slots (2 here) and the 64 TCP slots are apart: idle TCP connections hold TCP slots only ...
    let mut idle = Vec::new();
    for _ in 0..64 {
        idle.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    let healthz = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let refused = async {
        // Until the daemon has accepted all 64, the extra connection is still answered.
        while try_tcp_exchange(addr, healthz).await.is_some() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(BOUND, refused).await.expect("the 65th TCP connection is closed unanswered");
    assert_eq!(daemon.get_json("/v1/variables/my_var").await, (200, json!({"value": "my_secret_value"})));
    let (_, metrics) = daemon.get("/metrics").await;
    assert!(metrics.contains("\nwasm_secrets_serve_refused_tcp_connections_total 1\n"), "{metrics}");
    assert!(metrics.contains("\nwasm_secrets_serve_refused_connections_total 0\n"), "{metrics}");
    drop(idle);
    // ... and idle socket connections hold the socket's slots only.
    let held = [
        tokio::net::UnixStream::connect(&socket).await.unwrap(),
        tokio::net::UnixStream::connect(&socket).await.unwrap(),
    ];
    let ops_request = format!(
        "GET /v1/connections/smtp_default/uri HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {ops}\r\nConnection: close\r\n\r\n"
    );
    let answered = async {
        loop {
            // The TCP slots of the dropped connections come back as the daemon sees them closed.
            if let Some((200, _, body)) = try_tcp_exchange(addr, &ops_request).await {
                break body;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let body = tokio::time::timeout(BOUND, answered).await.expect("TCP answers while the socket's slots are held");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"uri": "smtp://user:password@smtp.example.com:587"})
    );
    drop(held);

    // A reload that fails still revokes: an entry the new file no longer names admits nobody ...
    let broken = format!(
        "{}\n[[providers]]\nname = \"broken\"\ncomponent = \"{}\"\n",
        config(&cluster, true, &format!("{callers}{ops_entry}")),
        dir.path().join("no-such-component.wasm").display()
    );
    std::fs::write(&config_path, broken).unwrap();
    daemon.signal(Signal::HUP);
    let failed = daemon.wait_for_line("reload failed");
    assert!(failed.contains("still serving the previous configuration"), "{failed}");
    assert_eq!(tcp_get(addr, "/v1/variables/my_var", Some(rotated)).await.0, 401, "the ci entry is gone");
    assert_eq!(tcp_get(addr, "/v1/connections/smtp_default/uri", Some(ops)).await.0, 200);
    // ... and so does a deleted token file, even when the new file cannot be read at all.
    std::fs::remove_file(&ops_file).unwrap();
    std::fs::write(&config_path, "[[providers]]\nname = 1\n").unwrap();
    daemon.signal(Signal::HUP);
    daemon.wait_for_line("reload failed");
    let problem = daemon.stderr.iter().find(|l| l.contains("tokens `ops`: cannot read the token file")).cloned();
    assert!(
        problem.is_some_and(|l| l.ends_with("(the entry admits nobody until that is fixed and the daemon reloaded)")),
        "{:?}",
        daemon.stderr
    );
    assert_eq!(tcp_get(addr, "/v1/connections/smtp_default/uri", Some(ops)).await.0, 401);
    assert_eq!(tcp_json(tcp_get(addr, "/readyz", None).await).1["generation"], 2);

    // A configuration without tokens is served: every TCP read is then refused, and stderr says so.
    write_token(&ci_file, rotated);
    std::fs::write(&config_path, config(&cluster, true, &callers)).unwrap();
    daemon.signal(Signal::HUP);
    let reloaded = daemon.wait_for_line("reloaded the configuration");
    assert!(reloaded.contains("(configuration 3;"), "{reloaded}");
    assert!(
        daemon
            .stderr
            .iter()
            .any(|l| l.contains("secrets serve: [serve] names no tokens: every TCP read is refused (401)")),
        "{:?}",
        daemon.stderr
    );
    assert_eq!(tcp_get(addr, "/v1/variables/my_var", Some(rotated)).await.0, 401);
    assert_eq!(tcp_json(tcp_get(addr, "/healthz", None).await).0, 200);
    assert_eq!(daemon.get_json("/v1/variables/my_var").await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_is_refused_off_loopback_without_tokens_and_on_a_taken_port() {
    let cluster = cluster().await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    write_token(&token_file, "t0123456789abcdef0123456789abcdef");
    let uid = rustix::process::getuid().as_raw();
    let callers = format!("[[serve.callers]]\nuid = {uid}\nall = true\n");
    let with_token = format!(
        "{callers}[[serve.tokens]]\nname = \"t\"\ntoken_file = \"{}\"\ngrants = [\"variable:x\"]\n",
        token_file.display()
    );
    let socket = dir.path().join("secrets.sock");
    let config_path = dir.path().join("host.toml");
    let refused = |serve: &str, listen: &str| {
        std::fs::write(&config_path, config(&cluster, false, serve)).unwrap();
        let output = Daemon::spawn_with(&cluster, &config_path, None, &socket, &["--listen", listen])
            .wait_with_output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "--listen {listen}");
        assert!(!socket.exists(), "no socket is left");
        String::from_utf8(output.stderr).unwrap()
    };
    for address in ["0.0.0.0:0", "192.0.2.1:8080", "[::]:0", "[::ffff:127.0.0.1]:0", "127.0.0.2:0"] {
        let stderr = refused(&with_token, address);
        assert!(stderr.contains(&format!("--listen {address}: only a loopback address is served")), "{stderr}");
    }
    let stderr = refused(&callers, "127.0.0.1:0");
    assert!(stderr.contains("TCP callers are admitted by bearer token only, and [serve] names none"), "{stderr}");
    // A port another process listens on.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let stderr = refused(&with_token, &format!("127.0.0.1:{port}"));
    assert!(stderr.contains(&format!("--listen 127.0.0.1:{port}: cannot listen")), "{stderr}");
    drop(taken);
    // The same port of the other loopback address, held by another process.
    if has_ipv6_loopback() {
        let taken = std::net::TcpListener::bind("[::1]:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let stderr = refused(&with_token, &format!("127.0.0.1:{port}"));
        assert!(stderr.contains(&format!("another process listens on [::1]:{port}")), "{stderr}");
    }
    // At start, every token must be usable (and is never shown).
    write_token(&token_file, "short-token");
    let stderr = refused(&with_token, "127.0.0.1:0");
    assert!(stderr.contains("[serve] tokens `t`: the token in ") && !stderr.contains("short-token"), "{stderr}");
    write_token(&token_file, "t0123456789abcdef0123456789abcdef");
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let stderr = refused(&with_token, "127.0.0.1:0");
    assert!(stderr.contains("others may read or write it"), "{stderr}");
    // Without --listen, token files are not read: a missing one does not stop the daemon.
    std::fs::remove_file(&token_file).unwrap();
    std::fs::write(&config_path, config(&cluster, false, &with_token)).unwrap();
    let (daemon, _) = Daemon::start_with(&cluster, &config_path, None, &socket, &[]);
    assert!(
        daemon.stderr.iter().any(|l| l.contains("[serve] tokens admit nobody without --listen")),
        "{:?}",
        daemon.stderr
    );
    assert_eq!(daemon.get_json("/healthz").await, (200, json!({"status": "ok"})));
}
