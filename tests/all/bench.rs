//! `secrets bench` against the emulator with each built-in provider: what it counts (lookups, not found,
//! errors by kind, API requests counted in the transport) checked against what the emulator received.

use std::path::Path;

use kube_emulator::Fault;
use wasm_secrets::cli::{EXIT_FOUND, EXIT_MALFORMED, EXIT_UPSTREAM, EXIT_USAGE};

use crate::chain::{ENVIRONMENT_ENTRY, cached, kubernetes_entry, secrets};
use crate::cli::Output;
use crate::support::Cluster;

/// `secrets [--config config] bench ARGS -o json --progress never`, its report parsed.
async fn bench_json(
    cluster: &Cluster,
    config: Option<&Path>,
    args: &[&str],
    vars: &[(&str, &str)],
) -> (Output, serde_json::Value) {
    let mut argv = vec!["bench", "-o", "json", "--progress", "never"];
    argv.extend_from_slice(args);
    let out = secrets(cluster, config, &argv, vars).await;
    let report = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {} / {}", out.stdout, out.stderr));
    (out, report)
}

#[tokio::test(flavor = "multi_thread")]
async fn kubernetes_one_list_request_per_lookup_counted_in_the_transport() {
    let cluster = Cluster::start().await;
    let args = ["--lookups", "40", "--warmup", "3", "--concurrency", "4", "variables", "get", "my_var"];
    let (out, report) = bench_json(&cluster, None, &args, &[]).await;
    assert_eq!(out.code, EXIT_FOUND, "{}", out.stderr);
    assert_eq!(out.stderr, "");
    assert!(!out.stdout.contains("my_secret_value"), "a bench never prints the value");
    assert_eq!(report["lookups"], 40);
    assert_eq!((report["errors"].clone(), report["not_found"].clone()), (0.into(), 0.into()));
    assert_eq!(report["errors_by_kind"], serde_json::json!({}));
    assert_eq!(report["api_requests"], 40, "one LIST per measured lookup, the warm-up excluded");
    assert_eq!((report["concurrency"].clone(), report["warmup"].clone()), (4.into(), 3.into()));
    // The server saw the warm-up's and the measured lookups' requests, nothing else.
    assert_eq!(cluster.requests().len(), 43);
    let (p50, p90, p99, max) = (
        report["p50_us"].as_f64().unwrap(),
        report["p90_us"].as_f64().unwrap(),
        report["p99_us"].as_f64().unwrap(),
        report["max_us"].as_f64().unwrap(),
    );
    assert!(0.0 < p50 && p50 <= p90 && p90 <= p99 && p99 <= max, "{report}");
    assert!(report["throughput_per_s"].as_f64().unwrap() > 0.0, "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_cache_on_the_measured_lookups_send_nothing() {
    let cluster = Cluster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("secrets.toml");
    std::fs::write(&config, cached(&cluster, 900)).unwrap();
    let args = ["--lookups", "500", "--warmup", "1", "connections", "get", "smtp_default"];
    let (out, report) = bench_json(&cluster, Some(&config), &args, &[]).await;
    assert_eq!(out.code, EXIT_FOUND, "{}", out.stderr);
    assert_eq!((report["lookups"].clone(), report["api_requests"].clone()), (500.into(), 0.into()));
    assert_eq!(cluster.requests().len(), 1, "the warm-up's lookup filled the cache");
}

#[tokio::test(flavor = "multi_thread")]
async fn environment_and_local_files_providers_send_no_api_request() {
    let cluster = Cluster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("secrets.toml");
    std::fs::write(&config, ENVIRONMENT_ENTRY).unwrap();
    let vars = [("AIRFLOW_VAR_REGION", "eu-west-1")];
    let args = ["--lookups", "25", "--concurrency", "2", "variables", "get", "region"];
    let (out, report) = bench_json(&cluster, Some(&config), &args, &vars).await;
    assert_eq!(out.code, EXIT_FOUND, "{}", out.stderr);
    assert_eq!(
        (report["lookups"].clone(), report["not_found"].clone(), report["api_requests"].clone()),
        (25.into(), 0.into(), 0.into())
    );
    // More lookups at once than the pool has slots: said, since the wait for a slot is measured too.
    let args = ["--lookups", "130", "--warmup", "0", "--concurrency", "65", "variables", "get", "region"];
    let (out, report) = bench_json(&cluster, Some(&config), &args, &vars).await;
    assert_eq!((out.code, report["lookups"].clone()), (EXIT_FOUND, 130.into()), "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "note: --concurrency 65 is more than the 64 instance slots of the pool: lookups beyond them wait for a \
         slot, and the latencies include that wait\n"
    );

    let variables = dir.path().join("variables.env");
    std::fs::write(&variables, "region=eu-west-1\n").unwrap();
    std::fs::write(
        &config,
        format!(
            "[[providers]]\nname = \"files\"\ncomponent = \"builtin:local-files\"\n\
             backend_kwargs = {{ variables_file_path = \"{}\" }}\n",
            variables.display()
        ),
    )
    .unwrap();
    let args = ["--lookups", "25", "variables", "get", "region"];
    let (out, report) = bench_json(&cluster, Some(&config), &args, &[]).await;
    assert_eq!(out.code, EXIT_FOUND, "{}", out.stderr);
    assert_eq!((report["lookups"].clone(), report["api_requests"].clone()), (25.into(), 0.into()));
    let (out, report) = bench_json(&cluster, Some(&config), &["--lookups", "5", "variables", "get", "nope"], &[]).await;
    assert_eq!((out.code, report["not_found"].clone(), report["errors"].clone()), (EXIT_FOUND, 5.into(), 0.into()));
    assert_eq!(out.stderr, "note: every measured lookup answered \"not found\"; check the id and the providers\n");
    assert!(cluster.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn not_found_through_the_default_chain_asks_kubernetes_then_the_environment() {
    let cluster = Cluster::start().await;
    let (out, report) =
        bench_json(&cluster, None, &["--lookups", "10", "--warmup", "0", "variables", "get", "nope"], &[]).await;
    assert_eq!(out.code, EXIT_FOUND, "{}", out.stderr);
    assert_eq!((report["not_found"].clone(), report["api_requests"].clone()), (10.into(), 10.into()));
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_are_counted_by_kind_and_exit_3() {
    let cluster = Cluster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("secrets.toml");
    std::fs::write(&config, kubernetes_entry(&cluster, "k8s")).unwrap();
    cluster.emulator.set_fault(Some(Fault::Status(503)));
    let args = ["--lookups", "6", "--warmup", "0", "--concurrency", "3", "variables", "get", "my_var"];
    let (out, report) = bench_json(&cluster, Some(&config), &args, &[]).await;
    assert_eq!(out.code, EXIT_UPSTREAM);
    assert_eq!(report["errors"], 6);
    assert_eq!(report["errors_by_kind"], serde_json::json!({"unavailable": 6}));
    assert_eq!(report["api_requests"], 6);
    let first = report["first_error"].as_str().unwrap();
    assert!(first.starts_with("provider `k8s`: secret store unavailable: "), "{first}");

    // Three failures among ten lookups: counted apart from the answers, which all found the value.
    cluster.emulator.set_fault(None);
    cluster.emulator.set_fault_times(Fault::Status(503), 3);
    let args = ["--lookups", "10", "--warmup", "0", "variables", "get", "my_var"];
    let (out, report) = bench_json(&cluster, Some(&config), &args, &[]).await;
    assert_eq!(out.code, EXIT_UPSTREAM);
    assert_eq!((report["lookups"].clone(), report["errors"].clone()), (10.into(), 3.into()));
    assert_eq!((report["not_found"].clone(), report["api_requests"].clone()), (0.into(), 10.into()));
    assert!(!out.stdout.contains("my_secret_value") && !out.stderr.contains("my_secret_value"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_value_exits_4_like_the_lookup_command() {
    let cluster = Cluster::start().await;
    cluster.insert(
        "broken",
        serde_json::json!({"airflow.apache.org/connection-id": "broken"}),
        serde_json::json!({"value": crate::support::b64("mysql://u:s3cr3t/x@h:1/db")}),
    );
    let args = ["--lookups", "3", "--warmup", "0", "connections", "get", "broken"];
    let (out, report) = bench_json(&cluster, None, &args, &[]).await;
    assert_eq!(out.code, EXIT_MALFORMED, "{}", out.stderr);
    assert_eq!(report["errors_by_kind"], serde_json::json!({"malformed-payload": 3}));
    assert!(!out.stdout.contains("s3cr3t") && !out.stderr.contains("s3cr3t"), "{} / {}", out.stdout, out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn table_output_progress_and_duration() {
    let cluster = Cluster::start().await;
    let args = ["bench", "--duration", "0.3", "--progress", "always", "variables", "get", "my_var"];
    let out = secrets(&cluster, None, &args, &[]).await;
    assert_eq!(out.code, EXIT_FOUND, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{}", out.stdout);
    assert!(lines[0].starts_with("lookups       ") && lines[0].ends_with("(1 at a time; warm-up lookups: 10)"));
    let seconds: f64 = lines[0].split(" in ").nth(1).unwrap().split(" s ").next().unwrap().parse().unwrap();
    assert!(seconds >= 0.3, "the measured part lasted the duration: {seconds} s");
    assert!(lines[2].starts_with("latency       p50 "), "{}", lines[2]);
    assert_eq!(lines[4], "errors        0");
    assert!(lines[5].starts_with("api requests  ") && lines[5].ends_with("(1.00 per lookup)"), "{}", lines[5]);
    // The bars (warm-up, then the measured part) were drawn, ended full, and were cleared.
    assert!(out.stderr.starts_with('\r') && out.stderr.ends_with('\r'), "{:?}", out.stderr);
    assert!(out.stderr.contains(&format!("[{}] 10/10 warm-up lookups", "#".repeat(30))), "{:?}", out.stderr);
    assert!(out.stderr.contains(&format!("[{}] 0.3/0.3 s, ", "#".repeat(30))), "{:?}", out.stderr);
    assert!(!out.stderr.contains("my_secret_value"));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_usage_exits_2() {
    let cluster = Cluster::start().await;
    for args in [
        &["bench", "--lookups", "0", "variables", "get", "x"][..],
        &["bench", "--lookups", "5", "--duration", "1", "variables", "get", "x"],
        &["bench", "--duration=-1", "variables", "get", "x"],
        &["bench", "--duration=0", "variables", "get", "x"],
        &["bench", "--duration=1e-12", "variables", "get", "x"],
        &["bench", "--duration=nan", "variables", "get", "x"],
        &["bench", "--duration=86401", "variables", "get", "x"],
        &["bench", "--warmup=1000001", "variables", "get", "x"],
        &["bench", "--concurrency", "5000", "variables", "get", "x"],
        &["bench", "variables", "get"],
    ] {
        let out = secrets(&cluster, None, args, &[]).await;
        assert_eq!(out.code, EXIT_USAGE, "{args:?}: {}", out.stderr);
        assert_eq!(out.stdout, "");
        if args[1].starts_with("--duration=") {
            assert!(out.stderr.contains("expected a number of seconds from 0.001 to 86400"), "{}", out.stderr);
        }
    }
    assert!(cluster.requests().is_empty());
    // A configuration the chain cannot open: no lookup runs, no report, the lookup command's status.
    let out =
        secrets(&cluster, None, &["--backend-kwargs", r#"{"nope": 1}"#, "bench", "variables", "get", "x"], &[]).await;
    assert_eq!((out.code, out.stdout.as_str()), (EXIT_USAGE, ""));
    assert!(
        out.stderr.starts_with("error: provider `kubernetes`: invalid configuration: unknown key `nope`"),
        "{}",
        out.stderr
    );
}

/// `--metrics` adds the chain's metrics to the report (warm-up included); `--audit-log` writes one line per
/// lookup. Neither shows the value.
#[tokio::test(flavor = "multi_thread")]
async fn metrics_and_audit_lines_of_a_bench_run() {
    let cluster = Cluster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("secrets.toml");
    std::fs::write(&config, cached(&cluster, 900)).unwrap();
    let audit = dir.path().join("audit.jsonl");
    let audit_arg = audit.display().to_string();
    let args =
        ["--audit-log", &audit_arg, "--lookups", "20", "--warmup", "2", "--metrics", "variables", "get", "my_var"];
    let (out, report) = bench_json(&cluster, Some(&config), &args, &[]).await;
    assert_eq!(out.code, EXIT_FOUND, "{}", out.stderr);
    let metrics = report["metrics"].as_str().expect("the metrics field");
    let lines: Vec<&str> = metrics.lines().collect();
    for expected in [
        "wasm_secrets_lookups_total{kind=\"variable\",outcome=\"found\"} 22",
        "wasm_secrets_cache_lookups_total{kind=\"variable\",result=\"miss\"} 1",
        "wasm_secrets_cache_lookups_total{kind=\"variable\",result=\"hit\"} 21",
        "wasm_secrets_api_requests_total{provider=\"k8s\",status=\"200\"} 1",
    ] {
        assert!(lines.contains(&expected), "missing `{expected}` in:\n{metrics}");
    }
    let written = std::fs::read_to_string(&audit).unwrap();
    assert_eq!(written.lines().count(), 22, "{written}");
    assert_eq!(written.lines().filter(|l| l.contains("\"cached\":false")).count(), 1);
    assert!(!out.stdout.contains("my_secret_value") && !written.contains("my_secret_value"));

    // An audit log that cannot be opened stops the command before any lookup, naming the file.
    let args = ["--audit-log", "/nonexistent-dir/audit.jsonl", "variables", "get", "my_var"];
    let out = secrets(&cluster, Some(&config), &args, &[]).await;
    assert_eq!(out.code, EXIT_USAGE, "{}", out.stderr);
    assert!(
        out.stderr.starts_with("error: cannot open the audit log /nonexistent-dir/audit.jsonl: "),
        "{}",
        out.stderr
    );
    assert_eq!(cluster.requests().len(), 1);
}

/// A live-mode chain: the warm-up lists and watches each kind; the measured lookups, answered from the view
/// without the cache, send no request, and `--metrics` shows what the view did.
#[tokio::test(flavor = "multi_thread")]
async fn in_live_mode_the_measured_lookups_send_nothing() {
    let cluster = Cluster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("secrets.toml");
    std::fs::write(&config, format!("{}live = true\n", kubernetes_entry(&cluster, "k8s"))).unwrap();
    let args = ["--lookups", "50", "--warmup", "2", "--metrics", "variables", "get", "my_var"];
    let (out, report) = bench_json(&cluster, Some(&config), &args, &[]).await;
    assert_eq!(out.code, EXIT_FOUND, "{}", out.stderr);
    assert_eq!((report["lookups"].clone(), report["api_requests"].clone()), (50.into(), 0.into()));
    let lists =
        cluster.requests().iter().filter(|r| r.query.as_deref().is_some_and(|q| q.contains("limit=500"))).count();
    assert_eq!(lists, 3, "one list per kind, in the warm-up");
    let metrics = report["metrics"].as_str().expect("the metrics field");
    for expected in [
        "wasm_secrets_live_answers_total{provider=\"k8s\"} 52",
        "wasm_secrets_live_lists_total{provider=\"k8s\"} 3",
        "wasm_secrets_live_items{provider=\"k8s\",kind=\"variable\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == expected), "missing `{expected}` in:\n{metrics}");
    }
    assert!(!out.stdout.contains("my_secret_value"));
}
