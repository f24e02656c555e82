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
struct Secret {
    #[serde(default)]
    metadata: Option<Metadata>,
    #[serde(default)]
    data: Option<BTreeMap<String, Option<String>>>,
}

#[derive(Deserialize)]
struct Metadata {
    #[serde(default)]
    name: Option<String>,
}

/// What the list answer yields for one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The base64 text under the data key of the first matching secret, if any.
    pub encoded: Option<String>,
    /// The name of the secret the value came from (`None` when nothing matched).
    pub secret_name: Option<String>,
    /// Airflow's warnings for this answer, in the order Airflow logs them.
    pub warnings: Vec<String>,
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
    let mut warnings = Vec::new();
    let Some(first) = items.first() else {
        if warn_if_missing {
            warnings.push(format!("No secret found with label {selector} in namespace {namespace}."));
        }
        return Ok(Selection { encoded: None, secret_name: None, warnings });
    };
    if items.len() > 1 {
        warnings.push(format!(
            "Multiple secrets found with label {selector} in namespace {namespace}. Using the first one."
        ));
    }
    let name = first.metadata.as_ref().and_then(|m| m.name.clone());
    let display_name = name.clone().unwrap_or_else(|| "None".to_owned());
    match first.data.as_ref().and_then(|d| d.get(data_key)) {
        None => {
            warnings.push(format!("Secret '{display_name}' does not have data key '{data_key}'."));
            Ok(Selection { encoded: None, secret_name: name, warnings })
        }
        Some(None) => {
            Err(LookupError::MalformedPayload(format!("data key '{data_key}' of secret '{display_name}' is null")))
        }
        Some(Some(encoded)) => Ok(Selection { encoded: Some(encoded.clone()), secret_name: name, warnings }),
    }
}

/// The base64 text under `data_key` in a single Secret body (the answer of a read call for `secret_name`):
/// `None` when the Secret has no `data` or no such key. A `null` value is a malformed payload, as in
/// [`select`].
pub fn secret_data(body: &[u8], data_key: &str, secret_name: &str) -> Result<Option<String>, LookupError> {
    let secret: Secret = parse_answer(body, "a Secret")?;
    match secret.data.as_ref().and_then(|d| d.get(data_key)) {
        None => Ok(None),
        Some(None) => {
            Err(LookupError::MalformedPayload(format!("data key '{data_key}' of secret '{secret_name}' is null")))
        }
        Some(Some(encoded)) => Ok(Some(encoded.clone())),
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
