//! Load and soak: 64 concurrent lookups through the library's chain against the emulator, with the cache off
//! and on, for a few seconds in the test command and for as long as `WASM_SECRETS_LOAD_SECONDS` says in the
//! documented long run (RELIABILITY.md):
//!
//! ```text
//! WASM_SECRETS_LOAD_SECONDS=60 cargo test --release -p wasm-secrets-e2e --test e2e load:: -- --nocapture
//! ```
//!
//! Every lookup must answer the value (0 errors). The latencies (p50, p99) and the resident memory after the
//! warm-up and at the end are printed; in a long run (30 s or more, this test alone in its process) the
//! memory may grow less than 5 % after the warm-up.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasm_secrets::bench::Histogram;
use wasm_secrets::{Cache, CacheSettings, Chain, Link, Provider, ProviderOptions};

use crate::support::{Cluster, kubernetes_provider, resident_bytes};

/// Lookups in flight at once.
const CONCURRENCY: usize = 64;

struct Report {
    lookups: u64,
    errors: usize,
    p50: Duration,
    p99: Duration,
    resident_after_warmup: u64,
    resident_at_end: u64,
}

/// `CONCURRENCY` tasks looking `my_var` up in a loop for `run`, the first fifth of it a warm-up.
async fn load(cluster: &Cluster, run: Duration, cache: bool) -> Report {
    let provider =
        Provider::new(kubernetes_provider(), cluster.cluster_config(), "", ProviderOptions::default()).unwrap();
    let cache = cache.then(|| Cache::new(CacheSettings { enabled: true, ..CacheSettings::default() }));
    let chain = Arc::new(Chain::new(vec![Link { name: "k8s".into(), provider }], cache, Arc::new(|_, _| {})));
    let started = Instant::now();
    let warmed_up = started + run / 5;
    let end = started + run;
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let chain = Arc::clone(&chain);
            tokio::spawn(async move {
                let (mut latencies, mut errors) = (Histogram::new(), 0);
                while Instant::now() < end {
                    let at = Instant::now();
                    match chain.get_variable("my_var", None).await {
                        Ok(Some(v)) if &*v == "my_secret_value" => {}
                        _ => errors += 1,
                    }
                    if at >= warmed_up {
                        latencies.record(at.elapsed());
                    }
                    // A cache hit never waits: without this, two tasks would keep both workers and the other
                    // 62 (and the warm-up timer) would not run until the end.
                    tokio::task::yield_now().await;
                }
                (latencies, errors)
            })
        })
        .collect();
    tokio::time::sleep_until(warmed_up.into()).await;
    let resident_after_warmup = resident_bytes();
    let (mut latencies, mut errors) = (Histogram::new(), 0);
    for task in tasks {
        let (l, e) = task.await.unwrap();
        latencies.merge(&l);
        errors += e;
    }
    let resident_at_end = resident_bytes();
    Report {
        lookups: latencies.count(),
        errors,
        p50: latencies.quantile(0.5),
        p99: latencies.quantile(0.99),
        resident_after_warmup,
        resident_at_end,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn load_64_concurrent_lookups_with_and_without_the_cache() {
    let seconds: u64 = std::env::var("WASM_SECRETS_LOAD_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let cluster = Cluster::start().await;
    // The emulator's own request log would otherwise grow with every lookup of the run.
    cluster.emulator.limit_request_log(1000);
    for cache in [false, true] {
        let report = load(&cluster, Duration::from_secs(seconds), cache).await;
        let growth = report.resident_at_end as f64 / report.resident_after_warmup as f64 - 1.0;
        println!(
            "load: cache {}, {seconds} s, {CONCURRENCY} concurrent: {} lookups after warm-up, {} errors, p50 {:?}, \
             p99 {:?}, resident {:.1} MiB after warm-up, {:.1} MiB at the end ({:+.1} %)",
            if cache { "on" } else { "off" },
            report.lookups,
            report.errors,
            report.p50,
            report.p99,
            report.resident_after_warmup as f64 / 1048576.0,
            report.resident_at_end as f64 / 1048576.0,
            growth * 100.0,
        );
        assert_eq!(report.errors, 0, "every lookup answers the value");
        assert!(report.lookups > 0, "lookups ran after the warm-up");
        if seconds >= 30 {
            assert!(growth < 0.05, "resident memory grew {:.1} % after the warm-up", growth * 100.0);
        }
    }
}
