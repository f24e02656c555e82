//! Python's `json` module (CPython 3.11 defaults) and Python's `repr()` of the decoded values.
//!
//! Airflow stores `extra` as a JSON string built with `json.dumps(...)` (separators `", "` and `": "`,
//! `ensure_ascii=True`, `NaN`/`Infinity` allowed, `float.__repr__` for floats) and reads it back with
//! `json.loads` (which accepts `NaN`, `Infinity` and `-Infinity`, keeps integers exact and lets the last of
//! duplicate keys win). [`PyObject`] models the decoded value exactly; [`PyObject::to_json_value`] converts it
//! to a [`serde_json::Value`] (lossy only for non-finite floats and integers beyond 64 bits).
//!
//! Deviations, all for inputs no real secret contains: a lone UTF-16 surrogate escape (`"\ud800"`) decodes
//! to U+FFFD because a Rust `String` cannot hold it, and nesting deeper than [`MAX_DEPTH`] is rejected (Python
//! raises `RecursionError` at a similar depth).

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::error::JsonSyntaxError;
use crate::pystr;

/// Deepest nesting of arrays/objects [`loads`] accepts (CPython's default recursion limit is 1000 frames).
pub const MAX_DEPTH: usize = 990;

/// Python's `sys.get_int_max_str_digits()` default: `int()` refuses longer decimal strings.
const MAX_INT_DIGITS: usize = 4300;

/// A value produced by Python's `json.loads`.
#[derive(Debug, Clone, PartialEq)]
pub enum PyObject {
    /// `None` (JSON `null`).
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An `int`, as its canonical decimal text (optional `-`, no leading zeros): Python ints are unbounded.
    Int(String),
    /// A `float`, including `nan` and `±inf`.
    Float(f64),
    /// A `str`.
    Str(String),
    /// A `list`.
    List(Vec<PyObject>),
    /// A `dict` with string keys, in insertion order and without duplicate keys.
    Dict(Vec<(String, PyObject)>),
}

impl PyObject {
    /// Python truthiness (`bool(value)`).
    pub fn is_truthy(&self) -> bool {
        match self {
            Self::None => false,
            Self::Bool(b) => *b,
            Self::Int(digits) => digits != "0",
            Self::Float(f) => *f != 0.0,
            Self::Str(s) => !s.is_empty(),
            Self::List(items) => !items.is_empty(),
            Self::Dict(items) => !items.is_empty(),
        }
    }

    /// Python's `repr(value)`, e.g. `{'sslmode': 'require', 'n': 1.0, 'ok': True}`.
    pub fn repr(&self) -> String {
        let mut out = String::new();
        write_repr(self, &mut out);
        out
    }

    /// Python's `str(value)`: the string itself for a `str`, else [`PyObject::repr`].
    pub fn py_str(&self) -> String {
        match self {
            Self::Str(s) => s.clone(),
            other => other.repr(),
        }
    }

    /// Converts to a [`serde_json::Value`]. `nan`/`±inf` become `null` (JSON cannot represent them) and
    /// integers outside the 64-bit range become the nearest `f64`.
    pub fn to_json_value(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Self::None => Value::Null,
            Self::Bool(b) => Value::Bool(*b),
            Self::Int(digits) => {
                if let Ok(i) = digits.parse::<i64>() {
                    Value::from(i)
                } else if let Ok(u) = digits.parse::<u64>() {
                    Value::from(u)
                } else {
                    digits.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map_or(Value::Null, Value::Number)
                }
            }
            Self::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Self::Str(s) => Value::String(s.clone()),
            Self::List(items) => Value::Array(items.iter().map(Self::to_json_value).collect()),
            Self::Dict(items) => Value::Object(items.iter().map(|(k, v)| (k.clone(), v.to_json_value())).collect()),
        }
    }
}

/// Python's `repr(float)` (`float.__repr__`, the shortest round-tripping digits).
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.to_owned();
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "-1.2345e-7".
    let formatted = format!("{f:e}");
    let (mantissa, exponent) = formatted.split_once('e').unwrap_or((&formatted, "0"));
    let exponent: i64 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let ndigits = i64::try_from(digits.len()).unwrap_or(i64::MAX);
    // Python's decpt: the value is 0.DIGITS * 10^decpt.
    let decpt = exponent + 1;
    let mut out = String::from(sign);
    if decpt <= -4 || decpt > 16 {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        let exp = decpt - 1;
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    } else if decpt <= 0 {
        out.push_str("0.");
        for _ in 0..(-decpt) {
            out.push('0');
        }
        out.push_str(&digits);
    } else if decpt >= ndigits {
        out.push_str(&digits);
        for _ in 0..(decpt - ndigits) {
            out.push('0');
        }
        out.push_str(".0");
    } else {
        let split = usize::try_from(decpt).unwrap_or(0);
        let (int_part, frac_part) = digits.split_at(split.min(digits.len()));
        out.push_str(int_part);
        out.push('.');
        out.push_str(frac_part);
    }
    out
}

/// Python's `repr(str)`: single quotes unless the text contains `'` and no `"`; non-printable characters
/// escaped as `\xNN`, `\uNNNN` or `\UNNNNNNNN`.
pub fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if c < ' ' || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if c.is_ascii() || pystr::is_printable(c) => out.push(c),
            c => {
                let cp = u32::from(c);
                let _ = if cp <= 0xff {
                    write!(out, "\\x{cp:02x}")
                } else if cp <= 0xffff {
                    write!(out, "\\u{cp:04x}")
                } else {
                    write!(out, "\\U{cp:08x}")
                };
            }
        }
    }
    out.push(quote);
    out
}

fn write_repr(value: &PyObject, out: &mut String) {
    match value {
        PyObject::None => out.push_str("None"),
        PyObject::Bool(true) => out.push_str("True"),
        PyObject::Bool(false) => out.push_str("False"),
        PyObject::Int(digits) => out.push_str(digits),
        PyObject::Float(f) => out.push_str(&float_repr(*f)),
        PyObject::Str(s) => out.push_str(&str_repr(s)),
        PyObject::List(items) => write_list(items, out, write_repr),
        PyObject::Dict(items) => write_dict(items, out, |k, out| out.push_str(&str_repr(k)), write_repr),
    }
}

/// `[a, b]` with `", "` between items: the list syntax `repr()` and `json.dumps()` share.
fn write_list(items: &[PyObject], out: &mut String, write_item: fn(&PyObject, &mut String)) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_item(item, out);
    }
    out.push(']');
}

/// `{k: v}` with `", "` and `": "`: the dict syntax `repr()` and `json.dumps()` share.
fn write_dict(
    items: &[(String, PyObject)],
    out: &mut String,
    write_key: fn(&str, &mut String),
    write_value: fn(&PyObject, &mut String),
) {
    out.push('{');
    for (i, (k, v)) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_key(k, out);
        out.push_str(": ");
        write_value(v, out);
    }
    out.push('}');
}

/// Python's `json.dumps(value)` with default arguments.
///
/// ```
/// use airflow_compat::pyjson::{dumps, PyObject};
/// let v = PyObject::Dict(vec![
///     ("a".into(), PyObject::Int("1".into())),
///     ("é".into(), PyObject::List(vec![PyObject::Float(1000.0), PyObject::Float(f64::NAN)])),
/// ]);
/// assert_eq!(dumps(&v), r#"{"a": 1, "\u00e9": [1000.0, NaN]}"#);
/// ```
pub fn dumps(value: &PyObject) -> String {
    let mut out = String::new();
    write_json(value, &mut out);
    out
}

fn write_json_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

fn write_json(value: &PyObject, out: &mut String) {
    match value {
        PyObject::None => out.push_str("null"),
        PyObject::Bool(true) => out.push_str("true"),
        PyObject::Bool(false) => out.push_str("false"),
        PyObject::Int(digits) => out.push_str(digits),
        PyObject::Float(f) if f.is_nan() => out.push_str("NaN"),
        PyObject::Float(f) if f.is_infinite() => {
            out.push_str(if *f > 0.0 { "Infinity" } else { "-Infinity" });
        }
        PyObject::Float(f) => out.push_str(&float_repr(*f)),
        PyObject::Str(s) => write_json_str(s, out),
        PyObject::List(items) => write_list(items, out, write_json),
        PyObject::Dict(items) => write_dict(items, out, write_json_str, write_json),
    }
}

/// Python's `json.loads(s)` for a `str`.
///
/// ```
/// use airflow_compat::pyjson::{loads, PyObject};
/// let v = loads(r#"{"a": NaN, "a": 1e3, "b": 123456789012345678901234567890}"#).unwrap();
/// assert_eq!(
///     v,
///     PyObject::Dict(vec![
///         ("a".into(), PyObject::Float(1000.0)),
///         ("b".into(), PyObject::Int("123456789012345678901234567890".into())),
///     ])
/// );
/// assert!(loads("{'a': 1}").is_err());
/// ```
pub fn loads(s: &str) -> Result<PyObject, JsonSyntaxError> {
    let mut parser = Parser { text: s, bytes: s.as_bytes(), pos: 0 };
    if s.starts_with('\u{feff}') {
        return Err(parser.error("Unexpected UTF-8 BOM"));
    }
    parser.skip_ws();
    let value = parser.value(0)?;
    parser.skip_ws();
    if parser.pos != parser.bytes.len() {
        return Err(parser.error("Extra data"));
    }
    Ok(value)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, problem: &'static str) -> JsonSyntaxError {
        let prefix = self.text.get(..self.pos).unwrap_or(self.text);
        let line = prefix.matches('\n').count() + 1;
        let column = match prefix.rfind('\n') {
            Some(nl) => prefix.get(nl + 1..).map_or(0, |p| p.chars().count()) + 1,
            None => prefix.chars().count() + 1,
        };
        JsonSyntaxError { problem, line, column }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat_literal(&mut self, literal: &str) -> bool {
        if self.bytes.get(self.pos..self.pos + literal.len()) == Some(literal.as_bytes()) {
            self.pos += literal.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<PyObject, JsonSyntaxError> {
        match self.peek() {
            Some(b'"') => {
                self.pos += 1;
                self.string().map(PyObject::Str)
            }
            Some(b'{') => {
                if depth >= MAX_DEPTH {
                    return Err(self.error("maximum recursion depth exceeded"));
                }
                self.pos += 1;
                self.object(depth + 1)
            }
            Some(b'[') => {
                if depth >= MAX_DEPTH {
                    return Err(self.error("maximum recursion depth exceeded"));
                }
                self.pos += 1;
                self.array(depth + 1)
            }
            _ if self.eat_literal("null") => Ok(PyObject::None),
            _ if self.eat_literal("true") => Ok(PyObject::Bool(true)),
            _ if self.eat_literal("false") => Ok(PyObject::Bool(false)),
            _ if self.eat_literal("NaN") => Ok(PyObject::Float(f64::NAN)),
            _ if self.eat_literal("Infinity") => Ok(PyObject::Float(f64::INFINITY)),
            _ if self.eat_literal("-Infinity") => Ok(PyObject::Float(f64::NEG_INFINITY)),
            _ => self.number(),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<PyObject, JsonSyntaxError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => {
                self.pos = start;
                return Err(self.error("Expecting value"));
            }
        }
        let int_end = self.pos;
        let mut is_float = false;
        if self.peek() == Some(b'.') && self.bytes.get(self.pos + 1).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
            self.digits();
            is_float = true;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            let e_start = self.pos;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() > 0 {
                is_float = true;
            } else {
                self.pos = e_start;
            }
        }
        let text = self.text.get(start..self.pos).unwrap_or("");
        if is_float {
            return text.parse::<f64>().map(PyObject::Float).map_err(|_| self.error("Expecting value"));
        }
        let int_text = self.text.get(start..int_end).unwrap_or("");
        let (negative, digits) = match int_text.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, int_text),
        };
        if digits.len() > MAX_INT_DIGITS {
            return Err(self.error("Exceeds the limit (4300 digits) for integer string conversion"));
        }
        Ok(PyObject::Int(if negative && digits != "0" { format!("-{digits}") } else { digits.to_owned() }))
    }

    fn hex4(&mut self) -> Result<u32, JsonSyntaxError> {
        let chunk = self
            .bytes
            .get(self.pos..self.pos + 4)
            .filter(|c| c.iter().all(u8::is_ascii_hexdigit))
            .ok_or_else(|| self.error("Invalid \\uXXXX escape"))?;
        let value = chunk.iter().fold(0u32, |acc, &b| acc * 16 + char::from(b).to_digit(16).unwrap_or(0));
        self.pos += 4;
        Ok(value)
    }

    /// Parses a string body; the opening quote is already consumed.
    fn string(&mut self) -> Result<String, JsonSyntaxError> {
        let mut out = String::new();
        loop {
            // Copy the run of plain characters at once (always ends on an ASCII byte or the end).
            let run_start = self.pos;
            while self.peek().is_some_and(|b| b != b'"' && b != b'\\' && b >= 0x20) {
                self.pos += 1;
            }
            out.push_str(self.text.get(run_start..self.pos).unwrap_or(""));
            match self.peek() {
                None => return Err(self.error("Unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let escape = self.peek().ok_or_else(|| self.error("Unterminated string"))?;
                    self.pos += 1;
                    match escape {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let first = self.hex4()?;
                            let mut code = first;
                            if (0xd800..0xdc00).contains(&first)
                                && self.bytes.get(self.pos..self.pos + 2) == Some(b"\\u")
                            {
                                let save = self.pos;
                                self.pos += 2;
                                let second = self.hex4()?;
                                if (0xdc00..0xe000).contains(&second) {
                                    code = 0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00);
                                } else {
                                    self.pos = save;
                                }
                            }
                            out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                        }
                        _ => {
                            self.pos -= 2;
                            return Err(self.error("Invalid \\escape"));
                        }
                    }
                }
                Some(_) => return Err(self.error("Invalid control character")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<PyObject, JsonSyntaxError> {
        let mut items: Vec<(String, PyObject)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(PyObject::Dict(items));
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.error("Expecting property name enclosed in double quotes"));
            }
            self.pos += 1;
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.error("Expecting ':' delimiter"));
            }
            self.pos += 1;
            self.skip_ws();
            let value = self.value(depth)?;
            match index.get(&key) {
                Some(&i) => {
                    if let Some(slot) = items.get_mut(i) {
                        slot.1 = value;
                    }
                }
                None => {
                    index.insert(key.clone(), items.len());
                    items.push((key, value));
                }
            }
            self.skip_ws();
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(PyObject::Dict(items));
                }
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws();
                }
                _ => return Err(self.error("Expecting ',' delimiter")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<PyObject, JsonSyntaxError> {
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(PyObject::List(items));
        }
        loop {
            items.push(self.value(depth)?);
            self.skip_ws();
            match self.peek() {
                Some(b']') => {
                    self.pos += 1;
                    return Ok(PyObject::List(items));
                }
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws();
                }
                _ => return Err(self.error("Expecting ',' delimiter")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_matches_cpython() {
        // python3 -c "print(repr(x))"
        let cases: &[(f64, &str)] = &[
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (1.5e-7, "1.5e-07"),
            (123_456_789_012_345_680.0, "1.2345678901234568e+17"),
            (2.5e300, "2.5e+300"),
            (1000.0, "1000.0"),
            (1.5, "1.5"),
            (-3.25, "-3.25"),
            (0.1, "0.1"),
            (123.456, "123.456"),
            (1e22, "1e+22"),
            (-1e-10, "-1e-10"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (9_007_199_254_740_993.0, "9007199254740992.0"),
        ];
        for (f, expected) in cases {
            assert_eq!(float_repr(*f), *expected, "{f}");
        }
        assert_eq!(float_repr(f64::NAN), "nan");
        assert_eq!(float_repr(f64::NEG_INFINITY), "-inf");
    }

    #[test]
    fn dumps_matches_cpython() {
        // python3 -c "import json; print(json.dumps({'a\u00e9\U0001f600\x7f\x00\"\\/': 'x\n\t\b\f\r'}))"
        let v = PyObject::Dict(vec![(
            "a\u{e9}\u{1f600}\u{7f}\u{0}\"\\/".into(),
            PyObject::Str("x\n\t\u{8}\u{c}\r".into()),
        )]);
        assert_eq!(dumps(&v), r#"{"a\u00e9\ud83d\ude00\u007f\u0000\"\\/": "x\n\t\b\f\r"}"#);
        let v = PyObject::List(vec![
            PyObject::Float(1e22),
            PyObject::Float(1.0),
            PyObject::Float(-1e-10),
            PyObject::Float(f64::INFINITY),
            PyObject::Float(f64::NEG_INFINITY),
            PyObject::None,
            PyObject::Bool(false),
            PyObject::List(vec![]),
            PyObject::Dict(vec![]),
        ]);
        assert_eq!(dumps(&v), "[1e+22, 1.0, -1e-10, Infinity, -Infinity, null, false, [], {}]");
    }

    #[test]
    fn repr_matches_cpython() {
        assert_eq!(str_repr("a'b"), "\"a'b\"");
        assert_eq!(str_repr("a\"b"), "'a\"b'");
        assert_eq!(str_repr("a'\"b"), "'a\\'\"b'");
        assert_eq!(
            str_repr("\u{7f}\u{0}\u{a0}\u{ad}\u{2028}\u{e0001}\u{10ffff}\u{e9}\\"),
            r"'\x7f\x00\xa0\xad\u2028\U000e0001\U0010ffffé\\'"
        );
        assert_eq!(str_repr("\t\n\r\u{1b}"), r"'\t\n\r\x1b'");
        let v = loads(r#"{"a": [true, null, 1.0, {"b": NaN}], "c": -Infinity, "d": -0}"#).unwrap();
        assert_eq!(v.repr(), "{'a': [True, None, 1.0, {'b': nan}], 'c': -inf, 'd': 0}");
    }

    #[test]
    fn loads_matches_cpython() {
        assert_eq!(loads(" 1 "), Ok(PyObject::Int("1".into())));
        assert_eq!(loads("-0"), Ok(PyObject::Int("0".into())));
        assert_eq!(loads("-0.0"), Ok(PyObject::Float(-0.0)));
        assert_eq!(loads("1E+2"), Ok(PyObject::Float(100.0)));
        assert_eq!(loads("1e400"), Ok(PyObject::Float(f64::INFINITY)));
        assert_eq!(loads("\"\\ud83d\\ude00\""), Ok(PyObject::Str("😀".into())));
        assert_eq!(loads("\"é\u{2028}\""), Ok(PyObject::Str("é\u{2028}".into())));
        for bad in [
            "",
            " ",
            "01",
            "1.",
            ".5",
            "1e",
            "+1",
            "-",
            "[1,]",
            "{\"a\":1,}",
            "{'a':1}",
            "\"a\nb\"",
            "\"\\x\"",
            "\"\\u12\"",
            "nul",
            "NaNx",
            "[1 2]",
            "\u{feff}1",
            "\"abc",
            "{\"a\" 1}",
            "1 2",
            "\u{a0}1",
            "infinity",
            "True",
        ] {
            assert!(loads(bad).is_err(), "{bad:?}");
        }
        let deep_ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(loads(&deep_ok).is_ok());
        let too_deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(loads(&too_deep).is_err());
        assert!(loads(&"1".repeat(4300)).is_ok());
        assert!(loads(&"1".repeat(4301)).is_err());
    }

    #[test]
    fn loads_error_position() {
        // Expecting property name enclosed in double quotes: line 1 column 2 (char 1)
        let e = loads("{conn_type: x}").unwrap_err();
        assert_eq!((e.line, e.column), (1, 2));
        // Extra data: line 2 column 3
        let e = loads("{}\n  x").unwrap_err();
        assert_eq!((e.problem, e.line, e.column), ("Extra data", 2, 3));
    }

    #[test]
    fn serde_conversion() {
        let v = loads(r#"{"a": NaN, "b": 1, "c": 1.0, "d": 18446744073709551616}"#).unwrap();
        assert_eq!(v.to_json_value(), serde_json::json!({"a": null, "b": 1, "c": 1.0, "d": 18446744073709551616.0}));
    }
}
