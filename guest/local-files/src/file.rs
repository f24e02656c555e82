//! Airflow's `_parse_secret_file` and the three loaders built on it (`load_variables`,
//! `load_connections_dict`, `load_configs_dict`), over file bytes.
//!
//! The format comes from the extension (`Path(file_path).suffix.lstrip(".").lower()`): `.env`, `.json`,
//! `.yaml` or `.yml`. An empty JSON or YAML file, and a document that is not a mapping, are syntax errors at
//! line 1, as in Airflow. Every error is a [`LookupError::MalformedPayload`] that names the file, the line
//! and the problem, and never any part of the file's content.

use airflow_compat::{Connection, Dialect, pyjson};

use crate::connection::create_connection;
use crate::envfile::{self, SyntaxError};
use crate::error::LookupError;
use crate::text::decode;
use crate::value::{Value, bounded_list};
use crate::yaml;

/// A secrets file format, chosen by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.env`: `KEY=value` lines.
    Env,
    /// `.json`: one JSON object.
    Json,
    /// `.yaml` or `.yml`: one YAML mapping.
    Yaml,
}

/// Airflow's message for an unsupported extension.
pub const UNSUPPORTED_FORMAT: &str =
    "Unsupported file format. The file must have one of the following extensions: .env .json .yaml .yml";

impl Format {
    /// The format of `path`, from its extension as Python's `Path(path).suffix.lstrip(".").lower()`.
    ///
    /// ```
    /// use wasm_secrets_provider_local_files::file::Format;
    /// assert_eq!(Format::of_path("/files/conns.YML"), Some(Format::Yaml));
    /// assert_eq!(Format::of_path("/files/.env"), None); // a dotfile has no suffix
    /// assert_eq!(Format::of_path("vars.txt"), None);
    /// ```
    pub fn of_path(path: &str) -> Option<Self> {
        let name = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
        let dot = name.rfind('.')?;
        // Python 3.11: a suffix needs a dot that is neither the first nor the last character of the name.
        if dot == 0 || dot + 1 == name.len() {
            return None;
        }
        let ext = name.get(dot + 1..)?;
        // Only ASCII letters can lowercase to these extensions (Python's `lower` maps no other character to
        // one of `e n v j s o y a m l`).
        match ext.to_ascii_lowercase().as_str() {
            "env" => Some(Self::Env),
            "json" => Some(Self::Json),
            "yaml" | "yml" => Some(Self::Yaml),
            _ => None,
        }
    }
}

/// The top-level entries of a parsed file: key and value, in file order. A `.env` file's values are lists
/// of strings (every value of a repeated key), as in Airflow.
pub type Secrets = Vec<(Value, Value)>;

/// `_parse_secret_file`: the entries of the file at `path` whose content is `bytes`.
pub fn parse_secret_file(path: &str, bytes: &[u8]) -> Result<Secrets, LookupError> {
    let format = Format::of_path(path).ok_or_else(|| LookupError::InvalidConfiguration(UNSUPPORTED_FORMAT.into()))?;
    let content =
        decode(bytes).map_err(|e| parse_failure(path, &[SyntaxError::at(e.line, "The file is not valid UTF-8.")]))?;
    let (secrets, errors) = match format {
        Format::Env => {
            let (secrets, errors) = envfile::parse(&content);
            let secrets = secrets
                .into_iter()
                .map(|(k, vs)| (Value::Str(k), Value::Seq(vs.into_iter().map(Value::Str).collect())))
                .collect();
            (secrets, errors)
        }
        Format::Json => match parse_json(&content) {
            Ok(secrets) => (secrets, Vec::new()),
            Err(e) => (Vec::new(), vec![e]),
        },
        Format::Yaml => match parse_yaml(&content) {
            Ok(secrets) => (secrets, Vec::new()),
            Err(e) => (Vec::new(), vec![e]),
        },
    };
    if errors.is_empty() { Ok(secrets) } else { Err(parse_failure(path, &errors)) }
}

/// `_parse_json_file`.
fn parse_json(content: &str) -> Result<Secrets, SyntaxError> {
    if content.is_empty() {
        return Err(SyntaxError::at(1, "The file is empty."));
    }
    let object = pyjson::loads(content).map_err(|e| SyntaxError::at(e.line, e.problem))?;
    match Value::from(object) {
        Value::Map(items) => Ok(items),
        _ => Err(SyntaxError::at(1, "The file should contain the object.")),
    }
}

/// `_parse_yaml_file`.
fn parse_yaml(content: &str) -> Result<Secrets, SyntaxError> {
    if content.is_empty() {
        return Err(SyntaxError::at(1, "The file is empty."));
    }
    match yaml::safe_load(content)? {
        Some(Value::Map(items)) => Ok(items),
        _ => Err(SyntaxError::at(1, "The file should contain the object.")),
    }
}

/// Airflow's `AirflowFileParseException("Failed to load the secret file.", file_path, parse_errors)`, with
/// each error's message and line.
fn parse_failure(path: &str, errors: &[SyntaxError]) -> LookupError {
    let shown = bounded_list(
        errors,
        |e| match e.line {
            Some(line) => format!("line {line}: {}", e.message),
            None => e.message.clone(),
        },
        " errors",
    );
    LookupError::MalformedPayload(format!("Failed to load the secret file {path}: {}", shown.join("; ")))
}

/// `load_variables`: for a `.env` file every key must have exactly one value (`VariableNotUnique`); other
/// formats keep their values as they are.
pub fn load_variables(path: &str, bytes: &[u8]) -> Result<Secrets, LookupError> {
    let secrets = parse_secret_file(path, bytes)?;
    if Format::of_path(path) == Some(Format::Env) {
        return single_values(path, secrets);
    }
    Ok(secrets)
}

/// `load_configs_dict`: in every format, a list value must hold exactly one item (`VariableNotUnique`),
/// which is the value.
pub fn load_configs(path: &str, bytes: &[u8]) -> Result<Secrets, LookupError> {
    let secrets = parse_secret_file(path, bytes)?;
    single_values(path, secrets)
}

/// Replaces one-item lists by their item; any other list is Airflow's `VariableNotUnique`.
fn single_values(path: &str, secrets: Secrets) -> Result<Secrets, LookupError> {
    let invalid: Vec<&Value> =
        secrets.iter().filter(|(_, v)| matches!(v, Value::Seq(items) if items.len() != 1)).map(|(k, _)| k).collect();
    if !invalid.is_empty() {
        return Err(LookupError::MalformedPayload(format!(
            "The \"{path}\" file contains multiple values for keys: [{}]",
            bounded_list(&invalid, |k| py_repr_key(k), "").join(", ")
        )));
    }
    Ok(secrets
        .into_iter()
        .map(|(k, v)| match v {
            Value::Seq(mut items) if items.len() == 1 => (k, items.remove(0)),
            other => (k, other),
        })
        .collect())
}

/// A key in Python's list `repr`, cut like every name in an error.
fn py_repr_key(key: &Value) -> String {
    match key {
        Value::Str(s) => {
            let cut: String = s.chars().take(crate::value::MAX_NAME_IN_ERROR).collect();
            let repr = pyjson::str_repr(&cut);
            if cut.len() < s.len() { format!("{repr}…") } else { repr }
        }
        other => other.describe_key(),
    }
}

/// `load_connections_dict`: every entry becomes a connection (a list value must hold at most one item:
/// `ConnectionNotUnique`; an empty list defines nothing). The first failing entry fails the whole file, as
/// in Airflow, so one bad connection hides every other one.
pub fn load_connections(path: &str, bytes: &[u8], dialect: Dialect) -> Result<Vec<(Value, Connection)>, LookupError> {
    let secrets = parse_secret_file(path, bytes)?;
    let mut connections: Vec<(Value, Connection)> = Vec::with_capacity(secrets.len());
    for (key, value) in secrets {
        let value = match value {
            Value::Seq(mut items) => {
                if items.len() > 1 {
                    return Err(LookupError::MalformedPayload(format!(
                        "Found multiple values for {} in {path}.",
                        key.describe_key()
                    )));
                }
                match items.pop() {
                    Some(item) => item,
                    None => continue,
                }
            }
            other => other,
        };
        let connection = create_connection(&key, value, dialect).map_err(|problem| {
            LookupError::MalformedPayload(format!("{path}: connection {}: {problem}", key.describe_key()))
        })?;
        match connections.iter_mut().find(|(k, _)| k.key_eq(&key)) {
            Some(slot) => slot.1 = connection,
            None => connections.push((key, connection)),
        }
    }
    Ok(connections)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::Str(v.into())
    }

    fn malformed(e: LookupError) -> String {
        match e {
            LookupError::MalformedPayload(m) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn format_by_extension() {
        for (path, format) in [
            ("a.env", Some(Format::Env)),
            ("/x/a.JSON", Some(Format::Json)),
            ("a.b.yaml", Some(Format::Yaml)),
            ("dir.yml/", Some(Format::Yaml)),
            ("a.yml.txt", None),
            (".env", None),
            ("a.", None),
            ("a", None),
            ("/etc/.yaml", None),
            ("x..env", Some(Format::Env)),
        ] {
            assert_eq!(Format::of_path(path), format, "{path}");
        }
        assert_eq!(
            parse_secret_file("vars.txt", b"").unwrap_err(),
            LookupError::InvalidConfiguration(UNSUPPORTED_FORMAT.into())
        );
    }

    #[test]
    fn empty_and_non_object_files() {
        let e = |path: &str, bytes: &[u8]| malformed(parse_secret_file(path, bytes).unwrap_err());
        assert_eq!(e("c.json", b""), "Failed to load the secret file c.json: line 1: The file is empty.");
        assert_eq!(e("c.yaml", b""), "Failed to load the secret file c.yaml: line 1: The file is empty.");
        assert_eq!(
            e("c.json", b"[1]"),
            "Failed to load the secret file c.json: line 1: The file should contain the object."
        );
        assert_eq!(
            e("c.yml", b"# nothing\n"),
            "Failed to load the secret file c.yml: line 1: The file should contain the object."
        );
        assert_eq!(
            e("c.yml", b"- a\n"),
            "Failed to load the secret file c.yml: line 1: The file should contain the object."
        );
        assert_eq!(e("c.json", b"\n"), "Failed to load the secret file c.json: line 2: Expecting value");
        assert_eq!(
            e("c.json", b"{\n  \"a\": \"x\",\n}"),
            "Failed to load the secret file c.json: line 3: Expecting property name enclosed in double quotes"
        );
        assert_eq!(
            e("c.env", b"A=1\n\xff=2"),
            "Failed to load the secret file c.env: line 2: The file is not valid UTF-8."
        );
        assert!(parse_secret_file("c.env", b"").unwrap().is_empty());
    }

    #[test]
    fn env_errors_are_all_listed() {
        let text = "ok=1\n".to_owned() + &"bad\n".repeat(12);
        let msg = malformed(parse_secret_file("c.env", text.as_bytes()).unwrap_err());
        let line = |n: usize| {
            format!("line {n}: Invalid line format. The line should contain at least one equal sign (\"=\").")
        };
        let expected: Vec<String> = (2..12).map(line).collect();
        assert_eq!(msg, format!("Failed to load the secret file c.env: {}; and 2 more errors", expected.join("; ")));
    }

    #[test]
    fn variables_per_format() {
        let v = load_variables("v.env", b"A=1\nB=x=y\n").unwrap();
        assert_eq!(v, vec![(s("A"), s("1")), (s("B"), s("x=y"))]);
        let msg = malformed(load_variables("v.env", b"A=1\nB=2\nA=3\nC=4\nB=5\n").unwrap_err());
        assert_eq!(msg, r#"The "v.env" file contains multiple values for keys: ['A', 'B']"#);
        // JSON and YAML lists are values like any other for variables.
        let v = load_variables("v.json", br#"{"a": [1, 2], "b": null}"#).unwrap();
        assert_eq!(
            v,
            vec![(s("a"), Value::Seq(vec![Value::Int("1".into()), Value::Int("2".into())])), (s("b"), Value::Null)]
        );
    }

    #[test]
    fn configs_unwrap_single_item_lists_in_every_format() {
        let c = load_configs("c.yaml", b"a: [x]\nb: y\n").unwrap();
        assert_eq!(c, vec![(s("a"), s("x")), (s("b"), s("y"))]);
        let msg = malformed(load_configs("c.json", br#"{"a": [], "b": [1, 2], "c": 3}"#).unwrap_err());
        assert_eq!(msg, r#"The "c.json" file contains multiple values for keys: ['a', 'b']"#);
    }

    /// Airflow names every key with several values; the message names ten and counts the rest, so its size is
    /// bounded whatever the file holds (found by the long fuzz run of local_files_json: a 4 kB message).
    #[test]
    fn a_message_names_at_most_ten_keys_with_several_values() {
        let file: String = (0..25).map(|i| format!("k{i}=a\nk{i}=b\n")).collect();
        let msg = malformed(load_variables("v.env", file.as_bytes()).unwrap_err());
        let named: Vec<String> = (0..10).map(|i| format!("'k{i}'")).collect();
        assert_eq!(
            msg,
            format!(r#"The "v.env" file contains multiple values for keys: [{}, and 15 more]"#, named.join(", "))
        );
        let json: String = format!("{{{}}}", (0..12).map(|i| format!(r#""c{i}": []"#)).collect::<Vec<_>>().join(", "));
        let msg = malformed(load_configs("c.json", json.as_bytes()).unwrap_err());
        assert!(msg.ends_with("'c8', 'c9', and 2 more]"), "{msg}");
    }

    #[test]
    fn connections_not_unique_and_empty_lists() {
        let msg = malformed(load_connections("c.env", b"A=x://h\nA=y://h\n", Dialect::Server).unwrap_err());
        assert_eq!(msg, r#"Found multiple values for "A" in c.env."#);
        let msg = malformed(load_connections("c.json", br#"{"a": ["x://h", "y://h"]}"#, Dialect::Server).unwrap_err());
        assert_eq!(msg, r#"Found multiple values for "a" in c.json."#);
        let c = load_connections("c.json", br#"{"a": [], "b": ["x://h"]}"#, Dialect::Server).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].0, s("b"));
        assert_eq!(c[0].1.host.as_deref(), Some("h"));
    }
}
