//! Table-driven test against `tests/fixtures/airflow-vectors.json`, produced by the real Airflow classes.
//!
//! Every `connections[]` case runs in both dialects; every failure is collected and reported at the end with
//! its case id and dialect.

use std::collections::BTreeSet;

use airflow_compat::pyjson::{self, PyObject};
use airflow_compat::{
    Connection, ConnectionError, Dialect, decode_secret_value, parse_connection, parse_connection_uri,
};

/// Case ids (optionally `id/dialect`) that are known not to match Airflow; skipped with a note.
const KNOWN_GAPS: &[&str] = &[];

const FIXTURE: &str = include_str!("fixtures/airflow-vectors.json");

/// Fields compared by the round-trip check, in Airflow's naming.
const ROUNDTRIP_FIELDS: &[&str] = &["conn_type", "host", "login", "password", "schema", "port", "extra_dejson"];

fn load() -> Result<PyObject, airflow_compat::JsonSyntaxError> {
    pyjson::loads(FIXTURE)
}

fn get<'a>(obj: &'a PyObject, key: &str) -> Option<&'a PyObject> {
    match obj {
        PyObject::Dict(items) => items.iter().find(|(k, _)| k == key).map(|(_, v)| v),
        _ => None,
    }
}

fn get_str<'a>(obj: &'a PyObject, key: &str) -> Option<&'a str> {
    match get(obj, key) {
        Some(PyObject::Str(s)) => Some(s),
        _ => None,
    }
}

fn list<'a>(obj: &'a PyObject, key: &str) -> &'a [PyObject] {
    match get(obj, key) {
        Some(PyObject::List(items)) => items,
        _ => &[],
    }
}

/// Structural equality where `nan == nan` (Python compares the vectors' NaN by identity).
fn py_eq(a: &PyObject, b: &PyObject) -> bool {
    match (a, b) {
        (PyObject::Float(x), PyObject::Float(y)) => (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits() || x == y,
        (PyObject::List(x), PyObject::List(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| py_eq(a, b)),
        (PyObject::Dict(x), PyObject::Dict(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|((ka, va), (kb, vb))| ka == kb && py_eq(va, vb))
        }
        _ => a == b,
    }
}

fn opt_str(v: Option<&str>) -> PyObject {
    v.map_or(PyObject::None, |s| PyObject::Str(s.to_owned()))
}

/// The value of one Airflow field of our connection, as a Python object.
fn field(c: &Connection, name: &str) -> PyObject {
    match name {
        "conn_type" => opt_str(c.conn_type.as_deref()),
        "description" => opt_str(c.description.as_deref()),
        "host" => opt_str(c.host.as_deref()),
        "login" => opt_str(c.login.as_deref()),
        "password" => opt_str(c.password.as_deref()),
        "schema" => opt_str(c.schema.as_deref()),
        "port" => c.port.map_or(PyObject::None, |p| PyObject::Int(p.to_string())),
        "extra" => opt_str(c.extra.as_deref()),
        "extra_dejson" => c.extra_dejson_py(),
        // An unknown field name never equals a real value, so it shows up as a mismatch.
        other => PyObject::Str(format!("<unknown field {other}>")),
    }
}

/// Compares every field listed in `expected` with ours; returns the differences.
fn compare(expected: &PyObject, actual: &Connection) -> Vec<String> {
    let PyObject::Dict(items) = expected else {
        return vec!["expected connection is not an object".to_owned()];
    };
    items
        .iter()
        .filter(|(name, _)| name != "conn_id")
        .filter_map(|(name, want)| {
            let got = field(actual, name);
            (!py_eq(want, &got)).then(|| format!("{name}: want {} got {}", want.repr(), got.repr()))
        })
        .collect()
}

/// Airflow keeps untyped JSON values (e.g. `"host": 123`); this crate rejects them with `FieldType`.
fn has_untyped_string_field(expected: &PyObject) -> bool {
    ["conn_type", "description", "host", "login", "password", "schema", "extra"]
        .iter()
        .any(|name| !matches!(get(expected, name), None | Some(PyObject::None | PyObject::Str(_))))
}

fn is_known_gap(id: &str, dialect: Dialect) -> bool {
    KNOWN_GAPS.contains(&id) || KNOWN_GAPS.contains(&format!("{id}/{dialect}").as_str())
}

/// Text that must never appear in our errors or `Debug` output for a case.
fn secrets_of(case: &PyObject) -> Vec<String> {
    let mut secrets = Vec::new();
    for dialect in ["server", "worker"] {
        let Some(result) = get(case, dialect) else {
            continue;
        };
        if let Some(conn) = get(result, "connection")
            && let Some(password) = get_str(conn, "password")
        {
            secrets.push(password.to_owned());
        }
        // What Airflow itself leaked in its message: "... integer value as '<part of the password>'".
        if let Some(message) = get_str(result, "error_message")
            && let Some((_, tail)) = message.split_once(" value as '")
        {
            secrets.push(tail.trim_end_matches('\'').to_owned());
        }
    }
    secrets.retain(|s| s.chars().count() >= 4);
    secrets
}

#[derive(Default)]
struct Tally {
    passed: usize,
    deviations: usize,
    skipped: usize,
}

#[test]
fn connection_vectors() {
    let fixture = load().expect("the fixture is valid Python JSON");
    let cases = list(&fixture, "connections");
    assert!(!cases.is_empty(), "no connection cases in the fixture");
    let mut failures: Vec<String> = Vec::new();
    let mut tallies = [Tally::default(), Tally::default()];

    for case in cases {
        let id = get_str(case, "id").unwrap_or("<no id>");
        let Some(value) = get_str(case, "value") else {
            failures.push(format!("[{id}] no string `value`"));
            continue;
        };
        for (slot, dialect) in [Dialect::Server, Dialect::Worker].into_iter().enumerate() {
            let tally = &mut tallies[slot];
            if is_known_gap(id, dialect) {
                println!("KNOWN GAP skipped: {id}/{dialect}");
                tally.skipped += 1;
                continue;
            }
            let Some(expected) = get(case, dialect.as_str()) else {
                failures.push(format!("[{id}/{dialect}] no `{dialect}` entry"));
                continue;
            };
            let before = failures.len();
            let fail = |failures: &mut Vec<String>, msg: String| {
                failures.push(format!("[{id}/{dialect}] {msg}"));
            };
            let parsed = parse_connection(value, dialect);
            let ok = matches!(get(expected, "ok"), Some(PyObject::Bool(true)));
            if !ok {
                if let Ok(c) = &parsed {
                    fail(
                        &mut failures,
                        format!(
                            "Airflow raised {} but we parsed {c:?}",
                            get_str(expected, "error_type").unwrap_or("?")
                        ),
                    );
                }
            } else {
                let want = get(expected, "connection").cloned().unwrap_or(PyObject::None);
                if has_untyped_string_field(&want) {
                    match &parsed {
                        Err(ConnectionError::FieldType { .. }) => {
                            println!(
                                "DEVIATION (by design): {id}/{dialect}: Airflow keeps a non-string field untyped, we reject it"
                            );
                            tally.deviations += 1;
                        }
                        other => {
                            fail(&mut failures, format!("expected FieldType error for an untyped field, got {other:?}"))
                        }
                    }
                    continue;
                }
                match &parsed {
                    Err(e) => fail(&mut failures, format!("Airflow parsed it but we failed: {e}")),
                    Ok(c) => {
                        for diff in compare(&want, c) {
                            fail(&mut failures, diff);
                        }
                        let uri = c.get_uri(dialect);
                        if let Some(want_uri) = get_str(expected, "get_uri")
                            && uri != want_uri
                        {
                            fail(&mut failures, format!("get_uri: want {want_uri:?} got {uri:?}"));
                        }
                        if let Some(rt) = get(expected, "roundtrip") {
                            check_roundtrip(c, &uri, dialect, rt, &mut |m| fail(&mut failures, m));
                        }
                    }
                }
            }
            if failures.len() == before {
                tally.passed += 1;
            }
        }
    }

    for (dialect, tally) in ["server", "worker"].iter().zip(&tallies) {
        println!(
            "{dialect}: {} of {} cases pass ({} by documented deviation), {} skipped as known gaps",
            tally.passed + tally.deviations,
            cases.len(),
            tally.deviations,
            tally.skipped
        );
    }
    assert!(failures.is_empty(), "{} vector mismatches:\n{}", failures.len(), failures.join("\n"));
}

fn check_roundtrip(original: &Connection, uri: &str, dialect: Dialect, rt: &PyObject, fail: &mut dyn FnMut(String)) {
    let reparsed = match parse_connection_uri(uri, dialect) {
        Ok(c) => c,
        Err(e) => {
            fail(format!("roundtrip: re-parsing our get_uri failed: {e}"));
            return;
        }
    };
    if let Some(want) = get(rt, "connection") {
        for diff in compare(want, &reparsed) {
            fail(format!("roundtrip connection {diff}"));
        }
    }
    let ours: BTreeSet<String> = ROUNDTRIP_FIELDS
        .iter()
        .filter(|name| !py_eq(&field(original, name), &field(&reparsed, name)))
        .map(|name| (*name).to_owned())
        .collect();
    let theirs: BTreeSet<String> = list(rt, "diff_fields")
        .iter()
        .filter_map(|v| match v {
            PyObject::Str(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    if ours != theirs {
        fail(format!("roundtrip diff_fields: want {theirs:?} got {ours:?}"));
    }
    if let Some(PyObject::Bool(equal)) = get(rt, "equal")
        && *equal != ours.is_empty()
    {
        fail(format!("roundtrip equal: want {equal}"));
    }
}

#[test]
fn base64_vectors() {
    let fixture = load().expect("the fixture is valid Python JSON");
    let cases = list(&fixture, "base64");
    assert!(!cases.is_empty(), "no base64 cases in the fixture");
    let mut failures = Vec::new();
    for case in cases {
        let id = get_str(case, "id").unwrap_or("<no id>");
        if KNOWN_GAPS.contains(&id) {
            println!("KNOWN GAP skipped: {id}");
            continue;
        }
        let Some(result) = get(case, "result") else {
            failures.push(format!("[{id}] no result"));
            continue;
        };
        let ok = matches!(get(result, "ok"), Some(PyObject::Bool(true)));
        let got = match get(case, "raw_data_value") {
            Some(PyObject::Str(raw)) => decode_secret_value(raw).map_err(|e| e.to_string()),
            // `data[key] = null` (TypeError in Python): nothing to decode, an error for us too.
            _ => Err("no string raw_data_value".to_owned()),
        };
        match (ok, got) {
            (true, Ok(value)) => {
                let want = get_str(result, "return");
                if want != Some(value.as_str()) {
                    failures.push(format!("[{id}] want {want:?} got {value:?}"));
                }
            }
            (true, Err(e)) => failures.push(format!("[{id}] Python decoded it, we failed: {e}")),
            (false, Ok(value)) => {
                failures.push(format!("[{id}] Python failed, we decoded {} bytes", value.len()));
            }
            (false, Err(_)) => {}
        }
    }
    println!("base64: {} cases checked", cases.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn errors_and_debug_never_contain_the_password() {
    let fixture = load().expect("the fixture is valid Python JSON");
    let mut failures = Vec::new();
    for case in list(&fixture, "connections") {
        let id = get_str(case, "id").unwrap_or("<no id>");
        let Some(value) = get_str(case, "value") else {
            continue;
        };
        let secrets = secrets_of(case);
        for dialect in [Dialect::Server, Dialect::Worker] {
            let shown = match parse_connection(value, dialect) {
                Err(e) => format!("{e} {e:?}"),
                Ok(c) => {
                    // Debug must not depend on the password or the extra at all.
                    let mut masked = c.clone();
                    masked.password = c.password.as_ref().map(|_| "MASKED".to_owned());
                    masked.extra = c.extra.as_ref().map(|_| "MASKED".to_owned());
                    if format!("{c:?}") != format!("{masked:?}") {
                        failures.push(format!("[{id}/{dialect}] Debug depends on the password or extra"));
                    }
                    // A URI re-parse error must not leak either.
                    match parse_connection_uri(&c.get_uri(dialect), dialect) {
                        Err(e) => format!("{e} {e:?}"),
                        Ok(_) => String::new(),
                    }
                }
            };
            for secret in &secrets {
                if shown.contains(secret.as_str()) {
                    failures.push(format!("[{id}/{dialect}] output contains a secret: {shown}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn cli_connections_get_vectors() {
    // `airflow connections get` runs in the server dialect; its JSON output stringifies the port and its
    // table prints `str(extra_dejson)`.
    let fixture = load().expect("the fixture is valid Python JSON");
    let cases = list(&fixture, "cli_connections_get");
    let mut failures = Vec::new();
    for case in cases {
        let id = get_str(case, "conn_id").unwrap_or("<no id>");
        let (Some(value), Some(output)) = (get_str(case, "value"), get_str(case, "json")) else {
            failures.push(format!("[{id}] missing value or json"));
            continue;
        };
        let rows = pyjson::loads(output).expect("CLI JSON output");
        let Some(row) = (match &rows {
            PyObject::List(rows) => rows.first(),
            _ => None,
        }) else {
            failures.push(format!("[{id}] empty CLI output"));
            continue;
        };
        let c = match parse_connection(value, Dialect::Server) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("[{id}] parse failed: {e}"));
                continue;
            }
        };
        for name in ["conn_type", "description", "host", "schema", "login", "password", "extra_dejson"] {
            if let Some(want) = get(row, name)
                && !py_eq(want, &field(&c, name))
            {
                failures.push(format!("[{id}] {name}: want {}", want.repr()));
            }
        }
        let port = c.port.map_or("None".to_owned(), |p| p.to_string());
        if get_str(row, "port") != Some(port.as_str()) {
            failures.push(format!("[{id}] port: got {port}"));
        }
        if get_str(row, "get_uri") != Some(c.get_uri(Dialect::Server).as_str()) {
            failures.push(format!("[{id}] get_uri mismatch"));
        }
        let repr = c.extra_dejson_repr();
        let in_table = get_str(case, "table")
            .is_some_and(|t| t.lines().any(|line| line.split('|').any(|cell| cell.trim() == repr)));
        if !in_table {
            failures.push(format!("[{id}] table has no extra_dejson cell {repr:?}"));
        }
    }
    assert!(!cases.is_empty(), "no CLI cases in the fixture");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn variable_vectors() {
    // Variables and config values are returned verbatim after base64 decoding.
    let fixture = load().expect("the fixture is valid Python JSON");
    let mut failures = Vec::new();
    for case in list(&fixture, "variables") {
        let id = get_str(case, "id").unwrap_or("<no id>");
        let Some(b64) = get_str(case, "secret_data_value_b64") else {
            continue;
        };
        let got = decode_secret_value(b64);
        for key in ["get_variable", "get_config"] {
            if let Some(want) = get_str(case, key)
                && got.as_deref() != Ok(want)
            {
                failures.push(format!("[{id}] {key}: want {want:?} got {got:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
