//! The Python values a secrets file decodes to (what `json.loads` or `yaml.safe_load` return), with the
//! Python semantics Airflow relies on: truthiness, dict-key equality, `type()` names and `json.dumps`.

use airflow_compat::PyObject;
use airflow_compat::pyjson::{self, float_repr};

/// The longest key or name quoted in an error message; longer ones are cut.
pub const MAX_NAME_IN_ERROR: usize = 64;

/// A decoded value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `None`.
    Null,
    /// `bool`.
    Bool(bool),
    /// `int`, as canonical decimal digits (a leading `-` for negatives, no leading zeros; Python ints are
    /// unbounded).
    Int(String),
    /// `float`.
    Float(f64),
    /// `str`.
    Str(String),
    /// A YAML timestamp (`datetime.date` or `datetime.datetime` in Python), kept as its text.
    Timestamp(String),
    /// `list`.
    Seq(Vec<Value>),
    /// `dict`, in insertion order, keys unique under Python's equality.
    Map(Vec<(Value, Value)>),
}

impl Value {
    /// Python's `bool(value)`.
    pub fn is_truthy(&self) -> bool {
        match self {
            Self::Null => false,
            Self::Bool(b) => *b,
            Self::Int(digits) => digits != "0",
            Self::Float(f) => *f != 0.0,
            Self::Str(s) => !s.is_empty(),
            Self::Timestamp(_) => true,
            Self::Seq(items) => !items.is_empty(),
            Self::Map(items) => !items.is_empty(),
        }
    }

    /// Python's `str(type(value))`, e.g. `<class 'int'>`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Null => "<class 'NoneType'>",
            Self::Bool(_) => "<class 'bool'>",
            Self::Int(_) => "<class 'int'>",
            Self::Float(_) => "<class 'float'>",
            Self::Str(_) => "<class 'str'>",
            Self::Timestamp(t) if t.len() == 10 => "<class 'datetime.date'>",
            Self::Timestamp(_) => "<class 'datetime.datetime'>",
            Self::Seq(_) => "<class 'list'>",
            Self::Map(_) => "<class 'dict'>",
        }
    }

    /// Python's `a == b` for the hashable values that can be dict keys (`1 == 1.0 == True`, `"1" != 1`,
    /// `nan != nan`). Lists and dicts never compare equal here: they cannot be keys.
    pub fn key_eq(&self, other: &Self) -> bool {
        match (self.as_number(), other.as_number()) {
            (Some(a), Some(b)) => a.eq(&b),
            (None, None) => match (self, other) {
                (Self::Null, Self::Null) => true,
                (Self::Str(a), Self::Str(b)) | (Self::Timestamp(a), Self::Timestamp(b)) => a == b,
                _ => false,
            },
            _ => false,
        }
    }

    fn as_number(&self) -> Option<Number<'_>> {
        match self {
            Self::Bool(b) => Some(Number::Int(if *b { "1" } else { "0" })),
            Self::Int(digits) => Some(Number::Int(digits)),
            Self::Float(f) => Some(Number::Float(*f)),
            _ => None,
        }
    }

    /// The value as the Python object `json.dumps` would see. A timestamp becomes its text (Python cannot
    /// serialise a `date`), and dict keys are converted as `json.dumps` converts them (`1` to `"1"`,
    /// `True` to `"true"`, `None` to `"null"`, `1.5` to `"1.5"`).
    pub fn to_py(&self) -> PyObject {
        match self {
            Self::Null => PyObject::None,
            Self::Bool(b) => PyObject::Bool(*b),
            Self::Int(digits) => PyObject::Int(digits.clone()),
            Self::Float(f) => PyObject::Float(*f),
            Self::Str(s) | Self::Timestamp(s) => PyObject::Str(s.clone()),
            Self::Seq(items) => PyObject::List(items.iter().map(Self::to_py).collect()),
            Self::Map(items) => PyObject::Dict(items.iter().map(|(k, v)| (k.json_key(), v.to_py())).collect()),
        }
    }

    /// Python's `json.dumps(value)` (default separators, `ensure_ascii`).
    ///
    /// ```
    /// use wasm_secrets_provider_local_files::value::Value;
    /// let v = Value::Map(vec![(Value::Int("1".into()), Value::Seq(vec![Value::Bool(true), Value::Float(2.0)]))]);
    /// assert_eq!(v.json_dumps(), r#"{"1": [true, 2.0]}"#);
    /// ```
    pub fn json_dumps(&self) -> String {
        pyjson::dumps(&self.to_py())
    }

    fn json_key(&self) -> String {
        match self {
            Self::Str(s) | Self::Timestamp(s) => s.clone(),
            Self::Int(digits) => digits.clone(),
            Self::Float(f) if f.is_nan() => "NaN".to_owned(),
            Self::Float(f) if f.is_infinite() => if *f > 0.0 { "Infinity" } else { "-Infinity" }.to_owned(),
            Self::Float(f) => float_repr(*f),
            Self::Bool(true) => "true".to_owned(),
            Self::Bool(false) => "false".to_owned(),
            Self::Null => "null".to_owned(),
            // Not reachable for keys built by the parsers (lists and dicts cannot be keys).
            Self::Seq(_) | Self::Map(_) => self.json_dumps(),
        }
    }

    /// A key for an error message: a string key quoted and cut at [`MAX_NAME_IN_ERROR`] characters, any
    /// other key by its type only.
    pub fn describe_key(&self) -> String {
        match self {
            Self::Str(s) => describe_name(s),
            other => format!("of type {}", other.type_name()),
        }
    }
}

/// The most items (keys, parse errors) one error message lists: Airflow lists them all, but a file with
/// thousands of them must not make a message of unbounded size (found by fuzzing: local_files_json, twice).
pub const MAX_ITEMS_IN_ERROR: usize = 10;

/// The first [`MAX_ITEMS_IN_ERROR`] of `items`, then `and N more{noun}` when there are more: what an error
/// message lists.
pub fn bounded_list<T>(items: &[T], describe: impl Fn(&T) -> String, noun: &str) -> Vec<String> {
    let mut shown: Vec<String> = items.iter().take(MAX_ITEMS_IN_ERROR).map(describe).collect();
    if items.len() > MAX_ITEMS_IN_ERROR {
        shown.push(format!("and {} more{noun}", items.len() - MAX_ITEMS_IN_ERROR));
    }
    shown
}

/// A name (a connection id, a key) for an error message: quoted, escaped, cut at [`MAX_NAME_IN_ERROR`]
/// characters.
pub fn describe_name(name: &str) -> String {
    let cut: String = name.chars().take(MAX_NAME_IN_ERROR).collect();
    if cut.len() < name.len() { format!("{cut:?}…") } else { format!("{cut:?}") }
}

/// A numeric dict key: Python compares `bool`, `int` and `float` by value.
enum Number<'a> {
    Int(&'a str),
    Float(f64),
}

impl Number<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Int(a), Self::Int(b)) => a == b,
            (Self::Float(a), Self::Float(b)) => a == b,
            (Self::Int(i), Self::Float(f)) | (Self::Float(f), Self::Int(i)) => {
                f.is_finite() && f.fract() == 0.0 && int_digits_of_integral_float(*f) == *i
            }
        }
    }
}

/// The canonical decimal digits of an integral, finite float (Python's `int(f)`).
fn int_digits_of_integral_float(f: f64) -> String {
    if f == 0.0 {
        return "0".to_owned();
    }
    // `{:.0}` prints every digit of an integral float exactly.
    format!("{f:.0}")
}

/// Inserts `(key, value)` into a dict with Python's semantics: an equal key keeps its position and takes
/// the new value.
pub fn dict_insert(items: &mut Vec<(Value, Value)>, key: Value, value: Value) {
    match items.iter_mut().find(|(k, _)| k.key_eq(&key)) {
        Some(slot) => slot.1 = value,
        None => items.push((key, value)),
    }
}

impl From<PyObject> for Value {
    fn from(object: PyObject) -> Self {
        match object {
            PyObject::None => Self::Null,
            PyObject::Bool(b) => Self::Bool(b),
            PyObject::Int(digits) => Self::Int(digits),
            PyObject::Float(f) => Self::Float(f),
            PyObject::Str(s) => Self::Str(s),
            PyObject::List(items) => Self::Seq(items.into_iter().map(Self::from).collect()),
            PyObject::Dict(items) => Self::Map(items.into_iter().map(|(k, v)| (Self::Str(k), Self::from(v))).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(s: &str) -> Value {
        Value::Int(s.into())
    }

    #[test]
    fn key_equality_follows_python() {
        assert!(int("1").key_eq(&Value::Bool(true)));
        assert!(int("1").key_eq(&Value::Float(1.0)));
        assert!(int("0").key_eq(&Value::Float(-0.0)));
        assert!(!int("1").key_eq(&Value::Str("1".into())));
        assert!(!Value::Float(f64::NAN).key_eq(&Value::Float(f64::NAN)));
        assert!(Value::Null.key_eq(&Value::Null));
        assert!(int("100000000000000000000").key_eq(&Value::Float(1e20)));
        assert!(!int("3").key_eq(&Value::Float(3.5)));
        let mut d = Vec::new();
        dict_insert(&mut d, int("1"), Value::Str("a".into()));
        dict_insert(&mut d, Value::Str("x".into()), Value::Null);
        dict_insert(&mut d, Value::Bool(true), Value::Str("b".into()));
        assert_eq!(d, vec![(int("1"), Value::Str("b".into())), (Value::Str("x".into()), Value::Null)]);
    }

    #[test]
    fn json_dumps_like_python() {
        let v = Value::Map(vec![
            (Value::Str("é".into()), Value::Float(1e16)),
            (Value::Float(1.5), Value::Null),
            (Value::Bool(false), Value::Timestamp("2024-01-01".into())),
            (Value::Null, Value::Seq(vec![Value::Float(f64::INFINITY), int("-7")])),
            (Value::Float(f64::NAN), Value::Bool(true)),
        ]);
        assert_eq!(
            v.json_dumps(),
            r#"{"\u00e9": 1e+16, "1.5": null, "false": "2024-01-01", "null": [Infinity, -7], "NaN": true}"#
        );
    }

    #[test]
    fn truthiness_and_type_names() {
        for (v, truthy, name) in [
            (Value::Null, false, "<class 'NoneType'>"),
            (int("0"), false, "<class 'int'>"),
            (Value::Float(0.0), false, "<class 'float'>"),
            (Value::Str(String::new()), false, "<class 'str'>"),
            (Value::Seq(vec![]), false, "<class 'list'>"),
            (Value::Map(vec![]), false, "<class 'dict'>"),
            (Value::Bool(true), true, "<class 'bool'>"),
            (Value::Timestamp("2024-01-01".into()), true, "<class 'datetime.date'>"),
            (Value::Timestamp("2024-01-01 10:00:00".into()), true, "<class 'datetime.datetime'>"),
        ] {
            assert_eq!(v.is_truthy(), truthy, "{v:?}");
            assert_eq!(v.type_name(), name);
        }
    }

    #[test]
    fn names_in_errors_are_cut() {
        assert_eq!(describe_name("my_db"), r#""my_db""#);
        assert_eq!(describe_name("a\nb"), r#""a\nb""#);
        assert_eq!(describe_name(&"x".repeat(70)), format!("\"{}\"…", "x".repeat(64)));
        assert_eq!(int("1").describe_key(), "of type <class 'int'>");
    }
}
