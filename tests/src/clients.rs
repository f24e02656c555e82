//! Conformance: real, unmodified clients against the emulator.
//!
//! - kube-rs (the crate our host uses), configured from the kubeconfig the emulator writes;
//! - the real `kubectl` for server minors 31 (JSON create) and 32 (Protobuf create). If
//!   `kubectl` is not installed these tests fail: they are the proof the emulator is faithful.

use std::path::Path;
use std::process::Command;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use serde_json::{Value, json};

use crate::{Access, Emulator, EmulatorConfig};

async fn kube_client(emulator: &Emulator, dir: &Path, token: &str) -> Client {
    let path = dir.join("kubeconfig");
    emulator.write_kubeconfig(&path, token, "airflow").unwrap();
    let kubeconfig = Kubeconfig::read_from(&path).unwrap();
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await.unwrap();
    Client::try_from(config).unwrap()
}

#[tokio::test]
async fn kube_rs_round_trip() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    emulator.create_namespace("airflow");
    emulator.add_token("T0k3n", Access::Namespaces(vec!["airflow".into()]));
    let dir = tempfile::tempdir().unwrap();
    let client = kube_client(&emulator, dir.path(), "T0k3n").await;

    let version = client.apiserver_version().await.unwrap();
    assert_eq!((version.major.as_str(), version.minor.as_str()), ("1", "32"));

    let api: Api<Secret> = Api::namespaced(client.clone(), "airflow");
    let secret: Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "from-rust", "labels": {"airflow.apache.org/connection-id": "rust"}},
        "stringData": {"value": "hello"}
    }))
    .unwrap();
    let created = api.create(&PostParams::default(), &secret).await.unwrap();
    assert_eq!(created.type_.as_deref(), Some("Opaque"));
    assert_eq!(created.data.unwrap()["value"].0, b"hello");
    assert!(created.string_data.is_none());

    emulator.clear_requests();
    let list =
        api.list(&ListParams::default().labels("airflow.apache.org/connection-id=rust").match_any()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    let empty = api.list(&ListParams::default().labels("nothing=here")).await.unwrap();
    assert!(empty.items.is_empty());
    let requests = emulator.requests();
    assert_eq!(
        requests[0].query.as_deref(),
        Some(
            "&labelSelector=airflow.apache.org%2Fconnection-id%3Drust&resourceVersion=0&resourceVersionMatch=NotOlderThan"
        )
    );
    assert_eq!(requests[0].header("authorization"), Some("Bearer T0k3n"));
    assert_eq!(requests[0].header("accept"), None, "kube-rs sends no Accept on list");

    let patched = api
        .patch("from-rust", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"extra": "yes"}}})))
        .await
        .unwrap();
    assert_eq!(patched.metadata.labels.unwrap()["extra"], "yes");
    let patched = api
        .patch(
            "from-rust",
            &PatchParams::default(),
            &Patch::Strategic(json!({"metadata": {"labels": {"extra": null}}})),
        )
        .await
        .unwrap();
    assert!(!patched.metadata.labels.unwrap().contains_key("extra"));

    let missing = api.get("does-not-exist").await.unwrap_err();
    match missing {
        kube::Error::Api(status) => {
            assert_eq!(status.code, 404);
            assert_eq!(status.reason, "NotFound");
        }
        other => panic!("unexpected error {other:?}"),
    }
    let deleted = api.delete("from-rust", &DeleteParams::default()).await.unwrap();
    assert!(deleted.is_right(), "secrets are deleted with a Success Status");
    assert!(api.get_opt("from-rust").await.unwrap().is_none());

    let forbidden: Api<Secret> = Api::namespaced(client, "kube-system");
    match forbidden.list(&ListParams::default()).await.unwrap_err() {
        kube::Error::Api(status) => assert_eq!(status.code, 403),
        other => panic!("unexpected error {other:?}"),
    }
    emulator.shutdown().await;
}

/// Runs `kubectl <args>` with an isolated `$HOME` (fresh discovery cache) and the kubeconfig.
fn kubectl(home: &Path, kubeconfig: &Path, args: &[&str]) -> (bool, String, String) {
    let output = Command::new("kubectl")
        .args(args)
        .env("HOME", home)
        .env("KUBECONFIG", kubeconfig)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .output()
        .unwrap_or_else(|e| panic!("kubectl must be installed to prove conformance: {e}"));
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn kubectl_flow(minor: &str, create_content_type: &str) {
    let emulator =
        Emulator::start(EmulatorConfig { minor_version: minor.to_owned(), ..EmulatorConfig::default() }).await.unwrap();
    emulator.create_namespace("airflow");
    emulator.add_token("kubectl-token", Access::All);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    emulator.write_kubeconfig(&kubeconfig, "kubectl-token", "airflow").unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();

    let run = |args: Vec<&'static str>| {
        let home = home.clone();
        let kubeconfig = kubeconfig.clone();
        tokio::task::spawn_blocking(move || kubectl(&home, &kubeconfig, &args))
    };

    let (ok, out, err) = run(vec![
        "create",
        "secret",
        "generic",
        "my-smtp-secret",
        "--from-literal=value=smtp://user:password@smtp.example.com:587",
        "-n",
        "airflow",
    ])
    .await
    .unwrap();
    assert!(ok, "create failed: {out}{err}");
    assert_eq!(out.trim(), "secret/my-smtp-secret created");
    let post = emulator.requests().into_iter().find(|r| r.method == "POST").unwrap();
    assert_eq!(post.path, "/api/v1/namespaces/airflow/secrets");
    assert_eq!(post.header("content-type"), Some(create_content_type));
    assert_eq!(post.status, 201);
    assert_eq!(
        emulator.get_secret("airflow", "my-smtp-secret").unwrap()["data"]["value"],
        "c210cDovL3VzZXI6cGFzc3dvcmRAc210cC5leGFtcGxlLmNvbTo1ODc="
    );

    let (ok, out, err) = run(vec![
        "label",
        "secret",
        "my-smtp-secret",
        "airflow.apache.org/connection-id=smtp_default",
        "-n",
        "airflow",
    ])
    .await
    .unwrap();
    assert!(ok, "label failed: {out}{err}");
    assert_eq!(out.trim(), "secret/my-smtp-secret labeled");
    let patch = emulator.requests().into_iter().find(|r| r.method == "PATCH").unwrap();
    assert_eq!(patch.header("content-type"), Some("application/merge-patch+json"));

    let (ok, out, err) = run(vec![
        "get",
        "secrets",
        "-l",
        "airflow.apache.org/connection-id=smtp_default",
        "-n",
        "airflow",
        "-o",
        "json",
    ])
    .await
    .unwrap();
    assert!(ok, "get failed: {out}{err}");
    let list: Value = serde_json::from_str(&out).unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["metadata"]["name"], "my-smtp-secret");
    assert_eq!(items[0]["metadata"]["labels"]["airflow.apache.org/connection-id"], "smtp_default");
    assert_eq!(items[0]["data"]["value"], "c210cDovL3VzZXI6cGFzc3dvcmRAc210cC5leGFtcGxlLmNvbTo1ODc=");
    let list_request = emulator
        .requests()
        .into_iter()
        .find(|r| r.method == "GET" && r.path == "/api/v1/namespaces/airflow/secrets")
        .unwrap();
    assert_eq!(
        list_request.query.as_deref(),
        Some("labelSelector=airflow.apache.org%2Fconnection-id%3Dsmtp_default&limit=500")
    );

    let (ok, out, err) = run(vec!["delete", "secret", "my-smtp-secret", "-n", "airflow"]).await.unwrap();
    assert!(ok, "delete failed: {out}{err}");
    assert_eq!(out.trim(), "secret \"my-smtp-secret\" deleted");
    assert!(emulator.get_secret("airflow", "my-smtp-secret").is_none());

    let (ok, _, err) = run(vec!["get", "secret", "my-smtp-secret", "-n", "airflow"]).await.unwrap();
    assert!(!ok);
    assert_eq!(err.trim(), "Error from server (NotFound): secrets \"my-smtp-secret\" not found");
    assert!(emulator.requests().iter().all(|r| r.status != 0 && r.status < 500), "{:#?}", emulator.requests());
    emulator.shutdown().await;
}

#[tokio::test]
async fn kubectl_131_json_create() {
    kubectl_flow("31", "application/json").await;
}

#[tokio::test]
async fn kubectl_132_protobuf_create() {
    kubectl_flow("32", "application/vnd.kubernetes.protobuf").await;
}
