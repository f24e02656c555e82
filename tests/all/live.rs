//! Live mode (docs/live-view.md) against the emulator: what it sends (one list and one watch per followed
//! kind, whatever the lookups), what it sees (a change once the emulator delivered its event), how it recovers
//! (one relist after a 410; lookups ask the store while the view is down), and the bounds a hostile provider
//! meets. Waits are on the emulator's event hook and the view's own progress, never on a clock.

use std::sync::Arc;
use std::time::Duration;

use kube_emulator::{Access, Fault, RecordedRequest};
use serde_json::json;
use wasm_secrets::live::{Kind, Status};
use wasm_secrets::{Cache, CacheSettings, Chain, Link, LiveOptions, Provider, ProviderOptions};

use crate::kubectl::kubectl;
use crate::support::{Cluster, NAMESPACE, b64, kubernetes_provider, rogue_provider};

const VARIABLE: &str = "airflow.apache.org/variable-key";

/// Bounds every wait of these tests: a hang fails instead of stalling the suite.
const BOUND: Duration = Duration::from_secs(60);

fn live_options(cluster: &Cluster) -> ProviderOptions {
    let logs = Arc::clone(&cluster.logs);
    ProviderOptions {
        live: Some(LiveOptions::default()),
        log: Arc::new(move |level, message| logs.lock().unwrap().push((level, message.to_owned()))),
        ..ProviderOptions::default()
    }
}

/// A chain of the Kubernetes provider in live mode with `kwargs`, the cache on when `cache`.
fn live_chain(cluster: &Cluster, kwargs: &str, cache: bool) -> Chain {
    let provider =
        Provider::new(kubernetes_provider(), cluster.cluster_config(), kwargs, live_options(cluster)).unwrap();
    let cache = cache.then(|| Cache::new(CacheSettings { enabled: true, ..CacheSettings::default() }));
    Chain::new(vec![Link { name: "k8s".into(), provider }], cache, Arc::new(|_, _| {})).strict(true)
}

fn view(chain: &Chain) -> &wasm_secrets::live::LiveView {
    chain.links()[0].provider.live_view().unwrap()
}

/// The requests' paths and queries, in order.
fn sent(requests: &[RecordedRequest]) -> Vec<String> {
    requests.iter().map(|r| format!("{} {}?{}", r.method, r.path, r.query.as_deref().unwrap_or_default())).collect()
}

fn list_of(label: &str) -> String {
    format!("GET /api/v1/namespaces/airflow/secrets?labelSelector={}&limit=500", label.replace('/', "%2F"))
}

fn is_watch(request: &str) -> bool {
    request.contains("watch=true")
}

/// Stores the variables `v0` to `v{count-1}`, valued `value 0`, ... (Secrets `var-000`, ...).
fn insert_variables(cluster: &Cluster, count: usize) {
    for i in 0..count {
        let name = format!("var-{i:03}");
        cluster.insert(&name, json!({VARIABLE: format!("v{i}")}), json!({"value": b64(&format!("value {i}"))}));
    }
}

/// 10,000 lookups of 100 variables: one list and one watch per kind, and every answer exact.
#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_lookups_of_a_hundred_ids_send_one_list_and_one_watch_per_kind() {
    let cluster = Cluster::start_empty("32").await;
    insert_variables(&cluster, 100);
    cluster.emulator.clear_requests();
    let chain = live_chain(&cluster, r#"{"namespace": "airflow"}"#, true);
    tokio::time::timeout(BOUND, async {
        for round in 0..100 {
            for i in 0..100 {
                let value = chain.get_variable(&format!("v{i}"), None).await.unwrap();
                assert_eq!(value.as_deref(), Some(format!("value {i}").as_str()), "round {round}, v{i}");
            }
        }
        assert_eq!(chain.get_variable("absent", None).await.unwrap(), None, "not found, from memory");
        // Every watch is open once each kind is synced; wait for the three to reach the emulator's log.
        wait_for_watches(&cluster, 3).await;
    })
    .await
    .expect("the lookups finished");
    let requests = sent(&cluster.requests());
    assert!(requests.len() <= 10, "{requests:#?}");
    let mut lists: Vec<&String> = requests.iter().filter(|r| !is_watch(r)).collect();
    lists.sort();
    assert_eq!(
        lists,
        [&list_of("airflow.apache.org/config-key"), &list_of("airflow.apache.org/connection-id"), &list_of(VARIABLE),]
    );
    let revision = cluster.emulator.resource_version();
    let watch = format!(
        "GET /api/v1/namespaces/airflow/secrets?labelSelector=airflow.apache.org%2Fvariable-key&watch=true\
         &allowWatchBookmarks=true&resourceVersion={revision}&timeoutSeconds=290"
    );
    assert_eq!(requests.iter().filter(|r| **r == watch).count(), 1, "{requests:#?}");
    assert_eq!(requests.len(), 6, "three lists and three watches: {requests:#?}");
    // The view answered each id once (the cache the rest), the absent one, and the first id once more: its
    // lookup started the view, whose first list made the cache forget the answer that lookup was fetching.
    assert_eq!(view(&chain).counts().answered.load(std::sync::atomic::Ordering::Relaxed), 102);
    assert_eq!(view(&chain).len(Kind::Variable), 100);
    let metrics = chain.render_metrics();
    assert_eq!(metrics, None, "metrics are off in this chain");
}

/// A change is seen by the next lookup once the emulator has delivered its event and the view applied it:
/// through the cache (which forgets the touched id) and without it. Real kubectl makes the changes.
#[tokio::test(flavor = "multi_thread")]
async fn a_kubectl_patch_or_delete_is_seen_by_the_next_lookup() {
    let cluster = Cluster::start_empty("32").await;
    cluster.emulator.add_token("kubectl-admin", Access::All);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    cluster.emulator.write_kubeconfig(&kubeconfig, "kubectl-admin", NAMESPACE).unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    cluster.insert("api-key", json!({VARIABLE: "api_key"}), json!({"value": b64("first")}));
    let mut current = "first";
    for cache in [true, false] {
        let chain =
            live_chain(&cluster, r#"{"namespace": "airflow", "connections_label": null, "config_label": null}"#, cache);
        tokio::time::timeout(BOUND, async {
            assert_eq!(chain.get_variable("api_key", None).await.unwrap().as_deref(), Some(current));
            wait_for_watches(&cluster, 1).await;
            let before = cluster.requests().len();
            let view = view(&chain);
            let applied = view.applied();
            let delivered = cluster.emulator.watch_events();
            let patch = format!(r#"{{"data":{{"value":"{}"}}}}"#, b64(if cache { "second" } else { "third" }));
            kubectl(&home, &kubeconfig, &["patch", "secret", "api-key", "-n", NAMESPACE, "-p", &patch]).await;
            cluster.emulator.wait_watch_events(delivered + 1).await;
            view.wait_until(|v| v.applied() > applied).await;
            current = if cache { "second" } else { "third" };
            assert_eq!(chain.get_variable("api_key", None).await.unwrap().as_deref(), Some(current));
            let after: Vec<RecordedRequest> = cluster.requests().split_off(before);
            assert!(
                after.iter().all(|r| !r.query.as_deref().unwrap_or_default().contains("labelSelector")),
                "no list or watch, only kubectl's own requests: {:?}",
                sent(&after)
            );
            if !cache {
                let applied = view.applied();
                let delivered = cluster.emulator.watch_events();
                kubectl(&home, &kubeconfig, &["delete", "secret", "api-key", "-n", NAMESPACE]).await;
                cluster.emulator.wait_watch_events(delivered + 1).await;
                view.wait_until(|v| v.applied() > applied).await;
                assert_eq!(chain.get_variable("api_key", None).await.unwrap(), None);
            }
        })
        .await
        .expect("the change was seen");
        drop(chain);
        cluster.emulator.clear_requests();
    }
}

/// Waits until the emulator has logged `count` watch requests since its log was last cleared, and has that many
/// watches open (so they see a later drop or expiry).
async fn wait_for_watches(cluster: &Cluster, count: usize) {
    while cluster.requests().iter().filter(|r| r.query.as_deref().is_some_and(|q| q.contains("watch=true"))).count()
        < count
        || cluster.emulator.open_watches() < count
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A watch that expires (410) makes exactly one relist, after which changes are followed again.
#[tokio::test(flavor = "multi_thread")]
async fn a_forced_410_causes_one_relist() {
    let cluster = Cluster::start_empty("32").await;
    cluster.insert("one", json!({VARIABLE: "one"}), json!({"value": b64("1")}));
    let chain =
        live_chain(&cluster, r#"{"namespace": "airflow", "connections_label": null, "config_label": null}"#, true)
            .with_metrics();
    tokio::time::timeout(BOUND, async {
        assert_eq!(chain.get_variable("one", None).await.unwrap().as_deref(), Some("1"));
        let view = view(&chain);
        wait_for_watches(&cluster, 1).await;
        cluster.emulator.clear_requests();
        cluster.emulator.expire_watches();
        view.wait_until(|v| v.counts().relists.load(std::sync::atomic::Ordering::Relaxed) == 1).await;
        view.wait_until(|v| v.status(Kind::Variable) == Status::Synced).await;
        // Followed again: a new Secret is seen.
        let applied = view.applied();
        let delivered = cluster.emulator.watch_events();
        cluster.insert("two", json!({VARIABLE: "two"}), json!({"value": b64("2")}));
        cluster.emulator.wait_watch_events(delivered + 1).await;
        view.wait_until(|v| v.applied() > applied).await;
        assert_eq!(chain.get_variable("two", None).await.unwrap().as_deref(), Some("2"));
    })
    .await
    .expect("relisted");
    let requests = sent(&cluster.requests());
    let lists: Vec<&String> = requests.iter().filter(|r| !is_watch(r)).collect();
    assert_eq!(lists, [&list_of(VARIABLE)], "one relist: {requests:#?}");
    assert_eq!(view(&chain).counts().relists.load(std::sync::atomic::Ordering::Relaxed), 1);
    let metrics = chain.render_metrics().unwrap();
    for line in [
        "wasm_secrets_live_lists_total{provider=\"k8s\"} 2",
        "wasm_secrets_live_relists_total{provider=\"k8s\"} 1",
        "wasm_secrets_live_failures_total{provider=\"k8s\"} 0",
        "wasm_secrets_live_items{provider=\"k8s\",kind=\"variable\"} 2",
        "wasm_secrets_live_items{provider=\"k8s\",kind=\"connection\"} 0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in:\n{metrics}");
    }
    assert!(!metrics.contains("\"one\"") && !metrics.contains("\"two\""), "ids never become labels");
}

/// A watch refused with a 401 after the kubelet rotated the token is opened again at once with the new token,
/// without a relist or a failure, as a lookup's request is.
#[tokio::test(flavor = "multi_thread")]
async fn a_watch_refused_after_a_token_rotation_is_retried_with_the_new_token() {
    let cluster = Cluster::start_empty("32").await;
    cluster.insert("one", json!({VARIABLE: "one"}), json!({"value": b64("1")}));
    let chain =
        live_chain(&cluster, r#"{"namespace": "airflow", "connections_label": null, "config_label": null}"#, false);
    tokio::time::timeout(BOUND, async {
        assert_eq!(chain.get_variable("one", None).await.unwrap().as_deref(), Some("1"));
        wait_for_watches(&cluster, 1).await;
        cluster.emulator.clear_requests();
        let rotated = "live-rotated";
        cluster.emulator.add_token(rotated, Access::Namespaces(vec![NAMESPACE.to_owned()]));
        cluster.emulator.revoke_token(crate::support::TOKEN);
        std::fs::write(cluster.sa_path().join("token"), rotated).unwrap();
        cluster.emulator.drop_watches();
        while !cluster.requests().iter().any(|r| r.status == 200) || cluster.emulator.open_watches() < 1 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the watch is open again");
    let seen: Vec<(bool, u16, Option<String>)> = cluster
        .requests()
        .iter()
        .map(|r| {
            let watch = r.query.as_deref().is_some_and(|q| q.contains("watch=true"));
            (watch, r.status, r.header("authorization").map(str::to_owned))
        })
        .collect();
    assert_eq!(
        seen,
        [
            (true, 401, Some(format!("Bearer {}", crate::support::TOKEN))),
            (true, 200, Some("Bearer live-rotated".to_owned()))
        ]
    );
    let view = view(&chain);
    assert_eq!(view.status(Kind::Variable), Status::Synced);
    assert_eq!(view.counts().failures.load(std::sync::atomic::Ordering::Relaxed), 0);
    assert_eq!(view.counts().relists.load(std::sync::atomic::Ordering::Relaxed), 0);
}

/// Through an outage (the store answering 503, the watch dropped), known values are served from the view as
/// stale answers, with a warning, within the maximum staleness; an unknown id fails with the documented error;
/// without a maximum staleness every lookup fails. Once the store is back, the view is listed again.
#[tokio::test(flavor = "multi_thread")]
async fn during_an_outage_known_values_are_served_stale_and_unknown_ones_fail() {
    let cluster = Cluster::start_empty("32").await;
    cluster.insert("one", json!({VARIABLE: "one"}), json!({"value": b64("1")}));
    cluster.insert(
        "blue-only",
        json!({VARIABLE: "blue_only", "airflow.apache.org/team": "blue"}),
        json!({"value": b64("b")}),
    );
    for max_staleness in [Duration::from_secs(30), Duration::ZERO] {
        let options = ProviderOptions {
            live: Some(LiveOptions { max_staleness, ..LiveOptions::default() }),
            ..live_options(&cluster)
        };
        let kwargs = r#"{"namespace": "airflow", "connections_label": null, "config_label": null}"#;
        let provider = Provider::new(kubernetes_provider(), cluster.cluster_config(), kwargs, options).unwrap();
        let audit_dir = tempfile::tempdir().unwrap();
        let audit_path = audit_dir.path().join("audit.jsonl");
        let audit = Arc::new(wasm_secrets::audit::AuditLog::open(&audit_path).unwrap());
        let chain = Chain::new(vec![Link { name: "k8s".into(), provider }], None, Arc::new(|_, _| {}))
            .strict(true)
            .with_audit(audit);
        tokio::time::timeout(BOUND, async {
            assert_eq!(chain.get_variable("one", None).await.unwrap().as_deref(), Some("1"));
            let view = view(&chain);
            wait_for_watches(&cluster, 1).await;
            cluster.emulator.set_fault(Some(Fault::Status(503)));
            cluster.emulator.drop_watches();
            view.wait_until(|v| matches!(v.status(Kind::Variable), Status::Failed { stale_ok: true, .. })).await;
            let known = chain.get_variable("one", None).await;
            if max_staleness.is_zero() {
                assert_eq!(known.unwrap_err().error.kind(), "unavailable");
            } else {
                assert_eq!(known.unwrap().as_deref(), Some("1"), "a known value, served stale");
            }
            let error = chain.get_variable("unknown", None).await.unwrap_err();
            assert_eq!(error.error.kind(), "unavailable", "{error}");
            // Held, but only for another team: a stale view finds nothing, and "not found" is not its to say.
            let error = chain.get_variable("blue_only", None).await.unwrap_err();
            assert_eq!(error.error.kind(), "unavailable", "{error}");
            let stale = view.counts().stale.load(std::sync::atomic::Ordering::Relaxed);
            assert_eq!(stale, 2 * u64::from(!max_staleness.is_zero()), "`one` and `blue_only` read the stale view");
            cluster.emulator.set_fault(None);
            view.wait_until(|v| v.status(Kind::Variable) == Status::Synced).await;
            assert_eq!(chain.get_variable("one", None).await.unwrap().as_deref(), Some("1"));
        })
        .await
        .expect("recovered");
        // The audit log: the answer the stale view gave says so (not from the cache, stale); the others do not.
        let lines: Vec<String> = std::fs::read_to_string(&audit_path).unwrap().lines().map(str::to_owned).collect();
        assert_eq!(lines.len(), 5, "{lines:#?}");
        let flags = |line: &str| {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            // `stale` is written only when true.
            (record["id"].as_str().unwrap().to_owned(), record["cached"].clone(), record.get("stale").cloned())
        };
        let served_stale = !max_staleness.is_zero();
        assert_eq!(flags(&lines[0]), ("one".to_owned(), json!(false), None));
        assert_eq!(flags(&lines[1]), ("one".to_owned(), json!(false), served_stale.then(|| json!(true))));
        for line in &lines[2..] {
            assert_eq!(flags(line).2, None, "{line}");
            assert!(!line.contains("MQ=="), "no value: {line}");
        }
        cluster.emulator.clear_requests();
    }
    let warnings: Vec<String> = cluster.logs().into_iter().map(|(_, m)| m).collect();
    assert!(
        warnings.iter().any(|m| m.starts_with("live view of variables: ") && m.contains("(unavailable)")),
        "{warnings:#?}"
    );
    let stale: Vec<&String> =
        warnings.iter().filter(|m| m.starts_with("serving variable `one` from the live view")).collect();
    assert_eq!(stale.len(), 1, "{warnings:#?}");
    assert!(warnings.iter().all(|m| !m.contains("MQ==")), "no value in any warning");
}

/// A provider that hands the host more than the view's budget gets its view dropped, not the host's memory;
/// one whose list request asks for a watch is refused by the policy.
#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_provider_meets_the_budget_and_the_policy() {
    let cluster = Cluster::start_empty("32").await;
    let options = |budget| ProviderOptions {
        live: Some(LiveOptions { budget_bytes: budget, ..LiveOptions::default() }),
        ..live_options(&cluster)
    };
    let flood = r#"{"live": "list", "path": "/api/v1/namespaces/airflow/secrets"}"#;
    let provider = Provider::new(rogue_provider(), cluster.cluster_config(), flood, options(8 << 20)).unwrap();
    tokio::time::timeout(BOUND, provider.start_live()).await.unwrap();
    let view = provider.live_view().unwrap();
    for kind in Kind::ALL {
        assert!(matches!(view.status(kind), Status::Failed { .. }), "{kind:?}: {:?}", view.status(kind));
        assert_eq!(view.len(kind), 0);
    }
    let warnings: Vec<String> = cluster.logs().into_iter().map(|(_, m)| m).collect();
    assert!(warnings.iter().any(|m| m.contains("more than its budget of 8388608 bytes")), "{warnings:#?}");
    drop(provider);

    let sneaky = r#"{"live": "list", "path": "/api/v1/namespaces/airflow/secrets?watch=true"}"#;
    cluster.emulator.clear_requests();
    let provider = Provider::new(rogue_provider(), cluster.cluster_config(), sneaky, options(8 << 20)).unwrap();
    tokio::time::timeout(BOUND, provider.start_live()).await.unwrap();
    assert!(matches!(provider.live_view().unwrap().status(Kind::Connection), Status::Failed { .. }));
    assert!(cluster.requests().is_empty(), "the refused list never left the host: {:?}", sent(&cluster.requests()));
    // A provider that does not follow anything keeps working without a view.
    let provider = Provider::new(rogue_provider(), cluster.cluster_config(), "{}", options(8 << 20)).unwrap();
    tokio::time::timeout(BOUND, provider.start_live()).await.unwrap();
    assert_eq!(provider.live_view().unwrap().status(Kind::Config), Status::NotFollowed);
}

/// A bulk read: 100 variables, one absent id and a connection in one call, answers in the order asked; in live
/// mode it sends nothing beyond the lists and watches, and a plain chain answers the same with one LIST each.
#[tokio::test(flavor = "multi_thread")]
async fn a_bulk_read_answers_in_order_and_in_live_mode_sends_nothing_more() {
    use wasm_secrets::Lookup;
    let cluster = Cluster::start_empty("32").await;
    insert_variables(&cluster, 100);
    let conn = "postgresql://user:secret@db.example.com:5432/app";
    cluster.insert("db", json!({"airflow.apache.org/connection-id": "db"}), json!({"value": b64(conn)}));
    let ids: Vec<String> = (0..100).map(|i| format!("v{i}")).collect();
    let mut requests: Vec<Lookup<'_>> = ids.iter().map(|id| Lookup::Variable(id, None)).collect();
    requests.push(Lookup::Variable("absent", None));
    requests.push(Lookup::ConnValue("db", None));
    for live in [true, false] {
        cluster.emulator.clear_requests();
        let chain = if live {
            live_chain(&cluster, r#"{"namespace": "airflow", "config_label": null}"#, false)
        } else {
            let provider = cluster.provider(r#"{"namespace": "airflow"}"#);
            Chain::new(vec![Link { name: "k8s".into(), provider }], None, Arc::new(|_, _| {})).strict(true)
        };
        let answers = tokio::time::timeout(BOUND, chain.get_many(&requests)).await.expect("the bulk read finished");
        assert_eq!(answers.len(), 102);
        for (i, answer) in answers.iter().take(100).enumerate() {
            let value = answer.as_ref().unwrap().clone().into_text();
            assert_eq!(value.as_deref(), Some(format!("value {i}").as_str()), "v{i}, live {live}");
        }
        assert_eq!(answers[100].as_ref().unwrap().clone().into_text(), None);
        assert_eq!(answers[101].as_ref().unwrap().clone().into_text().as_deref(), Some(conn));
        let lists = cluster
            .requests()
            .iter()
            .filter(|r| !r.query.as_deref().unwrap_or_default().contains("watch=true"))
            .count();
        assert_eq!(lists, if live { 2 } else { 102 }, "live {live}: one list per followed kind, else one LIST per id");
    }
}
