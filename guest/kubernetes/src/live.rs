//! The live view's Kubernetes side (WIT `live`, docs/live-view.md): which requests list and watch a kind, how
//! their answers decode into items, and how a lookup reads the items back. Pure: the host sends the requests.
//!
//! A kind is listed and watched by its label key alone (`labelSelector=<label>`), so every Secret that carries
//! the label is in the view, team-scoped or not; an item's id is the label's value, its payload the team label
//! and what the Secret stores under the kind's data key. A lookup then applies the same first-match rule to the
//! items of its id, filtered by each query's team requirement, that it applies to a LIST answer
//! ([`crate::secrets::select_first`]), so answers and warnings are the same.

use airflow_compat::pyurllib::{quote, urlencode};
use serde::{Deserialize, Serialize};
use wasm_secrets_provider_common::live::{Change, Event, Follow, Item, Kind, Page};

use crate::config::BackendConfig;
use crate::error::LookupError;
use crate::lookup::{Api, Backend, Response, check_status};
use crate::secrets::{Candidate, Secret, Stored, list_page, watch_line};
use crate::selector::{Scope, is_label_key};

/// Items per list page: a few hundred Secrets is well inside the host's answer bound.
pub const LIST_PAGE_LIMIT: usize = 500;

/// How long the API server keeps one watch open before the host reconnects from the last version (kube-rs and
/// client-go pick about 5 minutes too).
pub const WATCH_TIMEOUT_SECONDS: u32 = 290;

/// An item's payload: what a lookup needs besides name and id. No `Debug`: it holds the value.
#[derive(Serialize, Deserialize)]
struct Payload {
    /// The team label's value (`None`: no team label, or team handling off).
    team: Option<String>,
    /// What the Secret holds under the kind's data key.
    stored: Stored,
}

/// The label a kind is listed by, when the kind can be followed: a disabled kind (`None` label) or a label
/// (or team label) that is not a valid label key cannot be selected by key alone.
pub(crate) fn followed_label(config: &BackendConfig, kind: Kind) -> Option<&str> {
    let (label, _) = config.label_and_data_key(kind);
    let label = label?;
    let team_ok = config.team_label.as_deref().filter(|l| !l.is_empty()).is_none_or(is_label_key);
    (is_label_key(label) && team_ok).then_some(label)
}

/// `/api/v1/namespaces/{ns}/secrets?labelSelector=<label>&limit=500[&continue=<token>]`: a consistent,
/// paginated list of every Secret carrying the label.
pub fn list_path(namespace: &str, label: &str, continue_token: Option<&str>) -> String {
    let limit = LIST_PAGE_LIMIT.to_string();
    let mut query = vec![("labelSelector", label), ("limit", limit.as_str())];
    if let Some(token) = continue_token {
        query.push(("continue", token));
    }
    format!("/api/v1/namespaces/{}/secrets?{}", quote(namespace, ""), urlencode(query))
}

/// The watch of every Secret carrying the label, from `resource_version`, with bookmarks.
pub fn watch_path(namespace: &str, label: &str, resource_version: &str) -> String {
    let timeout = WATCH_TIMEOUT_SECONDS.to_string();
    let query = [
        ("labelSelector", label),
        ("watch", "true"),
        ("allowWatchBookmarks", "true"),
        ("resourceVersion", resource_version),
        ("timeoutSeconds", timeout.as_str()),
    ];
    format!("/api/v1/namespaces/{}/secrets?{}", quote(namespace, ""), urlencode(query))
}

/// The item `secret` holds for `kind`, or `None` when it does not carry the kind's label.
fn item(config: &BackendConfig, kind: Kind, label: &str, secret: &Secret) -> Result<Option<Item>, LookupError> {
    let metadata = secret.metadata.as_ref();
    let Some(name) = metadata.and_then(|m| m.name.clone()) else {
        return Err(LookupError::Upstream("the Kubernetes API answered with a Secret without a name".to_owned()));
    };
    let labels = metadata.and_then(|m| m.labels.as_ref());
    let Some(id) = labels.and_then(|l| l.get(label)).cloned() else {
        return Ok(None);
    };
    let team_label = config.team_label.as_deref().filter(|l| !l.is_empty());
    let team = team_label.and_then(|t| labels.and_then(|l| l.get(t)).cloned());
    let (_, data_key) = config.label_and_data_key(kind);
    let payload = Payload { team, stored: secret.stored(data_key) };
    // Serializing strings and an enum cannot fail.
    let payload = serde_json::to_vec(&payload).unwrap_or_default();
    Ok(Some(Item { name, id, payload }))
}

/// The candidates among `items` (one id's items, in name order) that `scope` selects, for the first-match rule.
pub(crate) fn candidates(items: &[Item], scope: &Scope) -> Result<Vec<Candidate>, LookupError> {
    let mut out = Vec::new();
    for item in items {
        let payload: Payload = serde_json::from_slice(&item.payload).map_err(|_| {
            LookupError::Upstream(format!(
                "the host's live view holds an item this provider did not write ({})",
                item.name
            ))
        })?;
        if scope.admits(payload.team.as_deref()) {
            out.push(Candidate { name: Some(item.name.clone()), stored: payload.stored });
        }
    }
    Ok(out)
}

impl<A: Api> Follow for Backend<'_, A> {
    fn list_request(&mut self, kind: Kind, continue_token: Option<&str>) -> Result<Option<String>, LookupError> {
        let Some(label) = followed_label(self.config(), kind) else {
            return Ok(None);
        };
        let namespace = self.namespace()?;
        Ok(Some(list_path(&namespace, label, continue_token)))
    }

    fn decode_list(
        &mut self,
        kind: Kind,
        status: u16,
        body: &[u8],
        listed: &mut dyn FnMut(Item) -> bool,
    ) -> Result<Page, LookupError> {
        check_status(&Response { status, body: body.to_vec() })?;
        let config = self.config();
        let label = followed_label(config, kind).ok_or_else(not_followed)?;
        let page = list_page(body)?;
        for secret in &page.items {
            if let Some(item) = item(config, kind, label, secret)?
                && !listed(item)
            {
                return Err(LookupError::Upstream("the host refused a listed item: its live view is full".to_owned()));
            }
        }
        let resource_version = page.resource_version.filter(|v| !v.is_empty()).ok_or_else(|| {
            LookupError::Upstream("the Kubernetes API answered with a Secret list without a resourceVersion".to_owned())
        })?;
        Ok(Page { continue_token: page.continue_token, resource_version })
    }

    fn watch_request(&mut self, kind: Kind, resource_version: &str) -> Result<String, LookupError> {
        let label = followed_label(self.config(), kind).ok_or_else(not_followed)?;
        let namespace = self.namespace()?;
        Ok(watch_path(&namespace, label, resource_version))
    }

    fn decode_event(&mut self, kind: Kind, line: &[u8]) -> Result<Event, LookupError> {
        let config = self.config();
        let label = followed_label(config, kind).ok_or_else(not_followed)?;
        let line = watch_line(line)?;
        let object = line.object;
        let resource_version = object.metadata.as_ref().and_then(|m| m.resource_version.clone());
        let change = match line.kind.as_str() {
            "ADDED" | "MODIFIED" => {
                let secret = Secret { metadata: object.metadata, data: object.data };
                match item(config, kind, label, &secret)? {
                    Some(item) => Change::Put(item),
                    None => Change::Removed(secret.name().unwrap_or_default().to_owned()),
                }
            }
            "DELETED" => match object.metadata.and_then(|m| m.name) {
                Some(name) => Change::Removed(name),
                None => {
                    return Err(LookupError::Upstream(
                        "the Kubernetes API sent a DELETED event without a name".to_owned(),
                    ));
                }
            },
            "BOOKMARK" => Change::Progress,
            "ERROR" if object.code == Some(410) => Change::Expired,
            "ERROR" => {
                let status = serde_json::json!({"reason": object.reason, "message": object.message});
                let code = object.code.filter(|c| !(200..300).contains(c)).unwrap_or(500);
                let body = serde_json::to_vec(&status).unwrap_or_default();
                return Err(check_status(&Response { status: code, body })
                    .err()
                    .unwrap_or_else(|| LookupError::Upstream("the Kubernetes API sent an ERROR event".to_owned())));
            }
            other => {
                let shown: String = other.chars().take(40).filter(|c| !c.is_control()).collect();
                return Err(LookupError::Upstream(format!("the Kubernetes API sent a watch event of type {shown:?}")));
            }
        };
        Ok(Event { change, resource_version })
    }
}

fn not_followed() -> LookupError {
    LookupError::InvalidConfiguration("this kind is not followed with this configuration".to_owned())
}

#[cfg(test)]
mod tests {
    use wasm_secrets_provider_common::FromKwargs as _;

    use super::*;
    use crate::lookup::Level;

    struct Ns;
    impl Api for Ns {
        fn get(&mut self, _: &str) -> Result<Response, LookupError> {
            Err(LookupError::Unavailable("no request expected".into()))
        }
        fn log(&mut self, _: Level, _: &str) {}
        fn detected_namespace(&mut self) -> Result<String, String> {
            Ok("airflow".into())
        }
    }

    fn decoded(config: &BackendConfig, kind: Kind, body: &str) -> (Result<Page, LookupError>, Vec<Item>) {
        let mut items = Vec::new();
        let page = Backend::new(config, Ns).decode_list(kind, 200, body.as_bytes(), &mut |i| {
            items.push(i);
            true
        });
        (page, items)
    }

    fn payload(item: &Item) -> serde_json::Value {
        serde_json::from_slice(&item.payload).unwrap()
    }

    #[test]
    fn requests_list_by_label_key_and_watch_with_bookmarks() {
        let config = BackendConfig::default();
        let mut backend = Backend::new(&config, Ns);
        assert_eq!(
            backend.list_request(Kind::Connection, None).unwrap().as_deref(),
            Some("/api/v1/namespaces/airflow/secrets?labelSelector=airflow.apache.org%2Fconnection-id&limit=500")
        );
        assert_eq!(
            backend.list_request(Kind::Variable, Some("tok=")).unwrap().as_deref(),
            Some(
                "/api/v1/namespaces/airflow/secrets?labelSelector=airflow.apache.org%2Fvariable-key&limit=500&continue=tok%3D"
            )
        );
        assert_eq!(
            backend.watch_request(Kind::Config, "42").unwrap(),
            "/api/v1/namespaces/airflow/secrets?labelSelector=airflow.apache.org%2Fconfig-key&watch=true\
             &allowWatchBookmarks=true&resourceVersion=42&timeoutSeconds=290"
        );
    }

    #[test]
    fn disabled_kinds_and_labels_a_key_cannot_select_are_not_followed() {
        let config = BackendConfig::from_json(r#"{"variables_label": null, "config_label": "a,b"}"#).unwrap();
        let mut backend = Backend::new(&config, Ns);
        assert_eq!(backend.list_request(Kind::Variable, None).unwrap(), None);
        assert_eq!(backend.list_request(Kind::Config, None).unwrap(), None);
        assert!(backend.list_request(Kind::Connection, None).unwrap().is_some());
        let config = BackendConfig::from_json(r#"{"team_label": "bad label"}"#).unwrap();
        assert_eq!(Backend::new(&config, Ns).list_request(Kind::Connection, None).unwrap(), None);
    }

    #[test]
    fn list_pages_decode_into_items_with_team_and_stored_value() {
        let config = BackendConfig::default();
        let body = r#"{"metadata":{"resourceVersion":"17","continue":"next"},"items":[
            {"metadata":{"name":"a","labels":{"airflow.apache.org/connection-id":"db","airflow.apache.org/team":"blue"}},"data":{"value":"eA=="}},
            {"metadata":{"name":"b","labels":{"airflow.apache.org/connection-id":"db"}},"data":{"value":null}},
            {"metadata":{"name":"c","labels":{"airflow.apache.org/connection-id":""}}},
            {"metadata":{"name":"d","labels":{"other":"x"}}}]}"#;
        let (page, items) = decoded(&config, Kind::Connection, body);
        assert_eq!(page.unwrap(), Page { continue_token: Some("next".into()), resource_version: "17".into() });
        let summary: Vec<_> = items.iter().map(|i| (i.name.as_str(), i.id.as_str(), payload(i))).collect();
        assert_eq!(
            summary,
            vec![
                ("a", "db", serde_json::json!({"team": "blue", "stored": {"Encoded": "eA=="}})),
                ("b", "db", serde_json::json!({"team": null, "stored": "Null"})),
                ("c", "", serde_json::json!({"team": null, "stored": "Missing"})),
            ]
        );
        // An empty continue token is the last page.
        let (page, _) =
            decoded(&config, Kind::Connection, r#"{"metadata":{"resourceVersion":"3","continue":""},"items":[]}"#);
        assert_eq!(page.unwrap().continue_token, None);
    }

    #[test]
    fn list_failures_name_who_is_at_fault() {
        let config = BackendConfig::default();
        let mut backend = Backend::new(&config, Ns);
        let denied =
            backend.decode_list(Kind::Connection, 403, br#"{"reason":"Forbidden","message":"no"}"#, &mut |_| true);
        assert_eq!(
            denied.unwrap_err(),
            LookupError::AccessDenied("the Kubernetes API answered 403 (Forbidden): no".into())
        );
        let (page, _) = decoded(&config, Kind::Connection, r#"{"items":[]}"#);
        assert_eq!(
            page.unwrap_err(),
            LookupError::Upstream("the Kubernetes API answered with a Secret list without a resourceVersion".into())
        );
        let body = r#"{"metadata":{"resourceVersion":"1"},"items":[{"metadata":{"name":"a","labels":{"airflow.apache.org/connection-id":"x"}}}]}"#;
        let full = backend.decode_list(Kind::Connection, 200, body.as_bytes(), &mut |_| false);
        assert_eq!(
            full.unwrap_err(),
            LookupError::Upstream("the host refused a listed item: its live view is full".into())
        );
        let nameless = r#"{"metadata":{"resourceVersion":"1"},"items":[{"metadata":{"labels":{"airflow.apache.org/connection-id":"x"}}}]}"#;
        assert!(matches!(decoded(&config, Kind::Connection, nameless).0, Err(LookupError::Upstream(_))));
    }

    #[test]
    fn watch_lines_decode_into_changes() {
        let config = BackendConfig::default();
        let mut backend = Backend::new(&config, Ns);
        let mut event = |line: &str| backend.decode_event(Kind::Variable, line.as_bytes());
        let put = event(r#"{"type":"MODIFIED","object":{"metadata":{"name":"v","resourceVersion":"9","labels":{"airflow.apache.org/variable-key":"k"}},"data":{"value":"eQ=="}}}"#).unwrap();
        assert_eq!(put.resource_version.as_deref(), Some("9"));
        let Change::Put(item) = put.change else { panic!("expected a put, got {:?}", put.change) };
        assert_eq!((item.name.as_str(), item.id.as_str()), ("v", "k"));
        assert_eq!(payload(&item), serde_json::json!({"team": null, "stored": {"Encoded": "eQ=="}}));
        let unlabelled =
            event(r#"{"type":"ADDED","object":{"metadata":{"name":"v","resourceVersion":"10"}}}"#).unwrap();
        assert_eq!(unlabelled.change, Change::Removed("v".into()));
        let deleted = event(r#"{"type":"DELETED","object":{"metadata":{"name":"v","resourceVersion":"11"}}}"#).unwrap();
        assert_eq!(deleted, Event { change: Change::Removed("v".into()), resource_version: Some("11".into()) });
        let bookmark = event(r#"{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"12"}}}"#).unwrap();
        assert_eq!(bookmark, Event { change: Change::Progress, resource_version: Some("12".into()) });
        let expired =
            event(r#"{"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old"}}"#)
                .unwrap();
        assert_eq!(expired.change, Change::Expired);
        assert_eq!(
            event(r#"{"type":"ERROR","object":{"kind":"Status","code":403,"reason":"Forbidden","message":"m"}}"#)
                .unwrap_err(),
            LookupError::AccessDenied("the Kubernetes API answered 403 (Forbidden): m".into())
        );
        assert!(matches!(event(r#"{"type":"NEW","object":{}}"#), Err(LookupError::Upstream(_))));
        let bad = event(r#"{"type":"ADDED","object":{"data":{"value":"c2VjcmV0"}}, oops"#).unwrap_err().to_string();
        assert!(!bad.contains("c2VjcmV0"), "{bad}");
    }
}
