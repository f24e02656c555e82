//! The HTTPS server: accept loop, request logging, authentication, fault injection, routing and
//! the handlers for discovery, namespaces and secrets.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Limited};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::auth::Identity;
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::{FieldError, Status};
use crate::store::{self, PatchType, SecretInput};
use crate::watch::WatchParams;
use crate::{RecordedRequest, Shared, lock};

/// The apiserver's request body limit (`--max-request-bytes` default, 3 MiB).
const MAX_BODY: usize = 3 * 1024 * 1024;

/// Media types a create or update body may use.
const BODY_TYPES: &str = "application/json, application/yaml, application/vnd.kubernetes.protobuf";

/// Media types a PATCH body may use.
const PATCH_TYPES: &str = "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json";

/// Accepts TCP connections until `shutdown` flips, serving each over TLS + HTTP/1.1. Dropping the
/// `JoinSet` on exit aborts the connections still open.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
            accepted = listener.accept() => {
                let Ok((stream, _peer)) = accepted else { continue };
                shared.connections.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let acceptor = acceptor.clone();
                let shared = Arc::clone(&shared);
                connections.spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else { return };
                    let service = service_fn(move |request| {
                        let shared = Arc::clone(&shared);
                        async move { Ok::<_, Infallible>(handle(shared, request).await) }
                    });
                    // Connection errors (client went away, bad HTTP) only end this connection.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        }
    }
}

/// A response body: complete, or a watch stream sent chunk by chunk (chunked encoding).
#[derive(Debug)]
pub(crate) enum ResponseBody {
    /// The whole body; `None` once sent.
    Full(Option<Bytes>),
    /// One chunk per item; ends when the sender is dropped.
    Stream(mpsc::Receiver<Bytes>),
    /// [`crate::Fault::ResetMidBody`]: this part, then (after a pause, so the headers and the part are on the
    /// wire) an error, which makes hyper drop the connection mid-body.
    Broken(Option<Bytes>, Pin<Box<tokio::time::Sleep>>),
    /// [`crate::Fault::SlowBody`]: the body once the sleep is over.
    Slow(Pin<Box<tokio::time::Sleep>>, Option<Bytes>),
}

/// The error that ends a [`ResponseBody::Broken`] body.
#[derive(Debug, thiserror::Error)]
#[error("emulated connection reset")]
pub(crate) struct EmulatedReset;

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = EmulatedReset;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, EmulatedReset>>> {
        match self.get_mut() {
            ResponseBody::Full(body) => Poll::Ready(body.take().map(|b| Ok(Frame::data(b)))),
            ResponseBody::Stream(chunks) => chunks.poll_recv(cx).map(|chunk| chunk.map(|b| Ok(Frame::data(b)))),
            ResponseBody::Broken(part, pause) => match part.take() {
                Some(part) => Poll::Ready(Some(Ok(Frame::data(part)))),
                None => pause.as_mut().poll(cx).map(|()| Some(Err(EmulatedReset))),
            },
            ResponseBody::Slow(sleep, body) => match sleep.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(body.take().map(|b| Ok(Frame::data(b)))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, ResponseBody::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResponseBody::Full(Some(body)) => SizeHint::with_exact(body.len() as u64),
            ResponseBody::Full(None) => SizeHint::with_exact(0),
            ResponseBody::Stream(_) | ResponseBody::Broken(..) | ResponseBody::Slow(..) => SizeHint::default(),
        }
    }
}

/// What a request is answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A complete response.
    Reply(Reply),
    /// A 200 watch stream.
    Watch(WatchParams),
    /// A complete response whose body a fault breaks or delays.
    Faulty(Reply, BodyFault),
}

/// What a body fault does to an answer's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BodyFault {
    /// Half the body, then a reset.
    Reset,
    /// The body after a delay.
    Slow(std::time::Duration),
}

impl From<Reply> for Outcome {
    fn from(reply: Reply) -> Self {
        Outcome::Reply(reply)
    }
}

impl From<Status> for Outcome {
    fn from(status: Status) -> Self {
        Outcome::Reply(status.into())
    }
}

/// A response before it becomes a hyper response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) content_type: String,
    pub(crate) body: Vec<u8>,
    pub(crate) headers: Vec<(String, String)>,
}

impl Reply {
    fn json(status: u16, value: &Value) -> Reply {
        Reply {
            status,
            content_type: "application/json".to_owned(),
            body: serde_json::to_vec(value).unwrap_or_default(),
            headers: Vec::new(),
        }
    }

    fn status(status: &Status) -> Reply {
        let mut reply = Reply {
            status: status.http_code(),
            content_type: "application/json".to_owned(),
            body: status.to_json().into_bytes(),
            headers: Vec::new(),
        };
        if let Some(seconds) = status.retry_after() {
            reply.headers.push(("Retry-After".to_owned(), seconds.to_string()));
        }
        reply
    }

    /// Go's HTTP server refusing a request line it cannot parse (an invalid `%` escape in the path): plain
    /// text, before any Kubernetes handler runs.
    fn bad_request_line() -> Reply {
        Reply {
            status: 400,
            content_type: "text/plain; charset=utf-8".to_owned(),
            body: b"400 Bad Request".to_vec(),
            headers: Vec::new(),
        }
    }

    /// API Priority and Fairness rejection: plain text, not a Status.
    fn too_many_requests(retry_after: u32) -> Reply {
        Reply {
            status: 429,
            content_type: "text/plain; charset=utf-8".to_owned(),
            body: b"Too many requests, please try again later.\n".to_vec(),
            headers: vec![
                ("X-Content-Type-Options".to_owned(), "nosniff".to_owned()),
                ("Retry-After".to_owned(), retry_after.to_string()),
            ],
        }
    }
}

impl From<Status> for Reply {
    fn from(status: Status) -> Self {
        Reply::status(&status)
    }
}

/// One request, decoupled from hyper so the router can be tested directly.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ApiRequest<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) query: Option<&'a str>,
    pub(crate) headers: &'a [(String, String)],
    pub(crate) body: &'a [u8],
}

impl ApiRequest<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// First value of a query parameter, form-urlencoded (`+` is a space); empty pairs ignored.
    pub(crate) fn param(&self, name: &str) -> Option<String> {
        let query = self.query?;
        form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }

    fn dry_run(&self) -> bool {
        self.query.is_some_and(|q| form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "dryRun" && v == "All"))
    }

    /// The media type of the body, without parameters, lower-cased.
    fn content_type(&self) -> String {
        self.header("content-type")
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default()
    }
}

/// The path as kube-apiserver routes it: Go's `URL.Path`, percent-decoded (`%2F` becomes a separator there,
/// `%2e%2e` a `..` segment); `None` for an invalid escape, which Go's server refuses with a plain 400.
fn decode_path(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let valid = bytes
        .iter()
        .enumerate()
        .all(|(i, &b)| b != b'%' || bytes.get(i + 1..i + 3).is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)));
    valid.then(|| percent_encoding::percent_decode_str(raw).decode_utf8_lossy().into_owned())
}

async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> Response<ResponseBody> {
    let method = request.method().as_str().to_owned();
    let raw_path = request.uri().path().to_owned();
    // Behind a path prefix (a proxy in front of the API server), only prefixed paths reach the API.
    let decoded = match raw_path.strip_prefix(shared.path_prefix.as_str()) {
        Some(rest) if rest.starts_with('/') || shared.path_prefix.is_empty() => decode_path(rest),
        _ => Some(String::new()), // routes nowhere: 404
    };
    let path = decoded.clone().unwrap_or_else(|| raw_path.clone());
    let query = request.uri().query().map(str::to_owned);
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(name, value)| {
            (name.as_str().to_ascii_lowercase(), String::from_utf8_lossy(value.as_bytes()).into_owned())
        })
        .collect();
    let id = lock(&shared.log).begin(RecordedRequest {
        method: method.clone(),
        path: path.clone(),
        raw_path,
        query: query.clone(),
        headers: headers.clone(),
        status: 0,
    });
    let body = Limited::new(request.into_body(), MAX_BODY).collect().await;
    let outcome = match body {
        _ if decoded.is_none() => Outcome::Reply(Reply::bad_request_line()),
        Ok(body) => {
            let body = body.to_bytes();
            let api_request =
                ApiRequest { method: &method, path: &path, query: query.as_deref(), headers: &headers, body: &body };
            respond(&shared, &api_request).await
        }
        Err(_) => Status::request_entity_too_large(MAX_BODY).into(),
    };
    let (reply, body) = match outcome {
        Outcome::Reply(mut reply) => {
            let body = ResponseBody::Full(Some(Bytes::from(std::mem::take(&mut reply.body))));
            (reply, body)
        }
        Outcome::Watch(params) => {
            let reply = Reply {
                status: 200,
                content_type: "application/json".to_owned(),
                body: Vec::new(),
                headers: Vec::new(),
            };
            (reply, ResponseBody::Stream(crate::watch::spawn(Arc::clone(&shared), params)))
        }
        Outcome::Faulty(mut reply, fault) => {
            let mut body = Bytes::from(std::mem::take(&mut reply.body));
            let body = match fault {
                BodyFault::Reset => {
                    let pause = Box::pin(tokio::time::sleep(std::time::Duration::from_millis(50)));
                    ResponseBody::Broken(Some(body.split_to(body.len() / 2)), pause)
                }
                BodyFault::Slow(delay) => ResponseBody::Slow(Box::pin(tokio::time::sleep(delay)), Some(body)),
            };
            (reply, body)
        }
    };
    lock(&shared.log).finish(id, reply.status);
    let mut builder = Response::builder()
        .status(reply.status)
        .header("content-type", reply.content_type.as_str())
        .header("cache-control", "no-cache, private");
    let audit_id = lock(&shared.store).rng.uuid();
    builder = builder.header("audit-id", audit_id);
    for (name, value) in &reply.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    match builder.body(body) {
        Ok(response) => response,
        Err(_) => {
            let mut response = Response::new(ResponseBody::Full(Some(Bytes::from(
                Status::internal_error("invalid response").to_json(),
            ))));
            *response.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
            response
        }
    }
}

/// The routes the emulator serves.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route<'a> {
    Version,
    Api,
    Apis,
    ApiV1,
    Namespaces,
    Namespace(&'a str),
    Secrets(Option<&'a str>),
    Secret(&'a str, &'a str),
    TokenReviews,
    Unknown,
}

fn route(path: &str) -> Route<'_> {
    let Some(rest) = path.strip_prefix('/') else {
        return Route::Unknown;
    };
    let segments: Vec<&str> = rest.split('/').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Route::Unknown;
    }
    match segments.as_slice() {
        ["version"] => Route::Version,
        ["api"] => Route::Api,
        ["apis"] => Route::Apis,
        ["api", "v1"] => Route::ApiV1,
        ["api", "v1", "namespaces"] => Route::Namespaces,
        ["api", "v1", "namespaces", ns] => Route::Namespace(ns),
        ["api", "v1", "namespaces", ns, "secrets"] => Route::Secrets(Some(ns)),
        ["api", "v1", "namespaces", ns, "secrets", name] => Route::Secret(ns, name),
        ["api", "v1", "secrets"] => Route::Secrets(None),
        ["apis", "authentication.k8s.io", "v1", "tokenreviews"] => Route::TokenReviews,
        _ => Route::Unknown,
    }
}

/// Authorization attributes of a resource request.
struct Attributes<'a> {
    verb: &'static str,
    resource: &'static str,
    name: Option<&'a str>,
    namespace: Option<&'a str>,
}

fn is_watch(request: &ApiRequest<'_>) -> bool {
    query_bool(request.param("watch").as_deref())
}

/// A boolean query parameter as the API server decodes it (apimachinery's `Convert_Slice_string_To_bool`):
/// absent, `0` or `false` in any case is false; anything else, the empty string and Python's `True` included,
/// is true.
pub(crate) fn query_bool(value: Option<&str>) -> bool {
    value.is_some_and(|v| v != "0" && !v.eq_ignore_ascii_case("false"))
}

fn attributes<'a>(route: &Route<'a>, request: &ApiRequest<'_>) -> Option<Attributes<'a>> {
    let item_verb = match request.method {
        "GET" | "HEAD" => "get",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" => "delete",
        "POST" => "create",
        _ => "unknown",
    };
    let collection_verb = match request.method {
        "GET" | "HEAD" if is_watch(request) => "watch",
        "GET" | "HEAD" => "list",
        "POST" => "create",
        "DELETE" => "deletecollection",
        "PUT" => "update",
        "PATCH" => "patch",
        _ => "unknown",
    };
    match *route {
        Route::Namespaces => {
            Some(Attributes { verb: collection_verb, resource: "namespaces", name: None, namespace: None })
        }
        Route::Namespace(ns) => {
            Some(Attributes { verb: item_verb, resource: "namespaces", name: Some(ns), namespace: Some(ns) })
        }
        Route::Secrets(ns) => {
            Some(Attributes { verb: collection_verb, resource: "secrets", name: None, namespace: ns })
        }
        Route::Secret(ns, name) => {
            Some(Attributes { verb: item_verb, resource: "secrets", name: Some(name), namespace: Some(ns) })
        }
        _ => None,
    }
}

/// Authenticates, applies faults, authorizes and dispatches one request.
pub(crate) async fn respond(shared: &Shared, request: &ApiRequest<'_>) -> Outcome {
    let route = route(request.path);
    if route == Route::Version {
        return match request.method {
            "GET" | "HEAD" => version(shared).into(),
            _ => Status::method_not_allowed().into(),
        };
    }
    let identity = lock(&shared.tokens).authenticate(request.header("authorization"));
    let Some(identity) = identity else {
        return Status::unauthorized().into();
    };
    let fault = lock(&shared.fault).take_one();
    match fault {
        Some(crate::Fault::Status(code)) => return Status::for_code(code).into(),
        Some(crate::Fault::TooManyRequests { retry_after_secs }) => {
            return Reply::too_many_requests(retry_after_secs).into();
        }
        Some(crate::Fault::Latency(delay)) => tokio::time::sleep(delay).await,
        Some(crate::Fault::EchoAuthorization(code)) => {
            let echoed = request.header("authorization").unwrap_or_default();
            let message = format!("the upstream refused the request with authorization {echoed}");
            return Status::failure(code, "", message, None).into();
        }
        Some(crate::Fault::ResetMidBody) => {
            return body_fault(serve(shared, request, &identity, &route), BodyFault::Reset);
        }
        Some(crate::Fault::SlowBody(delay)) => {
            return body_fault(serve(shared, request, &identity, &route), BodyFault::Slow(delay));
        }
        None => {}
    }
    serve(shared, request, &identity, &route)
}

/// `outcome` with `fault` applied to its body (a watch stays a watch).
fn body_fault(outcome: Outcome, fault: BodyFault) -> Outcome {
    match outcome {
        Outcome::Reply(reply) => Outcome::Faulty(reply, fault),
        other => other,
    }
}

/// A request past authentication and faults: authorization, then the route.
fn serve(shared: &Shared, request: &ApiRequest<'_>, identity: &Identity, route: &Route<'_>) -> Outcome {
    if let Some(attrs) = attributes(route, request)
        && !identity.access.allows(attrs.verb, attrs.namespace)
    {
        return Status::forbidden(&identity.user, attrs.verb, attrs.resource, attrs.name, attrs.namespace).into();
    }
    if let (Route::Secrets(namespace), "GET") = (route, request.method)
        && is_watch(request)
    {
        return match WatchParams::parse(*namespace, |name| request.param(name)) {
            Ok(params) => Outcome::Watch(params),
            Err(status) => status.into(),
        };
    }
    dispatch(shared, identity, route, request).into()
}

fn dispatch(shared: &Shared, _identity: &Identity, route: &Route<'_>, request: &ApiRequest<'_>) -> Reply {
    let method = request.method;
    match (route, method) {
        (Route::Api, "GET") => discovery_api(shared, request),
        (Route::Apis, "GET") => discovery_apis(request),
        (Route::ApiV1, "GET") => Reply::json(200, &api_v1_resources()),
        (Route::Namespaces, "GET") => list_namespaces(shared),
        (Route::Namespace(ns), "GET") => match lock(&shared.store).namespace(ns) {
            Some(namespace) => Reply::json(200, &namespace.to_json()),
            None => Status::not_found("namespaces", ns).into(),
        },
        (Route::Secrets(ns), "GET") => list_secrets(shared, *ns, request),
        (Route::Secrets(Some(ns)), "POST") => create_secret(shared, ns, request),
        (Route::Secret(ns, name), "GET") => match lock(&shared.store).secret(ns, name) {
            Some(secret) => Reply::json(200, &secret.to_json()),
            None => Status::not_found("secrets", name).into(),
        },
        (Route::Secret(ns, name), "PUT") => update_secret(shared, ns, name, request),
        (Route::Secret(ns, name), "PATCH") => patch_secret(shared, ns, name, request),
        (Route::Secret(ns, name), "DELETE") => match lock(&shared.store).delete_secret(ns, name, request.dry_run()) {
            Ok(status) | Err(status) => status.into(),
        },
        (Route::TokenReviews, "POST") => token_review(shared, request),
        (Route::Unknown, _) => Status::not_found_path().into(),
        _ => Status::method_not_allowed().into(),
    }
}

/// `POST /apis/authentication.k8s.io/v1/tokenreviews`: whether `spec.token` is a token this server accepts,
/// and as whom (what Vault's Kubernetes auth asks). Any authenticated caller may ask (a real cluster requires
/// the `system:auth-delegator` role). With `spec.audiences`, a token is authenticated only for the issuer's
/// audience, which is then echoed.
fn token_review(shared: &Shared, request: &ApiRequest<'_>) -> Reply {
    let Ok(body) = serde_json::from_slice::<Value>(request.body) else {
        return Status::failure(400, "BadRequest", "the TokenReview is not JSON".to_owned(), None).into();
    };
    let Some(token) = body.pointer("/spec/token").and_then(Value::as_str).filter(|t| !t.is_empty()) else {
        return Status::failure(400, "BadRequest", "spec.token: Required value".to_owned(), None).into();
    };
    let audiences: Vec<&str> = body
        .pointer("/spec/audiences")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let audience_ok = audiences.is_empty() || audiences.contains(&crate::auth::SERVICE_ACCOUNT_ISSUER);
    let identity = lock(&shared.tokens).review(token).filter(|_| audience_ok);
    let status = match identity {
        Some(identity) => {
            let namespace = identity.user.strip_prefix("system:serviceaccount:").and_then(|r| r.split(':').next());
            let mut groups = vec!["system:authenticated".to_owned()];
            if let Some(ns) = namespace {
                groups.insert(0, "system:serviceaccounts".to_owned());
                groups.insert(1, format!("system:serviceaccounts:{ns}"));
            }
            let mut status = json!({
                "authenticated": true,
                "user": {"username": identity.user, "uid": identity.uid.unwrap_or_default(), "groups": groups},
            });
            if !audiences.is_empty() {
                status["audiences"] = json!([crate::auth::SERVICE_ACCOUNT_ISSUER]);
            }
            status
        }
        None => json!({"user": {}, "error": "invalid bearer token"}),
    };
    let mut spec = body.get("spec").cloned().unwrap_or_else(|| json!({}));
    spec["token"] = json!(token);
    Reply::json(
        201,
        &json!({
            "kind": "TokenReview",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": null},
            "spec": spec,
            "status": status,
        }),
    )
}

fn version(shared: &Shared) -> Reply {
    let minor = &shared.minor;
    let patch_minor: String = minor.chars().take_while(char::is_ascii_digit).collect();
    Reply::json(
        200,
        &json!({
            "major": "1",
            "minor": minor,
            "emulationMajor": "1",
            "emulationMinor": patch_minor,
            "minCompatibilityMajor": "1",
            "minCompatibilityMinor": patch_minor,
            "gitVersion": format!("v1.{patch_minor}.4"),
            "gitCommit": "4cb5f07d5b2e4bd3e6a2a8e2c8c8f63bd2a9c4f1",
            "gitTreeState": "clean",
            "buildDate": "2025-04-22T16:03:05Z",
            "goVersion": "go1.23.6",
            "compiler": "gc",
            "platform": "linux/amd64",
        }),
    )
}

fn wants_aggregated(request: &ApiRequest<'_>) -> bool {
    request.header("accept").is_some_and(|a| a.contains("v=v2;as=APIGroupDiscoveryList"))
}

const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

fn discovery_api(shared: &Shared, request: &ApiRequest<'_>) -> Reply {
    if wants_aggregated(request) {
        let mut reply = Reply::json(
            200,
            &json!({"kind":"APIGroupDiscoveryList","apiVersion":"apidiscovery.k8s.io/v2","metadata":{},"items":[
                {"metadata":{"creationTimestamp":null},"versions":[{"version":"v1","freshness":"Current","resources":[
                    {"resource":"namespaces","responseKind":{"group":"","version":"","kind":"Namespace"},"scope":"Cluster","singularResource":"namespace","shortNames":["ns"],"verbs":["create","delete","get","list","patch","update","watch"]},
                    {"resource":"secrets","responseKind":{"group":"","version":"","kind":"Secret"},"scope":"Namespaced","singularResource":"secret","verbs":["create","delete","deletecollection","get","list","patch","update","watch"]}]}]}]}),
        );
        reply.content_type = AGGREGATED.to_owned();
        return reply;
    }
    Reply::json(
        200,
        &json!({"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[
            {"clientCIDR":"0.0.0.0/0","serverAddress":shared.addr.to_string()}]}),
    )
}

fn discovery_apis(request: &ApiRequest<'_>) -> Reply {
    if wants_aggregated(request) {
        let mut reply = Reply::json(
            200,
            &json!({"kind":"APIGroupDiscoveryList","apiVersion":"apidiscovery.k8s.io/v2","metadata":{},"items":[]}),
        );
        reply.content_type = AGGREGATED.to_owned();
        return reply;
    }
    Reply::json(200, &json!({"kind":"APIGroupList","apiVersion":"v1","groups":[]}))
}

fn api_v1_resources() -> Value {
    json!({"kind":"APIResourceList","groupVersion":"v1","resources":[
        {"name":"namespaces","singularName":"namespace","namespaced":false,"kind":"Namespace","verbs":["create","delete","get","list","patch","update","watch"],"shortNames":["ns"],"storageVersionHash":"Q3oi5N2YM8M="},
        {"name":"secrets","singularName":"secret","namespaced":true,"kind":"Secret","verbs":["create","delete","deletecollection","get","list","patch","update","watch"],"storageVersionHash":"S6u1pOWzb84="}]})
}

fn list_namespaces(shared: &Shared) -> Reply {
    let store = lock(&shared.store);
    let items: Vec<Value> = store.namespaces().map(|n| n.to_json()).collect();
    Reply::json(
        200,
        &json!({"kind":"NamespaceList","apiVersion":"v1",
            "metadata":{"resourceVersion":store.revision().to_string()},"items":items}),
    )
}

fn list_options_invalid(detail: &str, field: &str) -> Reply {
    Status::invalid("ListOptions", "meta.k8s.io", "", &[FieldError::forbidden(field, detail)]).into()
}

/// The continue token: base64url (unpadded) JSON, as the etcd3 store encodes it.
fn encode_continue(revision: u64, start: &str) -> String {
    let token = json!({"v": "meta.k8s.io/v1", "rv": revision, "start": format!("{start}\u{0}")});
    URL_SAFE_NO_PAD.encode(token.to_string())
}

fn decode_continue(token: &str) -> Result<(u64, String), String> {
    let raw =
        URL_SAFE_NO_PAD.decode(token.trim_end_matches('=')).map_err(|e| format!("continue key is not valid: {e}"))?;
    let value: Value = serde_json::from_slice(&raw).map_err(|e| format!("continue key is not valid: {e}"))?;
    if value.get("v").and_then(Value::as_str) != Some("meta.k8s.io/v1") {
        return Err("continue key is not valid: server does not recognize this encoded key".to_owned());
    }
    let rv = value.get("rv").and_then(Value::as_u64).unwrap_or_default();
    let start = value.get("start").and_then(Value::as_str).unwrap_or_default().to_owned();
    Ok((rv, start))
}

fn list_secrets(shared: &Shared, namespace: Option<&str>, request: &ApiRequest<'_>) -> Reply {
    let labels = match LabelSelector::parse(&request.param("labelSelector").unwrap_or_default()) {
        Ok(selector) => selector,
        Err(message) => return Status::bad_request(message).into(),
    };
    let fields = match FieldSelector::parse(&request.param("fieldSelector").unwrap_or_default()) {
        Ok(selector) => selector,
        Err(message) => return Status::bad_request(message).into(),
    };
    let resource_version = request.param("resourceVersion").unwrap_or_default();
    let rv_match = request.param("resourceVersionMatch").unwrap_or_default();
    let continue_token = request.param("continue").unwrap_or_default();
    if !rv_match.is_empty() && resource_version.is_empty() {
        return list_options_invalid(
            "resourceVersionMatch is forbidden unless resourceVersion is provided",
            "resourceVersionMatch",
        );
    }
    if !rv_match.is_empty() && !continue_token.is_empty() {
        return list_options_invalid(
            "resourceVersionMatch is forbidden when continue is provided",
            "resourceVersionMatch",
        );
    }
    if rv_match == "Exact" && resource_version == "0" {
        return list_options_invalid(
            "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
            "resourceVersionMatch",
        );
    }
    let limit: usize = match request.param("limit") {
        Some(l) if !l.is_empty() => l.parse::<i64>().map_or(0, |n| usize::try_from(n).unwrap_or(0)),
        _ => 0,
    };
    let store = lock(&shared.store);
    // `resourceVersion=0` may be served from the watch cache, which a fault can freeze (stale reads).
    let (current, secrets) = if resource_version == "0" {
        store.cached_secrets(namespace)
    } else {
        (store.revision(), Box::new(store.secrets(namespace)) as Box<dyn Iterator<Item = &store::Secret>>)
    };
    if !resource_version.is_empty() && resource_version != "0" {
        let Ok(requested) = resource_version.parse::<u64>() else {
            return Status::bad_request(format!(
                "invalid resource version: strconv.ParseUint: parsing {}: invalid syntax",
                crate::status::go_quote(&resource_version)
            ))
            .into();
        };
        if !continue_token.is_empty() {
            return Status::bad_request("specifying resource version is not allowed when using continue").into();
        }
        if requested > current {
            return Status::timeout(&format!("Too large resource version: {requested}, current: {current}"), 1).into();
        }
        let exact = rv_match == "Exact" || (rv_match.is_empty() && limit > 0);
        if exact && requested != current {
            return Status::expired(format!("too old resource version: {requested} ({current})")).into();
        }
    }
    let start = if continue_token.is_empty() {
        None
    } else {
        match decode_continue(&continue_token) {
            Ok((_, start)) => Some(start),
            Err(message) => {
                return Status::bad_request(format!("invalid continue token: {message}")).into();
            }
        }
    };
    let key = |s: &store::Secret| format!("{}/{}", s.namespace, s.name);
    let mut matching: Vec<&store::Secret> = secrets
        .filter(|s| labels.matches(&s.labels))
        .filter(|s| fields.matches(&s.name, &s.namespace, &s.secret_type))
        .filter(|s| start.as_deref().is_none_or(|start| key(s).as_str() >= start))
        .collect();
    // etcd orders by key: "<namespace>/<name>" as a string.
    matching.sort_by_cached_key(|s| key(s));
    let (page, rest) =
        if limit > 0 && matching.len() > limit { matching.split_at(limit) } else { (matching.as_slice(), &[][..]) };
    let mut metadata = serde_json::Map::new();
    metadata.insert("resourceVersion".into(), json!(current.to_string()));
    if let (Some(last), false) = (page.last(), rest.is_empty()) {
        metadata.insert("continue".into(), json!(encode_continue(current, &key(last))));
        if labels.is_empty() && fields.is_empty() {
            metadata.insert("remainingItemCount".into(), json!(rest.len()));
        }
    }
    let items: Vec<Value> = page.iter().map(|s| s.to_json()).collect();
    Reply::json(200, &json!({"kind":"SecretList","apiVersion":"v1","metadata":Value::Object(metadata),"items":items}))
}

/// Decodes a create or update body by its Content-Type.
fn decode_body(request: &ApiRequest<'_>) -> Result<SecretInput, Status> {
    match request.content_type().as_str() {
        "application/json" | "" => {
            let value: Value = serde_json::from_slice(request.body)
                .map_err(|e| Status::bad_request(format!("couldn't get version/kind; json parse error: {e}")))?;
            store::decode_secret_json(&value)
        }
        "application/yaml" => {
            let value: Value = serde_yaml::from_slice(request.body)
                .map_err(|e| Status::bad_request(format!("couldn't get version/kind; json parse error: {e}")))?;
            store::decode_secret_json(&value)
        }
        "application/vnd.kubernetes.protobuf" => crate::protobuf::decode_secret(request.body)
            .map_err(|e| Status::bad_request(format!("Secret in version \"v1\" cannot be handled as a Secret: {e}"))),
        _ => Err(Status::unsupported_media_type(BODY_TYPES)),
    }
}

fn create_secret(shared: &Shared, namespace: &str, request: &ApiRequest<'_>) -> Reply {
    let input = match decode_body(request) {
        Ok(input) => input,
        Err(status) => return status.into(),
    };
    match lock(&shared.store).create_secret(namespace, input, request.dry_run()) {
        Ok(secret) => Reply::json(201, &secret.to_json()),
        Err(status) => status.into(),
    }
}

fn update_secret(shared: &Shared, namespace: &str, name: &str, request: &ApiRequest<'_>) -> Reply {
    let input = match decode_body(request) {
        Ok(input) => input,
        Err(status) => return status.into(),
    };
    match lock(&shared.store).update_secret(namespace, name, input, request.dry_run()) {
        Ok(secret) => Reply::json(200, &secret.to_json()),
        Err(status) => status.into(),
    }
}

fn patch_secret(shared: &Shared, namespace: &str, name: &str, request: &ApiRequest<'_>) -> Reply {
    let patch_type = match request.content_type().as_str() {
        "application/merge-patch+json" => PatchType::Merge,
        "application/strategic-merge-patch+json" => PatchType::Strategic,
        "application/json-patch+json" => PatchType::Json,
        _ => return Status::unsupported_media_type(PATCH_TYPES).into(),
    };
    let patch: Value = match serde_json::from_slice(request.body) {
        Ok(patch) => patch,
        Err(e) => return Status::bad_request(format!("error decoding patch: {e}")).into(),
    };
    match lock(&shared.store).patch_secret(namespace, name, patch_type, &patch, request.dry_run()) {
        Ok(secret) => Reply::json(200, &secret.to_json()),
        Err(status) => status.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boolean_query_parameters_decode_like_apimachinery() {
        for (value, expected) in [
            (None, false),
            (Some("0"), false),
            (Some("false"), false),
            (Some("False"), false),
            (Some("FALSE"), false),
            (Some("1"), true),
            (Some("true"), true),
            (Some("True"), true),
            (Some(""), true),
            (Some("yes"), true),
        ] {
            assert_eq!(query_bool(value), expected, "{value:?}");
        }
    }

    #[test]
    fn routes() {
        assert_eq!(route("/version"), Route::Version);
        assert_eq!(route("/api/v1/namespaces/a/secrets"), Route::Secrets(Some("a")));
        assert_eq!(route("/api/v1/secrets"), Route::Secrets(None));
        assert_eq!(route("/api/v1/namespaces/a/secrets/b"), Route::Secret("a", "b"));
        assert_eq!(route("/api/v1/namespaces/a"), Route::Namespace("a"));
        assert_eq!(route("/api/v1/namespaces//secrets"), Route::Unknown);
        assert_eq!(route("/api/v1/namespaces/a/secrets/"), Route::Unknown);
        assert_eq!(route("/apis/apps/v1"), Route::Unknown);
    }

    #[test]
    fn continue_tokens_round_trip() {
        let token = encode_continue(106, "ns1/s-b");
        assert_eq!(token, "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTA2LCJzdGFydCI6Im5zMS9zLWJcdTAwMDAifQ");
        assert_eq!(decode_continue(&token).unwrap(), (106, "ns1/s-b\u{0}".to_owned()));
        assert!(decode_continue("!!").is_err());
    }
}
