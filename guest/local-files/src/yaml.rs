//! `yaml.safe_load` as Airflow calls it (PyYAML 6, `CSafeLoader`), for secrets files.
//!
//! The syntax is read by `yaml-rust2`'s event parser; the types follow PyYAML's `SafeLoader`, which
//! implements the YAML **1.1** type repository, not YAML 1.2's core schema that `yaml-rust2` and
//! `serde_yaml` use. So a plain (unquoted) scalar is resolved exactly as PyYAML resolves it:
//!
//! | YAML 1.1 (PyYAML, here) | YAML 1.2 core schema (`serde_yaml`, `yaml-rust2`'s loader) |
//! |---|---|
//! | `yes`, `No`, `ON`, `off` are booleans | strings |
//! | `012` is octal 10, `0b101` binary, `1_000` is 1000, `1:30` is 90 (base 60) | `12`, strings, strings, strings |
//! | `0o12` is a string | octal 10 |
//! | `1e3` is a string; a float needs a `.` (`1.0e+3`) | `1e3` is a float |
//! | `2024-01-01` is a date | a string |
//! | `<<` merges mappings, `=` is an error | plain strings |
//!
//! Explicit tags `!!str`, `!!int`, `!!float`, `!!bool`, `!!null`, `!!timestamp`, `!!seq` and `!!map`
//! construct as in PyYAML, and the non-specific tag `!` resolves the scalar as if it were plain (also when
//! quoted, like PyYAML). Anchors and aliases, merge keys (`<<: *base`, `<<: [*a, *b]`), duplicate keys (the
//! last wins, at the first one's position) and Python's key equality (`1`, `1.0` and `true` are one key)
//! follow PyYAML. A stream with more than one document is an error, as in `safe_load`.
//!
//! Deviations, all on inputs a secrets file has no reason to contain:
//! - timestamps stay text ([`Value::Timestamp`]): Python builds a `date`/`datetime`;
//! - `!!binary`, `!!set`, `!!omap` and `!!pairs` are rejected (PyYAML builds bytes, a set, lists of pairs);
//! - recursive aliases (`&a [*a]`) are rejected (PyYAML builds a self-referencing list);
//! - more than [`MAX_NODES`] nodes after alias expansion, or nesting deeper than [`MAX_DEPTH`], is rejected
//!   (a "billion laughs" file would otherwise exhaust the component's memory);
//! - a character outside YAML's printable set is refused wherever it is, before parsing; libyaml checks as it
//!   reads, so in a file over its 16 KiB buffer an earlier syntax error may be reported instead (the file
//!   fails either way), and its error gives a character offset where ours gives a line;
//! - the syntax is YAML 1.2 as `yaml-rust2` reads it; PyYAML reads YAML 1.1 syntax. The two differ in rare
//!   corners (for example `\/` escapes, or `\x85`/U+2028 as line breaks), and error messages are
//!   `yaml-rust2`'s, not PyYAML's;
//! - line numbers are 1-based; Airflow reports PyYAML's 0-based `problem_mark.line` (and hides it when it is
//!   0).
//!
//! Error messages never contain any part of the document: PyYAML's `str(e)` quotes the offending line,
//! these only name the line and the problem. A local tag (`!foo`) is not named either.

use std::collections::HashMap;
use std::rc::Rc;

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::TScalarStyle;

use crate::envfile::SyntaxError;
use crate::value::{Value, dict_insert};

/// The most nodes a document may expand to (aliases count once per use).
pub const MAX_NODES: usize = 1_000_000;
/// The deepest nesting of sequences and mappings accepted.
pub const MAX_DEPTH: usize = 500;

const YAML_TAG: &str = "tag:yaml.org,2002:";

/// The key and value nodes of a mapping, in document order.
type Pairs = Vec<(Rc<Node>, Rc<Node>)>;

/// A composed node, as PyYAML's composer builds them: a resolved tag, and the line where it starts.
#[derive(Debug)]
enum Node {
    Scalar { tag: String, value: String, line: usize },
    Seq { tag: String, items: Vec<Rc<Node>>, line: usize },
    Map { tag: String, pairs: Pairs, line: usize },
}

impl Node {
    fn line(&self) -> usize {
        match self {
            Self::Scalar { line, .. } | Self::Seq { line, .. } | Self::Map { line, .. } => *line,
        }
    }

    fn tag(&self) -> &str {
        match self {
            Self::Scalar { tag, .. } | Self::Seq { tag, .. } | Self::Map { tag, .. } => tag,
        }
    }
}

/// PyYAML's `Reader.NON_PRINTABLE` complement: tab, line feed, carriage return, printable ASCII, NEL, and
/// every other code point from U+00A0 except surrogates and U+FFFE/U+FFFF.
fn is_printable(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}')
        || u32::from(c) >= 0x1_0000
}

/// `yaml.safe_load(content)`: `Ok(None)` for a stream without a document (empty, or only comments).
///
/// ```
/// use wasm_secrets_provider_local_files::{value::Value, yaml::safe_load};
/// let v = safe_load("port: 0123\nenabled: yes\nratio: 1e3\n").unwrap().unwrap();
/// assert_eq!(
///     v,
///     Value::Map(vec![
///         (Value::Str("port".into()), Value::Int("83".into())),
///         (Value::Str("enabled".into()), Value::Bool(true)),
///         (Value::Str("ratio".into()), Value::Str("1e3".into())),
///     ])
/// );
/// ```
pub fn safe_load(content: &str) -> Result<Option<Value>, SyntaxError> {
    // PyYAML's reader drops a leading byte-order mark; yaml-rust2 would keep it in the first scalar.
    let content = content.strip_prefix('\u{feff}').unwrap_or(content);
    // libyaml's reader (under PyYAML's CSafeLoader) refuses a stream that holds a character outside YAML's
    // printable set, wherever it is, even in a comment: a `ReaderError` ("unacceptable character #x0013: control
    // characters are not allowed"), which Airflow does not catch, so the lookup fails.
    if let Some((at, c)) = content.char_indices().find(|&(_, c)| !is_printable(c)) {
        let line = content[..at].matches('\n').count() + 1;
        let code = u32::from(c);
        return Err(SyntaxError::at(
            line,
            format!("unacceptable character #x{code:04x}: control characters are not allowed"),
        ));
    }
    let Some(root) = compose(content)? else {
        return Ok(None);
    };
    let mut budget = MAX_NODES;
    construct(&root, 0, &mut budget).map(Some)
}

/// Events to one node tree, like PyYAML's `Composer.get_single_node`.
fn compose(content: &str) -> Result<Option<Rc<Node>>, SyntaxError> {
    enum Open {
        Seq { tag: String, items: Vec<Rc<Node>>, line: usize, anchor: usize },
        Map { tag: String, pairs: Pairs, key: Option<Rc<Node>>, line: usize, anchor: usize },
    }

    let mut parser = Parser::new_from_str(content);
    let mut anchors: HashMap<usize, Rc<Node>> = HashMap::new();
    let mut open_anchors: Vec<usize> = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<Rc<Node>> = None;
    let mut documents = 0usize;
    loop {
        let (event, mark) =
            parser.next_token().map_err(|e| SyntaxError::at(e.marker().line().max(1), e.info().to_owned()))?;
        let line = mark.line().max(1);
        let node = match event {
            Event::StreamEnd => break,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(SyntaxError::at(
                        line,
                        "expected a single document in the stream, but found another document",
                    ));
                }
                continue;
            }
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => continue,
            Event::Alias(id) => {
                if open_anchors.contains(&id) {
                    return Err(SyntaxError::at(line, "recursive aliases are not supported"));
                }
                match anchors.get(&id) {
                    Some(node) => Rc::clone(node),
                    None => return Err(SyntaxError::at(line, "found undefined alias")),
                }
            }
            Event::Scalar(value, style, anchor, tag) => {
                let tag = scalar_tag(&value, style, tag.as_ref());
                let node = Rc::new(Node::Scalar { tag, value, line });
                if anchor > 0 {
                    anchors.insert(anchor, Rc::clone(&node));
                }
                node
            }
            Event::SequenceStart(anchor, tag) => {
                check_depth(stack.len(), line)?;
                if anchor > 0 {
                    open_anchors.push(anchor);
                }
                let tag = collection_tag(tag.as_ref(), "seq");
                stack.push(Open::Seq { tag, items: Vec::new(), line, anchor });
                continue;
            }
            Event::MappingStart(anchor, tag) => {
                check_depth(stack.len(), line)?;
                if anchor > 0 {
                    open_anchors.push(anchor);
                }
                let tag = collection_tag(tag.as_ref(), "map");
                stack.push(Open::Map { tag, pairs: Vec::new(), key: None, line, anchor });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match stack.pop() {
                    Some(Open::Seq { tag, items, line, anchor }) => (Node::Seq { tag, items, line }, anchor),
                    Some(Open::Map { tag, pairs, line, anchor, .. }) => (Node::Map { tag, pairs, line }, anchor),
                    None => return Err(SyntaxError::at(line, "unbalanced collection end")),
                };
                let node = Rc::new(node);
                if anchor > 0 {
                    open_anchors.retain(|&a| a != anchor);
                    anchors.insert(anchor, Rc::clone(&node));
                }
                node
            }
        };
        match stack.last_mut() {
            Some(Open::Seq { items, .. }) => items.push(node),
            Some(Open::Map { pairs, key, .. }) => match key.take() {
                Some(k) => pairs.push((k, node)),
                None => *key = Some(node),
            },
            None => root = Some(node),
        }
    }
    Ok(root)
}

fn check_depth(open: usize, line: usize) -> Result<(), SyntaxError> {
    if open >= MAX_DEPTH {
        return Err(SyntaxError::at(line, format!("the document is nested deeper than {MAX_DEPTH} levels")));
    }
    Ok(())
}

/// The full tag name of an explicit tag (`!!int` is `tag:yaml.org,2002:int`).
fn full_tag(tag: &Tag) -> String {
    format!("{}{}", tag.handle, tag.suffix)
}

fn is_non_specific(tag: &Tag) -> bool {
    tag.handle.is_empty() && tag.suffix == "!"
}

/// PyYAML's tag for a scalar: explicit, else implicit resolution for plain scalars and for the
/// non-specific tag `!`, else `str`.
fn scalar_tag(value: &str, style: TScalarStyle, tag: Option<&Tag>) -> String {
    match tag {
        Some(tag) if !is_non_specific(tag) => full_tag(tag),
        Some(_) => resolve(value),
        None if style == TScalarStyle::Plain => resolve(value),
        None => format!("{YAML_TAG}str"),
    }
}

fn collection_tag(tag: Option<&Tag>, default: &str) -> String {
    match tag {
        Some(tag) if !is_non_specific(tag) => full_tag(tag),
        _ => format!("{YAML_TAG}{default}"),
    }
}

/// PyYAML's `Resolver` implicit resolvers, in their registration order.
fn resolve(value: &str) -> String {
    let kind = if is_bool(value) {
        "bool"
    } else if is_float(value) {
        "float"
    } else if is_int(value) {
        "int"
    } else if value == "<<" {
        "merge"
    } else if matches!(value, "~" | "null" | "Null" | "NULL" | "") {
        "null"
    } else if is_timestamp(value) {
        "timestamp"
    } else if value == "=" {
        "value"
    } else {
        "str"
    };
    format!("{YAML_TAG}{kind}")
}

fn is_bool(v: &str) -> bool {
    matches!(
        v,
        "yes"
            | "Yes"
            | "YES"
            | "no"
            | "No"
            | "NO"
            | "true"
            | "True"
            | "TRUE"
            | "false"
            | "False"
            | "FALSE"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
    )
}

/// A tiny cursor over ASCII patterns.
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a str) -> Self {
        Self { s: s.as_bytes(), i: 0 }
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn eat(&mut self, pred: impl Fn(u8) -> bool) -> bool {
        match self.peek() {
            Some(b) if pred(b) => {
                self.i += 1;
                true
            }
            _ => false,
        }
    }
    fn eat_all(&mut self, pred: impl Fn(u8) -> bool) -> usize {
        let start = self.i;
        while self.eat(&pred) {}
        self.i - start
    }
    fn eat_str(&mut self, lit: &str) -> bool {
        if self.s[self.i..].starts_with(lit.as_bytes()) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }
    fn done(&self) -> bool {
        self.i == self.s.len()
    }
    fn sign(&mut self) {
        self.eat(|b| b == b'-' || b == b'+');
    }
}

fn digit(b: u8) -> bool {
    b.is_ascii_digit()
}

fn digit_or_underscore(b: u8) -> bool {
    b.is_ascii_digit() || b == b'_'
}

/// `(?::[0-5]?[0-9])+` followed by what `rest` accepts.
fn sexagesimal_groups(c: &mut Cursor<'_>) -> bool {
    let mut groups = 0;
    while c.peek() == Some(b':') {
        c.i += 1;
        let start = c.i;
        let n = c.eat_all(digit);
        let ok = n == 1 || (n == 2 && c.s.get(start).is_some_and(|&b| b <= b'5'));
        if !ok {
            return false;
        }
        groups += 1;
    }
    groups > 0
}

/// PyYAML's float resolver:
/// `[-+]?([0-9][0-9_]*)\.[0-9_]*([eE][-+][0-9]+)? | \.[0-9][0-9_]*([eE][-+][0-9]+)?
///  | [-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]* | [-+]?\.(inf|Inf|INF) | \.(nan|NaN|NAN)`.
fn is_float(v: &str) -> bool {
    let exponent = |c: &mut Cursor<'_>| {
        if c.eat(|b| b == b'e' || b == b'E') {
            c.eat(|b| b == b'-' || b == b'+') && c.eat_all(digit) > 0 && c.done()
        } else {
            c.done()
        }
    };
    // [-+]?[0-9][0-9_]*\.[0-9_]*(exp)?
    let mut c = Cursor::new(v);
    c.sign();
    if c.eat(digit) {
        c.eat_all(digit_or_underscore);
        if c.eat(|b| b == b'.') {
            c.eat_all(digit_or_underscore);
            if exponent(&mut c) {
                return true;
            }
        }
    }
    // \.[0-9][0-9_]*(exp)?
    let mut c = Cursor::new(v);
    if c.eat(|b| b == b'.') && c.eat(digit) {
        c.eat_all(digit_or_underscore);
        if exponent(&mut c) {
            return true;
        }
    }
    // [-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*
    let mut c = Cursor::new(v);
    c.sign();
    if c.eat(digit) {
        c.eat_all(digit_or_underscore);
        if sexagesimal_groups(&mut c) && c.eat(|b| b == b'.') {
            c.eat_all(digit_or_underscore);
            if c.done() {
                return true;
            }
        }
    }
    // [-+]?\.(inf|Inf|INF)
    let mut c = Cursor::new(v);
    c.sign();
    if c.eat(|b| b == b'.') && (c.eat_str("inf") || c.eat_str("Inf") || c.eat_str("INF")) && c.done() {
        return true;
    }
    matches!(v, ".nan" | ".NaN" | ".NAN")
}

/// PyYAML's int resolver: `[-+]?0b[0-1_]+ | [-+]?0[0-7_]+ | [-+]?(0|[1-9][0-9_]*) | [-+]?0x[0-9a-fA-F_]+
/// | [-+]?[1-9][0-9_]*(:[0-5]?[0-9])+`.
fn is_int(v: &str) -> bool {
    let body = v.strip_prefix(['-', '+']).unwrap_or(v);
    let bytes = body.as_bytes();
    let all = |s: &[u8], pred: fn(u8) -> bool| !s.is_empty() && s.iter().all(|&b| pred(b));
    if let Some(rest) = body.strip_prefix("0b") {
        return all(rest.as_bytes(), |b| b == b'0' || b == b'1' || b == b'_');
    }
    if let Some(rest) = body.strip_prefix("0x") {
        return all(rest.as_bytes(), |b| b.is_ascii_hexdigit() || b == b'_');
    }
    if body == "0" {
        return true;
    }
    if let Some(rest) = body.strip_prefix('0') {
        return all(rest.as_bytes(), |b| (b'0'..=b'7').contains(&b) || b == b'_');
    }
    match bytes.first() {
        Some(b'1'..=b'9') => {}
        _ => return false,
    }
    let mut c = Cursor::new(body);
    c.i = 1;
    c.eat_all(digit_or_underscore);
    if c.done() {
        return true;
    }
    sexagesimal_groups(&mut c) && c.done()
}

/// PyYAML's timestamp resolver: `YYYY-MM-DD`, or
/// `YYYY-M?M-D?D([Tt]|[ \t]+)H?H:MM:SS(\.[0-9]*)?([ \t]*(Z|[-+]H?H(:MM)?))?`.
fn is_timestamp(v: &str) -> bool {
    let mut c = Cursor::new(v);
    let four = (0..4).all(|_| c.eat(digit));
    if !four || !c.eat(|b| b == b'-') {
        return false;
    }
    let month = c.eat_all(digit);
    if !(1..=2).contains(&month) || !c.eat(|b| b == b'-') {
        return false;
    }
    let day = c.eat_all(digit);
    if c.done() {
        return month == 2 && day == 2;
    }
    if !(1..=2).contains(&day) {
        return false;
    }
    if !c.eat(|b| b == b'T' || b == b't') && c.eat_all(|b| b == b' ' || b == b'\t') == 0 {
        return false;
    }
    let hour = c.eat_all(digit);
    if !(1..=2).contains(&hour) || !c.eat(|b| b == b':') || c.eat_all(digit) != 2 {
        return false;
    }
    if !c.eat(|b| b == b':') || c.eat_all(digit) != 2 {
        return false;
    }
    if c.eat(|b| b == b'.') {
        c.eat_all(digit);
    }
    if c.done() {
        return true;
    }
    c.eat_all(|b| b == b' ' || b == b'\t');
    if c.eat(|b| b == b'Z') {
        return c.done();
    }
    if !c.eat(|b| b == b'-' || b == b'+') {
        return false;
    }
    let tz_hour = c.eat_all(digit);
    if !(1..=2).contains(&tz_hour) {
        return false;
    }
    if c.eat(|b| b == b':') && c.eat_all(digit) != 2 {
        return false;
    }
    c.done()
}

/// PyYAML's `SafeConstructor.construct_object`, with `flatten_mapping` for merge keys.
fn construct(node: &Node, depth: usize, budget: &mut usize) -> Result<Value, SyntaxError> {
    let line = node.line();
    *budget = budget
        .checked_sub(1)
        .ok_or_else(|| SyntaxError::at(line, format!("the document expands to more than {MAX_NODES} nodes")))?;
    check_depth(depth, line)?;
    let tag = node.tag();
    match node {
        Node::Scalar { value, .. } => construct_scalar(tag, value, line),
        Node::Seq { items, .. } => {
            if tag != format!("{YAML_TAG}seq") {
                return Err(wrong_tag(tag, "sequence", line));
            }
            items.iter().map(|item| construct(item, depth + 1, budget)).collect::<Result<_, _>>().map(Value::Seq)
        }
        Node::Map { .. } => {
            if tag != format!("{YAML_TAG}map") {
                return Err(wrong_tag(tag, "mapping", line));
            }
            let mut items = Vec::new();
            for (key, value) in flatten_mapping(node)? {
                if !matches!(*key, Node::Scalar { .. }) {
                    return Err(SyntaxError::at(key.line(), "while constructing a mapping, found unhashable key"));
                }
                let key = construct(&key, depth + 1, budget)?;
                let value = construct(&value, depth + 1, budget)?;
                dict_insert(&mut items, key, value);
            }
            Ok(Value::Map(items))
        }
    }
}

/// PyYAML's `flatten_mapping`: the pairs of a mapping node with its merge keys (`<<`) replaced by the
/// merged mappings' pairs, placed first; a `=` key becomes the string `"="`.
fn flatten_mapping(node: &Node) -> Result<Pairs, SyntaxError> {
    let Node::Map { pairs, .. } = node else {
        return Ok(Vec::new());
    };
    let merge_tag = format!("{YAML_TAG}merge");
    let mut merge = Vec::new();
    let mut own = Vec::new();
    for (key, value) in pairs {
        if key.tag() == merge_tag {
            match &**value {
                Node::Map { .. } => merge.extend(flatten_mapping(value)?),
                Node::Seq { items, .. } => {
                    let mut submerge = Vec::new();
                    for sub in items {
                        if !matches!(**sub, Node::Map { .. }) {
                            return Err(SyntaxError::at(
                                sub.line(),
                                "while constructing a mapping, expected a mapping for merging",
                            ));
                        }
                        submerge.push(flatten_mapping(sub)?);
                    }
                    for pairs in submerge.into_iter().rev() {
                        merge.extend(pairs);
                    }
                }
                Node::Scalar { .. } => {
                    return Err(SyntaxError::at(
                        value.line(),
                        "while constructing a mapping, expected a mapping or list of mappings for merging",
                    ));
                }
            }
        } else if let Node::Scalar { tag, value: text, line } = &**key
            && *tag == format!("{YAML_TAG}value")
        {
            let as_str = Node::Scalar { tag: format!("{YAML_TAG}str"), value: text.clone(), line: *line };
            own.push((Rc::new(as_str), Rc::clone(value)));
        } else {
            own.push((Rc::clone(key), Rc::clone(value)));
        }
    }
    merge.extend(own);
    Ok(merge)
}

fn wrong_tag(tag: &str, found: &str, line: usize) -> SyntaxError {
    let expected = match tag.strip_prefix(YAML_TAG) {
        Some("binary" | "set" | "omap" | "pairs") => {
            return SyntaxError::at(line, format!("the YAML tag '{tag}' is not supported"));
        }
        Some("seq") => "a sequence node",
        Some("map") => "a mapping node",
        Some("str" | "null" | "bool" | "int" | "float" | "timestamp") => "a scalar node",
        _ => {
            return SyntaxError::at(
                line,
                format!("could not determine a constructor for the tag {}", describe_tag(tag)),
            );
        }
    };
    SyntaxError::at(line, format!("expected {expected}, but found {found}"))
}

/// A tag for an error message: standard tags are named, local tags are file content and are not.
fn describe_tag(tag: &str) -> String {
    match tag.strip_prefix(YAML_TAG) {
        Some(name) if name.len() <= 16 && name.bytes().all(|b| b.is_ascii_lowercase()) => format!("'{tag}'"),
        _ => "given in the file".to_owned(),
    }
}

fn construct_scalar(tag: &str, value: &str, line: usize) -> Result<Value, SyntaxError> {
    let invalid = |what: &str| SyntaxError::at(line, format!("the value is not a valid {what}"));
    match tag.strip_prefix(YAML_TAG) {
        Some("str") => Ok(Value::Str(value.to_owned())),
        Some("null") => Ok(Value::Null),
        Some("bool") => match value.to_lowercase().as_str() {
            "yes" | "true" | "on" => Ok(Value::Bool(true)),
            "no" | "false" | "off" => Ok(Value::Bool(false)),
            _ => Err(invalid("boolean")),
        },
        Some("int") => construct_int(value).map(Value::Int).ok_or_else(|| invalid("integer")),
        Some("float") => construct_float(value).map(Value::Float).ok_or_else(|| invalid("float")),
        Some("timestamp") if is_timestamp(value) => Ok(Value::Timestamp(value.to_owned())),
        Some("timestamp") => Err(invalid("timestamp")),
        Some("binary" | "set" | "omap" | "pairs") => {
            Err(SyntaxError::at(line, format!("the YAML tag '{tag}' is not supported")))
        }
        Some("seq" | "map") => Err(wrong_tag(tag, "scalar", line)),
        _ => Err(SyntaxError::at(line, format!("could not determine a constructor for the tag {}", describe_tag(tag)))),
    }
}

/// `SafeConstructor.construct_yaml_int`: underscores dropped, then `0`, `0b…`, `0x…`, `0…` (octal),
/// `a:b:c` (base 60) or decimal. The result is canonical decimal digits.
fn construct_int(text: &str) -> Option<String> {
    let value = text.replace('_', "");
    let (negative, value) = match value.as_bytes().first()? {
        b'-' => (true, &value[1..]),
        b'+' => (false, &value[1..]),
        _ => (false, value.as_str()),
    };
    let magnitude = if value == "0" {
        BigUint::zero()
    } else if let Some(bin) = value.strip_prefix("0b") {
        BigUint::parse(bin, 2)?
    } else if let Some(hex) = value.strip_prefix("0x") {
        BigUint::parse(hex, 16)?
    } else if value.starts_with('0') {
        BigUint::parse(value, 8)?
    } else if value.contains(':') {
        let mut total = BigUint::zero();
        for part in value.split(':') {
            total.mul_add(60, 0);
            total.add(&BigUint::parse(part, 10)?);
        }
        total
    } else {
        BigUint::parse(value, 10)?
    };
    let digits = magnitude.to_decimal();
    Some(if negative && digits != "0" { format!("-{digits}") } else { digits })
}

/// `SafeConstructor.construct_yaml_float`: underscores dropped and lowercased, then `.inf`, `.nan`,
/// `a:b.c` (base 60, summed in floating point as PyYAML does) or `float(value)`.
fn construct_float(text: &str) -> Option<f64> {
    let value = text.replace('_', "").to_lowercase();
    let (sign, value) = match value.as_bytes().first()? {
        b'-' => (-1.0, &value[1..]),
        b'+' => (1.0, &value[1..]),
        _ => (1.0, value.as_str()),
    };
    if value == ".inf" {
        return Some(sign * f64::INFINITY);
    }
    if value == ".nan" {
        return Some(f64::NAN);
    }
    if value.contains(':') {
        let mut digits = value.split(':').map(py_float).collect::<Option<Vec<f64>>>()?;
        digits.reverse();
        let mut base = 1.0;
        let mut total = 0.0;
        for digit in digits {
            total += digit * base;
            base *= 60.0;
        }
        return Some(sign * total);
    }
    py_float(value).map(|f| sign * f)
}

/// Python's `float(s)` for the forms a YAML float can take (digits, `.`, an exponent, `inf`, `nan`).
fn py_float(s: &str) -> Option<f64> {
    let s = s.trim_matches(|c: char| c.is_ascii_whitespace());
    if s.is_empty() || s.contains(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-'))) {
        return None;
    }
    s.parse().ok()
}

/// Just enough of an unbounded unsigned integer for YAML ints (Python's `int` has no size limit).
#[derive(Debug, Clone, PartialEq, Eq)]
struct BigUint {
    /// Base 10^9 limbs, least significant first.
    limbs: Vec<u32>,
}

impl BigUint {
    const BASE: u64 = 1_000_000_000;

    fn zero() -> Self {
        Self { limbs: Vec::new() }
    }

    /// `int(digits, radix)` for non-empty ASCII digits of that radix.
    fn parse(digits: &str, radix: u32) -> Option<Self> {
        if digits.is_empty() {
            return None;
        }
        let mut n = Self::zero();
        for c in digits.chars() {
            n.mul_add(radix, c.to_digit(radix)?);
        }
        Some(n)
    }

    /// `self = self * factor + addend`.
    fn mul_add(&mut self, factor: u32, addend: u32) {
        let mut carry = u64::from(addend);
        for limb in &mut self.limbs {
            let v = u64::from(*limb) * u64::from(factor) + carry;
            *limb = u32::try_from(v % Self::BASE).unwrap_or(0);
            carry = v / Self::BASE;
        }
        while carry > 0 {
            self.limbs.push(u32::try_from(carry % Self::BASE).unwrap_or(0));
            carry /= Self::BASE;
        }
    }

    fn add(&mut self, other: &Self) {
        let mut carry = 0u64;
        for i in 0..self.limbs.len().max(other.limbs.len()) {
            let a = u64::from(self.limbs.get(i).copied().unwrap_or(0));
            let b = u64::from(other.limbs.get(i).copied().unwrap_or(0));
            let v = a + b + carry;
            let limb = u32::try_from(v % Self::BASE).unwrap_or(0);
            match self.limbs.get_mut(i) {
                Some(slot) => *slot = limb,
                None => self.limbs.push(limb),
            }
            carry = v / Self::BASE;
        }
        if carry > 0 {
            self.limbs.push(u32::try_from(carry).unwrap_or(0));
        }
    }

    fn to_decimal(&self) -> String {
        let mut limbs = self.limbs.iter().rev().skip_while(|&&l| l == 0);
        let Some(first) = limbs.next() else {
            return "0".to_owned();
        };
        let mut out = first.to_string();
        for limb in limbs {
            out.push_str(&format!("{limb:09}"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing (`local_files_yaml`): libyaml refuses a control character anywhere in the stream,
    /// even in a comment or a quoted scalar; the reader used to accept it.
    #[test]
    fn a_control_character_anywhere_is_refused_like_pyyaml() {
        for (text, line, code) in
            [("a:\n b \u{14} x: y\n", 2, "0014"), ("# \u{7f}\na: b\n", 1, "007f"), ("a: 'x\u{0}'", 1, "0000")]
        {
            let e = safe_load(text).unwrap_err();
            assert_eq!(e.line, Some(line), "{text:?}");
            assert_eq!(e.message, format!("unacceptable character #x{code}: control characters are not allowed"));
        }
        // Tab, non-ASCII letters and astral characters are printable.
        assert_eq!(
            load("a: \"\tb\u{e9}\u{1f600}\"\n"),
            Value::Map(vec![(Value::Str("a".into()), Value::Str("\tb\u{e9}\u{1f600}".into()))])
        );
    }

    fn load(s: &str) -> Value {
        safe_load(s).unwrap().unwrap()
    }

    /// The value of `a` in `a: <text>`.
    fn scalar(text: &str) -> Value {
        match load(&format!("a: {text}")) {
            Value::Map(mut items) => items.remove(0).1,
            other => panic!("{other:?}"),
        }
    }

    fn s(v: &str) -> Value {
        Value::Str(v.into())
    }

    fn i(v: &str) -> Value {
        Value::Int(v.into())
    }

    fn err(text: &str) -> SyntaxError {
        safe_load(text).unwrap_err()
    }

    /// Expected values from PyYAML 6.0.3 (`yaml.load(text, Loader=yaml.CSafeLoader)`).
    #[test]
    fn plain_scalars_resolve_like_pyyaml() {
        for (text, expected) in [
            ("yes", Value::Bool(true)),
            ("Off", Value::Bool(false)),
            ("y", s("y")),
            ("TRUE", Value::Bool(true)),
            ("tRUE", s("tRUE")),
            ("~", Value::Null),
            ("null", Value::Null),
            ("nULL", s("nULL")),
            ("", Value::Null),
            ("012", i("10")),
            ("08", s("08")),
            ("0o12", s("0o12")),
            ("0x_1F", i("31")),
            ("-0b101", i("-5")),
            ("0b", s("0b")),
            ("0_", i("0")),
            ("-0", i("0")),
            ("+12", i("12")),
            ("1_000", i("1000")),
            ("1:30", i("90")),
            ("190:20:30", i("685230")),
            ("1:60", s("1:60")),
            ("123456789012345678901234567890", i("123456789012345678901234567890")),
            ("1e3", s("1e3")),
            ("1.0e5", s("1.0e5")),
            ("1.0e+3", Value::Float(1000.0)),
            ("1.", Value::Float(1.0)),
            (".5", Value::Float(0.5)),
            ("-.5", s("-.5")),
            ("._5", s("._5")),
            ("1__0.5", Value::Float(10.5)),
            ("1:30.5", Value::Float(90.5)),
            ("+.inf", Value::Float(f64::INFINITY)),
            ("-.INF", Value::Float(f64::NEG_INFINITY)),
            ("2024-01-01", Value::Timestamp("2024-01-01".into())),
            ("2024-1-1", s("2024-1-1")),
            ("2001-12-14t21:59:43.10-05:00", Value::Timestamp("2001-12-14t21:59:43.10-05:00".into())),
            ("2001-12-14 21:59:43.10 Z", Value::Timestamp("2001-12-14 21:59:43.10 Z".into())),
            ("2001-12-1 2:59:43", Value::Timestamp("2001-12-1 2:59:43".into())),
            ("postgres://u:p@h:5432/db", s("postgres://u:p@h:5432/db")),
            ("'yes'", s("yes")),
            ("\"012\"", s("012")),
            ("! 12", i("12")),
            ("! '12'", i("12")),
            ("!!str 12", s("12")),
            ("!!float 1", Value::Float(1.0)),
            ("!!int 0x1f", i("31")),
            ("!!null x", Value::Null),
            ("!!bool yes", Value::Bool(true)),
            ("!!timestamp 2024-01-01", Value::Timestamp("2024-01-01".into())),
        ] {
            let got = scalar(text);
            match (&got, &expected) {
                (Value::Float(a), Value::Float(b)) => assert!(a == b, "{text:?}: {got:?}"),
                _ => assert_eq!(got, expected, "{text:?}"),
            }
        }
        assert!(matches!(scalar(".NaN"), Value::Float(f) if f.is_nan()));
    }

    #[test]
    fn collections_merges_and_duplicates() {
        assert_eq!(
            load("<<: [{a: 1}, {a: 2, b: 3}]\nc: 4"),
            Value::Map(vec![(s("a"), i("1")), (s("b"), i("3")), (s("c"), i("4"))])
        );
        assert_eq!(load("b: 1\n<<: {b: 2, c: 3}"), Value::Map(vec![(s("b"), i("1")), (s("c"), i("3"))]));
        assert_eq!(
            load("base: &b {host: h, port: 1}\nconn:\n  <<: *b\n  port: 2\n"),
            Value::Map(vec![
                (s("base"), Value::Map(vec![(s("host"), s("h")), (s("port"), i("1"))])),
                (s("conn"), Value::Map(vec![(s("host"), s("h")), (s("port"), i("2"))])),
            ])
        );
        assert_eq!(load("{a: 1, a: 2}"), Value::Map(vec![(s("a"), i("2"))]));
        assert_eq!(load("1: a\ntrue: b"), Value::Map(vec![(i("1"), s("b"))]));
        assert_eq!(load("? a\n? b"), Value::Map(vec![(s("a"), Value::Null), (s("b"), Value::Null)]));
        assert_eq!(load("=: x"), Value::Map(vec![(s("="), s("x"))]));
        assert_eq!(
            load("a: &x [1, {b: 2}]\nc: *x"),
            Value::Map(vec![
                (s("a"), Value::Seq(vec![i("1"), Value::Map(vec![(s("b"), i("2"))])])),
                (s("c"), Value::Seq(vec![i("1"), Value::Map(vec![(s("b"), i("2"))])])),
            ])
        );
        assert_eq!(load("\u{feff}a: 1"), Value::Map(vec![(s("a"), i("1"))]));
        assert_eq!(load("!!map {a: !!seq [x]}"), Value::Map(vec![(s("a"), Value::Seq(vec![s("x")]))]));
    }

    #[test]
    fn no_document_is_none() {
        assert_eq!(safe_load("").unwrap(), None);
        assert_eq!(safe_load("# only a comment\n").unwrap(), None);
        assert_eq!(safe_load("---\n").unwrap(), Some(Value::Null));
    }

    #[test]
    fn errors_name_line_and_problem_only() {
        assert_eq!(err("a: 1\nb: : 2"), SyntaxError::at(2, "mapping values are not allowed in this context"));
        assert_eq!(
            err("--- 1\n--- 2"),
            SyntaxError::at(2, "expected a single document in the stream, but found another document")
        );
        assert_eq!(
            err("a: 1\nb: =\n"),
            SyntaxError::at(2, "could not determine a constructor for the tag 'tag:yaml.org,2002:value'")
        );
        assert_eq!(
            err("a: <<"),
            SyntaxError::at(1, "could not determine a constructor for the tag 'tag:yaml.org,2002:merge'")
        );
        assert_eq!(
            err("x: !secret-tag hunter2"),
            SyntaxError::at(1, "could not determine a constructor for the tag given in the file")
        );
        assert_eq!(err("a: !!str {b: 1}"), SyntaxError::at(1, "expected a scalar node, but found mapping"));
        assert_eq!(err("a: !!seq {b: 1}"), SyntaxError::at(1, "expected a sequence node, but found mapping"));
        assert_eq!(err("a: !!map x"), SyntaxError::at(1, "expected a mapping node, but found scalar"));
        assert_eq!(err("a: !!int [1]"), SyntaxError::at(1, "expected a scalar node, but found sequence"));
        assert_eq!(err("? [1]\n: 2"), SyntaxError::at(1, "while constructing a mapping, found unhashable key"));
        assert_eq!(
            err("<<: 5"),
            SyntaxError::at(1, "while constructing a mapping, expected a mapping or list of mappings for merging")
        );
        assert_eq!(err("a: &a [*a]"), SyntaxError::at(1, "recursive aliases are not supported"));
        assert_eq!(
            err("a: !!binary aGk="),
            SyntaxError::at(1, "the YAML tag 'tag:yaml.org,2002:binary' is not supported")
        );
        assert_eq!(err("a: !!set {x}"), SyntaxError::at(1, "the YAML tag 'tag:yaml.org,2002:set' is not supported"));
        assert_eq!(err("a: !!int abc"), SyntaxError::at(1, "the value is not a valid integer"));
        assert_eq!(err("a: !!bool maybe"), SyntaxError::at(1, "the value is not a valid boolean"));
        assert_eq!(
            err("a:\n  - b\n c"),
            SyntaxError::at(3, "while parsing a block mapping, did not find expected key")
        );
    }

    #[test]
    fn billion_laughs_and_deep_nesting_are_bounded() {
        let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for n in 1..10 {
            let p = n - 1;
            doc.push_str(&format!(
                "a{n}: &a{n} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e = err(&doc);
        assert_eq!(e.message, "the document expands to more than 1000000 nodes");
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(safe_load(&deep).is_err());
    }

    #[test]
    fn big_ints() {
        assert_eq!(construct_int("0x_FFFF_FFFF_FFFF_FFFF_FF").as_deref(), Some("4722366482869645213695"));
        assert_eq!(construct_int("-0b1").as_deref(), Some("-1"));
        assert_eq!(construct_int("1000000000").as_deref(), Some("1000000000"));
        assert_eq!(construct_int("-0").as_deref(), Some("0"));
        assert_eq!(construct_int("0b_"), None);
        assert_eq!(construct_int(""), None);
    }
}
