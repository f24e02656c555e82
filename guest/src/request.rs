//! The list request, byte for byte as Airflow's Python client sends it.
//!
//! `list_namespaced_secret(namespace, label_selector=..., resource_version="0")` becomes
//! `GET /api/v1/namespaces/{ns}/secrets?labelSelector=...&resourceVersion=0`, with the query encoded by
//! urllib's `urlencode` (`quote_plus`: space is `+`, everything but `A-Za-z0-9_.-~` is percent-encoded as
//! UTF-8) and the namespace path parameter quoted with no safe characters.

/// Path and query of the list call for `selector` in `namespace`.
///
/// ```
/// use wasm_secrets_kubernetes::request::list_secrets_path;
/// assert_eq!(
///     list_secrets_path("airflow", "airflow.apache.org/connection-id=my_db,!airflow.apache.org/team"),
///     "/api/v1/namespaces/airflow/secrets?labelSelector=airflow.apache.org%2Fconnection-id%3Dmy_db%2C%21airflow.apache.org%2Fteam&resourceVersion=0"
/// );
/// ```
pub fn list_secrets_path(namespace: &str, selector: &str) -> String {
    format!(
        "/api/v1/namespaces/{}/secrets?labelSelector={}&resourceVersion=0",
        quote(namespace, false),
        quote(selector, true)
    )
}

/// Path of the read call for the Secret `name` in `namespace`: `GET /api/v1/namespaces/{ns}/secrets/{name}`.
///
/// This is how Flyte's Kubernetes secrets are read (a Secret named after the group, see
/// [`crate::lookup::Backend::get_flyte_secret`]). The namespace is quoted like the list call's; the name must
/// already be a valid object name ([`is_object_name`]), which needs no quoting.
///
/// ```
/// use wasm_secrets_kubernetes::request::read_secret_path;
/// assert_eq!(read_secret_path("flyte", "db-creds"), "/api/v1/namespaces/flyte/secrets/db-creds");
/// ```
pub fn read_secret_path(namespace: &str, name: &str) -> String {
    format!("/api/v1/namespaces/{}/secrets/{}", quote(namespace, false), quote(name, false))
}

/// The longest Kubernetes object name (a DNS-1123 subdomain).
pub const MAX_OBJECT_NAME_LEN: usize = 253;

/// Whether `name` is a valid Kubernetes Secret name: a DNS-1123 subdomain of at most 253 characters, i.e.
/// dot-separated labels of lowercase ASCII letters, digits and `-`, each starting and ending with a letter or
/// digit (`[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*`, the API server's
/// `IsDNS1123Subdomain`).
///
/// ```
/// use wasm_secrets_kubernetes::request::is_object_name;
/// assert!(is_object_name("db-creds.v1"));
/// assert!(!is_object_name("DB_creds"));
/// assert!(!is_object_name("../nodes"));
/// ```
pub fn is_object_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_OBJECT_NAME_LEN
        && name.split('.').all(|label| {
            let bytes = label.as_bytes();
            let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
            match (bytes.first(), bytes.last()) {
                (Some(first), Some(last)) => {
                    alnum(first) && alnum(last) && bytes.iter().all(|b| alnum(b) || *b == b'-')
                }
                _ => false,
            }
        })
}

/// Python's `quote(s, safe="")` (`plus = false`) or `quote_plus(s, safe="")` (`plus = true`).
fn quote(s: &str, plus: bool) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => out.push(char::from(b)),
            b' ' if plus => out.push('+'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0x0f)]));
            }
        }
    }
    out
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
    fn namespace_is_quoted_without_safe_characters() {
        assert_eq!(
            list_secrets_path("a/b c", "x"),
            "/api/v1/namespaces/a%2Fb%20c/secrets?labelSelector=x&resourceVersion=0"
        );
    }
}
