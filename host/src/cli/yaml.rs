//! `-o yaml`: Airflow's `airflow.utils.yaml.dump`, i.e. PyYAML `yaml.dump(data, Dumper=CSafeDumper)` with
//! its defaults (block style, sorted keys, `allow_unicode=False`, width 80, indent 2), emitted by libyaml.
//!
//! The values that can occur are strings, `None`, and dicts and lists of them (Airflow stringifies every
//! other value first). Reproduced: libyaml's scalar analysis and style choice (plain, single-quoted or
//! double-quoted with escapes), the YAML 1.1 implicit resolvers that force quoting (`'587'`, `'False'`,
//! `'null'`, `''`, `'1.5'`, `'2001-01-01'`, `'1:20'`), folding of long scalars at spaces beyond column 80,
//! line breaks in single-quoted scalars, complex `? ` keys for keys longer than 128 bytes, indentless
//! sequences in mappings, and `{}`/`[]` for empty containers.

use std::sync::LazyLock;

use regex::Regex;

/// A value after Airflow's `_normalize_data`: strings, `None`, dicts and lists.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// `None`.
    Null,
    /// A `str`.
    Str(String),
    /// A list.
    List(Vec<Node>),
    /// A dict, in insertion order (the emitter sorts the keys).
    Dict(Vec<(String, Node)>),
}

const BEST_WIDTH: usize = 80;
const BEST_INDENT: usize = 2;

/// `yaml.dump(value, Dumper=CSafeDumper)`.
pub fn dump(value: &Node) -> String {
    let mut e = Emitter { out: String::new(), column: 0, whitespace: true, indention: true };
    e.node(value, None, false);
    if e.column > 0 || e.out.is_empty() {
        e.put_break();
    }
    e.out
}

struct Emitter {
    out: String,
    column: usize,
    whitespace: bool,
    indention: bool,
}

impl Emitter {
    fn put(&mut self, c: char) {
        self.out.push(c);
        self.column += 1;
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    fn write_indent(&mut self, indent: usize) {
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(&mut self, indicator: &str, need_whitespace: bool, is_whitespace: bool, is_indention: bool) {
        if need_whitespace && !self.whitespace {
            self.put(' ');
        }
        for c in indicator.chars() {
            self.put(c);
        }
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
    }

    /// Emits a node. `indent` is the indentation of the enclosing block collection (`None` at the root);
    /// `mapping_value` is true for the value of a block mapping entry.
    fn node(&mut self, value: &Node, indent: Option<usize>, mapping_value: bool) {
        match value {
            Node::Null => self.scalar("null", indent, true, false),
            Node::Str(s) => {
                let implicit = resolves_to_str(s);
                self.scalar(s, indent, implicit, false);
            }
            Node::List(items) if items.is_empty() => {
                self.write_indicator("[", true, true, false);
                self.write_indicator("]", false, false, false);
            }
            Node::Dict(items) if items.is_empty() => {
                self.write_indicator("{", true, true, false);
                self.write_indicator("}", false, false, false);
            }
            Node::List(items) => {
                let indentless = mapping_value && !self.indention;
                let indent = match indent {
                    None => 0,
                    Some(i) if indentless => i,
                    Some(i) => i + BEST_INDENT,
                };
                for item in items {
                    self.write_indent(indent);
                    self.write_indicator("-", true, false, true);
                    self.node(item, Some(indent), false);
                }
            }
            Node::Dict(items) => {
                let indent = indent.map_or(0, |i| i + BEST_INDENT);
                let mut items: Vec<&(String, Node)> = items.iter().collect();
                items.sort_by(|a, b| a.0.cmp(&b.0));
                for (key, value) in items {
                    self.write_indent(indent);
                    let simple = key.len() <= 128 && !analyze(key).multiline;
                    if simple {
                        self.scalar(key, Some(indent), resolves_to_str(key), true);
                        self.write_indicator(":", false, false, false);
                    } else {
                        self.write_indicator("?", true, false, true);
                        self.scalar(key, Some(indent), resolves_to_str(key), false);
                        self.write_indent(indent);
                        self.write_indicator(":", true, false, true);
                    }
                    self.node(value, Some(indent), true);
                }
            }
        }
    }

    /// A scalar; `indent` is the enclosing collection's, continuation lines go `BEST_INDENT` deeper.
    fn scalar(&mut self, value: &str, indent: Option<usize>, plain_implicit: bool, simple_key: bool) {
        let analysis = analyze(value);
        let scalar_indent = indent.map_or(BEST_INDENT, |i| i + BEST_INDENT);
        let allow_breaks = !simple_key;
        let style = if simple_key && analysis.multiline {
            Style::Double
        } else if !analysis.block_plain || (value.is_empty() && simple_key) || !plain_implicit {
            if analysis.single_quoted { Style::Single } else { Style::Double }
        } else {
            Style::Plain
        };
        match style {
            Style::Plain => self.write_plain(value, allow_breaks, scalar_indent),
            Style::Single => self.write_single(value, allow_breaks, scalar_indent),
            Style::Double => self.write_double(value, allow_breaks, scalar_indent),
        }
    }

    fn write_plain(&mut self, value: &str, allow_breaks: bool, indent: usize) {
        if !self.whitespace && !value.is_empty() {
            self.put(' ');
        }
        let chars: Vec<char> = value.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if allow_breaks && !spaces && self.column > BEST_WIDTH && chars.get(i + 1) != Some(&' ') {
                    self.write_indent(indent);
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                self.indention = false;
                spaces = false;
            }
        }
        self.whitespace = false;
        self.indention = false;
    }

    fn write_single(&mut self, value: &str, allow_breaks: bool, indent: usize) {
        self.write_indicator("'", true, false, false);
        let chars: Vec<char> = value.chars().collect();
        let (mut spaces, mut breaks) = (false, false);
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                if allow_breaks
                    && !spaces
                    && self.column > BEST_WIDTH
                    && i != 0
                    && i + 1 != chars.len()
                    && chars.get(i + 1) != Some(&' ')
                {
                    self.write_indent(indent);
                } else {
                    self.put(c);
                }
                spaces = true;
            } else if c == '\n' {
                if !breaks {
                    self.put_break();
                }
                self.put_break();
                self.indention = true;
                breaks = true;
            } else {
                if breaks {
                    self.write_indent(indent);
                }
                if c == '\'' {
                    self.put('\'');
                }
                self.put(c);
                self.indention = false;
                spaces = false;
                breaks = false;
            }
        }
        if breaks {
            self.write_indent(indent);
        }
        self.write_indicator("'", false, false, false);
    }

    fn write_double(&mut self, value: &str, allow_breaks: bool, indent: usize) {
        self.write_indicator("\"", true, false, false);
        let chars: Vec<char> = value.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if !is_printable(c) || !c.is_ascii() || c == '\u{feff}' || is_break(c) || c == '"' || c == '\\' {
                self.put('\\');
                let code = u32::from(c);
                let short = match c {
                    '\0' => Some('0'),
                    '\x07' => Some('a'),
                    '\x08' => Some('b'),
                    '\t' => Some('t'),
                    '\n' => Some('n'),
                    '\x0b' => Some('v'),
                    '\x0c' => Some('f'),
                    '\r' => Some('r'),
                    '\x1b' => Some('e'),
                    '"' => Some('"'),
                    '\\' => Some('\\'),
                    '\u{85}' => Some('N'),
                    '\u{a0}' => Some('_'),
                    '\u{2028}' => Some('L'),
                    '\u{2029}' => Some('P'),
                    _ => None,
                };
                match short {
                    Some(s) => self.put(s),
                    None => {
                        let escaped = if code <= 0xff {
                            format!("x{code:02X}")
                        } else if code <= 0xffff {
                            format!("u{code:04X}")
                        } else {
                            format!("U{code:08X}")
                        };
                        for e in escaped.chars() {
                            self.put(e);
                        }
                    }
                }
                spaces = false;
            } else if c == ' ' {
                if allow_breaks && !spaces && self.column > BEST_WIDTH && i != 0 && i + 1 != chars.len() {
                    self.write_indent(indent);
                    if chars.get(i + 1) == Some(&' ') {
                        self.put('\\');
                    }
                } else {
                    self.put(c);
                }
                spaces = true;
            } else {
                self.put(c);
                spaces = false;
            }
        }
        self.write_indicator("\"", false, false, false);
    }
}

enum Style {
    Plain,
    Single,
    Double,
}

struct Analysis {
    multiline: bool,
    block_plain: bool,
    single_quoted: bool,
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// libyaml's `IS_PRINTABLE`.
fn is_printable(c: char) -> bool {
    matches!(c, '\n' | '\x20'..='\x7e' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
        && c != '\u{feff}'
}

fn is_blank_or_end(c: Option<&char>) -> bool {
    matches!(c, None | Some(' ' | '\t' | '\0')) || c.is_some_and(|c| is_break(*c))
}

/// libyaml's `yaml_emitter_analyze_scalar` (block context, `allow_unicode=False`).
fn analyze(value: &str) -> Analysis {
    if value.is_empty() {
        return Analysis { multiline: false, block_plain: true, single_quoted: true };
    }
    let chars: Vec<char> = value.chars().collect();
    let mut block_indicators = value.starts_with("---") || value.starts_with("...");
    let (mut line_breaks, mut special) = (false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) = (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_whitespace = true;
    let last = chars.len() - 1;
    for (i, &c) in chars.iter().enumerate() {
        let followed_by_whitespace = is_blank_or_end(chars.get(i + 1));
        if i == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(c) {
                block_indicators = true;
            }
            if (c == '?' || c == ':') && followed_by_whitespace {
                block_indicators = true;
            }
            if c == '-' && followed_by_whitespace {
                block_indicators = true;
            }
        } else {
            if c == ':' && followed_by_whitespace {
                block_indicators = true;
            }
            if c == '#' && preceded_by_whitespace {
                block_indicators = true;
            }
        }
        if !is_printable(c) || !c.is_ascii() {
            special = true;
        }
        if is_break(c) {
            line_breaks = true;
        }
        if c == ' ' {
            if i == 0 {
                leading_space = true;
            }
            if i == last {
                trailing_space = true;
            }
            if previous_break {
                break_space = true;
            }
            previous_space = true;
            previous_break = false;
        } else if is_break(c) {
            if i == 0 {
                leading_break = true;
            }
            if i == last {
                trailing_break = true;
            }
            if previous_space {
                space_break = true;
            }
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = is_blank_or_end(Some(&c));
    }
    let mut block_plain = true;
    let mut single_quoted = true;
    if leading_space || leading_break || trailing_space || trailing_break {
        block_plain = false;
    }
    if break_space {
        block_plain = false;
        single_quoted = false;
    }
    if space_break || special {
        block_plain = false;
        single_quoted = false;
    }
    if line_breaks {
        block_plain = false;
    }
    if block_indicators {
        block_plain = false;
    }
    Analysis { multiline: line_breaks, block_plain, single_quoted }
}

/// PyYAML's implicit resolvers (YAML 1.1 `bool`, `float`, `int`, `merge`, `null`, `timestamp`, `value`).
static RESOLVERS: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        r"^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)\n?\z",
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))\n?\z",
        r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)\n?\z",
        r"^(?:<<)\n?\z",
        r"^(?:~|null|Null|NULL|)\n?\z",
        r"^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)\n?\z",
        r"^(?:=)\n?\z",
    ]
    .iter()
    .filter_map(|r| Regex::new(r).ok())
    .collect()
});

/// A plain scalar with this text would be read back as a string (PyYAML's `implicit[0]` for a `str`).
fn resolves_to_str(value: &str) -> bool {
    !RESOLVERS.iter().any(|r| r.is_match(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Node {
        Node::Str(v.to_owned())
    }

    #[test]
    fn resolvers_compile_and_quote_like_pyyaml() {
        assert_eq!(RESOLVERS.len(), 7);
        let dumped = dump(&Node::List(vec![Node::Dict(vec![
            ("a".into(), s("587")),
            ("b".into(), s("False")),
            ("c".into(), s("TrUe")),
            ("d".into(), s("1e5")),
            ("e".into(), s("1.5e+3")),
            ("f".into(), s("")),
            ("g".into(), Node::Null),
            ("h".into(), s("a: b")),
            ("i".into(), s("it's")),
            ("j".into(), s("\u{e9}\t")),
            ("k".into(), s("a\nb")),
            (
                "l".into(),
                Node::Dict(vec![("x".into(), Node::List(vec![s("1"), s("y")])), ("z".into(), Node::Dict(vec![]))]),
            ),
        ])]));
        assert_eq!(
            dumped,
            "- a: '587'\n  b: 'False'\n  c: TrUe\n  d: 1e5\n  e: '1.5e+3'\n  f: ''\n  g: null\n  h: 'a: b'\n  i: it's\n  j: \"\\xE9\\t\"\n  k: 'a\n\n    b'\n  l:\n    x:\n    - '1'\n    - y\n    z: {}\n"
        );
    }

    #[test]
    fn long_scalars_fold_at_column_80() {
        let dumped = dump(&Node::List(vec![Node::Dict(vec![
            ("description".into(), s(&"word ".repeat(30))),
            ("long".into(), s(&format!("{} {}", "x".repeat(100), "y".repeat(10)))),
            ("k".repeat(130), s("v")),
        ])]));
        assert_eq!(
            dumped,
            format!(
                "- description: 'word word word word word word word word word word word word word word\n    word word word word word word word word word word word word word word word word '\n  ? {}\n  : v\n  long: {}\n    yyyyyyyyyy\n",
                "k".repeat(130),
                "x".repeat(100)
            )
        );
    }
}
