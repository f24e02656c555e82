//! `Connection.get_uri()`.

use super::{Connection, Dialect};
use crate::pyjson::PyObject;
use crate::pystr;
use crate::pyurllib::{parse_qsl, quote, urlencode};

const EXTRA_KEY: &str = "__extra__";

/// Python's `urlencode(extra_dejson)`; `None` where Python raises `TypeError`.
fn urlencode_value(value: &PyObject) -> Option<String> {
    match value {
        PyObject::Dict(items) => Some(urlencode(items.iter().map(|(k, v)| (k.clone(), v.py_str())))),
        // An empty sequence encodes to "" (it is never indexed); any other non-mapping raises.
        PyObject::List(items) if items.is_empty() => Some(String::new()),
        PyObject::Str(s) if s.is_empty() => Some(String::new()),
        _ => None,
    }
}

/// `extra_dejson == dict(parse_qsl(query, keep_blank_values=True))`.
fn round_trips(value: &PyObject, query: &str) -> bool {
    let PyObject::Dict(items) = value else {
        return false;
    };
    let mut parsed: Vec<(String, String)> = Vec::new();
    for (key, val) in parse_qsl(query, true) {
        match parsed.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = val,
            None => parsed.push((key, val)),
        }
    }
    parsed.len() == items.len()
        && items.iter().all(|(k, v)| parsed.iter().any(|(pk, pv)| pk == k && matches!(v, PyObject::Str(s) if s == pv)))
}

pub(super) fn get_uri(c: &Connection, _dialect: Dialect) -> String {
    let truthy = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
    let mut uri = match c.conn_type.as_deref() {
        Some(t) if !t.is_empty() => format!("{}://", pystr::lower(t).replace('_', "-")),
        _ => "//".to_owned(),
    };

    let (protocol_to_add, host_to_use) = match c.host.as_deref() {
        Some(host) if host.contains("://") => {
            let (protocol, rest) = host.split_once("://").unwrap_or((host, ""));
            if Some(protocol) == c.conn_type.as_deref() { (None, Some(host)) } else { (Some(protocol), Some(rest)) }
        }
        other => (None, other),
    };
    if let Some(protocol) = protocol_to_add.filter(|p| !p.is_empty()) {
        uri.push_str(protocol);
        uri.push_str("://");
    }

    let mut authority = String::new();
    if let Some(login) = &c.login {
        authority.push_str(&quote(login, ""));
    }
    if let Some(password) = &c.password {
        authority.push(':');
        authority.push_str(&quote(password, ""));
    }
    if !authority.is_empty() {
        authority.push('@');
        uri.push_str(&authority);
    }

    let mut host_block = String::new();
    if let Some(host) = host_to_use.filter(|h| !h.is_empty()) {
        host_block.push_str(&quote(host, ""));
    }
    if let Some(port) = c.port.filter(|p| *p != 0) {
        if host_block.is_empty() && authority.is_empty() {
            host_block.push_str(&format!("@:{port}"));
        } else {
            host_block.push_str(&format!(":{port}"));
        }
    }
    if let Some(schema) = c.schema.as_deref().filter(|s| !s.is_empty()) {
        host_block.push('/');
        host_block.push_str(&quote(schema, ""));
    }
    uri.push_str(&host_block);

    if let Some(extra) = c.extra.as_deref().filter(|e| !e.is_empty()) {
        let separator = if truthy(&c.schema) { "?" } else { "/?" };
        let dejson = c.extra_dejson_py();
        uri.push_str(separator);
        match urlencode_value(&dejson) {
            Some(query) if !query.is_empty() && round_trips(&dejson, &query) => {
                uri.push_str(&query);
            }
            _ => uri.push_str(&urlencode([(EXTRA_KEY, extra)])),
        }
    }
    uri
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(f: impl FnOnce(&mut Connection)) -> Connection {
        let mut c = Connection::default();
        f(&mut c);
        c
    }

    #[test]
    fn protocol_equal_to_conn_type_is_kept_in_host() {
        let c = conn(|c| {
            c.conn_type = Some("http".into());
            c.host = Some("http://x".into());
        });
        assert_eq!(get_uri(&c, Dialect::Server), "http://http%3A%2F%2Fx");
        let c = conn(|c| {
            c.conn_type = Some("http".into());
            c.host = Some("https://x".into());
        });
        assert_eq!(get_uri(&c, Dialect::Worker), "http://https://x");
    }

    #[test]
    fn port_rules() {
        let c = conn(|c| c.port = Some(80));
        assert_eq!(get_uri(&c, Dialect::Server), "//@:80");
        let c = conn(|c| {
            c.port = Some(0);
            c.host = Some("h".into());
        });
        assert_eq!(get_uri(&c, Dialect::Server), "//h");
        let c = conn(|c| {
            c.port = Some(-5);
            c.login = Some(String::new());
        });
        assert_eq!(get_uri(&c, Dialect::Server), "//@:-5");
    }

    #[test]
    fn extra_rules() {
        let with_extra = |e: &str| conn(|c| c.extra = Some(e.into()));
        assert_eq!(get_uri(&with_extra(r#"{"a": "1"}"#), Dialect::Server), "///?a=1");
        assert_eq!(get_uri(&with_extra(r#"{"a": 1}"#), Dialect::Server), "///?__extra__=%7B%22a%22%3A+1%7D");
        assert_eq!(get_uri(&with_extra("{}"), Dialect::Server), "///?__extra__=%7B%7D");
        assert_eq!(get_uri(&with_extra("[1]"), Dialect::Worker), "///?__extra__=%5B1%5D");
        assert_eq!(get_uri(&with_extra("hi"), Dialect::Worker), "///?__extra__=hi");
    }
}
