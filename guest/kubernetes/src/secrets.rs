//! The Secret list answer: which item wins, what is logged, and the base64 value it holds.
//!
//! Airflow uses `items[0]` in API server order and never looks at the other items, even when the first one
//! lacks the data key; it warns when several secrets match or the key is missing. `stringData` is write-only
//! on a real API server and is never read.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::LookupError;

#[derive(Deserialize)]
struct SecretList {
    items: Option<Vec<Secret>>,
}

#[derive(Deserialize)]
pub(crate) struct Secret {
    #[serde(default)]
    pub(crate) metadata: Option<Metadata>,
    #[serde(default)]
    pub(crate) data: Option<BTreeMap<String, Option<String>>>,
}

#[derive(Deserialize)]
pub(crate) struct Metadata {
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default, rename = "resourceVersion")]
    pub(crate) resource_version: Option<String>,
    #[serde(default)]
    pub(crate) labels: Option<BTreeMap<String, String>>,
    /// A list's continuation token (list metadata only).
    #[serde(default, rename = "continue")]
    pub(crate) continue_token: Option<String>,
}

impl Secret {
    pub(crate) fn name(&self) -> Option<&str> {
        self.metadata.as_ref().and_then(|m| m.name.as_deref())
    }

    /// What the Secret holds under `data_key`.
    pub(crate) fn stored(&self, data_key: &str) -> Stored {
        match self.data.as_ref().and_then(|d| d.get(data_key)) {
            None => Stored::Missing,
            Some(None) => Stored::Null,
            Some(Some(encoded)) => Stored::Encoded(encoded.clone()),
        }
    }
}

/// What a Secret holds under the data key: Airflow treats the three cases differently.
#[derive(Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub enum Stored {
    /// No such key (or no `data`): a warning, and nothing found.
    Missing,
    /// The key holds `null`: a malformed payload.
    Null,
    /// The base64 text.
    Encoded(String),
}

/// The case, and the value's length only: it is a secret.
impl std::fmt::Debug for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing => f.write_str("Missing"),
            Self::Null => f.write_str("Null"),
            Self::Encoded(text) => write!(f, "Encoded(<{} bytes>)", text.len()),
        }
    }
}

/// One Secret matching a query, as the first-match rule needs it: its name and what it stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// `metadata.name`, if any.
    pub name: Option<String>,
    /// What it holds under the data key.
    pub stored: Stored,
}

/// What the list answer yields for one query.
#[derive(Clone, PartialEq, Eq)]
pub struct Selection {
    /// The base64 text under the data key of the first matching secret, if any.
    pub encoded: Option<String>,
    /// The name of the secret the value came from (`None` when nothing matched).
    pub secret_name: Option<String>,
    /// Airflow's warnings for this answer, in the order Airflow logs them.
    pub warnings: Vec<String>,
}

/// The value's length only: it is a secret.
impl std::fmt::Debug for Selection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Selection")
            .field("encoded", &self.encoded.as_ref().map(|e| format!("<{} bytes>", e.len())))
            .field("secret_name", &self.secret_name)
            .field("warnings", &self.warnings)
            .finish()
    }
}

/// Picks the value for `data_key` out of a Secret list body, as Airflow's `_get_secret_by_selector` does.
pub fn select(
    body: &[u8],
    data_key: &str,
    selector: &str,
    namespace: &str,
    warn_if_missing: bool,
) -> Result<Selection, LookupError> {
    let list: SecretList = parse_answer(body, "a Secret list")?;
    let items = list.items.unwrap_or_default();
    let mut first = items.iter().map(|s| Candidate { name: s.name().map(str::to_owned), stored: s.stored(data_key) });
    let count = items.len();
    select_first(first.next(), count, data_key, selector, namespace, warn_if_missing)
}

/// Airflow's first-match rule, for a list answer or the live view alike: of the `count` Secrets matching
/// `selector`, the first (`first`, in the API server's order) wins even when it lacks the key; several
/// matches and a missing one are warnings.
pub fn select_first(
    first: Option<Candidate>,
    count: usize,
    data_key: &str,
    selector: &str,
    namespace: &str,
    warn_if_missing: bool,
) -> Result<Selection, LookupError> {
    let mut warnings = Vec::new();
    let Some(first) = first else {
        if warn_if_missing {
            warnings.push(format!("No secret found with label {selector} in namespace {namespace}."));
        }
        return Ok(Selection { encoded: None, secret_name: None, warnings });
    };
    if count > 1 {
        warnings.push(format!(
            "Multiple secrets found with label {selector} in namespace {namespace}. Using the first one."
        ));
    }
    let display_name = first.name.clone().unwrap_or_else(|| "None".to_owned());
    match first.stored {
        Stored::Missing => {
            warnings.push(format!("Secret '{display_name}' does not have data key '{data_key}'."));
            Ok(Selection { encoded: None, secret_name: first.name, warnings })
        }
        Stored::Null => {
            Err(LookupError::MalformedPayload(format!("data key '{data_key}' of secret '{display_name}' is null")))
        }
        Stored::Encoded(encoded) => Ok(Selection { encoded: Some(encoded), secret_name: first.name, warnings }),
    }
}

/// A list answer as the live view reads it: the items, the continuation token and the list's version.
pub(crate) struct ListPage {
    pub(crate) items: Vec<Secret>,
    pub(crate) continue_token: Option<String>,
    pub(crate) resource_version: Option<String>,
}

/// Parses one page of a Secret list answer (read like [`select`] reads it).
pub(crate) fn list_page(body: &[u8]) -> Result<ListPage, LookupError> {
    #[derive(Deserialize)]
    struct Page {
        #[serde(default)]
        metadata: Option<Metadata>,
        items: Option<Vec<Secret>>,
    }
    let page: Page = parse_answer(body, "a Secret list")?;
    let (continue_token, resource_version) =
        page.metadata.map(|m| (m.continue_token, m.resource_version)).unwrap_or_default();
    Ok(ListPage {
        items: page.items.unwrap_or_default(),
        continue_token: continue_token.filter(|t| !t.is_empty()),
        resource_version,
    })
}

/// One watch line: its type and its object (a Secret, or a `Status` for `ERROR`).
#[derive(Deserialize)]
pub(crate) struct WatchLine {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) object: WatchObject,
}

/// The object of a watch line: a Secret's fields, or a `Status`'s.
#[derive(Deserialize)]
pub(crate) struct WatchObject {
    #[serde(default)]
    pub(crate) metadata: Option<Metadata>,
    #[serde(default)]
    pub(crate) data: Option<BTreeMap<String, Option<String>>>,
    #[serde(default)]
    pub(crate) code: Option<u16>,
    #[serde(default)]
    pub(crate) reason: Option<String>,
    #[serde(default)]
    pub(crate) message: Option<String>,
}

/// Parses one watch line.
pub(crate) fn watch_line(line: &[u8]) -> Result<WatchLine, LookupError> {
    parse_answer(line, "a watch event")
}

/// The base64 text under `data_key` in a single Secret body (the answer of a read call for `secret_name`):
/// `None` when the Secret has no `data` or no such key. A `null` value is a malformed payload, as in
/// [`select`].
pub fn secret_data(body: &[u8], data_key: &str, secret_name: &str) -> Result<Option<String>, LookupError> {
    let secret: Secret = parse_answer(body, "a Secret")?;
    match secret.stored(data_key) {
        Stored::Missing => Ok(None),
        Stored::Null => {
            Err(LookupError::MalformedPayload(format!("data key '{data_key}' of secret '{secret_name}' is null")))
        }
        Stored::Encoded(encoded) => Ok(Some(encoded)),
    }
}

/// An API answer (`what`: "a Secret list", "a Secret") read as the Python client reads it: decoded as UTF-8
/// first (`r.data.decode('utf8')`, which refuses the whole answer when any byte sequence is invalid, even one
/// in a field nobody reads), then parsed as JSON. Errors name the position, never the text.
fn parse_answer<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, LookupError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        LookupError::Upstream(format!(
            "the Kubernetes API answered with {what} that is not valid UTF-8 (at byte {})",
            e.valid_up_to()
        ))
    })?;
    serde_json::from_str(text).map_err(|e| {
        LookupError::Upstream(format!(
            "the Kubernetes API answered with {what} that is not valid (line {}, column {}: {})",
            e.line(),
            e.column(),
            classify(&e)
        ))
    })
}

/// A serde error category without the offending text (the body may hold secret data).
fn classify(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "I/O error",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected field type",
        serde_json::error::Category::Eof => "truncated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Python client decodes the whole answer as UTF-8 before parsing it, so an invalid byte anywhere fails
    /// the lookup, even in a field nobody reads (serde would skip it). Found by the long fuzz run of
    /// secret_list, whose independent JSON reading refused such an answer that the provider had read.
    #[test]
    fn an_answer_that_is_not_utf8_is_refused_like_the_python_client() {
        let body = b"{\"x\": {\"k\\xff\": 1}, \"items\": [{\"metadata\": {\"name\": \"s\"}, \"data\": {}}]}";
        let body = [&body[..8], &[0xd9, 0xff], &body[8..]].concat();
        let error = select(&body, "value", "k=v", "airflow", true).unwrap_err();
        assert_eq!(
            error,
            LookupError::Upstream(
                "the Kubernetes API answered with a Secret list that is not valid UTF-8 (at byte 8)".into()
            )
        );
        let error = secret_data(&body, "value", "s").unwrap_err();
        assert_eq!(
            error,
            LookupError::Upstream(
                "the Kubernetes API answered with a Secret that is not valid UTF-8 (at byte 8)".into()
            )
        );
    }

    fn sel(body: &str) -> Result<Selection, LookupError> {
        select(body.as_bytes(), "value", "l=x", "ns", true)
    }

    #[test]
    fn empty_list_warns_only_when_asked() {
        let s = sel(r#"{"kind":"SecretList","items":[]}"#).unwrap();
        assert_eq!(s.encoded, None);
        assert_eq!(s.warnings, vec!["No secret found with label l=x in namespace ns.".to_owned()]);
        let s = select(br#"{"items":[]}"#, "value", "l=x", "ns", false).unwrap();
        assert!(s.warnings.is_empty());
        let s = sel(r#"{"items":null}"#).unwrap();
        assert_eq!(s.encoded, None);
    }

    #[test]
    fn first_item_wins_even_without_the_key() {
        let s = sel(r#"{"items":[{"metadata":{"name":"a"},"data":{"other":"eA=="}},{"metadata":{"name":"b"},"data":{"value":"eQ=="}}]}"#)
            .unwrap();
        assert_eq!(s.encoded, None);
        assert_eq!(
            s.warnings,
            vec![
                "Multiple secrets found with label l=x in namespace ns. Using the first one.".to_owned(),
                "Secret 'a' does not have data key 'value'.".to_owned()
            ]
        );
        let s =
            sel(r#"{"items":[{"metadata":{"name":"a"},"data":{"value":"eA=="}},{"metadata":{"name":"b"}}]}"#).unwrap();
        assert_eq!(s.encoded.as_deref(), Some("eA=="));
        assert_eq!(s.secret_name.as_deref(), Some("a"));
    }

    #[test]
    fn missing_data_is_missing_key() {
        let s = sel(r#"{"items":[{"metadata":{"name":"a"}}]}"#).unwrap();
        assert_eq!(s.warnings, vec!["Secret 'a' does not have data key 'value'.".to_owned()]);
    }

    #[test]
    fn single_secret_data() {
        let body = br#"{"kind":"Secret","metadata":{"name":"g"},"data":{"k":"dg==","n":null}}"#;
        assert_eq!(secret_data(body, "k", "g").unwrap().as_deref(), Some("dg=="));
        assert_eq!(secret_data(body, "other", "g").unwrap(), None);
        assert_eq!(secret_data(br#"{"kind":"Secret"}"#, "k", "g").unwrap(), None);
        assert_eq!(
            secret_data(body, "n", "g").unwrap_err(),
            LookupError::MalformedPayload("data key 'n' of secret 'g' is null".into())
        );
        let e = secret_data(br#"{"data":{"k":"c2VjcmV0"}, oops"#, "k", "g").unwrap_err().to_string();
        assert!(e.starts_with("upstream error: the Kubernetes API answered with a Secret that is not valid"), "{e}");
        assert!(!e.contains("c2VjcmV0"), "{e}");
    }

    #[test]
    fn null_value_and_bad_json_are_errors_without_content() {
        assert_eq!(
            sel(r#"{"items":[{"metadata":{"name":"a"},"data":{"value":null}}]}"#).unwrap_err(),
            LookupError::MalformedPayload("data key 'value' of secret 'a' is null".into())
        );
        let e = sel(r#"{"items":[{"data":{"value":"c2VjcmV0"}}], oops"#).unwrap_err().to_string();
        assert!(
            e.starts_with("upstream error: the Kubernetes API answered with a Secret list that is not valid"),
            "{e}"
        );
        assert!(!e.contains("c2VjcmV0"), "{e}");
    }
}
