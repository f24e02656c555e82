//! The mechanics of reading `backend_kwargs`, the provider configuration the host passes as JSON text.
//!
//! Every provider validates its configuration the same way, so the messages read the same whatever the
//! provider: the text must be a JSON object (empty or whitespace-only text means "all defaults"), every key
//! must be one the provider knows (Airflow raises a `TypeError` for an unknown keyword argument), and every
//! value must have the expected JSON type. Each provider keeps its own defaults and configuration struct and
//! lists its keys once, each with the field it sets ([`read`]): the known keys of the error message are that
//! list.
//!
//! One key is common to all providers and is a wasm-secrets extension, not an Airflow keyword argument:
//! [`DIALECT_KEY`], `"server"` or `"worker"`, which chooses the Airflow `Connection` class (see
//! `airflow_compat::Dialect`).
//!
//! ```
//! use airflow_compat::Dialect;
//! use wasm_secrets_provider_common::kwargs::{self, DIALECT_KEY};
//!
//! let (mut prefix, mut label, mut flag, mut dialect) = (String::new(), Some("default".to_owned()), true, Dialect::Server);
//! let text = r#"{"prefix": "P_", "label": null, "dialect": "worker"}"#;
//! kwargs::read(text, &mut [("prefix", &mut prefix), ("label", &mut label), ("flag", &mut flag), (DIALECT_KEY, &mut dialect)])
//!     .unwrap();
//! assert_eq!((prefix.as_str(), label, flag, dialect), ("P_", None, true, Dialect::Worker));
//!
//! assert_eq!(
//!     kwargs::read(r#"{"prefix": true}"#, &mut [("prefix", &mut prefix)]).unwrap_err().to_string(),
//!     "invalid configuration: `prefix` in backend_kwargs must be a string, got a boolean"
//! );
//! assert_eq!(
//!     kwargs::read(r#"{"namespace": "x"}"#, &mut [("prefix", &mut prefix), ("flag", &mut flag)]).unwrap_err().to_string(),
//!     "invalid configuration: unknown key `namespace` in backend_kwargs (known keys: prefix, flag)"
//! );
//! ```

use airflow_compat::Dialect;
use serde_json::{Map, Value};

use crate::error::LookupError;

/// The wasm-secrets extension key selecting the connection dialect (see the module documentation).
pub const DIALECT_KEY: &str = "dialect";

/// The longest unknown key quoted in an error: a longer one is cut (it may be a value pasted by mistake).
const MAX_KEY_IN_ERROR: usize = 64;

/// The [`DIALECT_KEY`] of `backend_kwargs` text, read and checked exactly as every provider reads it, without
/// looking at the other keys: `None` when it is absent, or when the text is not a JSON object (the provider
/// reports that). For a host that needs the dialect itself, for example to print a connection's `get_uri()`.
///
/// ```
/// use airflow_compat::Dialect;
/// use wasm_secrets_provider_common::kwargs::dialect;
/// assert_eq!(dialect(r#"{"namespace": "x", "dialect": "worker"}"#).unwrap(), Some(Dialect::Worker));
/// assert_eq!(dialect("").unwrap(), None);
/// assert!(dialect(r#"{"dialect": "client"}"#).is_err());
/// ```
pub fn dialect(text: &str) -> Result<Option<Dialect>, LookupError> {
    let Ok(map) = parse_object(text) else {
        return Ok(None);
    };
    map.get(DIALECT_KEY).map(|value| Dialect::from_kwarg(DIALECT_KEY, value)).transpose()
}

/// One `backend_kwargs` key and the configuration field it sets, holding the provider's default until then.
pub type Field<'a> = (&'static str, &'a mut dyn Slot);

/// Reads `backend_kwargs` JSON text into `fields`: every key present overwrites its field, absent keys leave
/// the defaults, and a key that is not one of `fields` is an error listing the known keys in the order of
/// `fields`. Empty or whitespace-only text is an empty object. On error, fields read before it may already
/// be set; callers discard the configuration then.
pub fn read(text: &str, fields: &mut [Field<'_>]) -> Result<(), LookupError> {
    let map = parse_object(text)?;
    if let Some(unknown) = map.keys().find(|k| !fields.iter().any(|(key, _)| key == k)) {
        let known: Vec<&str> = fields.iter().map(|(key, _)| *key).collect();
        let unknown: String = unknown.chars().take(MAX_KEY_IN_ERROR).collect();
        return Err(LookupError::InvalidConfiguration(format!(
            "unknown key `{unknown}` in backend_kwargs (known keys: {})",
            known.join(", ")
        )));
    }
    for (key, slot) in fields.iter_mut() {
        if let Some(value) = map.get(*key) {
            slot.set(key, value)?;
        }
    }
    Ok(())
}

/// A provider configuration read from `backend_kwargs`: its defaults, the keys it knows (each with the field it
/// sets), and what it checks once they are read. [`FromKwargs::from_json`] does the reading, the same for every
/// provider.
pub trait FromKwargs: Default {
    /// Every key, in the order the unknown-key error lists them, with the field it sets.
    fn fields(&mut self) -> Vec<Field<'_>>;

    /// Normalises and checks the fields once read (for example `""` meaning the same as `null`).
    fn finish(self) -> Result<Self, LookupError> {
        Ok(self)
    }

    /// Parses and validates `backend_kwargs` JSON text: the defaults, overwritten by the keys present, then
    /// [`FromKwargs::finish`]. Empty or whitespace-only text means all defaults.
    fn from_json(text: &str) -> Result<Self, LookupError> {
        let mut config = Self::default();
        read(text, &mut config.fields())?;
        config.finish()
    }
}

/// The JSON object of `backend_kwargs` text; empty text is an empty object.
fn parse_object(text: &str) -> Result<Map<String, Value>, LookupError> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    let value: Value = serde_json::from_str(text).map_err(|e| {
        LookupError::InvalidConfiguration(format!(
            "backend_kwargs is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(LookupError::InvalidConfiguration(format!(
            "backend_kwargs must be a JSON object, got {}",
            json_type(&other)
        ))),
    }
}

/// A configuration field that a `backend_kwargs` value can set; implemented for every [`KwargValue`].
pub trait Slot {
    /// Overwrites the field with `value`, the value of `key`; the error names the key and the expected type.
    fn set(&mut self, key: &str, value: &Value) -> Result<(), LookupError>;
}

impl<T: KwargValue> Slot for T {
    fn set(&mut self, key: &str, value: &Value) -> Result<(), LookupError> {
        *self = T::from_kwarg(key, value)?;
        Ok(())
    }
}

/// A type a `backend_kwargs` value may be read as (a [`Slot`] of [`read`]).
pub trait KwargValue: Sized {
    /// Reads `value`, the value of `key`; the error names the key and the expected type.
    fn from_kwarg(key: &str, value: &Value) -> Result<Self, LookupError>;
}

/// A JSON string.
impl KwargValue for String {
    fn from_kwarg(key: &str, value: &Value) -> Result<Self, LookupError> {
        match value {
            Value::String(s) => Ok(s.clone()),
            other => Err(wrong_type(key, "a string", other)),
        }
    }
}

/// A JSON string, or `null` for `None`.
impl KwargValue for Option<String> {
    fn from_kwarg(key: &str, value: &Value) -> Result<Self, LookupError> {
        match value {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            other => Err(wrong_type(key, "a string or null", other)),
        }
    }
}

/// A JSON boolean.
impl KwargValue for bool {
    fn from_kwarg(key: &str, value: &Value) -> Result<Self, LookupError> {
        match value {
            Value::Bool(b) => Ok(*b),
            other => Err(wrong_type(key, "a boolean", other)),
        }
    }
}

/// `"server"` or `"worker"`, exactly.
impl KwargValue for Dialect {
    fn from_kwarg(key: &str, value: &Value) -> Result<Self, LookupError> {
        match value {
            Value::String(s) => s.parse().map_err(|_| invalid_dialect(key, value)),
            other => Err(invalid_dialect(key, other)),
        }
    }
}

/// The error for a value of `key` that is not of the `expected` JSON type (`"a string"`, ...).
fn wrong_type(key: &str, expected: &str, got: &Value) -> LookupError {
    LookupError::InvalidConfiguration(format!("`{key}` in backend_kwargs must be {expected}, got {}", json_type(got)))
}

/// The dialect value is not one of the allowed strings. Like every kwargs value, it is never echoed (a value
/// pasted in the wrong key may be a credential); its JSON type is named.
fn invalid_dialect(key: &str, got: &Value) -> LookupError {
    let got = match got {
        Value::String(_) => "another string",
        other => json_type(other),
    };
    LookupError::InvalidConfiguration(format!("`{key}` in backend_kwargs must be \"server\" or \"worker\", got {got}"))
}

/// The JSON type of `value`, as the error messages name it.
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A configuration of every value type, with defaults that no test value equals.
    #[derive(Debug, PartialEq)]
    struct Config {
        s: String,
        n: Option<String>,
        b: bool,
        dialect: Dialect,
    }

    impl Default for Config {
        fn default() -> Self {
            Self { s: "default".into(), n: Some("default".into()), b: true, dialect: Dialect::Server }
        }
    }

    impl FromKwargs for Config {
        fn fields(&mut self) -> Vec<Field<'_>> {
            vec![("s", &mut self.s), ("n", &mut self.n), ("b", &mut self.b), (DIALECT_KEY, &mut self.dialect)]
        }
    }

    fn config(text: &str) -> Result<Config, LookupError> {
        Config::from_json(text)
    }

    fn err(text: &str) -> String {
        config(text).unwrap_err().to_string()
    }

    #[test]
    fn empty_text_and_empty_object_keep_the_defaults() {
        for text in ["", "  \n", "{}", " {} "] {
            assert_eq!(config(text).unwrap(), Config::default(), "{text:?}");
        }
    }

    #[test]
    fn document_errors() {
        assert_eq!(err("{\"s\": "), "invalid configuration: backend_kwargs is not valid JSON (line 1, column 6)");
        assert_eq!(err("{"), "invalid configuration: backend_kwargs is not valid JSON (line 1, column 1)");
        for (text, got) in
            [("null", "null"), ("true", "a boolean"), ("1", "a number"), ("\"s\"", "a string"), ("[]", "an array")]
        {
            assert_eq!(err(text), format!("invalid configuration: backend_kwargs must be a JSON object, got {got}"));
        }
        assert_eq!(
            err(r#"{"s": "x", "other": 1}"#),
            "invalid configuration: unknown key `other` in backend_kwargs (known keys: s, n, b, dialect)"
        );
        let long = "k".repeat(65);
        assert_eq!(
            err(&format!(r#"{{"{long}": 1}}"#)),
            format!(
                "invalid configuration: unknown key `{}` in backend_kwargs (known keys: s, n, b, dialect)",
                &long[..64]
            )
        );
    }

    #[test]
    fn present_keys_overwrite_their_field_only() {
        let c = config(r#"{"s": "x", "n": null}"#).unwrap();
        assert_eq!(c, Config { s: "x".into(), n: None, ..Config::default() });
        let c = config(r#"{"n": "y", "b": false}"#).unwrap();
        assert_eq!(c, Config { n: Some("y".into()), b: false, ..Config::default() });
    }

    #[test]
    fn wrong_types_name_the_key_and_the_expected_type() {
        for (text, message) in [
            (r#"{"s": null}"#, "`s` in backend_kwargs must be a string, got null"),
            (r#"{"s": {}}"#, "`s` in backend_kwargs must be a string, got an object"),
            (r#"{"n": true}"#, "`n` in backend_kwargs must be a string or null, got a boolean"),
            (r#"{"n": 1.5}"#, "`n` in backend_kwargs must be a string or null, got a number"),
            (r#"{"b": "true"}"#, "`b` in backend_kwargs must be a boolean, got a string"),
        ] {
            assert_eq!(err(text), format!("invalid configuration: {message}"), "{text}");
        }
    }

    #[test]
    fn dialect() {
        assert_eq!(config(r#"{"dialect": "server"}"#).unwrap().dialect, Dialect::Server);
        assert_eq!(config(r#"{"dialect": "worker"}"#).unwrap().dialect, Dialect::Worker);
        let prefix = r#"invalid configuration: `dialect` in backend_kwargs must be "server" or "worker", got "#;
        assert_eq!(err(r#"{"dialect": "Worker"}"#), format!("{prefix}another string"));
        assert_eq!(err(r#"{"dialect": ""}"#), format!("{prefix}another string"));
        assert_eq!(err(r#"{"dialect": null}"#), format!("{prefix}null"));
        assert_eq!(err(r#"{"dialect": ["worker"]}"#), format!("{prefix}an array"));
        assert_eq!(err(r#"{"dialect": 1}"#), format!("{prefix}a number"));
    }
}
