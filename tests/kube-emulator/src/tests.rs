//! End-to-end tests of the emulator over real HTTPS, with a client that trusts only `ca_pem()`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};

use crate::{Access, Emulator, EmulatorConfig, EmulatorError, Fault};

/// One HTTP/1.1 keep-alive connection over TLS, verifying the server against the emulator's CA.
struct Client {
    sender: SendRequest<Full<Bytes>>,
    token: Option<String>,
}

struct Answer {
    status: u16,
    headers: hyper::HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

impl Client {
    async fn connect(emulator: &Emulator, server_name: &str) -> Result<Client, String> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(emulator.ca_pem().as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(emulator.addr()).await.map_err(|e| e.to_string())?;
        let name = ServerName::try_from(server_name.to_owned()).unwrap();
        let tls = connector.connect(name, tcp).await.map_err(|e| e.to_string())?;
        let (sender, connection) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        Ok(Client { sender, token: None })
    }

    async fn with_token(emulator: &Emulator, token: &str) -> Client {
        let mut client = Client::connect(emulator, "127.0.0.1").await.unwrap();
        client.token = Some(token.to_owned());
        client
    }

    async fn send(
        &mut self,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Answer {
        let mut builder = hyper::Request::builder().method(method).uri(uri).header("host", "127.0.0.1");
        if let Some(token) = &self.token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let body = match body {
            Some((content_type, bytes)) => {
                builder = builder.header("content-type", content_type);
                Full::new(Bytes::from(bytes))
            }
            None => Full::new(Bytes::new()),
        };
        let response = self.sender.send_request(builder.body(body).unwrap()).await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Answer { status, headers, body: String::from_utf8(body.to_vec()).unwrap() }
    }

    async fn get(&mut self, uri: &str) -> Answer {
        self.send("GET", uri, &[], None).await
    }
}

async fn emulator() -> Emulator {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    emulator.create_namespace("airflow");
    emulator
        .insert_secret(
            "airflow",
            json!({"metadata":{"name":"smtp","labels":{"airflow.apache.org/connection-id":"smtp_default"}},
                   "stringData":{"value":"smtp://user:password@smtp.example.com:587"}}),
        )
        .unwrap();
    emulator
        .insert_secret(
            "airflow",
            json!({"metadata":{"name":"db","labels":{"airflow.apache.org/connection-id":"my_db"}},
                   "data":{"value":"cG9zdGdyZXM6Ly8="}}),
        )
        .unwrap();
    emulator
}

const UNAUTHORIZED: &str = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#;

#[tokio::test]
async fn authentication_over_https() {
    let emulator = emulator().await;
    let mut anonymous = Client::connect(&emulator, "127.0.0.1").await.unwrap();
    let answer = anonymous.get("/api/v1/namespaces/airflow/secrets").await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.body, UNAUTHORIZED);
    assert_eq!(answer.headers["content-type"], "application/json");

    // /version is anonymous.
    let version = anonymous.get("/version?timeout=5s").await;
    assert_eq!(version.status, 200);
    assert_eq!(version.json()["minor"], "32");
    assert_eq!(version.json()["gitVersion"], "v1.32.4");

    // The Python client's lower-case header name and scheme.
    emulator.add_token("T0k3n", Access::All);
    let answer =
        anonymous.send("GET", "/api/v1/namespaces/airflow/secrets", &[("authorization", "bearer T0k3n")], None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let answer = anonymous.send("GET", "/api", &[("authorization", "Bearer wrong")], None).await;
    assert_eq!(answer.status, 401);

    // Revocation takes effect on the same keep-alive connection.
    let mut client = Client::with_token(&emulator, "T0k3n").await;
    assert_eq!(client.get("/api/v1/namespaces/airflow").await.status, 200);
    emulator.revoke_token("T0k3n");
    let answer = client.get("/api/v1/namespaces/airflow").await;
    assert_eq!((answer.status, answer.body.as_str()), (401, UNAUTHORIZED));
    emulator.shutdown().await;
}

#[tokio::test]
async fn certificate_is_valid_for_localhost_too() {
    let emulator = emulator().await;
    emulator.add_token("t", Access::All);
    let mut client = Client::connect(&emulator, "localhost").await.unwrap();
    client.token = Some("t".into());
    assert_eq!(client.get("/api").await.status, 200);
    assert!(Client::connect(&emulator, "example.com").await.is_err());
}

#[tokio::test]
async fn authorization_returns_the_real_403() {
    let emulator = emulator().await;
    emulator.create_namespace("other");
    emulator.add_token_as("reader", "system:serviceaccount:airflow:reader", Access::ReadOnly(vec!["airflow".into()]));
    let mut client = Client::with_token(&emulator, "reader").await;
    assert_eq!(client.get("/api/v1/namespaces/airflow/secrets").await.status, 200);
    assert_eq!(client.get("/api/v1/namespaces/airflow/secrets/smtp").await.status, 200);
    let answer = client.get("/api/v1/namespaces/other/secrets").await;
    assert_eq!(answer.status, 403);
    assert_eq!(
        answer.body,
        r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"secrets is forbidden: User \"system:serviceaccount:airflow:reader\" cannot list resource \"secrets\" in API group \"\" in the namespace \"other\"","reason":"Forbidden","details":{"kind":"secrets"},"code":403}"#
    );
    let answer = client.send("DELETE", "/api/v1/namespaces/airflow/secrets/smtp", &[], None).await;
    assert_eq!(answer.status, 403);
    assert_eq!(
        answer.json()["message"],
        r#"secrets "smtp" is forbidden: User "system:serviceaccount:airflow:reader" cannot delete resource "secrets" in API group "" in the namespace "airflow""#
    );
    // Discovery stays allowed for every authenticated user, like system:discovery.
    emulator.add_token("nothing", Access::Nothing);
    let mut nothing = Client::with_token(&emulator, "nothing").await;
    assert_eq!(nothing.get("/api").await.status, 200);
    let answer = nothing.get("/api/v1/namespaces/airflow/secrets?labelSelector=a%3Db").await;
    assert_eq!(answer.status, 403);
    assert!(
        answer.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("secrets is forbidden: User \"system:serviceaccount:default:emulator-")
    );
}

#[tokio::test]
async fn list_with_label_selector_and_request_log() {
    let emulator = emulator().await;
    emulator.add_token("T0k3n", Access::All);
    let mut client = Client::with_token(&emulator, "T0k3n").await;
    emulator.clear_requests();
    let before = std::time::SystemTime::now();

    // Airflow / Python form.
    let python = "labelSelector=airflow.apache.org%2Fconnection-id%3Dsmtp_default&resourceVersion=0";
    let answer = client.get(&format!("/api/v1/namespaces/airflow/secrets?{python}")).await;
    assert_eq!(answer.status, 200);
    let list = answer.json();
    assert_eq!(list["kind"], "SecretList");
    assert_eq!(list["metadata"]["resourceVersion"], "103");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["metadata"]["name"], "smtp");
    assert_eq!(items[0]["data"]["value"], "c210cDovL3VzZXI6cGFzc3dvcmRAc210cC5leGFtcGxlLmNvbTo1ODc=");
    assert!(answer.body.starts_with(r#"{"kind":"SecretList","apiVersion":"v1","metadata":{"resourceVersion":"103"},"items":[{"kind":"Secret","apiVersion":"v1","metadata":{"name":"smtp","namespace":"airflow","uid":""#));

    // kube-rs form: empty first pair.
    let kube_rs =
        "&labelSelector=airflow.apache.org%2Fconnection-id%3Dmy_db&resourceVersion=0&resourceVersionMatch=NotOlderThan";
    let answer = client.get(&format!("/api/v1/namespaces/airflow/secrets?{kube_rs}")).await;
    assert_eq!(answer.json()["items"][0]["metadata"]["name"], "db");

    // kubectl form: spaces as '+', set-based operators.
    let kubectl =
        "labelSelector=airflow.apache.org%2Fconnection-id+in+%28db%2Cmy_db%2Csmtp_default%29%2C%21legacy&limit=500";
    let answer = client.get(&format!("/api/v1/namespaces/airflow/secrets?{kubectl}")).await;
    let names: Vec<_> = answer.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["db", "smtp"], "ordered by name");

    // No match and unknown namespace: `items` is still a list.
    let answer = client.get("/api/v1/namespaces/airflow/secrets?labelSelector=nothing%3Dhere").await;
    assert!(answer.body.ends_with(r#""items":[]}"#), "{}", answer.body);
    let answer = client.get("/api/v1/namespaces/nope/secrets").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["items"], json!([]));

    // Parse error: 400 with the real message.
    let answer = client.get("/api/v1/namespaces/airflow/secrets?labelSelector=a%3Db+c").await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.body,
        r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"found 'c', expected: ',' or 'end of string'","reason":"BadRequest","code":400}"#
    );

    let log = emulator.requests();
    assert_eq!(log.len(), 6);
    assert_eq!(log[0].method, "GET");
    assert_eq!(log[0].path, "/api/v1/namespaces/airflow/secrets");
    assert_eq!(log[0].query.as_deref(), Some(python));
    assert_eq!(log[0].header("Authorization"), Some("Bearer T0k3n"));
    assert_eq!(log[0].status, 200);
    assert_eq!(log[1].query.as_deref(), Some(kube_rs));
    assert_eq!(log[2].query.as_deref(), Some(kubectl));
    assert_eq!(log[4].path, "/api/v1/namespaces/nope/secrets");
    assert_eq!(log[4].query, None);
    assert_eq!(log[5].status, 400);
    assert!(log.iter().all(|r| r.headers.iter().all(|(n, _)| *n == n.to_lowercase())));
    // The same log with the arrival times, in order, within the test's own span.
    let after = std::time::SystemTime::now();
    let timed = emulator.requests_with_arrival();
    assert_eq!(timed.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>(), log);
    assert!(timed.windows(2).all(|pair| pair[0].0 <= pair[1].0), "arrivals in order");
    assert!(timed.iter().all(|(at, _)| before <= *at && *at <= after), "arrivals within the test");
    emulator.clear_requests();
    assert!(emulator.requests().is_empty());
    assert!(emulator.requests_with_arrival().is_empty());
}

#[tokio::test]
async fn crud_round_trip() {
    let emulator = emulator().await;
    emulator.add_token("t", Access::All);
    let mut client = Client::with_token(&emulator, "t").await;
    let body = br#"{"apiVersion":"v1","kind":"Secret","metadata":{"labels":{"airflow-conn":"rust"},"name":"from-rust"},"stringData":{"value":"hello"}}"#;
    let answer = client
        .send("POST", "/api/v1/namespaces/airflow/secrets?", &[], Some(("application/json", body.to_vec())))
        .await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let created = answer.json();
    assert_eq!(created["data"], json!({"value":"aGVsbG8="}));
    assert!(created.get("stringData").is_none());
    assert_eq!(created["type"], "Opaque");
    assert_eq!(created["metadata"]["resourceVersion"], "104", "namespace 101, secrets 102 and 103");

    let again =
        client.send("POST", "/api/v1/namespaces/airflow/secrets", &[], Some(("application/json", body.to_vec()))).await;
    assert_eq!(again.status, 409);
    assert_eq!(again.json()["reason"], "AlreadyExists");

    let answer =
        client.send("POST", "/api/v1/namespaces/nope/secrets", &[], Some(("application/json", body.to_vec()))).await;
    assert_eq!(answer.status, 404);
    assert_eq!(
        answer.body,
        r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"namespaces \"nope\" not found","reason":"NotFound","details":{"name":"nope","kind":"namespaces"},"code":404}"#
    );

    let malformed = client
        .send("POST", "/api/v1/namespaces/airflow/secrets", &[], Some(("application/json", b"{nope".to_vec())))
        .await;
    assert_eq!(malformed.status, 400);
    assert_eq!(malformed.json()["reason"], "BadRequest");

    let unsupported =
        client.send("POST", "/api/v1/namespaces/airflow/secrets", &[], Some(("text/plain", b"x".to_vec()))).await;
    assert_eq!(unsupported.status, 415);

    let patch = br#"{"metadata":{"labels":{"airflow.apache.org/connection-id":"smtp_default"}}}"#;
    let answer = client
        .send(
            "PATCH",
            "/api/v1/namespaces/airflow/secrets/from-rust?fieldManager=kubectl-label",
            &[],
            Some(("application/merge-patch+json", patch.to_vec())),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.json()["metadata"]["labels"],
        json!({"airflow-conn":"rust","airflow.apache.org/connection-id":"smtp_default"})
    );
    let answer = client
        .send(
            "PATCH",
            "/api/v1/namespaces/airflow/secrets/from-rust",
            &[],
            Some((
                "application/strategic-merge-patch+json",
                br#"{"metadata":{"labels":{"airflow-conn":null}}}"#.to_vec(),
            )),
        )
        .await;
    assert_eq!(answer.json()["metadata"]["labels"], json!({"airflow.apache.org/connection-id":"smtp_default"}));
    let uid = answer.json()["metadata"]["uid"].as_str().unwrap().to_owned();

    let answer = client.get("/api/v1/namespaces/airflow/secrets/from-rust").await;
    assert_eq!(answer.json()["data"]["value"], "aGVsbG8=");

    let answer = client
        .send(
            "DELETE",
            "/api/v1/namespaces/airflow/secrets/from-rust",
            &[],
            Some(("application/json", br#"{"propagationPolicy":"Background"}"#.to_vec())),
        )
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.body,
        format!(
            r#"{{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Success","details":{{"name":"from-rust","kind":"secrets","uid":"{uid}"}}}}"#
        )
    );
    let answer = client.get("/api/v1/namespaces/airflow/secrets/from-rust").await;
    assert_eq!(answer.status, 404);
    assert_eq!(
        answer.body,
        r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"secrets \"from-rust\" not found","reason":"NotFound","details":{"name":"from-rust","kind":"secrets"},"code":404}"#
    );
    let answer = client.get("/api/v1/namespaces/nope").await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.json()["details"], json!({"name":"nope","kind":"namespaces"}));
    let answer = client.get("/apis/apps/v1/deployments").await;
    assert_eq!(
        answer.body,
        r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","details":{},"code":404}"#
    );
}

#[tokio::test]
async fn discovery_documents() {
    let emulator = emulator().await;
    emulator.add_token("t", Access::All);
    let mut client = Client::with_token(&emulator, "t").await;
    let legacy = client.get("/api?timeout=32s").await;
    assert_eq!(legacy.json()["kind"], "APIVersions");
    let aggregated = client
        .send("GET", "/api", &[("accept", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")], None)
        .await;
    assert_eq!(aggregated.json()["kind"], "APIGroupDiscoveryList");
    assert_eq!(
        aggregated.headers["content-type"],
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    );
    assert_eq!(client.get("/apis").await.json()["kind"], "APIGroupList");
    let v1 = client.get("/api/v1").await.json();
    assert_eq!(v1["resources"][1]["name"], "secrets");
}

#[tokio::test]
async fn faults() {
    let emulator = emulator().await;
    emulator.add_token("t", Access::All);
    let mut client = Client::with_token(&emulator, "t").await;

    emulator.set_fault(Some(Fault::Status(500)));
    let answer = client.get("/api/v1/namespaces/airflow/secrets").await;
    assert_eq!(answer.status, 500);
    assert_eq!(
        answer.body,
        r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Internal error occurred: emulated fault","reason":"InternalError","details":{"causes":[{"message":"emulated fault"}]},"code":500}"#
    );
    assert_eq!(client.get("/version").await.status, 200, "/version is exempt");
    emulator.set_fault(Some(Fault::Status(503)));
    assert_eq!(client.get("/api").await.json()["reason"], "ServiceUnavailable");

    emulator.set_fault(Some(Fault::TooManyRequests { retry_after_secs: 2 }));
    let answer = client.get("/api/v1/namespaces/airflow/secrets").await;
    assert_eq!(answer.status, 429);
    assert_eq!(answer.body, "Too many requests, please try again later.\n");
    assert_eq!(answer.headers["retry-after"], "2");
    assert_eq!(answer.headers["content-type"], "text/plain; charset=utf-8");

    emulator.set_fault(Some(Fault::Latency(Duration::from_millis(200))));
    let started = Instant::now();
    assert_eq!(client.get("/api/v1/namespaces/airflow/secrets").await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(200));

    emulator.set_fault(None);
    assert_eq!(client.get("/api/v1/namespaces/airflow/secrets").await.status, 200);
    let statuses: Vec<u16> = emulator.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [500, 200, 503, 429, 200, 200]);
}

#[tokio::test]
async fn paging_with_limit_and_continue() {
    let emulator = emulator().await;
    emulator.insert_secret("airflow", json!({"metadata":{"name":"zz"}})).unwrap();
    emulator.add_token("t", Access::All);
    let mut client = Client::with_token(&emulator, "t").await;
    let first = client.get("/api/v1/namespaces/airflow/secrets?limit=2").await.json();
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    assert_eq!(first["metadata"]["remainingItemCount"], 1);
    let token = first["metadata"]["continue"].as_str().unwrap();
    let second = client.get(&format!("/api/v1/namespaces/airflow/secrets?continue={token}&limit=2")).await.json();
    assert_eq!(second["items"][0]["metadata"]["name"], "zz");
    assert!(second["metadata"].get("continue").is_none());
    let bad = client.get("/api/v1/namespaces/airflow/secrets?continue=%21%21").await;
    assert_eq!(bad.status, 400);
    let invalid = client.get("/api/v1/namespaces/airflow/secrets?resourceVersionMatch=NotOlderThan").await;
    assert_eq!(invalid.status, 422);
    assert_eq!(
        invalid.json()["message"],
        "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"
    );
    let too_large =
        client.get("/api/v1/namespaces/airflow/secrets?resourceVersion=999&resourceVersionMatch=NotOlderThan").await;
    assert_eq!(too_large.status, 504);
    assert_eq!(too_large.headers["retry-after"], "1");
}

#[tokio::test]
async fn insert_and_manifests_validate_like_the_api() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let err = emulator.insert_secret("nope", json!({"metadata":{"name":"a"}})).unwrap_err();
    assert!(matches!(err, EmulatorError::Api { code: 404, .. }), "{err}");
    let yaml = r#"
apiVersion: v1
kind: Secret
metadata:
  name: airflow-conn-smtp
  labels: {airflow.apache.org/connection-id: smtp_default}
stringData:
  value: smtp://user:password@smtp.example.com:587
---
apiVersion: v1
kind: Secret
metadata:
  name: airflow-var-x
  namespace: team
  labels: {airflow.apache.org/variable-key: x}
data:
  value: eA==
"#;
    assert_eq!(emulator.load_manifests(yaml, "airflow").unwrap(), 2);
    let stored = emulator.get_secret("airflow", "airflow-conn-smtp").unwrap();
    assert_eq!(stored["type"], "Opaque");
    assert!(emulator.get_secret("team", "airflow-var-x").is_some());
    assert!(matches!(emulator.load_manifests(yaml, "airflow"), Err(EmulatorError::Api { code: 409, .. })));
}

#[tokio::test]
async fn files_for_clients() {
    let emulator = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let sa = dir.path().join("serviceaccount");
    emulator.write_service_account_dir(&sa, "tok", "airflow").unwrap();
    assert_eq!(std::fs::read_to_string(sa.join("token")).unwrap(), "tok");
    assert_eq!(std::fs::read_to_string(sa.join("namespace")).unwrap(), "airflow");
    assert_eq!(std::fs::read_to_string(sa.join("ca.crt")).unwrap(), emulator.ca_pem());
    let kubeconfig = dir.path().join("kubeconfig");
    emulator.write_kubeconfig(&kubeconfig, "tok", "airflow").unwrap();
    let parsed: Value = serde_yaml::from_str(&std::fs::read_to_string(&kubeconfig).unwrap()).unwrap();
    assert_eq!(parsed["clusters"][0]["cluster"]["server"], format!("https://127.0.0.1:{}", emulator.addr().port()));
    assert_eq!(parsed["users"][0]["user"]["token"], "tok");
    assert_eq!(parsed["contexts"][0]["context"]["namespace"], "airflow");
    assert_eq!(parsed["current-context"], "kube-emulator");
}

#[tokio::test]
async fn shutdown_closes_the_listener() {
    let emulator = emulator().await;
    let addr = emulator.addr();
    let handle = emulator.clone();
    emulator.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    assert!(Client::connect(&handle, "127.0.0.1").await.is_err());
}

/// A watch response read event by event.
struct WatchStream {
    status: u16,
    headers: hyper::HeaderMap,
    body: hyper::body::Incoming,
    buffer: Vec<u8>,
}

impl WatchStream {
    /// The next event, or `None` when the server ended the stream. Panics after 5 s.
    async fn next(&mut self) -> Option<Value> {
        tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = self.buffer.drain(..=end).collect();
                    return Some(serde_json::from_slice(&line).unwrap());
                }
                match self.body.frame().await {
                    Some(frame) => {
                        if let Ok(data) = frame.unwrap().into_data() {
                            self.buffer.extend_from_slice(&data);
                        }
                    }
                    None => {
                        assert!(self.buffer.is_empty(), "unterminated event {:?}", self.buffer);
                        return None;
                    }
                }
            }
        })
        .await
        .expect("no watch event within 5 s")
    }

    /// The next event's type and object name (`-` for none).
    async fn next_summary(&mut self) -> Option<(String, String)> {
        let event = self.next().await?;
        let name = event["object"]["metadata"]["name"].as_str().unwrap_or("-").to_owned();
        Some((event["type"].as_str().unwrap().to_owned(), name))
    }
}

impl Client {
    async fn watch(&mut self, uri: &str) -> WatchStream {
        let mut builder = hyper::Request::builder().method("GET").uri(uri).header("host", "127.0.0.1");
        if let Some(token) = &self.token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        let response = self.sender.send_request(builder.body(Full::new(Bytes::new())).unwrap()).await.unwrap();
        WatchStream {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.into_body(),
            buffer: Vec::new(),
        }
    }
}

fn pair(kind: &str, name: &str) -> Option<(String, String)> {
    Some((kind.to_owned(), name.to_owned()))
}

#[tokio::test]
async fn watch_streams_live_events_with_selector_transitions() {
    tokio::time::timeout(Duration::from_secs(20), async {
        let emulator = emulator().await;
        emulator.add_token("t", Access::All);
        let mut watcher = Client::with_token(&emulator, "t").await;
        let mut writer = Client::with_token(&emulator, "t").await;
        let mut stream = watcher
            .watch(
                "/api/v1/namespaces/airflow/secrets?allowWatchBookmarks=true&labelSelector=airflow.apache.org%2Fconnection-id&resourceVersion=0&timeoutSeconds=2&watch=true",
            )
            .await;
        assert_eq!(stream.status, 200);
        assert_eq!(stream.headers["content-type"], "application/json");
        assert_eq!(stream.headers["transfer-encoding"], "chunked");
        // Synthetic ADDED for the current state, in key order.
        assert_eq!(stream.next_summary().await, pair("ADDED", "db"));
        assert_eq!(stream.next_summary().await, pair("ADDED", "smtp"));

        let merge = |patch: Value| Some(("application/merge-patch+json", patch.to_string().into_bytes()));
        emulator.insert_secret("airflow", json!({"metadata":{"name":"unlabeled"}})).unwrap();
        emulator
            .insert_secret(
                "airflow",
                json!({"metadata":{"name":"live","labels":{"airflow.apache.org/connection-id":"live"}},"stringData":{"value":"1"}}),
            )
            .unwrap();
        let added = stream.next().await.unwrap();
        assert_eq!(added["type"], "ADDED");
        assert_eq!(added["object"]["data"]["value"], "MQ==");
        let uri = "/api/v1/namespaces/airflow/secrets/live";
        let answer = writer.send("PATCH", uri, &[], merge(json!({"data":{"value":"Mg=="}}))).await;
        assert_eq!(answer.status, 200);
        let modified = stream.next().await.unwrap();
        assert_eq!(modified["type"], "MODIFIED");
        assert_eq!(modified["object"]["data"]["value"], "Mg==");
        assert_eq!(modified["object"]["metadata"]["resourceVersion"], answer.json()["metadata"]["resourceVersion"]);

        // Leaving the selector is a DELETED with the previous content at the new revision.
        let answer = writer
            .send("PATCH", uri, &[], merge(json!({"metadata":{"labels":{"airflow.apache.org/connection-id":null}}})))
            .await;
        let left = stream.next().await.unwrap();
        assert_eq!(left["type"], "DELETED");
        assert_eq!(left["object"]["metadata"]["labels"]["airflow.apache.org/connection-id"], "live");
        assert_eq!(left["object"]["metadata"]["resourceVersion"], answer.json()["metadata"]["resourceVersion"]);
        // Entering it again is an ADDED.
        writer
            .send("PATCH", uri, &[], merge(json!({"metadata":{"labels":{"airflow.apache.org/connection-id":"again"}}})))
            .await;
        assert_eq!(stream.next_summary().await, pair("ADDED", "live"));
        assert_eq!(writer.send("DELETE", uri, &[], None).await.status, 200);
        let deleted = stream.next().await.unwrap();
        assert_eq!(deleted["type"], "DELETED");
        let revision = emulator.resource_version();
        assert_eq!(deleted["object"]["metadata"]["resourceVersion"], revision.to_string());

        // timeoutSeconds: a bookmark at the current revision, then the end of the stream.
        let bookmark = stream.next().await.unwrap();
        assert_eq!(
            bookmark,
            json!({"type":"BOOKMARK","object":{"kind":"Secret","apiVersion":"v1","metadata":{"resourceVersion":revision.to_string(),"creationTimestamp":null}}})
        );
        assert_eq!(stream.next().await, None);
        // The keep-alive connection is usable again after the stream.
        assert_eq!(watcher.get("/api/v1/namespaces/airflow/secrets").await.status, 200);
        emulator.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn watch_resumes_from_history_and_expires_after_compaction() {
    tokio::time::timeout(Duration::from_secs(20), async {
        let emulator = emulator().await;
        emulator.create_namespace("other");
        emulator.add_token("t", Access::All);
        emulator.add_token("reader", Access::ReadOnly(vec!["other".into()]));
        let mut client = Client::with_token(&emulator, "t").await;
        let start = emulator.resource_version();
        emulator.insert_secret("other", json!({"metadata":{"name":"elsewhere"}})).unwrap();
        emulator.insert_secret("airflow", json!({"metadata":{"name":"x"}})).unwrap();
        assert!(emulator.delete_secret("airflow", "x"));

        // Resume from a revision: only the later events, no synthetic ADDED.
        let mut stream = client.watch(&format!("/api/v1/namespaces/airflow/secrets?watch=1&resourceVersion={start}")).await;
        assert_eq!(stream.next_summary().await, pair("ADDED", "x"));
        assert_eq!(stream.next_summary().await, pair("DELETED", "x"));
        drop(stream);
        // All namespaces, with a field selector.
        let mut client = Client::with_token(&emulator, "t").await;
        let mut stream = client
            .watch(&format!("/api/v1/secrets?watch=true&resourceVersion={start}&fieldSelector=metadata.namespace%3Dother"))
            .await;
        assert_eq!(stream.next_summary().await, pair("ADDED", "elsewhere"));
        drop(stream);

        // A watch is authorized with the `watch` verb.
        let mut reader = Client::with_token(&emulator, "reader").await;
        let forbidden = reader.get("/api/v1/namespaces/airflow/secrets?watch=true").await;
        assert_eq!(forbidden.status, 403);
        assert_eq!(
            forbidden.json()["message"],
            "secrets is forbidden: User \"system:serviceaccount:default:emulator-2\" cannot watch resource \"secrets\" in API group \"\" in the namespace \"airflow\""
        );
        // Parameter errors are plain HTTP errors, before any streaming.
        let mut client = Client::with_token(&emulator, "t").await;
        assert_eq!(client.get("/api/v1/namespaces/airflow/secrets?watch=true&labelSelector=a%20in%20(b").await.status, 400);

        // After a compaction the old revision is gone: 200, one ERROR 410 event, end of stream.
        emulator.compact_history();
        let current = emulator.resource_version();
        let mut stream = client.watch(&format!("/api/v1/namespaces/airflow/secrets?watch=true&resourceVersion={start}")).await;
        assert_eq!(stream.status, 200);
        assert_eq!(
            stream.next().await.unwrap(),
            json!({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
                "message":format!("too old resource version: {start} ({current})"),"reason":"Expired","code":410}})
        );
        assert_eq!(stream.next().await, None);
        // A bounded history compacts by itself.
        emulator.set_history_limit(1);
        let before = emulator.resource_version();
        emulator.insert_secret("airflow", json!({"metadata":{"name":"y"}})).unwrap();
        emulator.insert_secret("airflow", json!({"metadata":{"name":"z"}})).unwrap();
        let mut stream =
            client.watch(&format!("/api/v1/namespaces/airflow/secrets?watch=true&resourceVersion={before}")).await;
        assert_eq!(stream.next().await.unwrap()["object"]["code"], 410);
        assert_eq!(stream.next().await, None);
        let mut stream =
            client.watch(&format!("/api/v1/namespaces/airflow/secrets?watch=true&resourceVersion={}", before + 1)).await;
        assert_eq!(stream.next_summary().await, pair("ADDED", "z"));
        drop(stream);
        // A revision from the future.
        let mut client = Client::with_token(&emulator, "t").await;
        let mut stream = client.watch("/api/v1/namespaces/airflow/secrets?watch=true&resourceVersion=999999").await;
        assert_eq!(stream.next().await.unwrap()["object"]["code"], 504);
        emulator.shutdown().await;
    })
    .await
    .unwrap();
}

/// The event hook counts every event handed to a watch stream (not bookmarks), so a test can wait for delivery
/// instead of sleeping; `drop_watches` ends every open stream cleanly.
#[tokio::test]
async fn the_event_hook_counts_delivered_events_and_dropped_watches_end() {
    tokio::time::timeout(Duration::from_secs(20), async {
        let emulator = emulator().await;
        emulator.add_token("t", Access::All);
        emulator.set_bookmark_interval(Duration::from_millis(50));
        emulator.insert_secret("airflow", json!({"metadata":{"name":"a","labels":{"hook":"1"}}})).unwrap();
        let mut client = Client::with_token(&emulator, "t").await;
        assert_eq!(emulator.watch_events(), 0);
        let mut stream = client
            .watch("/api/v1/namespaces/airflow/secrets?watch=true&allowWatchBookmarks=true&labelSelector=hook")
            .await;
        assert_eq!(stream.next_summary().await, pair("ADDED", "a"));
        emulator.wait_watch_events(1).await;
        assert_eq!(stream.next().await.unwrap()["type"], "BOOKMARK");
        assert_eq!(emulator.watch_events(), 1, "bookmarks are not events");
        emulator.insert_secret("airflow", json!({"metadata":{"name":"b","labels":{"hook":"1"}}})).unwrap();
        emulator.wait_watch_events(2).await;
        // The event was handed to the stream before the count moved.
        let mut next = stream.next().await.unwrap();
        while next["type"] == "BOOKMARK" {
            next = stream.next().await.unwrap();
        }
        assert_eq!((next["type"].as_str(), next["object"]["metadata"]["name"].as_str()), (Some("ADDED"), Some("b")));
        emulator.drop_watches();
        loop {
            match stream.next().await {
                None => break,
                Some(event) => assert_eq!(event["type"], "BOOKMARK", "nothing but bookmarks before the end"),
            }
        }
        // A new watch is served normally.
        let mut client = Client::with_token(&emulator, "t").await;
        let mut stream = client.watch("/api/v1/namespaces/airflow/secrets?watch=true&labelSelector=hook").await;
        assert_eq!(stream.next_summary().await, pair("ADDED", "a"));
        assert_eq!(stream.next_summary().await, pair("ADDED", "b"));
        assert_eq!(emulator.watch_events(), 4);
        // Expired: one ERROR 410, then the end; resuming from the old version is refused too.
        assert_eq!(emulator.open_watches(), 1);
        let revision = emulator.resource_version();
        emulator.expire_watches();
        let expired = stream.next().await.unwrap();
        assert_eq!((expired["type"].as_str(), expired["object"]["code"].as_u64()), (Some("ERROR"), Some(410)));
        assert_eq!(stream.next().await, None);
        assert_eq!(emulator.watch_events(), 5, "the ERROR event is delivered too");
        let mut client = Client::with_token(&emulator, "t").await;
        let mut stream = client
            .watch(&format!("/api/v1/namespaces/airflow/secrets?watch=true&resourceVersion={}", revision - 1))
            .await;
        assert_eq!(stream.next().await.unwrap()["object"]["code"], 410);
        emulator.shutdown().await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn watch_bookmarks_and_streaming_lists() {
    tokio::time::timeout(Duration::from_secs(20), async {
        let emulator = emulator().await;
        emulator.add_token("t", Access::All);
        emulator.set_bookmark_interval(Duration::from_millis(50));
        let mut client = Client::with_token(&emulator, "t").await;
        let revision = emulator.resource_version().to_string();
        let mut stream = client
            .watch("/api/v1/namespaces/airflow/secrets?watch=true&allowWatchBookmarks=true&resourceVersion=0&labelSelector=nothing%3Dmatches")
            .await;
        let bookmark = stream.next().await.unwrap();
        assert_eq!(bookmark["type"], "BOOKMARK");
        assert_eq!(bookmark["object"]["metadata"]["resourceVersion"], revision);
        assert_eq!(stream.next().await.unwrap()["type"], "BOOKMARK", "bookmarks are periodic");
        drop(stream);

        emulator.set_bookmark_interval(Duration::from_secs(60));
        let mut client = Client::with_token(&emulator, "t").await;
        let mut stream = client
            .watch("/api/v1/namespaces/airflow/secrets?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&resourceVersion=")
            .await;
        assert_eq!(stream.next_summary().await, pair("ADDED", "db"));
        assert_eq!(stream.next_summary().await, pair("ADDED", "smtp"));
        let end = stream.next().await.unwrap();
        assert_eq!(end["type"], "BOOKMARK");
        assert_eq!(end["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
        assert_eq!(end["object"]["metadata"]["resourceVersion"], revision);
        emulator.shutdown().await;
    })
    .await
    .unwrap();
}

/// kube-apiserver routes on the percent-decoded path: an encoded letter is that letter, an encoded `/` a
/// separator (so an "encoded namespace" can reach another resource), and an invalid escape is refused by Go's
/// HTTP server before any handler.
#[tokio::test]
async fn the_path_is_decoded_before_routing() {
    let emulator = emulator().await;
    emulator.add_token("all", Access::All);
    let mut client = Client::with_token(&emulator, "all").await;

    let list = client.get("/api/v1/namespaces/air%66low/secrets").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.json()["items"].as_array().map(Vec::len), Some(2));

    let elsewhere = client.get("/api/v1/namespaces/airflow%2Fpods%2Fp%2Fproxy%2F/secrets").await;
    assert_eq!(elsewhere.status, 404, "{}", elsewhere.body);
    let invalid = client.get("/api/v1/namespaces/%zz/secrets").await;
    assert_eq!((invalid.status, invalid.body.as_str()), (400, "400 Bad Request"));

    let paths: Vec<(String, String)> = emulator.requests().into_iter().map(|r| (r.raw_path, r.path)).collect();
    assert_eq!(
        paths,
        [
            ("/api/v1/namespaces/air%66low/secrets".to_owned(), "/api/v1/namespaces/airflow/secrets".to_owned()),
            (
                "/api/v1/namespaces/airflow%2Fpods%2Fp%2Fproxy%2F/secrets".to_owned(),
                "/api/v1/namespaces/airflow/pods/p/proxy//secrets".to_owned()
            ),
            ("/api/v1/namespaces/%zz/secrets".to_owned(), "/api/v1/namespaces/%zz/secrets".to_owned()),
        ]
    );
}

/// `ResetMidBody`: the status and headers arrive, then half the body, then the connection ends without the
/// rest (a client sees a truncated body, not a missing answer).
#[tokio::test]
async fn reset_mid_body_breaks_the_body_after_the_headers() {
    let emulator = emulator().await;
    emulator.add_token("all", Access::All);
    emulator.set_fault(Some(Fault::ResetMidBody));
    let mut client = Client::with_token(&emulator, "all").await;
    let request = hyper::Request::builder()
        .uri("/api/v1/namespaces/airflow/secrets")
        .header("host", "127.0.0.1")
        .header("authorization", "Bearer all")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = client.sender.send_request(request).await.expect("the headers arrive");
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut received = 0;
    let ended = loop {
        match body.frame().await {
            Some(Ok(frame)) => received += frame.data_ref().map_or(0, Bytes::len),
            Some(Err(e)) => break e,
            None => panic!("the body ended cleanly after {received} bytes"),
        }
    };
    assert!(received > 0, "part of the body arrived before the reset ({ended})");
}
