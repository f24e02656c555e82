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
    fn namespace_is_quoted_without_safe_characters() {
        assert_eq!(
            list_secrets_path("a/b c", "x"),
            "/api/v1/namespaces/a%2Fb%20c/secrets?labelSelector=x&resourceVersion=0"
        );
    }
}
