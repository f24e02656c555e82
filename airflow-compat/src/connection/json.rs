//! The JSON form: `Connection.from_json` followed by the class constructor.

use super::{Connection, CoreArguments, Dialect, normalize_conn_type, uri};
use crate::error::{ConnectionError, JsonField};
use crate::pyjson::{self, PyObject};
use crate::pystr::{self, IntParseError};

/// The longest unknown key name quoted in an error.
const MAX_KEY_IN_ERROR: usize = 64;

/// Python's `int(value)` for the JSON `port`, which is only called for truthy values.
fn coerce_port(value: &PyObject) -> Result<i64, ConnectionError> {
    let result = match value {
        PyObject::Bool(b) => Ok(i64::from(*b)),
        PyObject::Int(digits) => digits.parse::<i64>().map_err(|_| IntParseError::TooLarge),
        PyObject::Float(f) => pystr::int_from_float(*f),
        PyObject::Str(s) => pystr::int_from_str(s),
        PyObject::None | PyObject::List(_) | PyObject::Dict(_) => Err(IntParseError::Invalid),
    };
    result.map_err(|e| match e {
        IntParseError::Invalid => ConnectionError::JsonPortNotInteger,
        IntParseError::TooLarge => ConnectionError::JsonPortTooLarge,
    })
}

/// A string field: `null` is `None`; anything but a string is rejected (Airflow would store it untyped).
fn string_field(field: JsonField, value: PyObject) -> Result<Option<String>, ConnectionError> {
    match value {
        PyObject::None => Ok(None),
        PyObject::Str(s) => Ok(Some(s)),
        _ => Err(ConnectionError::FieldType { field, expected: "a string or null" }),
    }
}

fn unknown_field(key: &str) -> ConnectionError {
    let name: String = key.chars().take(MAX_KEY_IN_ERROR).collect();
    ConnectionError::UnknownField(name)
}

/// Parses the JSON form (the value is already stripped and starts with `{`).
pub(super) fn parse_json(value: &str, dialect: Dialect) -> Result<Connection, ConnectionError> {
    let PyObject::Dict(mut kwargs) = pyjson::loads(value).map_err(ConnectionError::InvalidJson)? else {
        // A value starting with `{` can only decode to a dict.
        return Err(ConnectionError::InvalidJson(crate::error::JsonSyntaxError {
            problem: "Expecting an object",
            line: 1,
            column: 1,
        }));
    };
    let mut pop = |key: &str| kwargs.iter().position(|(k, _)| k == key).map(|i| kwargs.remove(i).1);

    // extra: truthy values only; a non-string is serialised with json.dumps.
    let extra = match pop("extra") {
        Some(PyObject::Str(s)) if !s.is_empty() => Some(s),
        Some(v) if v.is_truthy() => Some(pyjson::dumps(&v)),
        _ => None,
    };
    // conn_type: truthy values only, normalised without lowercasing.
    let conn_type = match pop("conn_type") {
        Some(v) if v.is_truthy() => match v {
            PyObject::Str(s) => Some(normalize_conn_type(&s)),
            _ => {
                return Err(ConnectionError::FieldType { field: JsonField::ConnType, expected: "a string or null" });
            }
        },
        _ => None,
    };
    // port: truthy values only, through int().
    let port = match pop("port") {
        Some(v) if v.is_truthy() => Some(coerce_port(&v)?),
        _ => None,
    };

    let mut description = None;
    let mut host = None;
    let mut schema = None;
    let mut login = None;
    let mut password = None;
    let mut uri_value: Option<Option<String>> = None;
    // Keys that are still passed to the constructor besides `uri` (the worker's "mixed" check).
    let mut other_kwargs = conn_type.is_some() || port.is_some() || extra.is_some();
    for (key, value) in kwargs {
        match key.as_str() {
            "description" => description = string_field(JsonField::Description, value)?,
            "host" => host = string_field(JsonField::Host, value)?,
            "schema" => schema = string_field(JsonField::Schema, value)?,
            "login" => login = string_field(JsonField::Login, value)?,
            "password" => password = string_field(JsonField::Password, value)?,
            "uri" => {
                uri_value = Some(string_field(JsonField::Uri, value)?);
                continue;
            }
            "conn_id" => return Err(ConnectionError::ConnIdField),
            // Core accepts `team_name` (and does not keep it on the connection); the SDK class has no
            // such field.
            "team_name" if dialect == Dialect::Server => continue,
            _ => return Err(unknown_field(&key)),
        }
        other_kwargs = true;
    }

    match dialect {
        Dialect::Worker => {
            // `if uri is not None and kwargs: raise`; `if uri is None: __attrs_init__` else from_uri.
            if let Some(Some(uri)) = uri_value {
                if other_kwargs {
                    return Err(ConnectionError::UriMixedWithFields);
                }
                return uri::parse_uri(&uri, Dialect::Worker);
            }
            Ok(Connection { conn_type, description, host, schema, login, password, port, extra })
        }
        Dialect::Server => CoreArguments {
            conn_type,
            description,
            host,
            login,
            password,
            schema,
            port,
            extra,
            uri: uri_value.flatten(),
        }
        .construct(Dialect::Server),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str, dialect: Dialect) -> Result<Connection, ConnectionError> {
        parse_json(value, dialect)
    }

    #[test]
    fn port_coercion_follows_int() {
        let port = |v: &str| parse(&format!(r#"{{"port": {v}}}"#), Dialect::Worker).map(|c| c.port);
        assert_eq!(port(r#"" 80 ""#), Ok(Some(80)));
        assert_eq!(port("5432.7"), Ok(Some(5432)));
        assert_eq!(port("true"), Ok(Some(1)));
        assert_eq!(port("false"), Ok(None));
        assert_eq!(port("0"), Ok(None));
        assert_eq!(port(r#""""#), Ok(None));
        assert_eq!(port("null"), Ok(None));
        assert_eq!(port("-0.5"), Ok(Some(0)));
        assert_eq!(port("99999"), Ok(Some(99999)));
        assert_eq!(port(r#""abc""#), Err(ConnectionError::JsonPortNotInteger));
        assert_eq!(port("[1]"), Err(ConnectionError::JsonPortNotInteger));
        assert_eq!(port("NaN"), Err(ConnectionError::JsonPortNotInteger));
        assert_eq!(port("Infinity"), Err(ConnectionError::JsonPortTooLarge));
        assert_eq!(port("123456789012345678901234567890"), Err(ConnectionError::JsonPortTooLarge));
    }

    #[test]
    fn uri_field_rules() {
        let v = r#"{"uri": "postgresql://u:p@h/db", "host": null}"#;
        assert!(parse(v, Dialect::Server).is_ok());
        assert_eq!(parse(v, Dialect::Worker), Err(ConnectionError::UriMixedWithFields));
        let v = r#"{"uri": "x://h", "conn_type": "", "port": 0, "extra": {}}"#;
        assert!(parse(v, Dialect::Worker).is_ok());
        assert!(parse(v, Dialect::Server).is_ok());
        let v = r#"{"uri": "x://h", "description": "d"}"#;
        assert_eq!(parse(v, Dialect::Server).unwrap().description.as_deref(), Some("d"));
        assert!(parse(v, Dialect::Worker).is_err());
        // An empty uri: core ignores it, the SDK parses it.
        let v = r#"{"uri": ""}"#;
        assert_eq!(parse(v, Dialect::Server), Ok(Connection::default()));
        assert_eq!(parse(v, Dialect::Worker).unwrap().conn_type.as_deref(), Some(""));
    }

    #[test]
    fn extra_forms() {
        let extra = |v: &str, d| parse(&format!(r#"{{"extra": {v}}}"#), d).map(|c| c.extra);
        assert_eq!(extra("true", Dialect::Worker), Ok(Some("true".into())));
        assert_eq!(extra("true", Dialect::Server), Err(ConnectionError::ExtraNotObject));
        assert_eq!(extra("[]", Dialect::Server), Ok(None));
        assert_eq!(extra(r#"{"a": 1.0, "b": "é"}"#, Dialect::Server), Ok(Some(r#"{"a": 1.0, "b": "\u00e9"}"#.into())));
        assert_eq!(extra(r#""{\"a\":1}""#, Dialect::Server), Ok(Some(r#"{"a":1}"#.into())));
    }

    #[test]
    fn unknown_fields() {
        assert_eq!(parse(r#"{"foo": 1}"#, Dialect::Server), Err(ConnectionError::UnknownField("foo".into())));
        assert_eq!(parse(r#"{"conn_id": "x"}"#, Dialect::Worker), Err(ConnectionError::ConnIdField));
        assert!(parse(r#"{"team_name": "t"}"#, Dialect::Server).is_ok());
        assert!(parse(r#"{"team_name": "t"}"#, Dialect::Worker).is_err());
    }
}
