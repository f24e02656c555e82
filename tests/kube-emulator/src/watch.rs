//! Watch streams: `GET …/secrets?watch=true`, answered as chunked, newline-delimited JSON events
//! (`ADDED`, `MODIFIED`, `DELETED`, `BOOKMARK`, `ERROR`), fed by the store's bounded history.
//!
//! Semantics follow the apiserver's watch cache (reference §2):
//! - `resourceVersion` unset or `0`: synthetic `ADDED` for every matching object, then live events;
//! - `resourceVersion=N`: every event after `N`, or a single `ERROR` 410 `Expired` when the
//!   history no longer reaches back to `N` (the HTTP status stays 200);
//! - an object entering the selector is `ADDED`, one leaving it is `DELETED` (its previous content
//!   with the new resourceVersion);
//! - `allowWatchBookmarks=true`: a `BOOKMARK` every bookmark interval and just before the stream
//!   closes at `timeoutSeconds`;
//! - `sendInitialEvents=true` (streaming list): the synthetic `ADDED` events end with a bookmark
//!   annotated `k8s.io/initial-events-end: "true"`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::selector::{FieldSelector, LabelSelector};
use crate::status::{FieldError, Status};
use crate::store::{Change, Secret, Store};
use crate::{Shared, lock};

/// How long a watch without `timeoutSeconds` stays open. The real server picks 30 to 60 minutes;
/// an emulator serving tests closes sooner.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The default interval between bookmarks (the real server sends one about every minute).
pub(crate) const DEFAULT_BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);

/// Where a watch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// At the current revision; with `initial_events`, after synthetic `ADDED` events for the
    /// current state.
    Current {
        /// Send the current state as `ADDED` events first.
        initial_events: bool,
    },
    /// Right after this revision: every later event is sent.
    After(u64),
}

/// A parsed, validated watch request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WatchParams {
    pub(crate) namespace: Option<String>,
    pub(crate) labels: LabelSelector,
    pub(crate) fields: FieldSelector,
    pub(crate) start: Start,
    pub(crate) bookmarks: bool,
    /// Streaming list: end the initial events with the `initial-events-end` bookmark.
    pub(crate) initial_events_end: bool,
    pub(crate) timeout: Duration,
}

fn watch_options_invalid(errors: &[FieldError]) -> Status {
    Status::invalid("ListOptions", "meta.k8s.io", "", errors)
}

impl WatchParams {
    /// Validates the query of a watch request the way the apiserver does (400 for a bad selector
    /// or resourceVersion, 422 for forbidden option combinations). `param` looks up a query
    /// parameter.
    pub(crate) fn parse(
        namespace: Option<&str>,
        param: impl Fn(&str) -> Option<String>,
    ) -> Result<WatchParams, Status> {
        let labels = LabelSelector::parse(&param("labelSelector").unwrap_or_default()).map_err(Status::bad_request)?;
        let fields = FieldSelector::parse(&param("fieldSelector").unwrap_or_default()).map_err(Status::bad_request)?;
        let resource_version = param("resourceVersion").unwrap_or_default();
        let rv_match = param("resourceVersionMatch").unwrap_or_default();
        // A `*bool`: absent is unset, any value is read like the other booleans.
        let send_initial_events = param("sendInitialEvents").map(|v| crate::server::query_bool(Some(&v)));
        let bookmarks = crate::server::query_bool(param("allowWatchBookmarks").as_deref());
        let mut errors = Vec::new();
        if send_initial_events.is_some() && rv_match != "NotOlderThan" {
            errors.push(FieldError::forbidden(
                "resourceVersionMatch",
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            ));
        }
        if !rv_match.is_empty() && send_initial_events.is_none() {
            errors.push(FieldError::forbidden(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
            ));
        }
        if send_initial_events == Some(true) && !bookmarks {
            errors.push(FieldError::forbidden(
                "allowWatchBookmarks",
                "allowWatchBookmarks must be set to true when sendInitialEvents is set",
            ));
        }
        if !errors.is_empty() {
            return Err(watch_options_invalid(&errors));
        }
        let requested = match resource_version.as_str() {
            "" | "0" => None,
            other => Some(other.parse::<u64>().map_err(|_| {
                Status::bad_request(format!(
                    "invalid resource version: strconv.ParseUint: parsing {}: invalid syntax",
                    crate::status::go_quote(other)
                ))
            })?),
        };
        let start = match (send_initial_events, requested) {
            (Some(true), _) => Start::Current { initial_events: true },
            (Some(false), None) => Start::Current { initial_events: false },
            (None, None) => Start::Current { initial_events: true },
            (_, Some(rv)) => Start::After(rv),
        };
        let timeout = match param("timeoutSeconds").map(|t| t.parse::<i64>()) {
            None => DEFAULT_TIMEOUT,
            Some(Ok(seconds)) if seconds > 0 => Duration::from_secs(seconds.unsigned_abs()),
            Some(Ok(_)) => DEFAULT_TIMEOUT,
            Some(Err(_)) => {
                return Err(Status::bad_request(format!(
                    "strconv.ParseInt: parsing {}: invalid syntax",
                    crate::status::go_quote(&param("timeoutSeconds").unwrap_or_default())
                )));
            }
        };
        Ok(WatchParams {
            namespace: namespace.map(str::to_owned),
            labels,
            fields,
            start,
            bookmarks,
            initial_events_end: send_initial_events == Some(true),
            timeout,
        })
    }

    fn selects(&self, secret: &Secret) -> bool {
        self.namespace.as_deref().is_none_or(|ns| ns == secret.namespace)
            && self.labels.matches(&secret.labels)
            && self.fields.matches(&secret.name, &secret.namespace, &secret.secret_type)
    }

    /// The event this watch sees for one write, if any: entering the selection is `ADDED`,
    /// leaving it (or a delete) is `DELETED` with the previous content at the new revision.
    pub(crate) fn event_for(&self, change: &Change) -> Option<Value> {
        let old = change.old.as_ref().filter(|s| self.selects(s));
        let new = change.new.as_ref().filter(|s| self.selects(s));
        match (old, new) {
            (None, Some(new)) => Some(event("ADDED", new.to_json())),
            (Some(_), Some(new)) => Some(event("MODIFIED", new.to_json())),
            (Some(old), None) => {
                let mut last = old.clone();
                last.resource_version = change.revision;
                Some(event("DELETED", last.to_json()))
            }
            (None, None) => None,
        }
    }
}

fn event(kind: &str, object: Value) -> Value {
    json!({"type": kind, "object": object})
}

/// The `BOOKMARK` event: only `metadata.resourceVersion` is meaningful.
pub(crate) fn bookmark(revision: u64, initial_events_end: bool) -> Value {
    let mut metadata = serde_json::Map::new();
    metadata.insert("resourceVersion".into(), json!(revision.to_string()));
    metadata.insert("creationTimestamp".into(), Value::Null);
    if initial_events_end {
        metadata.insert("annotations".into(), json!({"k8s.io/initial-events-end": "true"}));
    }
    event("BOOKMARK", json!({"kind": "Secret", "apiVersion": "v1", "metadata": Value::Object(metadata)}))
}

/// An `ERROR` event carrying a `Status`.
pub(crate) fn error_event(status: &Status) -> Vec<u8> {
    format!("{{\"type\":\"ERROR\",\"object\":{}}}\n", status.to_json()).into_bytes()
}

fn line(value: &Value) -> Bytes {
    let mut bytes = serde_json::to_vec(value).unwrap_or_default();
    bytes.push(b'\n');
    Bytes::from(bytes)
}

fn too_old(requested: u64, store: &Store) -> Status {
    Status::expired(format!("too old resource version: {requested} ({})", store.history_start()))
}

/// What the stream sends first, decided under one store lock together with the subscription.
struct Opening {
    lines: Vec<Bytes>,
    last: u64,
    changes: tokio::sync::watch::Receiver<u64>,
    /// The stream ends after `lines` (an `ERROR` event).
    finished: bool,
}

fn open(shared: &Shared, params: &WatchParams) -> Opening {
    let store = lock(&shared.store);
    let changes = store.subscribe();
    let current = store.revision();
    match params.start {
        Start::Current { initial_events } => {
            let mut lines = Vec::new();
            if initial_events {
                let mut matching: Vec<&Secret> = store.secrets(params.namespace.as_deref()).collect();
                matching.retain(|s| params.selects(s));
                matching.sort_by_cached_key(|s| format!("{}/{}", s.namespace, s.name));
                lines.extend(matching.iter().map(|s| line(&event("ADDED", s.to_json()))));
            }
            if params.initial_events_end {
                lines.push(line(&bookmark(current, true)));
            }
            Opening { lines, last: current, changes, finished: false }
        }
        Start::After(requested) if requested < store.history_start() => Opening {
            lines: vec![Bytes::from(error_event(&too_old(requested, &store)))],
            last: requested,
            changes,
            finished: true,
        },
        Start::After(requested) if requested > current => Opening {
            lines: vec![Bytes::from(error_event(&Status::timeout(
                &format!("Too large resource version: {requested}, current: {current}"),
                1,
            )))],
            last: requested,
            changes,
            finished: true,
        },
        Start::After(requested) => {
            let mut lines = Vec::new();
            if params.initial_events_end {
                lines.push(line(&bookmark(requested, true)));
            }
            Opening { lines, last: requested, changes, finished: false }
        }
    }
}

/// The events after `last` for this watch; advances `last`. `Err` is the 410 `ERROR` event when
/// the history was compacted past `last`.
fn drain(shared: &Shared, params: &WatchParams, last: &mut u64) -> Result<Vec<Bytes>, Bytes> {
    let store = lock(&shared.store);
    let Some(changes) = store.changes_since(*last) else {
        return Err(Bytes::from(error_event(&too_old(*last, &store))));
    };
    *last = store.revision();
    Ok(changes.iter().filter_map(|c| params.event_for(c)).map(|e| line(&e)).collect())
}

/// Starts the stream; the receiver yields one newline-terminated JSON event per item and ends
/// when the watch does.
pub(crate) fn spawn(shared: Arc<Shared>, params: WatchParams) -> mpsc::Receiver<Bytes> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(run(shared, params, tx));
    rx
}

/// Sends `lines` in order; false when the client is gone. Every line but a bookmark counts as a delivered event.
async fn send_all(shared: &Shared, tx: &mpsc::Sender<Bytes>, lines: Vec<Bytes>) -> bool {
    for line in lines {
        let counts = !line.starts_with(b"{\"type\":\"BOOKMARK\"");
        if tx.send(line).await.is_err() {
            return false;
        }
        if counts {
            shared.watch_events.send_modify(|n| *n += 1);
        }
    }
    true
}

/// Counts a watch as open while it lives ([`crate::Emulator::open_watches`]).
struct OpenWatch<'a>(&'a Shared);

impl<'a> OpenWatch<'a> {
    fn new(shared: &'a Shared) -> Self {
        shared.open_watches.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Self(shared)
    }
}

impl Drop for OpenWatch<'_> {
    fn drop(&mut self) {
        self.0.open_watches.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

async fn run(shared: Arc<Shared>, params: WatchParams, tx: mpsc::Sender<Bytes>) {
    let deadline = Instant::now() + params.timeout;
    let mut drops = shared.watch_drops.subscribe();
    drops.mark_unchanged();
    let mut expiries = shared.watch_expiries.subscribe();
    expiries.mark_unchanged();
    let _open = OpenWatch::new(&shared);
    let Opening { lines, mut last, mut changes, finished } = open(&shared, &params);
    if !send_all(&shared, &tx, lines).await || finished {
        return;
    }
    let interval = *lock(&shared.bookmark_interval);
    let mut next_bookmark = Instant::now() + interval;
    loop {
        match drain(&shared, &params, &mut last) {
            Ok(lines) => {
                if !send_all(&shared, &tx, lines).await {
                    return;
                }
            }
            Err(error) => {
                send_all(&shared, &tx, vec![error]).await;
                return;
            }
        }
        tokio::select! {
            () = tx.closed() => return,
            _ = drops.changed() => return,
            _ = expiries.changed() => {
                let error = Bytes::from(error_event(&too_old(last, &lock(&shared.store))));
                send_all(&shared, &tx, vec![error]).await;
                return;
            }
            () = tokio::time::sleep_until(deadline) => {
                if params.bookmarks {
                    match drain(&shared, &params, &mut last) {
                        Ok(mut lines) => {
                            lines.push(line(&bookmark(last, false)));
                            send_all(&shared, &tx, lines).await;
                        }
                        Err(error) => {
                            send_all(&shared, &tx, vec![error]).await;
                        }
                    }
                }
                return;
            }
            () = tokio::time::sleep_until(next_bookmark), if params.bookmarks => {
                next_bookmark = Instant::now() + interval;
                match drain(&shared, &params, &mut last) {
                    Ok(mut lines) => {
                        lines.push(line(&bookmark(last, false)));
                        if !send_all(&shared, &tx, lines).await {
                            return;
                        }
                    }
                    Err(error) => {
                        send_all(&shared, &tx, vec![error]).await;
                        return;
                    }
                }
            }
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn params(query: &[(&str, &str)]) -> Result<WatchParams, Status> {
        let query: BTreeMap<String, String> = query.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        WatchParams::parse(Some("ns1"), |name| query.get(name).cloned())
    }

    fn secret(name: &str, labels: &[(&str, &str)], rv: u64) -> Secret {
        Secret {
            name: name.to_owned(),
            namespace: "ns1".to_owned(),
            uid: "u".to_owned(),
            resource_version: rv,
            creation_timestamp: "2025-01-01T00:00:00Z".to_owned(),
            labels: labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            annotations: BTreeMap::new(),
            immutable: None,
            data: BTreeMap::new(),
            secret_type: "Opaque".to_owned(),
        }
    }

    #[test]
    fn parses_the_recorded_requests() {
        let python = params(&[
            ("allowWatchBookmarks", "true"),
            ("labelSelector", "airflow-conn"),
            ("resourceVersion", "0"),
            ("timeoutSeconds", "2"),
            ("watch", "true"),
        ])
        .unwrap();
        assert_eq!(python.start, Start::Current { initial_events: true });
        assert!(python.bookmarks);
        assert_eq!(python.timeout, Duration::from_secs(2));
        let resume = params(&[("resourceVersion", "105")]).unwrap();
        assert_eq!(resume.start, Start::After(105));
        assert_eq!(resume.timeout, DEFAULT_TIMEOUT);
        assert!(!resume.bookmarks);
        let streaming = params(&[
            ("sendInitialEvents", "true"),
            ("resourceVersionMatch", "NotOlderThan"),
            ("allowWatchBookmarks", "true"),
            ("resourceVersion", ""),
        ])
        .unwrap();
        assert_eq!(streaming.start, Start::Current { initial_events: true });
        assert!(streaming.initial_events_end);
    }

    #[test]
    fn rejects_bad_options_like_the_apiserver() {
        assert_eq!(params(&[("labelSelector", "a in (b")]).unwrap_err().code, 400);
        assert_eq!(params(&[("resourceVersion", "abc")]).unwrap_err().code, 400);
        let forbidden = params(&[("resourceVersion", "0"), ("resourceVersionMatch", "NotOlderThan")]).unwrap_err();
        assert_eq!(forbidden.code, 422);
        assert_eq!(
            forbidden.message,
            "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"
        );
        let missing_match = params(&[("sendInitialEvents", "true"), ("allowWatchBookmarks", "true")]).unwrap_err();
        assert_eq!(missing_match.code, 422);
    }

    #[test]
    fn selector_transitions() {
        let watch = params(&[("labelSelector", "app=x")]).unwrap();
        let plain = secret("a", &[], 101);
        let labeled = secret("a", &[("app", "x")], 102);
        let create = Change { revision: 101, old: None, new: Some(plain.clone()) };
        assert_eq!(watch.event_for(&create), None, "not selected");
        let enter = Change { revision: 102, old: Some(plain.clone()), new: Some(labeled.clone()) };
        let added = watch.event_for(&enter).unwrap();
        assert_eq!(added["type"], "ADDED");
        assert_eq!(added["object"]["metadata"]["resourceVersion"], "102");
        let mut changed = labeled.clone();
        changed.resource_version = 103;
        changed.data.insert("v".into(), b"1".to_vec());
        let modify = Change { revision: 103, old: Some(labeled.clone()), new: Some(changed.clone()) };
        assert_eq!(watch.event_for(&modify).unwrap()["type"], "MODIFIED");
        let mut unlabeled = changed.clone();
        unlabeled.labels.clear();
        unlabeled.resource_version = 104;
        let leave = Change { revision: 104, old: Some(changed.clone()), new: Some(unlabeled) };
        let deleted = watch.event_for(&leave).unwrap();
        assert_eq!(deleted["type"], "DELETED");
        assert_eq!(deleted["object"]["metadata"]["labels"]["app"], "x", "the previous content");
        assert_eq!(deleted["object"]["metadata"]["resourceVersion"], "104", "at the new revision");
        let delete = Change { revision: 105, old: Some(changed), new: None };
        let deleted = watch.event_for(&delete).unwrap();
        assert_eq!(deleted["type"], "DELETED");
        assert_eq!(deleted["object"]["metadata"]["resourceVersion"], "105");
        let other_namespace = WatchParams { namespace: Some("ns2".into()), ..watch };
        assert_eq!(other_namespace.event_for(&enter), None);
    }

    #[test]
    fn bookmark_and_error_shapes() {
        assert_eq!(
            serde_json::to_string(&bookmark(106, false)).unwrap(),
            r#"{"type":"BOOKMARK","object":{"kind":"Secret","apiVersion":"v1","metadata":{"resourceVersion":"106","creationTimestamp":null}}}"#
        );
        assert_eq!(bookmark(7, true)["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
        assert_eq!(
            String::from_utf8(error_event(&Status::expired("too old resource version: 1 (100)"))).unwrap(),
            "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old resource version: 1 (100)\",\"reason\":\"Expired\",\"code\":410}}\n"
        );
    }
}
