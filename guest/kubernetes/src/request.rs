//! The list request, byte for byte as the Python client Airflow's provider pins (kubernetes 36.0.3) sends it.
//!
//! `list_namespaced_secret(namespace, label_selector=..., resource_version="0")` becomes
//! `GET /api/v1/namespaces/{ns}/secrets?labelSelector=...&resourceVersion=0`: the client's `rest.py` encodes
//! the query with urllib's `urlencode` (`quote_plus`: space is `+`, everything but `A-Za-z0-9_.-~` is
//! percent-encoded as UTF-8, `/` included) and quotes the namespace path parameter with no safe characters.
//! Python's quoting is `airflow_compat::pyurllib`'s, shared with the connection URI code. (Client 37 changed
//! the query encoding to `quote`, which keeps `/` and writes a space as `%20`; servers decode both alike.)

use airflow_compat::pyurllib::{quote, urlencode};

/// Path and query of the list call for `selector` in `namespace`.
///
/// ```
/// use wasm_secrets_provider_kubernetes::request::list_secrets_path;
/// assert_eq!(
///     list_secrets_path("airflow", "airflow.apache.org/connection-id=my_db,!airflow.apache.org/team"),
///     "/api/v1/namespaces/airflow/secrets?labelSelector=airflow.apache.org%2Fconnection-id%3Dmy_db%2C%21airflow.apache.org%2Fteam&resourceVersion=0"
/// );
/// ```
pub fn list_secrets_path(namespace: &str, selector: &str) -> String {
    format!(
        "/api/v1/namespaces/{}/secrets?{}",
        quote(namespace, ""),
        urlencode([("labelSelector", selector), ("resourceVersion", "0")])
    )
}

/// Path of the read call for the Secret `name` in `namespace`: `GET /api/v1/namespaces/{ns}/secrets/{name}`.
///
/// This is how Flyte's Kubernetes secrets are read (`get-secret`: a Secret named after the group). The
/// namespace is quoted like the list call's; the name must already be a valid object name
/// ([`is_object_name`]), which needs no quoting.
///
/// ```
/// use wasm_secrets_provider_kubernetes::request::read_secret_path;
/// assert_eq!(read_secret_path("flyte", "db-creds"), "/api/v1/namespaces/flyte/secrets/db-creds");
/// ```
pub fn read_secret_path(namespace: &str, name: &str) -> String {
    format!("/api/v1/namespaces/{}/secrets/{}", quote(namespace, ""), quote(name, ""))
}

/// The longest Kubernetes object name (a DNS-1123 subdomain).
pub const MAX_OBJECT_NAME_LEN: usize = 253;

/// Whether `name` is a valid Kubernetes Secret name: a DNS-1123 subdomain of at most 253 characters, i.e.
/// dot-separated labels of lowercase ASCII letters, digits and `-`, each starting and ending with a letter or
/// digit (`[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*`, the API server's
/// `IsDNS1123Subdomain`).
///
/// ```
/// use wasm_secrets_provider_kubernetes::request::is_object_name;
/// assert!(is_object_name("db-creds.v1"));
/// assert!(!is_object_name("DB_creds"));
/// assert!(!is_object_name("../nodes"));
/// ```
pub fn is_object_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_OBJECT_NAME_LEN && name.split('.').all(is_dns1123_label)
}

/// The longest namespace name (a DNS-1123 label).
pub const MAX_NAMESPACE_LEN: usize = 63;

/// Whether `name` is a valid Kubernetes namespace name: a DNS-1123 label of at most 63 characters
/// (`[a-z0-9]([-a-z0-9]*[a-z0-9])?`, the API server's `IsDNS1123Label`).
///
/// ```
/// use wasm_secrets_provider_kubernetes::request::is_namespace_name;
/// assert!(is_namespace_name("airflow-prod"));
/// assert!(!is_namespace_name("airflow.prod"));
/// assert!(!is_namespace_name("airflow%2Fpods"));
/// ```
pub fn is_namespace_name(name: &str) -> bool {
    name.len() <= MAX_NAMESPACE_LEN && is_dns1123_label(name)
}

/// One label of a DNS-1123 name: lowercase ASCII letters, digits and `-`, starting and ending with a letter or
/// digit (the length limit is the caller's).
fn is_dns1123_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => alnum(first) && alnum(last) && bytes.iter().all(|b| alnum(b) || *b == b'-'),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_urllib() {
        assert_eq!(
            list_secrets_path("ns1", "l=a b,k in (x),ü~"),
            "/api/v1/namespaces/ns1/secrets?labelSelector=l%3Da+b%2Ck+in+%28x%29%2C%C3%BC~&resourceVersion=0"
        );
    }

    #[test]
    fn object_names_follow_dns_1123_subdomain() {
        for (name, ok) in [
            ("a", true),
            ("0", true),
            ("my-secret", true),
            ("a.b-c.d", true),
            (&"a".repeat(253), true),
            (&"a".repeat(254), false),
            ("", false),
            ("-a", false),
            ("a-", false),
            ("a..b", false),
            (".a", false),
            ("a.", false),
            ("A", false),
            ("a_b", false),
            ("a/b", false),
            ("a b", false),
            ("é", false),
            ("..", false),
            ("a?b", false),
        ] {
            assert_eq!(is_object_name(name), ok, "{name:?}");
        }
    }

    #[test]
    fn namespace_names_follow_dns_1123_label() {
        for (name, ok) in [
            ("a", true),
            ("airflow-prod", true),
            ("0ns", true),
            (&"a".repeat(63), true),
            (&"a".repeat(64), false),
            ("", false),
            ("-a", false),
            ("a-", false),
            ("a.b", false),
            ("..", false),
            ("A", false),
            ("a%2Fb", false),
            ("a/b", false),
        ] {
            assert_eq!(is_namespace_name(name), ok, "{name:?}");
        }
    }

    #[test]
    fn namespace_is_quoted_without_safe_characters() {
        assert_eq!(
            list_secrets_path("a/b c", "x"),
            "/api/v1/namespaces/a%2Fb%20c/secrets?labelSelector=x&resourceVersion=0"
        );
    }
}
