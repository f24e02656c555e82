//! The lookup algorithm of Airflow's `KubernetesSecretsBackend`, written against a small [`Api`] trait so it
//! runs natively in unit tests with a fake API and in the component with the wasi:http transport.

use airflow_compat::{Connection, pybase64};
use wasm_secrets_provider_common::Lookups;
use wasm_secrets_provider_common::live::Item;
pub use wasm_secrets_provider_common::live::Kind;
use wasm_secrets_provider_common::provider::{connection_from_value, listing_refused};

use crate::config::BackendConfig;
use crate::error::LookupError;
use crate::live::{candidates, followed_label, list_path};
use crate::request::{MAX_OBJECT_NAME_LEN, is_object_name, list_secrets_path, read_secret_path};
use crate::secrets::{list_page, secret_data, select, select_first};
use crate::selector::{is_label_key, is_label_value, is_team_scoped_id, queries};

/// An HTTP answer from the Kubernetes API.
pub use wasm_secrets_provider_common::http::Response;

/// Severity of a log record sent to the host.
pub use wasm_secrets_provider_common::Level;

/// Everything the lookup needs from the outside world.
pub trait Api {
    /// Sends `GET <path_and_query>` to the Kubernetes API server.
    fn get(&mut self, path_and_query: &str) -> Result<Response, LookupError>;
    /// Records a log message on the host.
    fn log(&mut self, level: Level, message: &str);
    /// The namespace the host detected, or the operator-facing reason it could not.
    fn detected_namespace(&mut self) -> Result<String, String>;
    /// The items the host's live view holds for `id`, or `None` when it keeps no usable view of `kind` (the
    /// default: no live view).
    fn view(&mut self, kind: Kind, id: &str) -> Option<Vec<Item>> {
        let _ = (kind, id);
        None
    }
}

/// One lookup session: a configuration, an API, and the namespace once resolved.
pub struct Backend<'c, A> {
    config: &'c BackendConfig,
    api: A,
    namespace: Option<String>,
}

impl<'c, A: Api> Backend<'c, A> {
    /// A backend for `config` that talks through `api`.
    pub fn new(config: &'c BackendConfig, api: A) -> Self {
        Self { config, api, namespace: None }
    }

    /// The configuration.
    pub(crate) fn config(&self) -> &'c BackendConfig {
        self.config
    }

    /// Airflow's `_get_secret`: the decoded value stored for `id`, or `None`.
    ///
    /// With a live view of the kind (docs/live-view.md), each query's answer comes from the view's items for
    /// `id` instead of a LIST, through the same first-match rule; only for ids and teams a label selector
    /// expresses exactly (valid label values), so every other id still gets the API server's own answer.
    pub fn get_value(&mut self, kind: Kind, id: &str, team_name: Option<&str>) -> Result<Option<String>, LookupError> {
        let config = self.config;
        let (label, data_key) = config.label_and_data_key(kind);
        let Some(label) = label else {
            return Ok(None);
        };
        let team_name = if kind == Kind::Config { None } else { team_name };
        if kind != Kind::Config && team_name.is_none() && is_team_scoped_id(id) {
            return Ok(None);
        }
        let exact = is_label_value(id) && team_name.is_none_or(is_label_value);
        let view = if exact && followed_label(config, kind).is_some() { self.api.view(kind, id) } else { None };
        for query in queries(label, id, config.team_label.as_deref(), team_name) {
            let namespace = self.namespace()?;
            let selection = match &view {
                Some(items) => {
                    let matching = candidates(items, &query.scope)?;
                    let count = matching.len();
                    let first = matching.into_iter().next();
                    select_first(first, count, data_key, &query.selector, &namespace, query.warn_if_missing)?
                }
                None => {
                    let response = self.api.get(&list_secrets_path(&namespace, &query.selector))?;
                    check_status(&response)?;
                    select(&response.body, data_key, &query.selector, &namespace, query.warn_if_missing)?
                }
            };
            for warning in &selection.warnings {
                self.api.log(Level::Warning, warning);
            }
            if let Some(encoded) = selection.encoded {
                let value = pybase64::decode_secret_value(&encoded).map_err(|e| {
                    LookupError::MalformedPayload(format!(
                        "data key '{data_key}' of secret '{}': {e}",
                        selection.secret_name.as_deref().unwrap_or("None")
                    ))
                })?;
                return Ok(Some(value));
            }
        }
        Ok(None)
    }

    /// The configured namespace, or the one the host detected (asked once per backend).
    pub(crate) fn namespace(&mut self) -> Result<String, LookupError> {
        if let Some(ns) = self.config.namespace.as_ref().or(self.namespace.as_ref()) {
            return Ok(ns.clone());
        }
        let ns = self.api.detected_namespace().map_err(LookupError::InvalidConfiguration)?;
        self.namespace = Some(ns.clone());
        Ok(ns)
    }
}

/// The WIT lookups: Airflow's `get_conn_value`, `get_connection`, `get_variable` and `get_config`, and
/// Flyte's Kubernetes secrets.
impl<A: Api> Lookups for Backend<'_, A> {
    fn get_conn_value(&mut self, conn_id: &str, team_name: Option<&str>) -> Result<Option<String>, LookupError> {
        self.get_value(Kind::Connection, conn_id, team_name)
    }

    /// Airflow's `get_connection`: the stored value parsed as a connection in the configured dialect. An
    /// empty value is "not found", as in Airflow (`if value:`).
    fn get_connection(&mut self, conn_id: &str, team_name: Option<&str>) -> Result<Option<Connection>, LookupError> {
        let value = self.get_value(Kind::Connection, conn_id, team_name)?;
        connection_from_value(conn_id, value, self.config.dialect)
    }

    fn get_variable(&mut self, key: &str, team_name: Option<&str>) -> Result<Option<String>, LookupError> {
        self.get_value(Kind::Variable, key, team_name)
    }

    fn get_config(&mut self, key: &str) -> Result<Option<String>, LookupError> {
        self.get_value(Kind::Config, key, None)
    }

    /// Flyte's Kubernetes secret `group`/`key` (flytekit's `Secret(group=..., key=...)`): the data key `key`
    /// of the Secret named `group`, read with one `GET /api/v1/namespaces/{ns}/secrets/{group}` and
    /// base64-decoded like the other lookups. The namespace is resolved as for the other lookups.
    ///
    /// A `group` that is not a valid Secret name (a DNS-1123 subdomain, at most 253 characters) is an
    /// `invalid-request` error and nothing is sent: such a Secret cannot exist, and the name goes into the
    /// request path. A missing Secret (404) or a Secret without `key` is `None`; other statuses map as for the
    /// list calls. The value is returned as stored (flytekit's `SecretsManager.get` strips it).
    fn get_secret(&mut self, group: &str, key: &str) -> Result<Option<String>, LookupError> {
        if !is_object_name(group) {
            return Err(LookupError::InvalidRequest(format!(
                "the secret group must be a valid Kubernetes Secret name (lowercase letters, digits, '-' and '.', \
                 starting and ending with a letter or digit, at most {MAX_OBJECT_NAME_LEN} characters), got {}",
                describe_name(group)
            )));
        }
        let namespace = self.namespace()?;
        let response = self.api.get(&read_secret_path(&namespace, group))?;
        if response.status == 404 {
            return Ok(None);
        }
        check_status(&response)?;
        let Some(encoded) = secret_data(&response.body, key, group)? else {
            return Ok(None);
        };
        pybase64::decode_secret_value(&encoded)
            .map(Some)
            .map_err(|e| LookupError::MalformedPayload(format!("data key '{key}' of secret '{group}': {e}")))
    }

    /// Every value of the kind's label among the namespace's Secrets: the paginated list by label key that the
    /// live view starts with ([`list_path`], 500 Secrets a page), whatever the team label says (a lookup
    /// decides which of them the team sees). A disabled kind lists nothing; a label that is not a valid label
    /// key cannot be listed (no lookup of it can succeed either: its selector is invalid).
    fn list_ids(
        &mut self,
        kind: Kind,
        _team_name: Option<&str>,
        listed: &mut dyn FnMut(&str) -> bool,
    ) -> Result<(), LookupError> {
        let (label, _) = self.config.label_and_data_key(kind);
        let Some(label) = label else {
            return Ok(());
        };
        if !is_label_key(label) {
            return Err(LookupError::InvalidConfiguration(format!(
                "the label {} is not a valid Kubernetes label key, so no list request can select its Secrets",
                describe_name(label)
            )));
        }
        let namespace = self.namespace()?;
        let mut continue_token = None;
        loop {
            let response = self.api.get(&list_path(&namespace, label, continue_token.as_deref()))?;
            check_status(&response)?;
            let page = list_page(&response.body)?;
            for secret in &page.items {
                let labels = secret.metadata.as_ref().and_then(|m| m.labels.as_ref());
                if let Some(id) = labels.and_then(|l| l.get(label))
                    && !listed(id)
                {
                    return Err(listing_refused());
                }
            }
            // The host bounds the pages: requests per call and the call's deadline.
            match page.continue_token {
                Some(token) => continue_token = Some(token),
                None => return Ok(()),
            }
        }
    }
}

/// A rejected Secret name for an error message: quoted and printable when short, else only its length (a
/// caller who pasted a value in place of a group name does not get it echoed into logs).
fn describe_name(name: &str) -> String {
    let length = name.chars().count();
    if length <= 80 { format!("{:?}", printable(name, 80)) } else { format!("a name of {length} characters") }
}

/// Maps a non-2xx answer to the error that says who is at fault. Airflow catches no API error; neither do we.
pub(crate) fn check_status(response: &Response) -> Result<(), LookupError> {
    let code = response.status;
    if (200..300).contains(&code) {
        return Ok(());
    }
    let detail = status_detail(&response.body);
    let what = format!("the Kubernetes API answered {code}{detail}");
    Err(match code {
        400 => LookupError::InvalidRequest(what),
        401 | 403 => LookupError::AccessDenied(what),
        408 | 504 => LookupError::Timeout(what),
        429 | 502 | 503 => LookupError::Unavailable(what),
        _ => LookupError::Upstream(what),
    })
}

/// `" (<reason>): <message>"` from a Kubernetes `Status` body, or a short excerpt of a plain-text body.
fn status_detail(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Status {
        reason: Option<String>,
        message: Option<String>,
    }
    match serde_json::from_slice::<Status>(body) {
        Ok(Status { reason, message }) => {
            let reason = reason.filter(|r| !r.is_empty()).map(|r| format!(" ({r})")).unwrap_or_default();
            let message = message.map(|m| format!(": {}", printable(&m, 300))).unwrap_or_default();
            format!("{reason}{message}")
        }
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() { String::new() } else { format!(": {}", printable(text, 200)) }
        }
    }
}

/// At most `max` characters of `s`, with control characters replaced, so a hostile body cannot forge log lines.
fn printable(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).map(|c| if c.is_control() { ' ' } else { c }).collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use wasm_secrets_provider_common::FromKwargs as _;

    use super::*;

    /// A fake API server: answers from a queue, records requests and logs.
    #[derive(Default)]
    struct Fake {
        answers: Vec<Response>,
        requests: Vec<String>,
        logs: Vec<(Level, String)>,
        namespace: Option<String>,
        namespace_calls: usize,
        /// The live view's items, when the fake host keeps one; the ids asked for.
        view: Option<Vec<Item>>,
        viewed: Vec<(Kind, String)>,
    }

    impl Api for &mut Fake {
        fn view(&mut self, kind: Kind, id: &str) -> Option<Vec<Item>> {
            self.viewed.push((kind, id.to_owned()));
            let items = self.view.as_ref()?;
            Some(items.iter().filter(|i| i.id == id).cloned().collect())
        }
        fn get(&mut self, path_and_query: &str) -> Result<Response, LookupError> {
            self.requests.push(path_and_query.to_owned());
            if self.answers.is_empty() {
                return Err(LookupError::Unavailable("no answer queued".into()));
            }
            Ok(self.answers.remove(0))
        }
        fn log(&mut self, level: Level, message: &str) {
            self.logs.push((level, message.to_owned()));
        }
        fn detected_namespace(&mut self) -> Result<String, String> {
            self.namespace_calls += 1;
            self.namespace.clone().ok_or_else(|| "no namespace file".to_owned())
        }
    }

    fn ok(body: &str) -> Response {
        Response { status: 200, body: body.as_bytes().to_vec() }
    }

    fn one(name: &str, key: &str, b64: &str) -> Response {
        ok(&format!(
            r#"{{"kind":"SecretList","items":[{{"metadata":{{"name":"{name}"}},"data":{{"{key}":"{b64}"}}}}]}}"#
        ))
    }

    fn config(json: &str) -> BackendConfig {
        BackendConfig::from_json(json).unwrap()
    }

    const EMPTY: &str = r#"{"kind":"SecretList","items":[]}"#;

    /// The live view's items for a list answer, decoded as the host would get them.
    fn view_of(config: &BackendConfig, kind: Kind, items: &str) -> Vec<Item> {
        use wasm_secrets_provider_common::live::Follow as _;
        let body = format!(r#"{{"metadata":{{"resourceVersion":"5"}},"items":[{items}]}}"#);
        let mut fake = Fake { namespace: Some("ns".into()), ..Fake::default() };
        let mut out = Vec::new();
        Backend::new(config, &mut fake)
            .decode_list(kind, 200, body.as_bytes(), &mut |item| {
                out.push(item);
                true
            })
            .unwrap();
        out
    }

    const TEAM_AND_GLOBAL: &str = r#"
        {"metadata":{"name":"a-team","labels":{"airflow.apache.org/connection-id":"db","airflow.apache.org/team":"blue"}},"data":{"other":"eA=="}},
        {"metadata":{"name":"b-global","labels":{"airflow.apache.org/connection-id":"db"}},"data":{"value":"Z2xvYmFs"}},
        {"metadata":{"name":"c-global","labels":{"airflow.apache.org/connection-id":"db"}},"data":{"value":"c2Vjb25k"}},
        {"metadata":{"name":"d-other","labels":{"airflow.apache.org/connection-id":"other"}},"data":{"value":"eQ=="}}"#;

    /// From the view, a lookup sends nothing and answers as a LIST would: the team query first (its first match
    /// lacks the key: a warning, then the global query), the first global match wins, with Airflow's warnings.
    #[test]
    fn a_live_view_answers_like_the_lists_without_a_request() {
        let c = config(r#"{"namespace":"ns"}"#);
        let view = view_of(&c, Kind::Connection, TEAM_AND_GLOBAL);
        let mut fake = Fake { view: Some(view.clone()), ..Fake::default() };
        let v = Backend::new(&c, &mut fake).get_value(Kind::Connection, "db", Some("blue")).unwrap();
        assert_eq!(v.as_deref(), Some("global"));
        assert!(fake.requests.is_empty());
        assert_eq!(fake.viewed, vec![(Kind::Connection, "db".to_owned())]);
        let warnings: Vec<&str> = fake.logs.iter().map(|(_, m)| m.as_str()).collect();
        assert_eq!(
            warnings,
            vec![
                "Secret 'a-team' does not have data key 'value'.",
                "Multiple secrets found with label airflow.apache.org/connection-id=db,!airflow.apache.org/team in namespace ns. Using the first one.",
            ]
        );
        // The same Secrets through the LIST path give the same answer and warnings.
        let team = r#"{"items":[{"metadata":{"name":"a-team"},"data":{"other":"eA=="}}]}"#;
        let global = r#"{"items":[{"metadata":{"name":"b-global"},"data":{"value":"Z2xvYmFs"}},{"metadata":{"name":"c-global"},"data":{"value":"c2Vjb25k"}}]}"#;
        let mut listed = Fake { answers: vec![ok(team), ok(global)], ..Fake::default() };
        let v = Backend::new(&c, &mut listed).get_value(Kind::Connection, "db", Some("blue")).unwrap();
        assert_eq!(v.as_deref(), Some("global"));
        assert_eq!(listed.logs, fake.logs);

        // An id no Secret carries is "not found" from memory, with the LIST path's warning.
        let mut fake = Fake { view: Some(view.clone()), ..Fake::default() };
        assert_eq!(Backend::new(&c, &mut fake).get_value(Kind::Connection, "nope", None).unwrap(), None);
        assert!(fake.requests.is_empty());
        assert_eq!(
            fake.logs,
            vec![(Level::Warning, "No secret found with label airflow.apache.org/connection-id=nope,!airflow.apache.org/team in namespace ns.".to_owned())]
        );
        // A null value is the same malformed payload.
        let view = view_of(
            &c,
            Kind::Variable,
            r#"{"metadata":{"name":"n","labels":{"airflow.apache.org/variable-key":"v"}},"data":{"value":null}}"#,
        );
        let mut fake = Fake { view: Some(view), ..Fake::default() };
        assert_eq!(
            Backend::new(&c, &mut fake).get_value(Kind::Variable, "v", None).unwrap_err(),
            LookupError::MalformedPayload("data key 'value' of secret 'n' is null".into())
        );
    }

    /// Ids and teams a selector does not express exactly (not label values) still go to the API server, which
    /// answers them its own way; so do kinds the view does not follow.
    #[test]
    fn ids_a_selector_cannot_express_exactly_bypass_the_view() {
        let c = config(r#"{"namespace":"ns"}"#);
        for (id, team) in [("a,b=c", None), ("-x", None), ("db", Some("bad team"))] {
            let mut fake = Fake { view: Some(Vec::new()), answers: vec![ok(EMPTY), ok(EMPTY)], ..Fake::default() };
            assert_eq!(Backend::new(&c, &mut fake).get_value(Kind::Connection, id, team).unwrap(), None);
            assert!(fake.viewed.is_empty(), "{id:?}");
            assert!(!fake.requests.is_empty(), "{id:?}");
        }
        let c = config(r#"{"namespace":"ns","config_label":"a,b"}"#);
        let mut fake = Fake { view: Some(Vec::new()), answers: vec![ok(EMPTY)], ..Fake::default() };
        assert_eq!(Backend::new(&c, &mut fake).get_value(Kind::Config, "k", None).unwrap(), None);
        assert!(fake.viewed.is_empty());
        // A host without a view of the kind: the LIST as usual.
        let c = config(r#"{"namespace":"ns"}"#);
        let mut fake = Fake { answers: vec![one("s", "value", "eA==")], ..Fake::default() };
        assert_eq!(Backend::new(&c, &mut fake).get_value(Kind::Variable, "k", None).unwrap().as_deref(), Some("x"));
        assert_eq!(fake.viewed, vec![(Kind::Variable, "k".to_owned())]);
        assert_eq!(fake.requests.len(), 1);
    }

    #[test]
    fn variable_found_with_exact_request() {
        let mut fake = Fake { answers: vec![one("s", "value", "bXktdmFsdWU=")], ..Fake::default() };
        let c = config(r#"{"namespace":"airflow"}"#);
        let v = Backend::new(&c, &mut fake).get_value(Kind::Variable, "api_key", None).unwrap();
        assert_eq!(v.as_deref(), Some("my-value"));
        assert_eq!(
            fake.requests,
            vec![
                "/api/v1/namespaces/airflow/secrets?labelSelector=airflow.apache.org%2Fvariable-key%3Dapi_key%2C%21airflow.apache.org%2Fteam&resourceVersion=0"
            ]
        );
        assert!(fake.logs.is_empty());
        assert_eq!(fake.namespace_calls, 0);
    }

    #[test]
    fn list_ids_pages_through_the_secrets_carrying_the_label() {
        let page = |items: &str, token: &str| {
            ok(&format!(r#"{{"kind":"SecretList","metadata":{{"resourceVersion":"7"{token}}},"items":[{items}]}}"#))
        };
        let label = |name: &str, labels: &str| format!(r#"{{"metadata":{{"name":"{name}","labels":{{{labels}}}}}}}"#);
        let first = [
            label("a", r#""airflow.apache.org/connection-id":"db""#),
            label("b", r#""airflow.apache.org/connection-id":"db","airflow.apache.org/team":"t1""#),
        ];
        let second = [label("c", r#""airflow.apache.org/connection-id":"smtp""#), label("d", r#""other":"x""#)];
        let mut fake = Fake {
            answers: vec![page(&first.join(","), r#","continue":"tok/1""#), page(&second.join(","), "")],
            namespace: Some("ns".into()),
            ..Fake::default()
        };
        let c = config("{}");
        let mut ids = Vec::new();
        Backend::new(&c, &mut fake)
            .list_ids(Kind::Connection, Some("t1"), &mut |id| {
                ids.push(id.to_owned());
                true
            })
            .unwrap();
        assert_eq!(ids, ["db", "db", "smtp"]);
        assert_eq!(
            fake.requests,
            [
                "/api/v1/namespaces/ns/secrets?labelSelector=airflow.apache.org%2Fconnection-id&limit=500",
                "/api/v1/namespaces/ns/secrets?labelSelector=airflow.apache.org%2Fconnection-id&limit=500&continue=tok%2F1",
            ]
        );

        // The host's budget spent: the listing stops at once, with the documented error.
        let mut fake =
            Fake { answers: vec![page(&first.join(","), "")], namespace: Some("ns".into()), ..Fake::default() };
        let mut calls = 0;
        let error = Backend::new(&c, &mut fake)
            .list_ids(Kind::Connection, None, &mut |_| {
                calls += 1;
                false
            })
            .unwrap_err();
        assert_eq!((calls, error), (1, listing_refused()));

        // A disabled kind lists nothing and sends nothing; a status is the error it stands for.
        let c = config(r#"{"variables_label": null}"#);
        let mut fake = Fake::default();
        Backend::new(&c, &mut fake).list_ids(Kind::Variable, None, &mut |_| panic!("nothing to list")).unwrap();
        assert!(fake.requests.is_empty());
        let mut fake = Fake {
            answers: vec![Response { status: 403, body: b"{}".to_vec() }],
            namespace: Some("ns".into()),
            ..Fake::default()
        };
        let error = Backend::new(&c, &mut fake).list_ids(Kind::Connection, None, &mut |_| true).unwrap_err();
        assert!(matches!(error, LookupError::AccessDenied(_)), "{error:?}");
    }

    #[test]
    fn disabled_kind_and_team_guard_send_nothing() {
        let mut fake = Fake::default();
        let c = config(r#"{"variables_label": null}"#);
        let mut b = Backend::new(&c, &mut fake);
        assert_eq!(b.get_value(Kind::Variable, "x", None).unwrap(), None);
        assert_eq!(b.get_value(Kind::Connection, "_t___x", None).unwrap(), None);
        assert!(fake.requests.is_empty());
        assert_eq!(fake.namespace_calls, 0, "no namespace resolution without a request");
    }

    #[test]
    fn config_has_no_team_guard_and_no_team_scope() {
        let mut fake = Fake { answers: vec![ok(EMPTY)], namespace: Some("ns".into()), ..Fake::default() };
        let c = BackendConfig::default();
        assert_eq!(Backend::new(&c, &mut fake).get_value(Kind::Config, "_t___x", None).unwrap(), None);
        assert_eq!(
            fake.requests,
            vec![
                "/api/v1/namespaces/ns/secrets?labelSelector=airflow.apache.org%2Fconfig-key%3D_t___x%2C%21airflow.apache.org%2Fteam&resourceVersion=0"
            ]
        );
        assert_eq!(
            fake.logs,
            vec![(Level::Warning, "No secret found with label airflow.apache.org/config-key=_t___x,!airflow.apache.org/team in namespace ns.".to_owned())]
        );
    }

    #[test]
    fn team_scope_falls_back_to_global_and_namespace_is_detected_once() {
        let mut fake = Fake {
            answers: vec![ok(EMPTY), one("g", "value", "Z2xvYmFs")],
            namespace: Some("team-ns".into()),
            ..Fake::default()
        };
        let c = BackendConfig::default();
        let v = Backend::new(&c, &mut fake).get_value(Kind::Connection, "db", Some("blue")).unwrap();
        assert_eq!(v.as_deref(), Some("global"));
        assert_eq!(fake.requests.len(), 2);
        assert!(
            fake.requests[0]
                .contains("labelSelector=airflow.apache.org%2Fconnection-id%3Ddb%2Cairflow.apache.org%2Fteam%3Dblue&")
        );
        assert!(fake.requests[1].contains("%2C%21airflow.apache.org%2Fteam&"));
        assert!(fake.logs.is_empty(), "team query is silent, global found: {:?}", fake.logs);
        assert_eq!(fake.namespace_calls, 1);
    }

    #[test]
    fn missing_namespace_is_a_configuration_error() {
        let mut fake = Fake::default();
        let c = BackendConfig::default();
        let e = Backend::new(&c, &mut fake).get_value(Kind::Variable, "x", None).unwrap_err();
        assert_eq!(e, LookupError::InvalidConfiguration("no namespace file".into()));
    }

    #[test]
    fn statuses_say_who_is_at_fault() {
        let forbidden = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"secrets is forbidden: User \"system:serviceaccount:ns1:reader\" cannot list resource \"secrets\" in API group \"\" in the namespace \"ns1\"","reason":"Forbidden","details":{"kind":"secrets"},"code":403}"#;
        for (status, body, expected) in [
            (403, forbidden, LookupError::AccessDenied("the Kubernetes API answered 403 (Forbidden): secrets is forbidden: User \"system:serviceaccount:ns1:reader\" cannot list resource \"secrets\" in API group \"\" in the namespace \"ns1\"".into())),
            (401, r#"{"kind":"Status","message":"Unauthorized","reason":"Unauthorized","code":401}"#, LookupError::AccessDenied("the Kubernetes API answered 401 (Unauthorized): Unauthorized".into())),
            (400, r#"{"reason":"BadRequest","message":"unable to parse requirement"}"#, LookupError::InvalidRequest("the Kubernetes API answered 400 (BadRequest): unable to parse requirement".into())),
            (429, "Too many requests, please try again later.\n", LookupError::Unavailable("the Kubernetes API answered 429: Too many requests, please try again later.".into())),
            (500, "", LookupError::Upstream("the Kubernetes API answered 500".into())),
            (504, "{}", LookupError::Timeout("the Kubernetes API answered 504".into())),
        ] {
            let mut fake = Fake { answers: vec![Response { status, body: body.as_bytes().to_vec() }], ..Fake::default() };
            let c = config(r#"{"namespace":"ns1"}"#);
            assert_eq!(Backend::new(&c, &mut fake).get_value(Kind::Variable, "x", None).unwrap_err(), expected);
        }
    }

    #[test]
    fn bad_base64_names_secret_not_value() {
        // "c2VjcmV0YQ" is base64 of "secreta" without its padding: Python raises "Incorrect padding".
        let mut fake = Fake { answers: vec![one("s", "value", "c2VjcmV0YQ")], ..Fake::default() };
        let c = config(r#"{"namespace":"ns"}"#);
        let e = Backend::new(&c, &mut fake).get_value(Kind::Variable, "x", None).unwrap_err();
        let LookupError::MalformedPayload(msg) = &e else { panic!("{e:?}") };
        assert!(msg.starts_with("data key 'value' of secret 's': "), "{msg}");
        assert!(!msg.contains("c2VjcmV0") && !msg.contains("secret\u{61}"), "{msg}");
    }

    #[test]
    fn connection_uri_and_json() {
        let uri = "c210cDovL3VzZXI6cGFzc3dvcmRAc210cC5leGFtcGxlLmNvbTo1ODc="; // smtp://user:password@smtp.example.com:587
        let mut fake = Fake { answers: vec![one("s", "value", uri)], ..Fake::default() };
        let c = config(r#"{"namespace":"airflow"}"#);
        let conn = Backend::new(&c, &mut fake).get_connection("smtp_default", None).unwrap().unwrap();
        assert_eq!(conn.conn_type.as_deref(), Some("smtp"));
        assert_eq!(conn.host.as_deref(), Some("smtp.example.com"));
        assert_eq!(conn.login.as_deref(), Some("user"));
        assert_eq!(conn.password.as_deref(), Some("password"));
        assert_eq!(conn.port, Some(587));
        assert_eq!(conn.schema.as_deref(), Some(""));

        let empty = Fake { answers: vec![one("s", "value", "")], ..Fake::default() };
        let mut empty = empty;
        assert_eq!(Backend::new(&c, &mut empty).get_connection("e", None).unwrap(), None);
    }

    #[test]
    fn malformed_connection_json_is_payload_error() {
        // {"conn_type": "x", "password": "hunter2", oops}
        let b64 = "eyJjb25uX3R5cGUiOiAieCIsICJwYXNzd29yZCI6ICJodW50ZXIyIiwgb29wc30=";
        let mut fake = Fake { answers: vec![one("s", "value", b64)], ..Fake::default() };
        let c = config(r#"{"namespace":"airflow"}"#);
        let e = Backend::new(&c, &mut fake).get_connection("bad", None).unwrap_err();
        let LookupError::MalformedPayload(msg) = &e else { panic!("{e:?}") };
        assert!(msg.starts_with("connection `bad`: "), "{msg}");
        assert!(!msg.contains("hunter2"), "{msg}");
    }

    #[test]
    fn flyte_secret_reads_one_secret_by_name() {
        // "s3cr3t\n": the value is returned as stored, trailing newline included.
        let body = r#"{"kind":"Secret","metadata":{"name":"db-creds"},"data":{"password":"czNjcjN0Cg=="}}"#;
        let mut fake = Fake { answers: vec![ok(body)], namespace: Some("flyte".into()), ..Fake::default() };
        let c = BackendConfig::default();
        let v = Backend::new(&c, &mut fake).get_secret("db-creds", "password").unwrap();
        assert_eq!(v.as_deref(), Some("s3cr3t\n"));
        assert_eq!(fake.requests, vec!["/api/v1/namespaces/flyte/secrets/db-creds"]);
        assert_eq!(fake.namespace_calls, 1);
        assert!(fake.logs.is_empty());
    }

    #[test]
    fn flyte_secret_uses_the_configured_namespace_quoted() {
        let mut fake = Fake { answers: vec![ok(r#"{"data":{}}"#)], ..Fake::default() };
        let c = config(r#"{"namespace":"a b"}"#);
        assert_eq!(Backend::new(&c, &mut fake).get_secret("g.v1", "k").unwrap(), None);
        assert_eq!(fake.requests, vec!["/api/v1/namespaces/a%20b/secrets/g.v1"]);
        assert_eq!(fake.namespace_calls, 0);
    }

    #[test]
    fn flyte_secret_missing_secret_or_key_is_none() {
        let not_found = r#"{"kind":"Status","status":"Failure","message":"secrets \"g\" not found","reason":"NotFound","code":404}"#;
        let mut fake = Fake {
            answers: vec![
                Response { status: 404, body: not_found.as_bytes().to_vec() },
                ok(r#"{"metadata":{"name":"g"}}"#),
            ],
            ..Fake::default()
        };
        let c = config(r#"{"namespace":"ns"}"#);
        let mut b = Backend::new(&c, &mut fake);
        assert_eq!(b.get_secret("g", "k").unwrap(), None);
        assert_eq!(b.get_secret("g", "k").unwrap(), None);
        assert_eq!(fake.requests, vec!["/api/v1/namespaces/ns/secrets/g", "/api/v1/namespaces/ns/secrets/g"]);
    }

    #[test]
    fn flyte_secret_invalid_group_sends_nothing() {
        let mut fake = Fake { namespace: Some("ns".into()), ..Fake::default() };
        let c = BackendConfig::default();
        let mut b = Backend::new(&c, &mut fake);
        let prefix = "the secret group must be a valid Kubernetes Secret name (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters), got ";
        for (group, shown) in [
            ("../nodes", r#""../nodes""#.to_owned()),
            ("", r#""""#.to_owned()),
            ("Upper", r#""Upper""#.to_owned()),
            ("a/b", r#""a/b""#.to_owned()),
            ("a?watch=1", r#""a?watch=1""#.to_owned()),
            (&"a".repeat(254), "a name of 254 characters".to_owned()),
        ] {
            assert_eq!(
                b.get_secret(group, "k").unwrap_err(),
                LookupError::InvalidRequest(format!("{prefix}{shown}")),
                "{group:?}"
            );
        }
        assert!(fake.requests.is_empty());
        assert_eq!(fake.namespace_calls, 0, "no namespace resolution without a request");
    }

    #[test]
    fn flyte_secret_statuses_and_bad_values() {
        let c = config(r#"{"namespace":"ns"}"#);
        for (status, expected) in [
            (403, LookupError::AccessDenied("the Kubernetes API answered 403 (Forbidden): no".into())),
            (401, LookupError::AccessDenied("the Kubernetes API answered 401 (Forbidden): no".into())),
            (500, LookupError::Upstream("the Kubernetes API answered 500 (Forbidden): no".into())),
            (503, LookupError::Unavailable("the Kubernetes API answered 503 (Forbidden): no".into())),
        ] {
            let body = br#"{"reason":"Forbidden","message":"no"}"#.to_vec();
            let mut fake = Fake { answers: vec![Response { status, body }], ..Fake::default() };
            assert_eq!(Backend::new(&c, &mut fake).get_secret("g", "k").unwrap_err(), expected);
        }
        // "c2VjcmV0YQ": base64 of "secreta" without its padding.
        let mut fake = Fake { answers: vec![ok(r#"{"data":{"k":"c2VjcmV0YQ"}}"#)], ..Fake::default() };
        let e = Backend::new(&c, &mut fake).get_secret("g", "k").unwrap_err();
        assert_eq!(
            e,
            LookupError::MalformedPayload("data key 'k' of secret 'g': invalid base64: incorrect padding".into())
        );
        let mut fake = Fake { answers: vec![ok(r#"{"data":{"k":null}}"#)], ..Fake::default() };
        assert_eq!(
            Backend::new(&c, &mut fake).get_secret("g", "k").unwrap_err(),
            LookupError::MalformedPayload("data key 'k' of secret 'g' is null".into())
        );
    }
}
