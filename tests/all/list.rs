//! Listing (`secrets connections list`, `secrets variables list`, `Chain::list`) against the emulator: the
//! exact requests a listing sends, Airflow's output format, the chain's rules (first provider wins, team
//! scope, errors), the listing budget a hostile provider meets, and a live view that lists without a request.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use kube_emulator::Access;
use serde_json::json;
use wasm_secrets::cache::Value;
use wasm_secrets::cli::{EXIT_FOUND, EXIT_UPSTREAM, EXIT_USAGE};
use wasm_secrets::live::{Kind, Status};
use wasm_secrets::{Chain, Link, ListError, LiveOptions, LookupError, Provider, ProviderOptions};

use crate::chain::{ENVIRONMENT_ENTRY, kubernetes_entry, open};
use crate::cli::secrets;
use crate::support::{Cluster, NAMESPACE, TOKEN, b64, kubernetes_provider, rogue_provider};

const CONNECTION: &str = "airflow.apache.org/connection-id";
const TEAM: &str = "airflow.apache.org/team";

/// The request that lists the Secrets carrying `label` (the first and only page).
fn list_by_key(label: &str) -> String {
    format!("labelSelector={}&limit=500", label.replace('/', "%2F"))
}

/// The query of a global lookup of connection `id`, as Airflow's backend sends it.
fn connection_lookup(id: &str) -> String {
    format!("labelSelector=airflow.apache.org%2Fconnection-id%3D{id}%2C%21airflow.apache.org%2Fteam&resourceVersion=0")
}

/// The queries the emulator saw, sorted (a listing looks its ids up concurrently).
fn queries(cluster: &Cluster) -> Vec<String> {
    let mut queries: Vec<String> = cluster.requests().iter().map(|r| r.query.clone().unwrap_or_default()).collect();
    queries.sort();
    queries
}

/// `connections list` prints Airflow's table of ids and types, from one list by label key and one lookup per
/// id, each with the host's token.
#[tokio::test(flavor = "multi_thread")]
async fn connections_list_prints_airflows_table_from_one_list_and_a_lookup_per_id() {
    let cluster = Cluster::start().await;
    let out = secrets(&cluster, &["connections", "list"]).await;
    assert_eq!((out.code, out.stderr.as_str()), (EXIT_FOUND, ""));
    // `AirflowConsole().print_as(rows, "table")` for these rows (rich 15, console width 200).
    assert_eq!(
        out.stdout,
        "conn_id        | conn_type\n===============+==========\nmy_postgres_db | postgres \n\
         smtp_default   | smtp     \n                          \n"
    );
    let mut expected =
        vec![list_by_key(CONNECTION), connection_lookup("my_postgres_db"), connection_lookup("smtp_default")];
    expected.sort();
    assert_eq!(queries(&cluster), expected);
    for request in cluster.requests() {
        assert_eq!(request.path, format!("/api/v1/namespaces/{NAMESPACE}/secrets"));
        assert_eq!(request.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
    }
}

/// `variables list`: keys by default, values with `--show-values`, `***` with `--hide-sensitive`, which needs
/// `--show-values`.
#[tokio::test(flavor = "multi_thread")]
async fn variables_list_shows_keys_values_or_masks() {
    let cluster = Cluster::start().await;
    let out = secrets(&cluster, &["variables", "list", "-o", "plain"]).await;
    assert_eq!((out.code, out.stdout.as_str()), (EXIT_FOUND, "key\nmy_var\n"));
    let out = secrets(&cluster, &["variables", "list", "--show-values", "-o", "json"]).await;
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (EXIT_FOUND, "[{\"key\": \"my_var\", \"val\": \"my_secret_value\"}]\n")
    );
    let out = secrets(&cluster, &["variables", "list", "--show-values", "--hide-sensitive", "-o", "yaml"]).await;
    assert_eq!((out.code, out.stdout.as_str()), (EXIT_FOUND, "- key: my_var\n  val: '***'\n\n"));
    let out = secrets(&cluster, &["variables", "list", "--hide-sensitive"]).await;
    assert_eq!(out.code, EXIT_USAGE);
    assert!(out.stderr.contains("--show-values"), "{}", out.stderr);
}

/// `--show-values --hide-sensitive` masks the password, the URI's credentials and a non-empty extra, and
/// prints nothing of them anywhere.
#[tokio::test(flavor = "multi_thread")]
async fn hidden_values_never_reach_the_output() {
    let cluster = Cluster::start().await;
    let out = secrets(&cluster, &["connections", "list", "--show-values", "--hide-sensitive", "-o", "json"]).await;
    assert_eq!(out.code, EXIT_FOUND, "{}", out.stderr);
    let rows: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(rows[0]["conn_id"], "my_postgres_db");
    assert_eq!(rows[0]["password"], "***");
    assert_eq!(rows[0]["get_uri"], "postgres://***:***@db.example.com:5432/mydb");
    assert_eq!(rows[1]["get_uri"], "smtp://***:***@smtp.example.com:587");
    assert_eq!(rows[1]["extra_dejson"], json!({}), "an empty extra is shown as it is");
    // The stored passwords are `pass` and `password`: no value holds either.
    for row in rows.as_array().unwrap() {
        for (field, value) in row.as_object().unwrap() {
            let text = value.as_str().unwrap_or_default();
            assert!(!["pass", "password"].iter().any(|p| text.contains(&format!(":{p}@")) || text == *p), "{field}");
        }
    }
}

/// The chain's rules: an id that two providers hold is the first one's; an entry stored only for a team is
/// listed for that team alone; every listed value is the lookup's.
#[tokio::test(flavor = "multi_thread")]
async fn the_first_provider_wins_and_team_entries_are_listed_for_their_team() {
    let cluster = Cluster::start().await;
    cluster.insert("blue-db", json!({CONNECTION: "team_db", TEAM: "blue"}), json!({"value": b64("mysql://blue")}));
    let toml = format!("{ENVIRONMENT_ENTRY}{}", kubernetes_entry(&cluster, "k8s"));
    let vars = [("AIRFLOW_CONN_SMTP_DEFAULT", "http://from-env"), ("AIRFLOW_CONN_ENV_ONLY", "ftp://e")];
    let chain = open(&cluster, &toml, &vars).await;

    let hosts = |entries: Vec<(String, Value)>| -> Vec<(String, Option<String>)> {
        entries
            .into_iter()
            .map(|(id, value)| match value {
                Value::Connection(Some(c)) => (id, c.host.clone()),
                other => panic!("{id}: {other:?}"),
            })
            .collect()
    };
    let global = hosts(chain.list(Kind::Connection, None).await.unwrap());
    assert_eq!(
        global,
        [
            ("env_only".to_owned(), Some("e".to_owned())),
            ("my_postgres_db".to_owned(), Some("db.example.com".to_owned())),
            ("smtp_default".to_owned(), Some("from-env".to_owned())),
        ]
    );
    let blue = hosts(chain.list(Kind::Connection, Some("blue")).await.unwrap());
    let ids: Vec<&str> = blue.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["env_only", "my_postgres_db", "smtp_default", "team_db"]);
    assert_eq!(blue[3].1.as_deref(), Some("blue"));
    let variables = chain.list(Kind::Variable, None).await.unwrap();
    assert_eq!(variables.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), ["my_var"]);
}

/// A provider the store refuses stops the listing (as it stops a lookup); a provider that fails otherwise is
/// logged and the others are listed; local files are listed from their keys.
#[tokio::test(flavor = "multi_thread")]
async fn access_denied_stops_a_listing_and_other_failures_fall_through() {
    let cluster = Cluster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let variables = dir.path().join("variables.json");
    // `my db` is listed by the files and found by no one: Kubernetes rejects the id (400), the file holds null.
    std::fs::write(&variables, r#"{"region": "eu-west-1", "my_var": "from-file", "my db": null}"#).unwrap();
    let files_entry = format!(
        "[[providers]]\nname = \"files\"\ncomponent = \"builtin:local-files\"\n\
         backend_kwargs = {{ variables_file_path = \"{}\" }}\n",
        variables.display()
    );
    let chain = open(&cluster, &format!("{}{files_entry}", kubernetes_entry(&cluster, "k8s")), &[]).await.strict(true);
    let listed = chain.list(Kind::Variable, None).await.unwrap();
    let shown: Vec<(&str, Option<&str>)> = listed
        .iter()
        .map(|(id, value)| match value {
            Value::Text(text) => (id.as_str(), text.as_deref()),
            Value::Connection(_) => panic!("{id}: a connection"),
        })
        .collect();
    assert_eq!(shown, [("my_var", Some("my_secret_value")), ("region", Some("eu-west-1"))], "Kubernetes first");
    let logs = cluster.logs();
    assert!(
        logs.iter().any(|(_, m)| m.starts_with("not listing `my db`: provider `k8s`: invalid request")),
        "an id a store rejects is left out, with a warning: {logs:?}"
    );

    // The files provider granted no file: refused by the host, logged, and listed around.
    let ungranted = format!("{files_entry}files = []\n{ENVIRONMENT_ENTRY}");
    let vars = [("AIRFLOW_VAR_X", "1")];
    let chain = open(&cluster, &ungranted, &vars).await;
    let listed = chain.list(Kind::Variable, None).await.unwrap();
    assert_eq!(listed.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), ["x"]);
    let logs = cluster.logs();
    assert!(
        logs.iter().any(|(_, m)| m.starts_with("provider `files` could not list its variables (denied-by-host): ")),
        "{logs:?}"
    );
    assert!(logs.iter().all(|(_, m)| !m.contains("eu-west-1")), "{logs:?}");

    cluster.emulator.add_token(TOKEN, Access::Nothing);
    let toml = format!("{}{ENVIRONMENT_ENTRY}", kubernetes_entry(&cluster, "k8s"));
    let chain = open(&cluster, &toml, &vars).await;
    let ListError::Chain(error) = chain.list(Kind::Variable, None).await.unwrap_err() else { panic!("a chain error") };
    assert_eq!(error.provider, "k8s");
    assert!(matches!(error.error, LookupError::AccessDenied(_)), "{error:?}");
    let config = dir.path().join("secrets.toml");
    std::fs::write(&config, &toml).unwrap();
    let out = crate::chain::secrets(&cluster, Some(&config), &["variables", "list"], &vars).await;
    assert_eq!((out.code, out.stdout.as_str()), (EXIT_UPSTREAM, ""), "{}", out.stderr);
    assert!(out.stderr.starts_with("error: provider `k8s`: access denied: "), "{}", out.stderr);
}

/// A provider that lists without end meets the host's budget: the listing fails with the documented error
/// and the host holds at most the budget.
#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_listed_ids_meets_the_budget() {
    let cluster = Cluster::start().await;
    let provider = cluster.provider_with(rogue_provider(), r#"{"live": "ids"}"#);
    let error = provider.list_ids(Kind::Variable, None).await.unwrap_err();
    assert_eq!(
        error,
        LookupError::Provider(format!(
            "the provider listed more ids than the host accepts ({} bytes)",
            wasm_secrets::provider::MAX_LISTED_ID_BYTES
        ))
    );
}

/// An id the first provider's store rejects (`invalid-request`) and a later provider fails to look up: the
/// later failure is the one reported, and it stops the listing instead of the id being left out.
#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_id_does_not_hide_another_providers_failure() {
    let cluster = Cluster::start().await;
    let k8s = cluster.provider("{}");
    let rogue = cluster.provider_with(rogue_provider(), r#"{"live": "failing"}"#);
    let links = vec![Link { name: "k8s".into(), provider: k8s }, Link { name: "rogue".into(), provider: rogue }];
    let chain = Chain::new(links, None, Arc::new(|_, _| {})).strict(true);
    let error = chain.get_variable("my db", None).await.unwrap_err();
    assert_eq!((error.provider.as_str(), error.error.kind()), ("rogue", "unavailable"), "{error}");
    let ListError::Chain(error) = chain.list(Kind::Variable, None).await.unwrap_err() else { panic!("a chain error") };
    assert_eq!((error.provider.as_str(), error.error.kind()), ("rogue", "unavailable"), "{error}");
}

/// More ids than a listing reads: the listing fails before a single lookup.
#[tokio::test(flavor = "multi_thread")]
async fn a_listing_reads_at_most_its_bound_of_ids() {
    let cluster = Cluster::start().await;
    let provider = cluster.provider_with(rogue_provider(), r#"{"live": "many-ids"}"#);
    assert_eq!(provider.list_ids(Kind::Variable, None).await.unwrap().len(), 30_000, "within the provider's budget");
    let chain = Chain::new(vec![Link { name: "rogue".into(), provider }], None, Arc::new(|_, _| {})).strict(true);
    let error = chain.list(Kind::Variable, None).await.unwrap_err();
    assert_eq!(error, ListError::TooMany { kind: "variables", limit: wasm_secrets::chain::MAX_LISTED_ENTRIES });
    assert_eq!(error.to_string(), "the providers list more than 20000 variables; a listing reads at most that many");
    assert!(cluster.requests().is_empty());
}

/// In live mode a listing takes its ids from the view and its values from the view: no request at all once
/// the view is synced.
#[tokio::test(flavor = "multi_thread")]
async fn a_synced_live_view_lists_without_a_request() {
    let cluster = Cluster::start().await;
    let logs = Arc::clone(&cluster.logs);
    let options = ProviderOptions {
        live: Some(LiveOptions::default()),
        log: Arc::new(move |level, message| logs.lock().unwrap().push((level, message.to_owned()))),
        ..ProviderOptions::default()
    };
    let provider = Provider::new(kubernetes_provider(), cluster.cluster_config(), "{}", options).unwrap();
    let chain = Chain::new(vec![Link { name: "k8s".into(), provider }], None, Arc::new(|_, _| {})).strict(true);
    chain.links()[0].provider.start_live().await;
    let view = chain.links()[0].provider.live_view().unwrap();
    tokio::time::timeout(Duration::from_secs(60), view.wait_until(|v| v.status(Kind::Connection) == Status::Synced))
        .await
        .unwrap();
    cluster.emulator.clear_requests();
    let listed = chain.list(Kind::Connection, None).await.unwrap();
    assert_eq!(listed.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), ["my_postgres_db", "smtp_default"]);
    let sent: BTreeSet<String> = cluster
        .requests()
        .iter()
        .map(|r| r.query.clone().unwrap_or_default())
        .filter(|q| !q.contains("watch=true"))
        .collect();
    assert!(sent.is_empty(), "{sent:?}");
}
