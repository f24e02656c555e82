//! The mechanics of reading `backend_kwargs`, the provider configuration the host passes as JSON text.
//!
//! Every provider validates its configuration the same way, so the messages read the same whatever the
//! provider: the text must be a JSON object (empty or whitespace-only text means "all defaults"), every key
//! must be one the provider knows (Airflow raises a `TypeError` for an unknown keyword argument), and every
//! value must have the expected JSON type. Each provider keeps its own keys, defaults and configuration
//! struct; this module only reads values.
//!
//! One key is common to all providers and is a wasm-secrets extension, not an Airflow keyword argument:
//! [`DIALECT_KEY`], `"server"` or `"worker"`, which chooses the Airflow `Connection` class (see
//! `airflow_compat::Dialect`).
//!
//! ```
//! use airflow_compat::Dialect;
//! use wasm_secrets_guest::kwargs::{DIALECT_KEY, Kwargs};
//!
//! const KNOWN_KEYS: [&str; 4] = ["prefix", "label", "flag", DIALECT_KEY];
//! let kwargs = Kwargs::parse(r#"{"prefix": "P_", "label": null, "dialect": "worker"}"#, &KNOWN_KEYS).unwrap();
//! assert_eq!(kwargs.get::<String>("prefix").unwrap().as_deref(), Some("P_"));
//! assert_eq!(kwargs.get::<Option<String>>("label").unwrap(), Some(None));
//! assert_eq!(kwargs.get::<bool>("flag").unwrap(), None);
//!
//! let (mut label, mut flag, mut dialect) = (Some("default".to_owned()), true, Dialect::Server);
//! kwargs.set("label", &mut label).unwrap();
//! kwargs.set("flag", &mut flag).unwrap();
//! kwargs.set(DIALECT_KEY, &mut dialect).unwrap();
//! assert_eq!((label, flag, dialect), (None, true, Dialect::Worker));
//!
//! assert_eq!(
//!     kwargs.get::<bool>("prefix").unwrap_err().to_string(),
//!     "invalid configuration: `prefix` in backend_kwargs must be a boolean, got a string"
//! );
//! assert_eq!(
//!     Kwargs::parse(r#"{"namespace": "x"}"#, &KNOWN_KEYS).unwrap_err().to_string(),
//!     "invalid configuration: unknown key `namespace` in backend_kwargs (known keys: prefix, label, flag, dialect)"
//! );
//! ```

use airflow_compat::Dialect;
use serde_json::{Map, Value};

use crate::error::LookupError;

/// The wasm-secrets extension key selecting the connection dialect (see the module documentation).
pub const DIALECT_KEY: &str = "dialect";

/// A `backend_kwargs` JSON object whose keys have all been checked against the provider's known keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kwargs(Map<String, Value>);

impl Kwargs {
    /// Parses `backend_kwargs` JSON text and rejects any key not in `known_keys`. Empty or whitespace-only
    /// text is an empty object, so every getter answers `None` and the provider keeps its defaults.
    pub fn parse(text: &str, known_keys: &[&str]) -> Result<Self, LookupError> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let value: Value = serde_json::from_str(text).map_err(|e| {
            LookupError::InvalidConfiguration(format!(
                "backend_kwargs is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        let Value::Object(map) = value else {
            return Err(LookupError::InvalidConfiguration(format!(
                "backend_kwargs must be a JSON object, got {}",
                json_type(&value)
            )));
        };
        if let Some(unknown) = map.keys().find(|k| !known_keys.contains(&k.as_str())) {
            return Err(LookupError::InvalidConfiguration(format!(
                "unknown key `{unknown}` in backend_kwargs (known keys: {})",
                known_keys.join(", ")
            )));
        }
        Ok(Self(map))
    }

    /// The value of `key` read as a `T`: `Ok(None)` when the key is absent, an error naming the key when
    /// the value has the wrong JSON type. `T = Option<String>` accepts a string or `null` (`Some(None)`).
    pub fn get<T: KwargValue>(&self, key: &str) -> Result<Option<T>, LookupError> {
        self.0.get(key).map(|value| T::from_kwarg(key, value)).transpose()
    }

    /// Overwrites `slot`, which holds the provider's default, with the value of `key` when the key is present;
    /// the error is [`Kwargs::get`]'s.
    pub fn set<T: KwargValue>(&self, key: &str, slot: &mut T) -> Result<(), LookupError> {
        if let Some(value) = self.get(key)? {
            *slot = value;
        }
        Ok(())
    }
}

/// A type a `backend_kwargs` value may be read as, with [`Kwargs::get`].
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
            Value::String(s) => s.parse().map_err(|_| invalid_dialect(key, Some(s))),
            _ => Err(invalid_dialect(key, None)),
        }
    }
}

/// The error for a value of `key` that is not of the `expected` JSON type (`"a string"`, ...).
pub fn wrong_type(key: &str, expected: &str, got: &Value) -> LookupError {
    LookupError::InvalidConfiguration(format!("`{key}` in backend_kwargs must be {expected}, got {}", json_type(got)))
}

/// The dialect value is not one of the allowed strings. A wrong string is echoed (it is configuration, not a
/// secret), unless it is long enough to be something pasted by mistake.
fn invalid_dialect(key: &str, got: Option<&str>) -> LookupError {
    let got = match got {
        Some(s) if s.chars().count() <= 40 => format!("{s:?}"),
        Some(_) => "a longer string".to_owned(),
        None => "a non-string value".to_owned(),
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

    const KEYS: [&str; 4] = ["s", "n", "b", DIALECT_KEY];

    fn parse(text: &str) -> Kwargs {
        Kwargs::parse(text, &KEYS).unwrap()
    }

    fn parse_err(text: &str) -> String {
        Kwargs::parse(text, &KEYS).unwrap_err().to_string()
    }

    #[test]
    fn empty_text_and_empty_object_have_no_values() {
        for text in ["", "  \n", "{}", " {} "] {
            let kwargs = parse(text);
            assert_eq!(kwargs, Kwargs::default(), "{text:?}");
            assert_eq!(kwargs.get::<String>("s").unwrap(), None, "{text:?}");
            assert_eq!(kwargs.get::<Dialect>(DIALECT_KEY).unwrap(), None, "{text:?}");
        }
    }

    #[test]
    fn document_errors() {
        assert_eq!(parse_err("{\"s\": "), "invalid configuration: backend_kwargs is not valid JSON (line 1, column 6)");
        assert_eq!(parse_err("{"), "invalid configuration: backend_kwargs is not valid JSON (line 1, column 1)");
        for (text, got) in
            [("null", "null"), ("true", "a boolean"), ("1", "a number"), ("\"s\"", "a string"), ("[]", "an array")]
        {
            assert_eq!(
                parse_err(text),
                format!("invalid configuration: backend_kwargs must be a JSON object, got {got}")
            );
        }
        assert_eq!(
            parse_err(r#"{"s": "x", "other": 1}"#),
            "invalid configuration: unknown key `other` in backend_kwargs (known keys: s, n, b, dialect)"
        );
    }

    #[test]
    fn typed_getters() {
        let kwargs = parse(r#"{"s": "x", "n": null, "b": true}"#);
        assert_eq!(kwargs.get::<String>("s").unwrap().as_deref(), Some("x"));
        assert_eq!(kwargs.get::<Option<String>>("s").unwrap(), Some(Some("x".to_owned())));
        assert_eq!(kwargs.get::<Option<String>>("n").unwrap(), Some(None));
        assert_eq!(kwargs.get::<bool>("b").unwrap(), Some(true));
        assert_eq!(
            kwargs.get::<String>("n").unwrap_err().to_string(),
            "invalid configuration: `n` in backend_kwargs must be a string, got null"
        );
        assert_eq!(
            kwargs.get::<Option<String>>("b").unwrap_err().to_string(),
            "invalid configuration: `b` in backend_kwargs must be a string or null, got a boolean"
        );
        assert_eq!(
            kwargs.get::<bool>("s").unwrap_err().to_string(),
            "invalid configuration: `s` in backend_kwargs must be a boolean, got a string"
        );
        let kwargs = parse(r#"{"s": {}, "n": 1.5}"#);
        assert_eq!(
            kwargs.get::<String>("s").unwrap_err().to_string(),
            "invalid configuration: `s` in backend_kwargs must be a string, got an object"
        );
        assert_eq!(
            kwargs.get::<Option<String>>("n").unwrap_err().to_string(),
            "invalid configuration: `n` in backend_kwargs must be a string or null, got a number"
        );
    }

    #[test]
    fn set_overwrites_the_default_only_when_present() {
        let kwargs = parse(r#"{"s": "x", "n": null}"#);
        let (mut s, mut n, mut b) = ("default".to_owned(), Some("default".to_owned()), true);
        kwargs.set("s", &mut s).unwrap();
        kwargs.set("n", &mut n).unwrap();
        kwargs.set("b", &mut b).unwrap();
        assert_eq!((s.as_str(), n, b), ("x", None, true));
        let mut flag = false;
        assert_eq!(
            kwargs.set("s", &mut flag).unwrap_err().to_string(),
            "invalid configuration: `s` in backend_kwargs must be a boolean, got a string"
        );
        assert!(!flag, "a failed set leaves the default");
    }

    #[test]
    fn dialect() {
        let dialect = |text: &str| parse(text).get::<Dialect>(DIALECT_KEY);
        assert_eq!(dialect(r#"{"dialect": "server"}"#).unwrap(), Some(Dialect::Server));
        assert_eq!(dialect(r#"{"dialect": "worker"}"#).unwrap(), Some(Dialect::Worker));
        let err = |text: &str| dialect(text).unwrap_err().to_string();
        let prefix = r#"invalid configuration: `dialect` in backend_kwargs must be "server" or "worker", got "#;
        assert_eq!(err(r#"{"dialect": "Worker"}"#), format!(r#"{prefix}"Worker""#));
        assert_eq!(err(r#"{"dialect": ""}"#), format!(r#"{prefix}"""#));
        assert_eq!(err(r#"{"dialect": null}"#), format!("{prefix}a non-string value"));
        assert_eq!(err(r#"{"dialect": ["worker"]}"#), format!("{prefix}a non-string value"));
        assert_eq!(err(&format!(r#"{{"dialect": "{}"}}"#, "w".repeat(40))), format!(r#"{prefix}"{}""#, "w".repeat(40)));
        assert_eq!(err(&format!(r#"{{"dialect": "{}"}}"#, "w".repeat(41))), format!("{prefix}a longer string"));
    }
}
