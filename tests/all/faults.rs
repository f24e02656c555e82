//! The fault catalogue: each fault of the API server (or of the network in front of it) ends a lookup in its
//! documented error kind, within the lookup's deadline, through the chain with and without the cache; and
//! once the fault is over the next lookup finds the value (a failure is never cached).

use std::sync::Arc;
use std::time::{Duration, Instant};

use kube_emulator::Fault;
use wasm_secrets::{Cache, CacheSettings, Chain, Link, Provider, ProviderOptions};

use crate::support::{Cluster, kubernetes_provider};

/// The lookup deadline of these tests: short, so the slow faults end in `timeout` quickly.
const DEADLINE: Duration = Duration::from_secs(2);

/// A strict chain (a failure is reported, as the CLI does) of the Kubernetes provider, cached or not.
fn chain(cluster: &Cluster, cache: bool) -> Chain {
    let options = ProviderOptions { lookup_timeout: DEADLINE, ..ProviderOptions::default() };
    let provider = Provider::new(kubernetes_provider(), cluster.cluster_config(), "", options).unwrap();
    let cache = cache.then(|| Cache::new(CacheSettings { enabled: true, ..CacheSettings::default() }));
    Chain::new(vec![Link { name: "k8s".into(), provider }], cache, Arc::new(|_, _| {})).strict(true)
}

/// Runs `my_var`'s lookup under `fault` and checks the error kind and the time it took; then, the fault
/// over, that the value is found.
async fn under(cluster: &Cluster, chain: &Chain, fault: Fault, kind: &str) {
    // With the cache on, the lookup under the fault is a miss (the value found after the last fault is kept).
    if let Some(cache) = chain.cache() {
        cache.clear();
    }
    cluster.emulator.set_fault(Some(fault.clone()));
    let started = Instant::now();
    let result = chain.get_variable("my_var", None).await;
    let took = started.elapsed();
    cluster.emulator.set_fault(None);
    let error = result.expect_err(&format!("{fault:?} must fail the lookup"));
    assert_eq!(error.error.kind(), kind, "{fault:?}: {error}");
    assert!(took < DEADLINE + Duration::from_secs(2), "{fault:?} took {took:?}");
    assert_eq!(
        chain.get_variable("my_var", None).await.unwrap().as_deref(),
        Some("my_secret_value"),
        "{fault:?}: once the fault is over the value is found"
    );
}

/// The catalogue, with and without the cache.
#[tokio::test(flavor = "multi_thread")]
async fn each_fault_ends_in_its_documented_kind_within_the_deadline() {
    let cluster = Cluster::start().await;
    for cache in [false, true] {
        let chain = chain(&cluster, cache);
        under(&cluster, &chain, Fault::TooManyRequests { retry_after_secs: 1 }, "unavailable").await;
        under(&cluster, &chain, Fault::Status(500), "upstream").await;
        under(&cluster, &chain, Fault::Status(503), "unavailable").await;
        under(&cluster, &chain, Fault::ResetMidBody, "unavailable").await;
        under(&cluster, &chain, Fault::Latency(Duration::from_secs(10)), "timeout").await;
        under(&cluster, &chain, Fault::SlowBody(Duration::from_secs(10)), "timeout").await;
    }
}

/// A server whose certificate the cluster CA did not sign: `unavailable`, at once.
#[tokio::test(flavor = "multi_thread")]
async fn a_ca_mismatch_is_unavailable() {
    let cluster = Cluster::start().await;
    let other = kube_emulator::Emulator::start(kube_emulator::EmulatorConfig::default()).await.unwrap();
    std::fs::write(cluster.sa_path().join("ca.crt"), other.ca_pem()).unwrap();
    for cache in [false, true] {
        let chain = chain(&cluster, cache);
        let started = Instant::now();
        let error = chain.get_variable("my_var", None).await.unwrap_err();
        assert_eq!(error.error.kind(), "unavailable", "{error}");
        // `unavailable` already shows it did not wait for the deadline; the bound only catches a hang.
        assert!(started.elapsed() < Duration::from_secs(10), "{:?} {error}", started.elapsed());
    }
    assert!(cluster.requests().is_empty(), "no request got past the TLS handshake");
}

/// A 401 after the kubelet rotated the token: the lookup succeeds, with one retry that carries the new token,
/// with and without the cache; a 401 for a token that was revoked and not replaced is `access-denied`.
#[tokio::test(flavor = "multi_thread")]
async fn a_401_after_rotation_is_retried_once_and_a_revoked_token_is_access_denied() {
    let cluster = Cluster::start().await;
    let access = || kube_emulator::Access::Namespaces(vec![crate::support::NAMESPACE.to_owned()]);
    let mut current = crate::support::TOKEN.to_owned();
    for (cache, rotated) in [(false, "faults-rotated-1"), (true, "faults-rotated-2")] {
        let chain = chain(&cluster, cache);
        assert_eq!(chain.get_variable("my_var", None).await.unwrap().as_deref(), Some("my_secret_value"));
        if let Some(cache) = chain.cache() {
            cache.clear();
        }
        cluster.emulator.add_token(rotated, access());
        cluster.emulator.revoke_token(&current);
        std::fs::write(cluster.sa_path().join("token"), rotated).unwrap();
        cluster.emulator.clear_requests();

        let started = Instant::now();
        assert_eq!(chain.get_variable("my_var", None).await.unwrap().as_deref(), Some("my_secret_value"));
        assert!(started.elapsed() < DEADLINE, "cache {cache}: {:?}", started.elapsed());
        let seen: Vec<(u16, Option<String>)> =
            cluster.requests().iter().map(|r| (r.status, r.header("authorization").map(str::to_owned))).collect();
        assert_eq!(
            seen,
            [(401, Some(format!("Bearer {current}"))), (200, Some(format!("Bearer {rotated}")))],
            "cache {cache}"
        );
        current = rotated.to_owned();
    }

    // Revoked, and the file still holds the revoked token: no retry, `access-denied`.
    cluster.emulator.revoke_token(&current);
    for cache in [false, true] {
        let chain = chain(&cluster, cache);
        cluster.emulator.clear_requests();
        let error = chain.get_variable("my_var", None).await.unwrap_err();
        assert_eq!(error.error.kind(), "access-denied", "cache {cache}: {error}");
        assert_eq!(cluster.requests().iter().map(|r| r.status).collect::<Vec<_>>(), [401], "cache {cache}");
    }
}
