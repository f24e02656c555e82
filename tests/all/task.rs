//! Task components of a scheduler reading their secrets (issue 16, docs/embedding.md): through
//! `wasi:config/store` and the typed `task` interface, only what they are granted, audited with their name,
//! and nothing else of the host's.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value as Json;
use wasm_secrets::embed::{TaskError, TaskLimits, TaskOutput, TaskRunner, TaskSecrets, TaskStatus};
use wasm_secrets::task::TaskGrants;
use wasm_secrets::{ArtifactCache, Cache, CacheSettings, Chain, Link};
use wasm_secrets_artifacts::{TYPED_TASK_PATH, WASI_CONFIG_TASK_PATH};

use crate::support::Cluster;

const SMTP_URI: &str = "smtp://user:password@smtp.example.com:587";

/// The seed's Kubernetes provider, with the cache on when asked, auditing to `audit`.
fn chain(cluster: &Cluster, cache: bool, audit: &Path) -> Arc<Chain> {
    let provider = cluster.provider(r#"{"namespace": "airflow"}"#);
    let cache = cache.then(|| Cache::new(CacheSettings { enabled: true, ..CacheSettings::default() }));
    let audit = Arc::new(wasm_secrets::audit::AuditLog::open(audit).unwrap());
    Arc::new(Chain::new(vec![Link { name: "k8s".into(), provider }], cache, Arc::new(|_, _| {})).with_audit(audit))
}

fn grants(grants: &[&str]) -> TaskGrants {
    TaskGrants { grants: grants.iter().map(|g| g.parse().unwrap()).collect(), team: None }
}

/// Runs the task component at `path` as `name` with `grants`, arguments `args`.
async fn run(chain: &Arc<Chain>, path: &str, name: &str, granted: &[&str], args: &[&str]) -> TaskOutput {
    let runner = runner();
    let component = runner.load(Path::new(path), &cache()).unwrap();
    let argv: Vec<String> = std::iter::once(name).chain(args.iter().copied()).map(str::to_owned).collect();
    let secrets = TaskSecrets::new(Arc::clone(chain), name, grants(granted));
    runner.run(&component, secrets, &argv, TaskLimits::default()).await.unwrap()
}

/// One runner for the test process (its engine ticks for every task).
fn runner() -> &'static TaskRunner {
    static RUNNER: std::sync::OnceLock<TaskRunner> = std::sync::OnceLock::new();
    RUNNER.get_or_init(|| TaskRunner::new().unwrap())
}

/// The test run's compiled-component cache: each task component is compiled once.
fn cache() -> ArtifactCache {
    ArtifactCache::Dir(crate::cli::shared_cache_dir().into())
}

fn stdout(output: &TaskOutput) -> &str {
    assert_eq!(output.status, TaskStatus::Exited(0), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    std::str::from_utf8(&output.stdout).unwrap()
}

/// The audit log's lines as (caller, kind, id, outcome).
fn audited(path: &Path) -> Vec<(String, String, String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|line| {
            let record: Json = serde_json::from_str(line).unwrap();
            let field = |name: &str| record[name].as_str().unwrap_or("-").to_owned();
            (field("caller"), field("kind"), field("id"), field("outcome"))
        })
        .collect()
}

fn line(caller: &str, kind: &str, id: &str, outcome: &str) -> (String, String, String, String) {
    (caller.to_owned(), kind.to_owned(), id.to_owned(), outcome.to_owned())
}

/// The emulator's logged label selectors (one per list request).
fn selectors(cluster: &Cluster) -> Vec<String> {
    cluster
        .requests()
        .iter()
        .filter_map(|r| {
            r.query.as_deref()?.split('&').find_map(|p| p.strip_prefix("labelSelector=")).map(str::to_owned)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_reads_granted_secrets_through_wasi_config_and_the_typed_interface() {
    let cluster = Cluster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let chain = chain(&cluster, false, &audit);
    let granted = ["connection:smtp_default", "variable:my_var", "connection:my_postgres_db"];

    let keys = [
        "connection/smtp_default",
        "connection-field/login/smtp_default",
        "connection-field/port/smtp_default",
        "connection-field/description/smtp_default",
        "variable/my_var",
    ];
    let args: Vec<&str> = std::iter::once("get").chain(keys).collect();
    let out = run(&chain, WASI_CONFIG_TASK_PATH, "config-task", &granted, &args).await;
    assert_eq!(
        stdout(&out),
        format!(
            "connection/smtp_default={SMTP_URI}\nconnection-field/login/smtp_default=user\n\
             connection-field/port/smtp_default=587\nconnection-field/description/smtp_default (none)\n\
             variable/my_var=my_secret_value\n"
        )
    );

    let out = run(&chain, TYPED_TASK_PATH, "typed-task", &granted, &["connection", "my_postgres_db"]).await;
    assert_eq!(
        stdout(&out),
        "conn_type=postgres\nhost=db.example.com\nschema=mydb\nlogin=user\npassword=pass\nport=5432\n"
    );
    let out = run(&chain, TYPED_TASK_PATH, "typed-task", &granted, &["variable", "my_var"]).await;
    assert_eq!(stdout(&out), "value=my_secret_value\n");

    let mut expected: Vec<_> =
        ["smtp_default"; 4].iter().map(|id| line("config-task", "connection", id, "found")).collect();
    expected.push(line("config-task", "variable", "my_var", "found"));
    expected.push(line("typed-task", "connection", "my_postgres_db", "found"));
    expected.push(line("typed-task", "variable", "my_var", "found"));
    assert_eq!(audited(&audit), expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ungranted_key_reads_as_not_found_asks_nothing_and_is_audited_as_refused() {
    let cluster = Cluster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let chain = chain(&cluster, false, &audit);
    let granted = ["connection:smtp_*"];
    let args = [
        "get",
        "connection/my_postgres_db",
        "connection-field/password/my_postgres_db",
        "variable/my_var",
        "nonsense",
        "vault/copied-value",
    ];
    let out = run(&chain, WASI_CONFIG_TASK_PATH, "nosy", &granted, &args).await;
    assert_eq!(
        stdout(&out),
        "connection/my_postgres_db (none)\nconnection-field/password/my_postgres_db (none)\nvariable/my_var (none)\n\
         nonsense (none)\nvault/copied-value (none)\n"
    );
    let out = run(&chain, TYPED_TASK_PATH, "nosy", &granted, &["connection", "my_postgres_db"]).await;
    assert_eq!(stdout(&out), "(none)\n");
    let out = run(&chain, TYPED_TASK_PATH, "nosy", &granted, &["secret", "my-smtp-secret", "value"]).await;
    assert_eq!(stdout(&out), "(none)\n");
    assert_eq!(cluster.requests().len(), 0, "nothing was asked of the store: {:?}", selectors(&cluster));
    assert_eq!(
        audited(&audit),
        [
            line("nosy", "connection", "my_postgres_db", "refused"),
            line("nosy", "connection", "my_postgres_db", "refused"),
            line("nosy", "variable", "my_var", "refused"),
            line("nosy", "invalid", "nonsense", "refused"),
            // Only the first segment of a key of no known form: the rest could be a value the task copied there.
            line("nosy", "invalid", "vault… (18 bytes)", "refused"),
            line("nosy", "connection", "my_postgres_db", "refused"),
            line("nosy", "secret", "my-smtp-secret", "refused"),
        ]
    );
    // A granted pattern reads what it matches.
    let out =
        run(&chain, WASI_CONFIG_TASK_PATH, "nosy", &granted, &["get", "connection-field/host/smtp_default"]).await;
    assert_eq!(stdout(&out), "connection-field/host/smtp_default=smtp.example.com\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn get_all_returns_only_what_is_granted() {
    let cluster = Cluster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let chain = chain(&cluster, false, &audit);
    let labels = serde_json::json!({"airflow.apache.org/variable-key": "other_var"});
    cluster.insert("other-var", labels, serde_json::json!({"value": crate::support::b64("other")}));
    let granted = [
        "connection:smtp_default",
        "connection:not_there",
        "variable:my_*",
        "config:nothing_*",
        "secret:my-smtp-secret/value",
        "variable:a,b",
    ];
    let out = run(&chain, WASI_CONFIG_TASK_PATH, "all", &granted, &["all"]).await;
    assert_eq!(
        stdout(&out),
        format!(
            "connection/smtp_default={SMTP_URI}\nsecret/my-smtp-secret/value={SMTP_URI}\nvariable/my_var=my_secret_value\n"
        )
    );
    let lines = audited(&audit);
    assert!(lines.iter().all(|(caller, ..)| caller == "all"), "{lines:?}");
    assert!(lines.contains(&line("all", "connection", "not_there", "not_found")), "{lines:?}");
    assert!(
        !lines.iter().any(|(_, _, id, _)| id == "my_postgres_db" || id == "other_var"),
        "listed ids that no grant matches are not read: {lines:?}"
    );

    // Nothing granted: nothing listed, nothing asked.
    cluster.emulator.clear_requests();
    let out = run(&chain, WASI_CONFIG_TASK_PATH, "none", &[], &["all"]).await;
    assert_eq!(stdout(&out), "");
    assert_eq!(cluster.requests().len(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_tasks_in_one_process_share_the_cache_but_never_each_others_secrets() {
    let cluster = Cluster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let chain = chain(&cluster, true, &audit);
    let both = ["get", "connection/smtp_default", "connection/my_postgres_db"];
    let (mailer, reporter) = tokio::join!(
        run(&chain, WASI_CONFIG_TASK_PATH, "mailer", &["connection:smtp_default"], &both),
        run(&chain, WASI_CONFIG_TASK_PATH, "reporter", &["connection:my_postgres_db"], &both),
    );
    let postgres_uri = "postgres://user:pass@db.example.com:5432/mydb";
    assert_eq!(stdout(&mailer), format!("connection/smtp_default={SMTP_URI}\nconnection/my_postgres_db (none)\n"));
    assert_eq!(
        stdout(&reporter),
        format!("connection/smtp_default (none)\nconnection/my_postgres_db={postgres_uri}\n")
    );
    // Both connections are in the shared cache now; each task still reads only its own.
    let (mailer, reporter) = tokio::join!(
        run(&chain, TYPED_TASK_PATH, "mailer", &["connection:smtp_default"], &["connection", "my_postgres_db"]),
        run(&chain, TYPED_TASK_PATH, "reporter", &["connection:my_postgres_db"], &["connection", "smtp_default"]),
    );
    assert_eq!((stdout(&mailer), stdout(&reporter)), ("(none)\n", "(none)\n"));
    let refused: Vec<_> = audited(&audit).into_iter().filter(|(.., outcome)| outcome == "refused").collect();
    let mut refused: Vec<(String, String)> = refused.into_iter().map(|(caller, _, id, _)| (caller, id)).collect();
    refused.sort();
    let pair = |caller: &str, id: &str| (caller.to_owned(), id.to_owned());
    assert_eq!(
        refused,
        [
            pair("mailer", "my_postgres_db"),
            pair("mailer", "my_postgres_db"),
            pair("reporter", "smtp_default"),
            pair("reporter", "smtp_default")
        ]
    );
    // Each connection was read from the store once: the second reads were the cache's.
    assert_eq!(cluster.requests().len(), 2, "{:?}", selectors(&cluster));
}

/// A component that imports what only providers get is refused before it runs.
fn importing(interface: &str, function: &str) -> Vec<u8> {
    let text = format!(r#"(component (import "{interface}" (instance (export "{function}" (func)))))"#);
    wat::parse_str(text).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_reaches_no_transport_token_file_environment_or_stdin() {
    let cluster = Cluster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let chain = chain(&cluster, false, &dir.path().join("audit.jsonl"));
    // The test process has an environment (and the cluster a token file): the task sees none of it.
    let out = run(&chain, WASI_CONFIG_TASK_PATH, "probe", &["connection:*"], &["probe"]).await;
    assert_eq!(stdout(&out), "environment variables: 0\nfiles: none\nnetwork: refused\nstdin bytes: 0\n");

    let runner = runner();
    for (interface, function) in
        [("wasi:http/outgoing-handler@0.2.12", "handle"), ("wasm-secrets:provider/host@0.3.0", "read-file")]
    {
        let path = dir.path().join("importer.wasm");
        std::fs::write(&path, importing(interface, function)).unwrap();
        let component = runner.load(&path, &ArtifactCache::Disabled).unwrap();
        let secrets = TaskSecrets::new(Arc::clone(&chain), "importer", grants(&["connection:*"]));
        let error = runner.run(&component, secrets, &["importer".to_owned()], TaskLimits::default()).await.unwrap_err();
        assert!(matches!(error, TaskError::Link { .. }), "{error:?}");
        assert!(error.to_string().contains(interface), "{error}");
    }
    assert_eq!(cluster.requests().len(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_task_run_works_end_to_end() {
    let cluster = Cluster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let audit_arg = audit.display().to_string();
    let out = crate::cli::secrets(
        &cluster,
        &[
            "--audit-log",
            &audit_arg,
            "task",
            "run",
            "--grant",
            "connection:smtp_default",
            "--grant",
            "variable:my_*",
            "--name",
            "check",
            WASI_CONFIG_TASK_PATH,
            "--",
            "get",
            "connection/smtp_default",
            "variable/my_var",
            "connection/my_postgres_db",
        ],
    )
    .await;
    assert_eq!(out.code, 0, "stderr: {}", out.stderr);
    assert_eq!(
        out.stdout,
        format!(
            "connection/smtp_default={SMTP_URI}\nvariable/my_var=my_secret_value\nconnection/my_postgres_db (none)\n"
        )
    );
    assert_eq!(out.stderr, "");
    assert_eq!(
        audited(&audit),
        [
            line("check", "connection", "smtp_default", "found"),
            line("check", "variable", "my_var", "found"),
            line("check", "connection", "my_postgres_db", "refused"),
        ]
    );
    // The task's own exit status and stderr are passed on: the typed task's usage error (a wasi:cli 0.2 command
    // exits with success or failure: 0 or 1).
    let out = crate::cli::secrets(&cluster, &["task", "run", TYPED_TASK_PATH, "--", "what"]).await;
    assert_eq!((out.code, out.stdout.as_str()), (1, ""));
    assert!(out.stderr.starts_with("usage: example-task-typed"), "{}", out.stderr);
    // Without --name, the task is named after its file (argv[0] and the audit log's caller).
    let out = crate::cli::secrets(
        &cluster,
        &["--audit-log", &audit_arg, "task", "run", TYPED_TASK_PATH, "--", "variable", "my_var"],
    )
    .await;
    assert_eq!((out.code, out.stdout.as_str()), (0, "(none)\n"), "{}", out.stderr);
    assert_eq!(audited(&audit).last().unwrap(), &line("example-task-typed.wasm", "variable", "my_var", "refused"));
    // What cannot run is a usage error (2): a component that imports what only providers get, a team a task may
    // not have.
    let importer = dir.path().join("importer.wasm");
    std::fs::write(&importer, importing("wasi:http/outgoing-handler@0.2.12", "handle")).unwrap();
    let out = crate::cli::secrets(&cluster, &["task", "run", &importer.display().to_string()]).await;
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("wasi:http/outgoing-handler@0.2.12"), "{}", out.stderr);
    let out = crate::cli::secrets(&cluster, &["task", "run", "--team", "_a", TYPED_TASK_PATH]).await;
    assert_eq!((out.code, out.stderr.as_str()), (2, "error: --team: the team starts or ends with `_`\n"));
    // A bad grant is a usage error naming it.
    let out = crate::cli::secrets(&cluster, &["task", "run", "--grant", "password:x", TYPED_TASK_PATH]).await;
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("password:x"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_example_scheduler_runs_its_tasks_with_their_grants() {
    let cluster = Cluster::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("host.toml"),
        format!(
            "[[providers]]\nname = \"k8s\"\ncomponent = \"builtin:kubernetes\"\nkubernetes = {{ service_account_dir = \"{}\" }}\n",
            cluster.sa_path().display()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("schedule.toml"),
        format!(
            "host_config = \"host.toml\"\naudit_log = \"audit.jsonl\"\n\n\
             [[tasks]]\nname = \"mailer\"\ncomponent = \"{WASI_CONFIG_TASK_PATH}\"\n\
             args = [\"get\", \"connection/smtp_default\", \"variable/my_var\"]\ngrants = [\"connection:smtp_default\"]\n\n\
             [[tasks]]\nname = \"reporter\"\ncomponent = \"{TYPED_TASK_PATH}\"\nargs = [\"connection\", \"my_postgres_db\"]\n\
             grants = [\"connection:my_postgres_db\", \"variable:my_var\"]\n"
        ),
    )
    .unwrap();
    let schedule = example_scheduler::load(&dir.path().join("schedule.toml")).unwrap();
    let env = cluster.env();
    let finished = example_scheduler::run(&schedule, &env).await.unwrap();
    let summary: Vec<(&str, &example_scheduler::Exit, &str)> =
        finished.iter().map(|f| (f.name.as_str(), &f.exit, f.stdout.as_str())).collect();
    let ok = example_scheduler::Exit::Status(0);
    assert_eq!(
        summary,
        [
            ("mailer", &ok, format!("connection/smtp_default={SMTP_URI}\nvariable/my_var (none)\n").as_str()),
            (
                "reporter",
                &ok,
                "conn_type=postgres\nhost=db.example.com\nschema=mydb\nlogin=user\npassword=pass\nport=5432\n"
            ),
        ]
    );
    let mut lines = audited(&dir.path().join("audit.jsonl"));
    lines.sort();
    assert_eq!(
        lines,
        [
            line("mailer", "connection", "smtp_default", "found"),
            line("mailer", "variable", "my_var", "refused"),
            line("reporter", "connection", "my_postgres_db", "found"),
        ]
    );
}

/// A `wasi:cli` command whose `run` is the core function `body` (returning 0 for success).
fn command(body: &str) -> Vec<u8> {
    let text = format!(
        r#"(component
            (core module $m (memory 1) (func (export "run") (result i32) {body}))
            (core instance $i (instantiate $m))
            (func $run (result (result)) (canon lift (core func $i "run")))
            (instance $cli (export "run" (func $run)))
            (export "wasi:cli/run@0.2.0" (instance $cli)))"#
    );
    wat::parse_str(text).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_is_stopped_at_its_time_and_memory_limits() {
    let cluster = Cluster::start().await;
    let dir = tempfile::tempdir().unwrap();
    // Never waits, never returns: only the runner's time limit (with the epoch yields) ends it.
    let spin = dir.path().join("spin.wasm");
    std::fs::write(&spin, command("(loop $l (br $l)) (i32.const 0)")).unwrap();
    // Grows its memory until refused; traps when that happened below 2 MiB (the limit held), else fails (1).
    let hog = dir.path().join("hog.wasm");
    let grow = "(loop $l (br_if $l (i32.ne (memory.grow (i32.const 1)) (i32.const -1)))) \
                (if (i32.le_u (memory.size) (i32.const 32)) (then unreachable)) (i32.const 1)";
    std::fs::write(&hog, command(grow)).unwrap();
    let spin = spin.display().to_string();
    let hog = hog.display().to_string();

    let out = tokio::time::timeout(
        // Far above the 1 s limit: only a task that is never stopped (or a very slow machine) reaches it.
        std::time::Duration::from_secs(300),
        crate::cli::secrets(&cluster, &["task", "run", "--timeout", "1", &spin]),
    )
    .await
    .expect("the task was stopped");
    assert_eq!((out.code, out.stdout.as_str()), (124, ""));
    assert_eq!(out.stderr, "secrets: the task ran longer than 1 s and was stopped\n");

    let out = crate::cli::secrets(&cluster, &["task", "run", "--memory", "1", &hog]).await;
    assert_eq!((out.code, out.stdout.as_str()), (134, ""), "stderr: {}", out.stderr);
    assert!(out.stderr.starts_with("secrets: the task failed: "), "{}", out.stderr);
    assert!(out.stderr.contains("unreachable"), "{}", out.stderr);

    // A run that fails is exit status 1.
    let fail = dir.path().join("fail.wasm");
    std::fs::write(&fail, command("(i32.const 1)")).unwrap();
    let out = crate::cli::secrets(&cluster, &["task", "run", &fail.display().to_string()]).await;
    assert_eq!((out.code, out.stdout.as_str(), out.stderr.as_str()), (1, "", ""));
}

#[tokio::test(flavor = "multi_thread")]
async fn ids_with_label_selector_syntax_or_another_teams_separator_are_refused_whatever_the_pattern() {
    let cluster = Cluster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let chain = chain(&cluster, false, &audit);
    // `smtp_default,!x_ro` ends in `_ro`; as a label selector it would select `smtp_default`.
    let granted = ["connection:*_ro", "variable:*"];
    let args =
        ["get", "connection/smtp_default,!x_ro", "connection-field/password/smtp_default,!x_ro", "variable/a___b"];
    let out = run(&chain, WASI_CONFIG_TASK_PATH, "injector", &granted, &args).await;
    assert_eq!(
        stdout(&out),
        "connection/smtp_default,!x_ro (none)\nconnection-field/password/smtp_default,!x_ro (none)\nvariable/a___b (none)\n"
    );
    let out = run(&chain, TYPED_TASK_PATH, "injector", &granted, &["connection", "smtp_default,!x_ro"]).await;
    assert_eq!(stdout(&out), "(none)\n");
    let out = run(&chain, TYPED_TASK_PATH, "injector", &granted, &["variable", ""]).await;
    assert_eq!(stdout(&out), "(none)\n");
    assert_eq!(cluster.requests().len(), 0, "{:?}", selectors(&cluster));
    let outcomes: Vec<String> = audited(&audit).into_iter().map(|(.., outcome)| outcome).collect();
    assert_eq!(outcomes, ["refused"; 5]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_past_its_read_budget_is_stopped() {
    let cluster = Cluster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let chain = chain(&cluster, false, &dir.path().join("audit.jsonl"));
    let component = runner().load(Path::new(WASI_CONFIG_TASK_PATH), &cache()).unwrap();
    let secrets = TaskSecrets::new(Arc::clone(&chain), "greedy", grants(&[])).with_max_reads(2);
    let argv: Vec<String> = ["greedy", "get", "variable/a", "variable/b", "variable/c"].map(str::to_owned).into();
    let out = runner().run(&component, secrets, &argv, TaskLimits::default()).await.unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "variable/a (none)\nvariable/b (none)\n");
    match &out.status {
        TaskStatus::Trapped(message) => {
            assert!(message.contains("task `greedy` made more than 2 secret reads, its budget"), "{message}")
        }
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_memory_limit_holds_for_all_of_a_tasks_memories_together() {
    let cluster = Cluster::start().await;
    let dir = tempfile::tempdir().unwrap();
    // Two memories, each grown until refused: the limit (16 pages) holds for both together, so it traps;
    // were it per memory, they would hold 32 pages and it would fail (1).
    let text = r#"(component
        (core module $m (memory $a 1) (memory $b 1)
            (func (export "run") (result i32)
                (loop $l (br_if $l (i32.ne (memory.grow $a (i32.const 1)) (i32.const -1))))
                (loop $l (br_if $l (i32.ne (memory.grow $b (i32.const 1)) (i32.const -1))))
                (if (i32.le_u (i32.add (memory.size $a) (memory.size $b)) (i32.const 16)) (then unreachable))
                (i32.const 1)))
        (core instance $i (instantiate $m))
        (func $run (result (result)) (canon lift (core func $i "run")))
        (instance $cli (export "run" (func $run)))
        (export "wasi:cli/run@0.2.0" (instance $cli)))"#;
    let path = dir.path().join("two-memories.wasm");
    std::fs::write(&path, wat::parse_str(text).unwrap()).unwrap();
    let out = crate::cli::secrets(&cluster, &["task", "run", "--memory", "1", &path.display().to_string()]).await;
    assert_eq!(out.code, 134, "stderr: {}", out.stderr);
    assert!(
        out.stderr.starts_with("secrets: the task failed: it went past its memory limit (1048576 bytes): "),
        "{}",
        out.stderr
    );
}

/// A component written against Spin's `wasi:config@0.2.0-draft-2024-09-27` that reads `variable/my_var` and
/// succeeds when it got a value starting with `m` of 15 bytes (`my_secret_value`).
fn spin_config_reader() -> Vec<u8> {
    let text = r#"(component
        (import "wasi:config/store@0.2.0-draft-2024-09-27" (instance $store
            (type $err (variant (case "upstream" string) (case "io" string)))
            (export "error" (type $e (eq $err)))
            (type $r (result (option string) (error $e)))
            (export "get" (func (param "key" string) (result $r)))))
        (core module $mem
            (memory (export "memory") 1)
            (global $next (mut i32) (i32.const 4096))
            (func (export "realloc") (param i32 i32 i32 i32) (result i32) (local $p i32)
                (local.set $p (i32.and (i32.add (global.get $next) (i32.const 7)) (i32.const -8)))
                (global.set $next (i32.add (local.get $p) (local.get 3)))
                (local.get $p)))
        (core instance $m (instantiate $mem))
        (alias core export $m "memory" (core memory $memory))
        (alias core export $m "realloc" (core func $realloc))
        (alias export $store "get" (func $get))
        (core func $get_lowered (canon lower (func $get) (memory $memory) (realloc $realloc)))
        (core module $main
            (import "host" "get" (func $get (param i32 i32 i32)))
            (import "host" "memory" (memory 1))
            (data (i32.const 16) "variable/my_var")
            (func (export "run") (result i32)
                (call $get (i32.const 16) (i32.const 15) (i32.const 64))
                (if (i32.ne (i32.load8_u (i32.const 64)) (i32.const 0)) (then (return (i32.const 1))))
                (if (i32.ne (i32.load8_u (i32.const 68)) (i32.const 1)) (then (return (i32.const 1))))
                (if (i32.ne (i32.load (i32.const 76)) (i32.const 15)) (then (return (i32.const 1))))
                (if (i32.ne (i32.load8_u (i32.load (i32.const 72))) (i32.const 109)) (then (return (i32.const 1))))
                (i32.const 0)))
        (core instance $host (export "get" (func $get_lowered)) (export "memory" (memory $memory)))
        (core instance $main_i (instantiate $main (with "host" (instance $host))))
        (func $run (result (result)) (canon lift (core func $main_i "run")))
        (instance $cli (export "run" (func $run)))
        (export "wasi:cli/run@0.2.0" (instance $cli)))"#;
    wat::parse_str(text).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_component_built_for_spins_draft_of_wasi_config_reads_the_same_way() {
    let cluster = Cluster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let chain = chain(&cluster, false, &audit);
    let path = dir.path().join("spin.wasm");
    std::fs::write(&path, spin_config_reader()).unwrap();
    let component = runner().load(&path, &ArtifactCache::Disabled).unwrap();
    let argv = ["spin".to_owned()];
    for (granted, status) in [(&["variable:my_var"][..], 0), (&[][..], 1)] {
        let secrets = TaskSecrets::new(Arc::clone(&chain), "spin", grants(granted));
        let out = runner().run(&component, secrets, &argv, TaskLimits::default()).await.unwrap();
        assert_eq!(out.status, TaskStatus::Exited(status), "grants {granted:?}");
    }
    assert_eq!(
        audited(&audit),
        [line("spin", "variable", "my_var", "found"), line("spin", "variable", "my_var", "refused")]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn get_all_takes_each_listed_lookup_from_the_read_budget() {
    let cluster = Cluster::start().await;
    for i in 0..5 {
        let labels = serde_json::json!({"airflow.apache.org/variable-key": format!("v{i}")});
        cluster.insert(&format!("v-{i}"), labels, serde_json::json!({"value": crate::support::b64("x")}));
    }
    let dir = tempfile::tempdir().unwrap();
    let chain = chain(&cluster, false, &dir.path().join("audit.jsonl"));
    let component = runner().load(Path::new(WASI_CONFIG_TASK_PATH), &cache()).unwrap();
    let argv: Vec<String> = ["budget", "all"].map(str::to_owned).into();
    // get-all itself, the grant's listing, five lookups: 7 reads.
    for (budget, trapped) in [(6, true), (7, false)] {
        let secrets = TaskSecrets::new(Arc::clone(&chain), "budget", grants(&["variable:v*"])).with_max_reads(budget);
        let out = runner().run(&component, secrets, &argv, TaskLimits::default()).await.unwrap();
        match (&out.status, trapped) {
            (TaskStatus::Trapped(message), true) => assert!(message.contains("more than 6 secret reads"), "{message}"),
            (TaskStatus::Exited(0), false) => {
                assert_eq!(
                    String::from_utf8_lossy(&out.stdout),
                    (0..5).map(|i| format!("variable/v{i}=x\n")).collect::<String>()
                )
            }
            (status, _) => panic!("budget {budget}: {status:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn output_past_the_limit_ends_the_task() {
    let cluster = Cluster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let chain = chain(&cluster, false, &dir.path().join("audit.jsonl"));
    let component = runner().load(Path::new(WASI_CONFIG_TASK_PATH), &cache()).unwrap();
    let argv: Vec<String> = ["chatty", "get", "variable/a", "variable/b", "variable/c"].map(str::to_owned).into();
    let secrets = TaskSecrets::new(Arc::clone(&chain), "chatty", grants(&[]));
    let limits = TaskLimits { output_bytes: 40, ..TaskLimits::default() };
    let out = runner().run(&component, secrets, &argv, limits).await.unwrap();
    assert!(matches!(out.status, TaskStatus::Trapped(_)), "{out:?}");
    assert!(out.stdout.len() <= 40, "{out:?}");
    assert!(format!("{out:?}").contains("stdout_bytes"), "Debug shows lengths: {out:?}");
}
