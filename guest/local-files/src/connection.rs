//! Airflow's `_create_connection(conn_id, value)` for the local filesystem backend.
//!
//! ```python
//! if isinstance(value, str):
//!     return Connection(conn_id=conn_id, uri=value)       # the URI parser only: no strip, no "{" JSON detection
//! if isinstance(value, dict):
//!     # illegal-keys check against Connection.__init__'s parameters | {"extra_dejson"}
//!     # "extra" and "extra_dejson" are mutually exclusive; extra_dejson -> extra = json.dumps(extra_dejson)
//!     # a "conn_id" that differs from the key is an error
//!     return Connection(conn_id=conn_id, **value)
//! raise AirflowException("Unexpected value type: ...")
//! ```
//!
//! `Connection` is always airflow-core's class (`airflow.models.connection.Connection`), in every Airflow
//! process, and the object form goes through its constructor, not through `Connection.from_json`. So unlike
//! the secret values of the other providers:
//! - `conn_type` is kept as written (`postgresql` is not normalised to `postgres`) and `""` stays `""`;
//! - `port` is stored as given (`0` stays `0`; Airflow does not call `int()`);
//! - an `extra` that is a mapping (or any truthy non-string) is `json.dumps`-ed; a falsy one (`{}`, `[]`,
//!   `0`, `false`, `null`) is no extra; an `extra` string is kept, and must be a JSON object when non-empty;
//! - an empty password is no password (core's setter ignores falsy values);
//! - `uri` together with another truthy field is an error; otherwise `uri` is parsed and `description` kept.
//!
//! Deviations (Airflow stores these untyped and fails later, or silently keeps a value no hook can use):
//! `conn_type`, `description`, `host`, `login`, `schema`, `password` and `uri` must be strings or null, and
//! `port` an integer (not a boolean, float or string) or null that fits in 64 bits.
//!
//! The `dialect` configuration chooses the URI parser for string values and `uri` fields: `server` (the
//! default) is what Airflow does here; `worker` applies the Task SDK's `Connection.from_uri` instead.

use airflow_compat::connection::CoreArguments;
use airflow_compat::{Connection, Dialect};

use crate::value::{Value, bounded_list, describe_name};

/// The keyword parameters of airflow-core 3.3.2's `Connection.__init__`, plus `extra_dejson`, in the
/// constructor's order.
pub const ALLOWED_KEYS: [&str; 12] = [
    "conn_id",
    "conn_type",
    "description",
    "host",
    "login",
    "password",
    "schema",
    "port",
    "extra",
    "uri",
    "team_name",
    "extra_dejson",
];

/// Builds the connection defined by `value` under `key`. The error is a message that names fields, never
/// their values.
pub fn create_connection(key: &Value, value: Value, dialect: Dialect) -> Result<Connection, String> {
    match value {
        Value::Str(uri) => construct(CoreArguments { uri: Some(uri), ..CoreArguments::default() }, dialect),
        Value::Map(pairs) => from_object(key, pairs, dialect),
        other => Err(format!(
            "Unexpected value type: {}. The connection can only be defined using a string or object.",
            other.type_name()
        )),
    }
}

/// `Connection(**arguments)`; the URI parser is the configured dialect's.
fn construct(arguments: CoreArguments, dialect: Dialect) -> Result<Connection, String> {
    arguments.construct(dialect).map_err(|e| e.to_string())
}

fn from_object(key: &Value, pairs: Vec<(Value, Value)>, dialect: Dialect) -> Result<Connection, String> {
    let illegal: Vec<&Value> = pairs
        .iter()
        .map(|(k, _)| k)
        .filter(|k| !matches!(k, Value::Str(s) if ALLOWED_KEYS.contains(&s.as_str())))
        .collect();
    if !illegal.is_empty() {
        // Airflow lists every illegal key; the first few name the problem.
        let named = bounded_list(
            &illegal,
            |k| match k {
                Value::Str(s) => describe_name(s),
                other => other.describe_key(),
            },
            "",
        );
        return Err(format!(
            "The object have illegal keys: {}. The dictionary can only contain the following keys: {}",
            named.join(", "),
            ALLOWED_KEYS.join(", ")
        ));
    }
    let mut fields: Vec<(String, Value)> = pairs
        .into_iter()
        .filter_map(|(k, v)| match k {
            Value::Str(s) => Some((s, v)),
            _ => None,
        })
        .collect();
    let mut take = |name: &str| fields.iter().position(|(k, _)| k == name).map(|i| fields.remove(i).1);

    let extra_dejson = take("extra_dejson");
    let mut extra = take("extra");
    if extra.is_some() && extra_dejson.is_some() {
        return Err(
            "The extra and extra_dejson parameters are mutually exclusive. Please provide only one parameter.".into()
        );
    }
    if let Some(dejson) = extra_dejson {
        extra = Some(Value::Str(dejson.json_dumps()));
    }
    if let Some(conn_id) = take("conn_id")
        && !conn_id.key_eq(key)
    {
        return Err("Mismatch conn_id. The `conn_id` field of the object differs from its key.".into());
    }
    take("team_name");

    // `if extra and not isinstance(extra, str): extra = json.dumps(extra)`; a falsy non-string is no extra.
    let extra = match extra {
        Some(Value::Str(s)) => Some(s),
        Some(v) if v.is_truthy() => Some(v.json_dumps()),
        _ => None,
    };
    let uri = match take("uri") {
        Some(uri) if !uri.is_truthy() => None, // a falsy `uri` is ignored
        Some(Value::Str(uri)) => Some(uri),
        Some(other) => return Err(format!("the `uri` field must be a string, got {}", other.type_name())),
        None => None,
    };
    // Beside a URI the constructor only tests the other fields' truthiness: falsy ones of any type are
    // ignored, truthy ones are an error (whose message names the field's type when it is also mistyped).
    let description = text_field(take("description"), "description")?; // kept beside a URI
    let has_uri = uri.is_some();
    let mut field = |name: &str| take(name).filter(|v| !has_uri || v.is_truthy());
    let arguments = CoreArguments {
        conn_type: text_field(field("conn_type"), "conn_type")?,
        description,
        host: text_field(field("host"), "host")?,
        login: text_field(field("login"), "login")?,
        password: text_field(field("password"), "password")?,
        schema: text_field(field("schema"), "schema")?,
        port: port_field(field("port"))?,
        extra,
        uri,
    };
    construct(arguments, dialect)
}

/// A field that must be a string: `null` (or absent) is `None`.
fn text_field(value: Option<Value>, name: &str) -> Result<Option<String>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s)),
        Some(other) => Err(format!("the `{name}` field must be a string or null, got {}", other.type_name())),
    }
}

fn port_field(value: Option<Value>) -> Result<Option<i64>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Int(digits)) => {
            digits.parse().map(Some).map_err(|_| "the `port` field does not fit in a 64-bit integer".to_owned())
        }
        Some(other) => Err(format!("the `port` field must be an integer or null, got {}", other.type_name())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::safe_load;

    fn key(k: &str) -> Value {
        Value::Str(k.into())
    }

    /// The connection defined by the YAML mapping `yaml` (an object) or scalar under key `c`.
    fn yaml_conn(yaml: &str, dialect: Dialect) -> Result<Connection, String> {
        let Some(Value::Map(mut items)) = safe_load(&format!("c: {yaml}")).unwrap() else { panic!() };
        create_connection(&key("c"), items.remove(0).1, dialect)
    }

    #[test]
    fn string_values_are_uris_only() {
        let c = yaml_conn("postgresql://u:p%40ss@DB.example:5432/db?sslmode=require", Dialect::Server).unwrap();
        assert_eq!(c.conn_type.as_deref(), Some("postgres"));
        assert_eq!(c.host.as_deref(), Some("db.example"));
        assert_eq!(c.password.as_deref(), Some("p@ss"));
        assert_eq!(c.port, Some(5432));
        assert_eq!(c.extra.as_deref(), Some(r#"{"sslmode": "require"}"#));
        assert_eq!(yaml_conn("''", Dialect::Server).unwrap(), Connection::default());
        // A JSON-looking string is not JSON here: it is parsed as a URI (Airflow does the same).
        let c = yaml_conn(r#"'{"conn_type": "http"}'"#, Dialect::Server).unwrap();
        assert_eq!(c.conn_type.as_deref(), Some(""));
        assert_eq!(c.host.as_deref(), Some(""));
        assert_eq!(c.schema.as_deref(), Some(r#""conn_type": "http"}"#));
        let w = yaml_conn("x://h?a=1", Dialect::Worker).unwrap();
        assert_eq!(w.extra.as_deref(), Some(r#"{"a": "1"}"#));
    }

    #[test]
    fn object_form_follows_the_core_constructor() {
        let c = yaml_conn(
            "{conn_type: postgresql, host: DB, login: u, password: '', port: 0, schema: s, description: d, extra: {b: 1.0, a: [x]}}",
            Dialect::Server,
        )
        .unwrap();
        assert_eq!(c.conn_type.as_deref(), Some("postgresql"), "not normalised");
        assert_eq!(c.host.as_deref(), Some("DB"));
        assert_eq!(c.login.as_deref(), Some("u"));
        assert_eq!(c.password, None);
        assert_eq!(c.port, Some(0));
        assert_eq!(c.schema.as_deref(), Some("s"));
        assert_eq!(c.description.as_deref(), Some("d"));
        assert_eq!(c.extra.as_deref(), Some(r#"{"b": 1.0, "a": ["x"]}"#));

        let c = yaml_conn("{conn_type: '', extra: {}}", Dialect::Server).unwrap();
        assert_eq!(c.conn_type.as_deref(), Some(""));
        assert_eq!(c.extra, None);
        assert_eq!(yaml_conn("{extra: ''}", Dialect::Server).unwrap().extra.as_deref(), Some(""));
        assert_eq!(yaml_conn("{extra_dejson: {}}", Dialect::Server).unwrap().extra.as_deref(), Some("{}"));
        assert_eq!(yaml_conn("{extra: '{\"a\": 1}'}", Dialect::Server).unwrap().extra.as_deref(), Some(r#"{"a": 1}"#));
        assert_eq!(yaml_conn("{conn_id: c, team_name: t}", Dialect::Server).unwrap(), Connection::default());
        assert_eq!(yaml_conn("{}", Dialect::Server).unwrap(), Connection::default());
    }

    #[test]
    fn uri_field() {
        let c =
            yaml_conn("{uri: 'x://u:p@h:1/s', description: d, host: '', port: 0, extra: {}}", Dialect::Server).unwrap();
        assert_eq!(c.conn_type.as_deref(), Some("x"));
        assert_eq!(c.host.as_deref(), Some("h"));
        assert_eq!(c.port, Some(1));
        assert_eq!(c.description.as_deref(), Some("d"));
        let mixed = yaml_conn("{uri: 'x://h', host: h}", Dialect::Server).unwrap_err();
        assert_eq!(mixed, "the connection mixes `uri` with other fields");
        // Falsy fields of any type do not count as mixing, as in Airflow (they are ignored beside a URI).
        let c = yaml_conn("{uri: 'x://h', host: 0, login: [], port: false, extra: {}}", Dialect::Server).unwrap();
        assert_eq!((c.host.as_deref(), c.login, c.port), (Some("h"), None, None));
        assert_eq!(
            yaml_conn("{uri: 1}", Dialect::Server).unwrap_err(),
            "the `uri` field must be a string, got <class 'int'>"
        );
        // A falsy uri is ignored.
        assert_eq!(yaml_conn("{uri: '', host: h}", Dialect::Server).unwrap().host.as_deref(), Some("h"));
    }

    #[test]
    fn object_errors() {
        let e = |yaml: &str| yaml_conn(yaml, Dialect::Server).unwrap_err();
        assert_eq!(
            e("{hots: h, 1: x, conn_type: x}"),
            r#"The object have illegal keys: "hots", of type <class 'int'>. The dictionary can only contain the following keys: conn_id, conn_type, description, host, login, password, schema, port, extra, uri, team_name, extra_dejson"#
        );
        // At most ten illegal keys are named, the rest counted: the message stays bounded.
        let many: Vec<String> = (0..25).map(|i| format!("k{i}: 1")).collect();
        let message = e(&format!("{{{}}}", many.join(", ")));
        assert!(
            message.starts_with(
                r#"The object have illegal keys: "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9", and 15 more. "#
            ),
            "{message}"
        );
        assert_eq!(
            e("{extra: '{}', extra_dejson: {}}"),
            "The extra and extra_dejson parameters are mutually exclusive. Please provide only one parameter."
        );
        assert_eq!(e("{conn_id: other}"), "Mismatch conn_id. The `conn_id` field of the object differs from its key.");
        assert_eq!(e("{extra: '[1]'}"), "the connection extra is not a JSON object");
        assert_eq!(e("{extra: [1]}"), e("{extra: '[1]'}"));
        assert_eq!(e("{extra: 'nope'}"), "the connection extra is not valid JSON");
        assert_eq!(e("{extra_dejson: null}"), e("{extra: '[1]'}"));
        assert_eq!(e("{port: '5432'}"), "the `port` field must be an integer or null, got <class 'str'>");
        assert_eq!(e("{port: true}"), "the `port` field must be an integer or null, got <class 'bool'>");
        assert_eq!(e("{port: 99999999999999999999}"), "the `port` field does not fit in a 64-bit integer");
        assert_eq!(e("{host: [h]}"), "the `host` field must be a string or null, got <class 'list'>");
        assert_eq!(e("{password: 1234}"), "the `password` field must be a string or null, got <class 'int'>");
        assert_eq!(
            e("42"),
            "Unexpected value type: <class 'int'>. The connection can only be defined using a string or object."
        );
        assert_eq!(
            e("null"),
            "Unexpected value type: <class 'NoneType'>. The connection can only be defined using a string or object."
        );
        assert_eq!(e("'x://h:99999'"), "the port in the connection URI is out of range 0-65535");
    }
}
