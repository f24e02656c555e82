//! `connections get` output in Airflow's fields, order and value formatting.
//!
//! Airflow's `ConnectionDisplayMapper` yields `id, conn_id, conn_type, description, host, schema, login,
//! password, port, is_encrypted, is_extra_encrypted, extra_dejson, get_uri`. For a connection that comes from
//! a secrets backend `id` is `None` and both encryption flags are `False`. In `json` and `yaml` output every
//! non-dict value is stringified with Python's `str()` (`"port": "587"`), and `yaml` sorts the keys.

use airflow_compat::pyjson::{self, PyObject};
use airflow_compat::{Connection, Dialect};

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

/// The fields of `airflow connections get`, in order, as Python objects.
fn fields(conn_id: &str, conn: &Connection) -> Vec<(&'static str, PyObject)> {
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
        ("get_uri", PyObject::Str(conn.get_uri(Dialect::Server))),
    ]
}

/// Renders one connection as `airflow connections get <id> -o <format>` prints it.
pub fn render_connection(conn_id: &str, conn: &Connection, format: OutputFormat) -> String {
    let fields = fields(conn_id, conn);
    match format {
        OutputFormat::Json => {
            let row = PyObject::Dict(fields.into_iter().map(|(k, v)| (k.to_owned(), stringify(v))).collect());
            format!("{}\n", pyjson::dumps(&PyObject::List(vec![row])))
        }
        OutputFormat::Yaml => {
            let mut row: Vec<(String, PyObject)> =
                fields.into_iter().map(|(k, v)| (k.to_owned(), stringify(v))).collect();
            row.sort_by(|a, b| a.0.cmp(&b.0));
            let mut out = String::new();
            for (i, (key, value)) in row.iter().enumerate() {
                out.push_str(if i == 0 { "- " } else { "  " });
                yaml_entry(&mut out, key, value, 1);
            }
            out.push('\n');
            out
        }
        OutputFormat::Table => table(&fields),
        OutputFormat::Plain => plain(&fields),
    }
}

/// Python `str()` of every non-dict value (`None` stays `None`), as Airflow's `_format_connections` does.
fn stringify(value: PyObject) -> PyObject {
    match value {
        PyObject::None | PyObject::Dict(_) => value,
        other => PyObject::Str(other.py_str()),
    }
}

/// The cell text of a value in table and plain output: Python's `str()`.
fn cell(value: &PyObject) -> String {
    value.py_str()
}

/// A table like the one `airflow connections get` prints: ` | ` between columns, a `=` rule under the header.
fn table(fields: &[(&'static str, PyObject)]) -> String {
    let cells: Vec<(&str, String)> = fields.iter().map(|(k, v)| (*k, cell(v))).collect();
    let widths: Vec<usize> = cells.iter().map(|(k, v)| k.chars().count().max(v.chars().count())).collect();
    let line =
        |texts: Vec<&str>| texts.iter().zip(&widths).map(|(t, w)| format!("{t:<w$}")).collect::<Vec<_>>().join(" | ");
    let header = line(cells.iter().map(|(k, _)| *k).collect());
    let values = line(cells.iter().map(|(_, v)| v.as_str()).collect());
    let last = widths.len().saturating_sub(1);
    let rule = widths
        .iter()
        .enumerate()
        .map(|(i, w)| "=".repeat(w + if i == 0 || i == last { 1 } else { 2 }))
        .collect::<Vec<_>>()
        .join("+");
    let blank = " ".repeat(header.chars().count());
    format!("{header}\n{rule}\n{values}\n{blank}\n")
}

/// Header and values, left-aligned, two spaces apart.
fn plain(fields: &[(&'static str, PyObject)]) -> String {
    let cells: Vec<(&str, String)> = fields.iter().map(|(k, v)| (*k, cell(v))).collect();
    let widths: Vec<usize> = cells.iter().map(|(k, v)| k.chars().count().max(v.chars().count())).collect();
    let line = |texts: Vec<&str>| {
        let joined = texts.iter().zip(&widths).map(|(t, w)| format!("{t:<w$}")).collect::<Vec<_>>().join("  ");
        joined.trim_end().to_owned()
    };
    format!(
        "{}\n{}\n",
        line(cells.iter().map(|(k, _)| *k).collect()),
        line(cells.iter().map(|(_, v)| v.as_str()).collect())
    )
}

/// One `key: value` of a block mapping at `depth` (2 spaces per level), PyYAML `safe_dump` style.
fn yaml_entry(out: &mut String, key: &str, value: &PyObject, depth: usize) {
    out.push_str(&yaml_scalar(key));
    out.push(':');
    match value {
        PyObject::Dict(items) if !items.is_empty() => {
            out.push('\n');
            let mut items = items.clone();
            items.sort_by(|a, b| a.0.cmp(&b.0));
            for (k, v) in &items {
                out.push_str(&"  ".repeat(depth + 1));
                yaml_entry(out, k, v, depth + 1);
            }
        }
        PyObject::Dict(_) => out.push_str(" {}\n"),
        PyObject::List(items) if items.is_empty() => out.push_str(" []\n"),
        PyObject::List(items) => {
            out.push('\n');
            for item in items {
                out.push_str(&"  ".repeat(depth));
                out.push_str("- ");
                out.push_str(&yaml_flow(item));
                out.push('\n');
            }
        }
        other => {
            out.push(' ');
            out.push_str(&yaml_flow(other));
            out.push('\n');
        }
    }
}

fn yaml_flow(value: &PyObject) -> String {
    match value {
        PyObject::None => "null".to_owned(),
        PyObject::Bool(b) => if *b { "true" } else { "false" }.to_owned(),
        PyObject::Int(i) => i.clone(),
        PyObject::Float(f) => airflow_compat::pyjson::float_repr(*f),
        PyObject::Str(s) => yaml_scalar(s),
        PyObject::List(items) => format!("[{}]", items.iter().map(yaml_flow).collect::<Vec<_>>().join(", ")),
        PyObject::Dict(items) => format!(
            "{{{}}}",
            items.iter().map(|(k, v)| format!("{}: {}", yaml_scalar(k), yaml_flow(v))).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// A string scalar, single-quoted when PyYAML would read it back as something else or could not write it
/// plain (`''`, `'587'`, `'False'`, `'null'`, leading indicators, `: ` and ` #`).
fn yaml_scalar(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    let resolves_to_other_type =
        matches!(lower.as_str(), "" | "~" | "null" | "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n")
            || s.parse::<f64>().is_ok()
            || s.starts_with("0x")
            || s.starts_with("0o");
    let first_is_indicator = s.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@`".contains(c) || c.is_whitespace());
    let awkward = s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.ends_with(char::is_whitespace)
        || s.chars().any(|c| c.is_control() || !c.is_ascii());
    if resolves_to_other_type || first_is_indicator || awkward {
        format!("'{}'", s.replace('\'', "''"))
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smtp() -> Connection {
        airflow_compat::parse_connection("smtp://user:password@smtp.example.com:587", Dialect::Server).unwrap()
    }

    /// Expected outputs are those of `airflow connections get smtp_default` (Airflow 3.3.2), recorded in
    /// shared/fixtures/airflow-vectors.json (`cli_connections_get`).
    #[test]
    fn smtp_default_json_yaml_table_match_airflow() {
        assert_eq!(
            render_connection("smtp_default", &smtp(), OutputFormat::Json),
            "[{\"id\": null, \"conn_id\": \"smtp_default\", \"conn_type\": \"smtp\", \"description\": null, \"host\": \"smtp.example.com\", \"schema\": \"\", \"login\": \"user\", \"password\": \"password\", \"port\": \"587\", \"is_encrypted\": \"False\", \"is_extra_encrypted\": \"False\", \"extra_dejson\": {}, \"get_uri\": \"smtp://user:password@smtp.example.com:587\"}]\n"
        );
        assert_eq!(
            render_connection("smtp_default", &smtp(), OutputFormat::Yaml),
            "- conn_id: smtp_default\n  conn_type: smtp\n  description: null\n  extra_dejson: {}\n  get_uri: smtp://user:password@smtp.example.com:587\n  host: smtp.example.com\n  id: null\n  is_encrypted: 'False'\n  is_extra_encrypted: 'False'\n  login: user\n  password: password\n  port: '587'\n  schema: ''\n\n"
        );
        let table = render_connection("smtp_default", &smtp(), OutputFormat::Table);
        let expected = "id   | conn_id      | conn_type | description | host             | schema | login | password | port | is_encrypted | is_extra_encrypted | extra_dejson | get_uri                                  \n=====+==============+===========+=============+==================+========+=======+==========+======+==============+====================+==============+==========================================\nNone | smtp_default | smtp      | None        | smtp.example.com |        | user  | password | 587  | False        | False              | {}           | smtp://user:password@smtp.example.com:587\n";
        assert!(table.starts_with(expected), "{table}");
    }

    #[test]
    fn json_form_with_extra() {
        let conn = airflow_compat::parse_connection(
            r#"{"conn_type": "postgres", "host": "db.example.com", "login": "user", "password": "pass", "port": 5432, "schema": "mydb", "extra": {"sslmode": "require"}}"#,
            Dialect::Server,
        )
        .unwrap();
        assert_eq!(
            render_connection("k8s_json", &conn, OutputFormat::Yaml),
            "- conn_id: k8s_json\n  conn_type: postgres\n  description: null\n  extra_dejson:\n    sslmode: require\n  get_uri: postgres://user:pass@db.example.com:5432/mydb?sslmode=require\n  host: db.example.com\n  id: null\n  is_encrypted: 'False'\n  is_extra_encrypted: 'False'\n  login: user\n  password: pass\n  port: '5432'\n  schema: mydb\n\n"
        );
    }
}
