//! The URI form: core `Connection._parse_from_uri` / Task SDK `Connection.from_uri`.

use super::{Connection, Dialect, normalize_conn_type, validate_extra_server};
use crate::error::{ConnectionError, UriProblem};
use crate::pyjson::{self, PyObject};
use crate::pyurllib::{self, SplitResult};

const EXTRA_KEY: &str = "__extra__";

/// Airflow's `_parse_netloc_to_hostname`.
fn parse_netloc_to_hostname(parts: &SplitResult) -> String {
    let hostname = pyurllib::unquote(parts.hostname().as_deref().unwrap_or(""));
    if !hostname.contains('/') {
        return hostname;
    }
    // A host that decodes to a path keeps its case: recompute it from the raw netloc.
    let mut raw = parts.netloc.as_str();
    if let Some((_, after)) = raw.rsplit_once('@') {
        raw = after;
    }
    if let Some((before, _)) = raw.split_once(':') {
        raw = before;
    }
    pyurllib::unquote(raw)
}

/// Python's `s[1:]`: everything after the first character.
fn drop_first_char(s: &str) -> &str {
    let mut chars = s.chars();
    chars.next();
    chars.as_str()
}

/// `dict(parse_qsl(query, keep_blank_values=True))`: the last value of a repeated key wins, at the position
/// of the first occurrence.
fn query_dict(query: &str) -> Vec<(String, String)> {
    let mut dict: Vec<(String, String)> = Vec::new();
    for (key, value) in pyurllib::parse_qsl(query, true) {
        match dict.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => dict.push((key, value)),
        }
    }
    dict
}

/// Parses the URI form. `uri` is used as given (the caller strips it).
pub(super) fn parse_uri(uri: &str, dialect: Dialect) -> Result<Connection, ConnectionError> {
    let schemes = uri.matches("://").count();
    if schemes > 2 {
        return Err(ConnectionError::InvalidUri(UriProblem::TooManySchemes));
    }
    let host_with_protocol = schemes == 2;
    let first = pyurllib::urlsplit(uri)?;
    let raw_type = first.scheme;
    let conn_type = normalize_conn_type(&raw_type);
    // Python's str.replace: every occurrence, case-sensitive.
    let rest = uri.replace(&format!("{raw_type}://"), if host_with_protocol { "" } else { "//" });
    if host_with_protocol {
        let before = rest.split("://").next().unwrap_or("");
        if before.contains('@') || before.contains(':') {
            return Err(ConnectionError::InvalidUri(UriProblem::CredentialsBeforeNestedProtocol));
        }
    }
    let parts = pyurllib::urlsplit(&rest)?;
    let hostname = parse_netloc_to_hostname(&parts);
    let host = match (host_with_protocol, hostname.is_empty()) {
        (true, false) if !parts.scheme.is_empty() => format!("{}://{hostname}", parts.scheme),
        _ => hostname,
    };
    let quoted_schema = drop_first_char(&parts.path);
    let schema = pyurllib::unquote(quoted_schema);
    let login = parts.username().map(pyurllib::unquote);
    let mut password = parts.password().map(pyurllib::unquote);
    let port = parts.port()?.map(i64::from);

    let mut extra = None;
    if !parts.query.is_empty() {
        let query = query_dict(&parts.query);
        if let Some((_, raw_extra)) = query.iter().find(|(k, _)| k == EXTRA_KEY) {
            extra = Some(raw_extra.clone());
        } else {
            let dict = query
                .into_iter()
                .map(|(key, value)| {
                    let decoded = match dialect {
                        // Core (PR #59339): every non-empty value that is valid JSON is decoded.
                        Dialect::Server if !value.is_empty() => pyjson::loads(&value).unwrap_or(PyObject::Str(value)),
                        _ => PyObject::Str(value),
                    };
                    (key, decoded)
                })
                .collect();
            extra = Some(pyjson::dumps(&PyObject::Dict(dict)));
        }
    }

    if dialect == Dialect::Server {
        // The core `password` setter ignores falsy values.
        if password.as_deref() == Some("") {
            password = None;
        }
        validate_extra_server(extra.as_deref())?;
    }

    Ok(Connection {
        conn_type: Some(conn_type),
        description: None,
        host: Some(host),
        schema: Some(schema),
        login,
        password,
        port,
        extra,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(uri: &str, dialect: Dialect) -> Connection {
        parse_uri(uri, dialect).unwrap()
    }

    #[test]
    fn nested_protocol_host() {
        let c = parse("spark://k8s://100.68.0.1:443?deploy-mode=cluster", Dialect::Worker);
        assert_eq!(c.host.as_deref(), Some("k8s://100.68.0.1"));
        assert_eq!(c.port, Some(443));
        assert!(parse_uri("http://u@k8s://h", Dialect::Worker).is_err());
        assert!(parse_uri("http://http://example.com:8080/path", Dialect::Worker).is_err());
    }

    #[test]
    fn scheme_replaced_everywhere() {
        let c = parse("x://h/db?next=x://y", Dialect::Server);
        assert_eq!(c.host.as_deref(), Some(""));
        assert_eq!(c.schema.as_deref(), Some("/db"));
        assert_eq!(c.extra.as_deref(), Some(r#"{"next": "y"}"#));
    }

    #[test]
    fn server_decodes_query_values() {
        let uri = "x://h?n=1&b=true&s=%22q%22&e=&x=abc&f=1e3";
        assert_eq!(
            parse(uri, Dialect::Server).extra.as_deref(),
            Some(r#"{"n": 1, "b": true, "s": "q", "e": "", "x": "abc", "f": 1000.0}"#)
        );
        assert_eq!(
            parse(uri, Dialect::Worker).extra.as_deref(),
            Some(r#"{"n": "1", "b": "true", "s": "\"q\"", "e": "", "x": "abc", "f": "1e3"}"#)
        );
    }

    #[test]
    fn empty_password_differs_by_dialect() {
        assert_eq!(parse("x://u:@h", Dialect::Server).password, None);
        assert_eq!(parse("x://u:@h", Dialect::Worker).password.as_deref(), Some(""));
    }

    #[test]
    fn first_char_of_path_dropped_for_multibyte() {
        assert_eq!(parse("é", Dialect::Worker).schema.as_deref(), Some(""));
        assert_eq!(parse("éa%41", Dialect::Worker).schema.as_deref(), Some("aA"));
    }

    #[test]
    fn errors_do_not_leak_the_password() {
        let e = parse_uri("x://u:secret_key123/x@h/db", Dialect::Server).unwrap_err();
        assert_eq!(e, ConnectionError::UriPortNotInteger);
        assert!(!format!("{e} {e:?}").contains("secret"));
    }
}
