//! `connections get` output in Airflow's fields, order and value formatting.
//!
//! Airflow's `_connection_mapper` yields `id, conn_id, conn_type, description, host, schema, login, password,
//! port, is_encrypted, is_extra_encrypted, extra_dejson, get_uri`. For a connection that comes from a
//! secrets backend `id` is `None` and both encryption flags are `False`. `AirflowConsole.print_as` then runs
//! `_normalize_data` on every value: for `json`, `yaml` and `plain`, containers are kept (recursively) and
//! every other value except `None` becomes its Python `str()` (`"port": "587"`, `{"n": "1"}`); for `table`,
//! every value becomes a string (a list is joined with `,`, a dict prints as its Python `repr`).
//!
//! Each format then goes through the library Airflow uses: `json.dumps` ([`pyjson::dumps`]), PyYAML's
//! libyaml dumper ([`super::yaml`]), rich's table on a 200-cell console ([`super::rich_table`]) and
//! tabulate's `plain` format ([`super::plain_table`]).
use std::sync::Arc;

use airflow_compat::pyjson::{self, PyObject};
use airflow_compat::pyurllib::quote;
use airflow_compat::{Connection, Dialect};

use super::plain_table::{self, Cell};
use super::rich_table;
use super::yaml::{self, Node};

/// Output formats of `connections get`, as in `airflow connections get -o`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// A table with a header row (Airflow's default).
    Table,
    /// A JSON list with one object.
    Json,
    /// A YAML list with one mapping.
    Yaml,
    /// Header and value rows separated by spaces, without rules.
    Plain,
}

/// The value of one field as `_connection_mapper` returns it.
fn fields(conn_id: &str, conn: &Connection, dialect: Dialect) -> Vec<(&'static str, PyObject)> {
    let text = |v: &Option<String>| v.clone().map_or(PyObject::None, PyObject::Str);
    vec![
        ("id", PyObject::None),
        ("conn_id", PyObject::Str(conn_id.to_owned())),
        ("conn_type", text(&conn.conn_type)),
        ("description", text(&conn.description)),
        ("host", text(&conn.host)),
        ("schema", text(&conn.schema)),
        ("login", text(&conn.login)),
        ("password", text(&conn.password)),
        ("port", conn.port.map_or(PyObject::None, |p| PyObject::Int(p.to_string()))),
        ("is_encrypted", PyObject::Bool(false)),
        ("is_extra_encrypted", PyObject::Bool(false)),
        ("extra_dejson", conn.extra_dejson_py()),
        ("get_uri", PyObject::Str(conn.get_uri(dialect))),
    ]
}

/// Renders one connection as `airflow connections get <id> -o <format>` prints it, with `get_uri` in
/// `dialect`.
pub fn render_connection(conn_id: &str, conn: &Connection, dialect: Dialect, format: OutputFormat) -> String {
    render_rows(&[fields(conn_id, conn, dialect)], format)
}

/// What `connections list` shows of each connection (Airflow's `ConnectionDisplayMapper`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionColumns {
    /// `ids_only`: `conn_id` and `conn_type` (the default).
    Ids,
    /// `full_details` (`--show-values`): every field, as `connections get` shows them.
    Full,
    /// `masked_sensitive` (`--show-values --hide-sensitive`): every field, the password, a non-empty
    /// `extra_dejson` and the URI's credentials replaced with `***`.
    Masked,
}

/// Airflow's `SENSITIVE_PLACEHOLDER`.
const SENSITIVE_PLACEHOLDER: &str = "***";

/// Renders connections as `airflow connections list -o <format>` prints them (one row each, in the order
/// given), with `get_uri` in `dialect`.
pub fn render_connections(
    connections: &[(String, Arc<Connection>)],
    columns: ConnectionColumns,
    dialect: Dialect,
    format: OutputFormat,
) -> String {
    let rows: Vec<Vec<(&'static str, PyObject)>> = connections
        .iter()
        .map(|(conn_id, conn)| {
            let mut row = fields(conn_id, conn, dialect);
            match columns {
                ConnectionColumns::Full => {}
                ConnectionColumns::Ids => row.retain(|(k, _)| matches!(*k, "conn_id" | "conn_type")),
                ConnectionColumns::Masked => {
                    for (key, value) in &mut row {
                        if matches!(*key, "password" | "extra_dejson") && value.is_truthy() {
                            *value = PyObject::Str(SENSITIVE_PLACEHOLDER.to_owned());
                        }
                        if *key == "get_uri" {
                            *value = PyObject::Str(masked_uri(conn, dialect));
                        }
                    }
                }
            }
            row
        })
        .collect();
    render_rows(&rows, format)
}

/// Renders variables as `airflow variables list -o <format>` prints them: `key` only, or with
/// `with_values` `key` and `val` (`***` for every value with `hide_values`).
pub fn render_variables(
    variables: &[(String, Arc<str>)],
    with_values: bool,
    hide_values: bool,
    format: OutputFormat,
) -> String {
    let rows: Vec<Vec<(&'static str, PyObject)>> = variables
        .iter()
        .map(|(key, value)| {
            let mut row = vec![("key", PyObject::Str(key.clone()))];
            if with_values {
                let shown = if hide_values { SENSITIVE_PLACEHOLDER } else { value };
                row.push(("val", PyObject::Str(shown.to_owned())));
            }
            row
        })
        .collect();
    render_rows(&rows, format)
}

/// The `get_uri` of `masked_sensitive`: Airflow's [`mask_uri_credentials`] of the connection's URI, with two
/// differences that keep the masked values out of it. A non-empty extra is left out of the URI (Airflow keeps it
/// in the query). And when the password still shows after masking (Airflow's
/// masking finds credentials only in `urlsplit`'s netloc, and a host that carries its own scheme, such as
/// `https://api.example`, moves them out of it), the whole URI is `***`.
fn masked_uri(conn: &Connection, dialect: Dialect) -> String {
    // Any extra text, even one whose `extra_dejson` is empty (the Task SDK keeps an extra that is not JSON as
    // it is, and writes it into the URI as `__extra__`).
    let uri = if conn.extra.as_deref().is_some_and(|e| !e.is_empty()) {
        let without_extra = Connection { extra: None, ..conn.clone() };
        without_extra.get_uri(dialect)
    } else {
        conn.get_uri(dialect)
    };
    let masked = mask_uri_credentials(&uri);
    match conn.password.as_deref().filter(|p| !p.is_empty()) {
        Some(password) if masked.contains(password) || masked.contains(&quote(password, "")) => {
            SENSITIVE_PLACEHOLDER.to_owned()
        }
        _ => masked,
    }
}

/// Airflow's `_mask_uri_credentials`: the user information of a URI with a scheme becomes `***:***`; a URI
/// without a scheme is replaced whole. `urlsplit` puts everything between `//` and the next `/`, `?` or `#`
/// in the netloc, and only a netloc with `@` has credentials.
pub fn mask_uri_credentials(uri: &str) -> String {
    if uri.is_empty() {
        return String::new();
    }
    let Some((scheme, rest)) = split_scheme(uri) else {
        return SENSITIVE_PLACEHOLDER.to_owned();
    };
    let Some(after) = rest.strip_prefix("//") else {
        return uri.to_owned();
    };
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (netloc, tail) = after.split_at(end);
    let Some((_, host_port)) = netloc.split_once('@') else {
        return uri.to_owned();
    };
    // `urlunsplit` writes a query or a fragment back only when it is not empty.
    let (rest, fragment) = tail.split_once('#').map_or((tail, None), |(r, f)| (r, Some(f)));
    let (path, query) = rest.split_once('?').map_or((rest, None), |(p, q)| (p, Some(q)));
    let mut masked = format!("{scheme}://{SENSITIVE_PLACEHOLDER}:{SENSITIVE_PLACEHOLDER}@{host_port}{path}");
    for (mark, part) in [('?', query), ('#', fragment)] {
        if let Some(part) = part.filter(|p| !p.is_empty()) {
            masked.push(mark);
            masked.push_str(part);
        }
    }
    masked
}

/// `urlsplit`'s scheme: letters, digits, `+`, `-` and `.` after a letter, before the first `:` (lowercased,
/// as `urlunsplit` writes it back).
fn split_scheme(uri: &str) -> Option<(String, &str)> {
    let (scheme, rest) = uri.split_once(':')?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic() && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
        .then(|| (scheme.to_ascii_lowercase(), rest))
}

/// Rows (each a mapper's `(key, value)` pairs, the keys of the first row being the columns) as
/// `AirflowConsole.print_as(rows, output)` prints them.
fn render_rows(rows: &[Vec<(&'static str, PyObject)>], format: OutputFormat) -> String {
    let headers: Vec<&str> = rows.first().map(|r| r.iter().map(|(k, _)| *k).collect()).unwrap_or_default();
    match format {
        OutputFormat::Json => {
            let rows = rows
                .iter()
                .map(|r| PyObject::Dict(r.iter().map(|(k, v)| ((*k).to_owned(), to_py(&normalize(v)))).collect()))
                .collect();
            format!("{}\n", pyjson::dumps(&PyObject::List(rows)))
        }
        OutputFormat::Yaml => {
            let rows = rows
                .iter()
                .map(|r| Node::Dict(r.iter().map(|(k, v)| ((*k).to_owned(), normalize(v))).collect()))
                .collect();
            // `print` of rich `Syntax` adds a newline after the dump's own.
            format!("{}\n", yaml::dump(&Node::List(rows)))
        }
        OutputFormat::Table => {
            let cells: Vec<Vec<String>> =
                rows.iter().map(|r| r.iter().map(|(_, v)| normalize_for_table(v)).collect()).collect();
            rich_table::render(&headers, &cells)
        }
        OutputFormat::Plain => {
            let cells: Vec<Vec<Cell>> = rows
                .iter()
                .map(|r| {
                    r.iter()
                        .map(|(_, v)| match normalize(v) {
                            Node::Null => Cell::Missing,
                            Node::Str(s) => Cell::Text(s),
                            container => Cell::Container(to_py(&container).repr()),
                        })
                        .collect()
                })
                .collect();
            plain_table::render(&headers, &cells)
        }
    }
}

/// `_normalize_data(value, "json"|"yaml"|"plain")`.
fn normalize(value: &PyObject) -> Node {
    match value {
        PyObject::None => Node::Null,
        PyObject::List(items) => Node::List(items.iter().map(normalize).collect()),
        PyObject::Dict(items) => Node::Dict(items.iter().map(|(k, v)| (k.clone(), normalize(v))).collect()),
        other => Node::Str(other.py_str()),
    }
}

/// `str(_normalize_data(value, "table"))`, the cell text `print_as_table` adds.
fn normalize_for_table(value: &PyObject) -> String {
    match value {
        PyObject::List(items) => items.iter().map(normalize_for_table).collect::<Vec<_>>().join(","),
        other => other.py_str(),
    }
}

fn to_py(node: &Node) -> PyObject {
    match node {
        Node::Null => PyObject::None,
        Node::Str(s) => PyObject::Str(s.clone()),
        Node::List(items) => PyObject::List(items.iter().map(to_py).collect()),
        Node::Dict(items) => PyObject::Dict(items.iter().map(|(k, v)| (k.clone(), to_py(v))).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Airflow 3.3.2's recorded `airflow connections get` output (`cli_connections_get`), from
    /// shared/fixtures/airflow-vectors.json, the copy kept in airflow-compat/tests/fixtures.
    const VECTORS: &str = include_str!("../../../airflow-compat/tests/fixtures/airflow-vectors.json");

    /// `-o plain` for the two recorded connections: the fixture has no plain output, so these are the output
    /// of `tabulate([row.values()], tablefmt="plain", headers=list(row))` (tabulate 0.10.0, as
    /// `AirflowConsole.print_as_plain_table` calls it) on the recorded rows, plus `print`'s newline.
    const PLAIN: [(&str, &str); 2] = [
        (
            "smtp_default",
            "id    conn_id       conn_type    description    host              schema    login    password      port  is_encrypted    is_extra_encrypted    extra_dejson    get_uri\n      smtp_default  smtp                        smtp.example.com            user     password       587  False           False                 {}              smtp://user:password@smtp.example.com:587\n",
        ),
        (
            "k8s_json",
            "id    conn_id    conn_type    description    host            schema    login    password      port  is_encrypted    is_extra_encrypted    extra_dejson            get_uri\n      k8s_json   postgres                    db.example.com  mydb      user     pass          5432  False           False                 {'sslmode': 'require'}  postgres://user:pass@db.example.com:5432/mydb?sslmode=require\n",
        ),
    ];

    /// The recorded cases as (conn_id, value, {format: output}); the fixture holds `NaN`, so it is read with
    /// the Python-compatible JSON parser.
    /// (conn_id, value, [(format, output)]).
    type Case = (String, String, Vec<(String, String)>);

    fn recorded() -> Vec<Case> {
        let PyObject::Dict(vectors) = pyjson::loads(VECTORS).unwrap() else { panic!("fixture is an object") };
        let (_, PyObject::List(cases)) = vectors.iter().find(|(k, _)| k == "cli_connections_get").unwrap() else {
            panic!("cli_connections_get is a list")
        };
        cases
            .iter()
            .map(|case| {
                let PyObject::Dict(fields) = case else { panic!("case is an object") };
                let text = |key: &str| match fields.iter().find(|(k, _)| k == key) {
                    Some((_, PyObject::Str(s))) => s.clone(),
                    _ => panic!("{key} is a string"),
                };
                let outputs = ["table", "json", "yaml"].iter().map(|f| ((*f).to_owned(), text(f))).collect();
                (text("conn_id"), text("value"), outputs)
            })
            .collect()
    }

    #[test]
    fn every_format_matches_airflow_for_the_recorded_connections() {
        let cases = recorded();
        assert_eq!(cases.len(), 2);
        for (conn_id, value, outputs) in &cases {
            let conn = airflow_compat::parse_connection(value, Dialect::Server).unwrap();
            for (key, expected) in outputs {
                let format = match key.as_str() {
                    "table" => OutputFormat::Table,
                    "json" => OutputFormat::Json,
                    _ => OutputFormat::Yaml,
                };
                assert_eq!(&render_connection(conn_id, &conn, Dialect::Server, format), expected, "{conn_id} -o {key}");
            }
            let plain = PLAIN.iter().find(|(id, _)| id == conn_id).unwrap().1;
            assert_eq!(
                render_connection(conn_id, &conn, Dialect::Server, OutputFormat::Plain),
                plain,
                "{conn_id} -o plain"
            );
        }
    }

    #[test]
    fn the_wrapped_table_is_exactly_the_console_width() {
        let (conn_id, _, outputs) = &recorded()[1];
        assert_eq!(conn_id, "k8s_json");
        let table = &outputs[0].1;
        assert_eq!(table.lines().count(), 5, "header, rule, two wrapped lines, caption");
        assert!(table.lines().all(|l| l.chars().count() == rich_table::CONSOLE_WIDTH));
    }

    fn render(value: &str, dialect: Dialect, format: OutputFormat) -> String {
        let conn = airflow_compat::parse_connection(value, dialect).unwrap();
        render_connection("c", &conn, dialect, format)
    }

    /// Expected values were produced with rich 15.0.0, tabulate 0.10.0 and PyYAML 6.0.3 (CSafeDumper) fed
    /// with the rows `_connection_mapper` + `_normalize_data` build for these connections.
    #[test]
    fn nested_extra_values_are_stringified_except_in_table_output() {
        let value = r#"{"conn_type": "http", "extra": {"n": 1, "ok": true, "none": null, "l": [1, "a"], "f": 1.5}}"#;
        assert_eq!(
            render(value, Dialect::Server, OutputFormat::Json),
            "[{\"id\": null, \"conn_id\": \"c\", \"conn_type\": \"http\", \"description\": null, \"host\": null, \"schema\": null, \"login\": null, \"password\": null, \"port\": null, \"is_encrypted\": \"False\", \"is_extra_encrypted\": \"False\", \"extra_dejson\": {\"n\": \"1\", \"ok\": \"True\", \"none\": null, \"l\": [\"1\", \"a\"], \"f\": \"1.5\"}, \"get_uri\": \"http:///?__extra__=%7B%22n%22%3A+1%2C+%22ok%22%3A+true%2C+%22none%22%3A+null%2C+%22l%22%3A+%5B1%2C+%22a%22%5D%2C+%22f%22%3A+1.5%7D\"}]\n"
        );
        assert_eq!(
            render(value, Dialect::Server, OutputFormat::Yaml),
            "- conn_id: c\n  conn_type: http\n  description: null\n  extra_dejson:\n    f: '1.5'\n    l:\n    - '1'\n    - a\n    n: '1'\n    none: null\n    ok: 'True'\n  get_uri: http:///?__extra__=%7B%22n%22%3A+1%2C+%22ok%22%3A+true%2C+%22none%22%3A+null%2C+%22l%22%3A+%5B1%2C+%22a%22%5D%2C+%22f%22%3A+1.5%7D\n  host: null\n  id: null\n  is_encrypted: 'False'\n  is_extra_encrypted: 'False'\n  login: null\n  password: null\n  port: null\n  schema: null\n\n"
        );
    }

    #[test]
    fn dialect_selects_get_uri() {
        let value = "postgres://u:p@h/db?n=1";
        let server = render(value, Dialect::Server, OutputFormat::Json);
        let worker = render(value, Dialect::Worker, OutputFormat::Json);
        assert!(server.ends_with("\"get_uri\": \"postgres://u:p@h/db?__extra__=%7B%22n%22%3A+1%7D\"}]\n"), "{server}");
        assert!(worker.ends_with("\"get_uri\": \"postgres://u:p@h/db?n=1\"}]\n"), "{worker}");
    }

    /// Airflow's `_mask_uri_credentials` on each input, as Python 3.12's `urlsplit`/`urlunsplit` give it.
    #[test]
    fn uri_credentials_are_masked_as_airflow_masks_them() {
        for (uri, masked) in [
            ("postgresql://user:pass@host:5432/db", "postgresql://***:***@host:5432/db"),
            ("mysql://host/db", "mysql://host/db"),
            ("", ""),
            ("no-scheme", "***"),
            ("Postgres://u:p%40@h/d?a=1#f", "postgres://***:***@h/d?a=1#f"),
            ("x://u:p@h?#", "x://***:***@h"),
            ("x://u@h/p?", "x://***:***@h/p"),
            ("x://a@b@c/d", "x://***:***@b@c/d"),
            ("1x://u:p@h", "***"),
            ("x:y@z", "x:y@z"),
            ("x://u:p@h#frag?q", "x://***:***@h#frag?q"),
            ("ftp://:@h", "ftp://***:***@h"),
        ] {
            assert_eq!(mask_uri_credentials(uri), masked, "{uri}");
        }
    }

    /// `variables list --show-values` with numbers in the value column, as `AirflowConsole().print_as(rows,
    /// output)` prints them (rich 15, tabulate 0.10.0, PyYAML 6): tabulate lines the decimal points up.
    #[test]
    fn variables_render_as_airflow_prints_them() {
        let rows: Vec<(String, Arc<str>)> = [("a", "1.5"), ("b", "10"), ("c", ""), ("d", "2.25")]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Arc::from(*v)))
            .collect();
        let render = |format| render_variables(&rows, true, false, format);
        assert_eq!(render(OutputFormat::Plain), "key      val\na       1.5\nb      10\nc\nd       2.25\n");
        assert_eq!(
            render(OutputFormat::Table),
            "key | val \n====+=====\na   | 1.5 \nb   | 10  \nc   |     \nd   | 2.25\n          \n"
        );
        assert_eq!(
            render(OutputFormat::Json),
            "[{\"key\": \"a\", \"val\": \"1.5\"}, {\"key\": \"b\", \"val\": \"10\"}, {\"key\": \"c\", \"val\": \"\"}, {\"key\": \"d\", \"val\": \"2.25\"}]\n"
        );
        assert_eq!(
            render(OutputFormat::Yaml),
            "- key: a\n  val: '1.5'\n- key: b\n  val: '10'\n- key: c\n  val: ''\n- key: d\n  val: '2.25'\n\n"
        );
        assert_eq!(render_variables(&rows[..1], false, false, OutputFormat::Plain), "key\na\n");
        assert_eq!(render_variables(&rows[..1], true, true, OutputFormat::Plain), "key    val\na      ***\n");
        for format in [OutputFormat::Table, OutputFormat::Plain] {
            assert_eq!(render_variables(&[], true, false, format), "No data found\n");
        }
        assert_eq!(render_variables(&[], true, false, OutputFormat::Json), "[]\n");
        assert_eq!(render_variables(&[], true, false, OutputFormat::Yaml), "[]\n\n");
    }

    /// `--hide-sensitive` keeps the password and the extra out of every column, `get_uri` included, where
    /// Airflow's masking would miss them.
    #[test]
    fn masked_connections_show_no_password_or_extra() {
        let masked = |value: &str, dialect| {
            let conn = Arc::new(airflow_compat::parse_connection(value, dialect).unwrap());
            let text =
                render_connections(&[("c".to_owned(), conn)], ConnectionColumns::Masked, dialect, OutputFormat::Json);
            let PyObject::List(rows) = pyjson::loads(&text).unwrap() else { panic!("{text}") };
            let PyObject::Dict(fields) = &rows[0] else { panic!("{text}") };
            let field = |k: &str| fields.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()).unwrap();
            (text.clone(), field("password"), field("extra_dejson"), field("get_uri"))
        };
        let star = || PyObject::Str("***".to_owned());
        // A host with its own scheme: `urlsplit` sees `https:` as the netloc, so Airflow would show the password.
        let (text, password, _, uri) = masked(
            r#"{"conn_type": "http", "host": "https://api.example", "login": "admin", "password": "s3cret"}"#,
            Dialect::Server,
        );
        assert_eq!((password, uri), (star(), star()));
        assert!(!text.contains("s3cret"), "{text}");
        // The extra is masked in its column and left out of the URI.
        let (text, password, extra, uri) = masked("postgres://u:p4ss@h/db?api_key=SECRET", Dialect::Server);
        assert_eq!((password, extra, uri), (star(), star(), PyObject::Str("postgres://***:***@h/db".to_owned())));
        assert!(!text.contains("SECRET") && !text.contains("p4ss"), "{text}");
        // An extra that is not an object (the Task SDK keeps it as it is) is masked when it is not empty.
        let (text, _, extra, _) =
            masked(r#"{"conn_type": "http", "host": "h", "extra": "[\"tok3n\"]"}"#, Dialect::Worker);
        assert_eq!(extra, star());
        assert!(!text.contains("tok3n"), "{text}");
        // An extra the Task SDK keeps as it is (not JSON): `extra_dejson` is empty, the URI leaves it out.
        let (text, _, extra, _) =
            masked(r#"{"conn_type": "http", "host": "h", "extra": "token=SECRET"}"#, Dialect::Worker);
        assert_eq!(extra, PyObject::Dict(Vec::new()));
        assert!(!text.contains("SECRET"), "{text}");
        // Nothing to mask: Airflow's output.
        let (_, password, extra, uri) = masked("mysql://h/db", Dialect::Server);
        assert_eq!(
            (password, extra, uri),
            (PyObject::None, PyObject::Dict(Vec::new()), PyObject::Str("mysql://h/db".to_owned()))
        );
    }

    /// Multi-line values, tabs, surrounding spaces and console markup in a listing, as `AirflowConsole().print_as`
    /// prints them (rich 15, tabulate 0.10.0).
    #[test]
    fn multi_row_tables_wrap_and_align_as_airflows() {
        let rows: Vec<(String, Arc<str>)> =
            [("a", "line1\nline2"), ("b", "10"), ("c\tx", " padded "), ("[bold]m[/]", "3.5")]
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Arc::from(*v)))
                .collect();
        assert_eq!(
            render_variables(&rows, true, false, OutputFormat::Table),
            "key | val     \n====+=========\na   | line1   \n    | line2   \nb   | 10      \nc   |  padded \nx   |         \n\
             m   | 3.5     \n              \n"
        );
        assert_eq!(
            render_variables(&rows, true, false, OutputFormat::Plain),
            "key         val\na           line1\n            line2\nb           10\nc\tx         padded\n[bold]m[/]  3.5\n"
        );
    }
}
