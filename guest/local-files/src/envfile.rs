//! Airflow's `_parse_env_file`: the `.env` format.
//!
//! ```python
//! for line_no, line in enumerate(content.splitlines(), 1):
//!     if not line: continue                          # empty line
//!     if COMMENT_PATTERN.match(line): continue       # re.compile(r"\s*#.*")
//!     key, sep, value = line.partition("=")
//!     if not sep:   errors.append(FileSyntaxError(line_no, 'Invalid line format. The line should contain at least one equal sign ("=").'))
//!     elif not key: errors.append(FileSyntaxError(line_no, "Invalid line format. Key is empty."))
//!     elif not value: errors.append(FileSyntaxError(line_no, "Invalid line format. Value is empty."))
//!     else: secrets[key].append(value)
//! ```
//!
//! Nothing is stripped: `KEY = value` has the key `"KEY "` and the value `" value"`. Every value of a key is
//! kept, in order, so the callers can reject duplicates as Airflow does.

use crate::text::{is_py_space, splitlines};

/// One error of a secrets file, as Airflow's `FileSyntaxError`: a line number and a message that never
/// contains any part of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl SyntaxError {
    /// An error at a 1-based line.
    pub fn at(line: usize, message: impl Into<String>) -> Self {
        Self { line: Some(line), message: message.into() }
    }
}

/// Airflow's message for a line without `=`.
pub const NO_EQUAL_SIGN: &str = "Invalid line format. The line should contain at least one equal sign (\"=\").";
/// Airflow's message for a line starting with `=`.
pub const KEY_EMPTY: &str = "Invalid line format. Key is empty.";
/// Airflow's message for a line ending with its first `=`.
pub const VALUE_EMPTY: &str = "Invalid line format. Value is empty.";

/// The keys of a `.env` file with all their values, in first-seen order, and the syntax errors.
pub type EnvSecrets = Vec<(String, Vec<String>)>;

/// Parses `.env` text (already decoded, see [`crate::text::decode`]).
///
/// ```
/// use wasm_secrets_provider_local_files::envfile::parse;
/// let (secrets, errors) = parse("# comment\nA=1\n\nA=2=3\nB= x \n");
/// assert_eq!(secrets, vec![("A".to_owned(), vec!["1".to_owned(), "2=3".to_owned()]), ("B".to_owned(), vec![" x ".to_owned()])]);
/// assert!(errors.is_empty());
/// ```
pub fn parse(content: &str) -> (EnvSecrets, Vec<SyntaxError>) {
    let mut secrets: EnvSecrets = Vec::new();
    let mut errors = Vec::new();
    for (index, line) in splitlines(content).into_iter().enumerate() {
        let line_no = index + 1;
        if line.is_empty() || is_comment(line) {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            errors.push(SyntaxError::at(line_no, NO_EQUAL_SIGN));
            continue;
        };
        if key.is_empty() {
            errors.push(SyntaxError::at(line_no, KEY_EMPTY));
            continue;
        }
        if value.is_empty() {
            errors.push(SyntaxError::at(line_no, VALUE_EMPTY));
            continue;
        }
        match secrets.iter_mut().find(|(k, _)| k == key) {
            Some((_, values)) => values.push(value.to_owned()),
            None => secrets.push((key.to_owned(), vec![value.to_owned()])),
        }
    }
    (secrets, errors)
}

/// `COMMENT_PATTERN.match(line)`: optional whitespace (Python's `\s`, i.e. `str.isspace`), then `#`.
fn is_comment(line: &str) -> bool {
    line.trim_start_matches(is_py_space).starts_with('#')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(pairs: &[(&str, &[&str])]) -> EnvSecrets {
        pairs.iter().map(|(k, vs)| ((*k).to_owned(), vs.iter().map(|v| (*v).to_owned()).collect())).collect()
    }

    #[test]
    fn comments_and_blank_lines() {
        let (s, e) = parse("  # c\n\t#x=1\n\u{3000}#y\n#\nK=v # not a comment\n \n");
        assert_eq!(s, owned(&[("K", &["v # not a comment"])]));
        // A line of spaces is neither empty nor a comment.
        assert_eq!(e, vec![SyntaxError::at(6, NO_EQUAL_SIGN)]);
    }

    #[test]
    fn every_error_with_its_line() {
        let (s, e) = parse("A=1\nnoequal\n=value\nB=\n==\nC==\n");
        assert_eq!(s, owned(&[("A", &["1"]), ("C", &["="])]));
        assert_eq!(
            e,
            vec![
                SyntaxError::at(2, NO_EQUAL_SIGN),
                SyntaxError::at(3, KEY_EMPTY),
                SyntaxError::at(4, VALUE_EMPTY),
                SyntaxError::at(5, KEY_EMPTY)
            ]
        );
        assert_eq!(KEY_EMPTY, "Invalid line format. Key is empty.");
        assert_eq!(NO_EQUAL_SIGN, r#"Invalid line format. The line should contain at least one equal sign ("=")."#);
    }

    #[test]
    fn nothing_is_stripped_and_line_breaks_follow_splitlines() {
        let (s, e) = parse("K = v \x0cL=w\u{2028}M=x");
        assert_eq!(s, owned(&[("K ", &[" v "]), ("L", &["w"]), ("M", &["x"])]));
        assert!(e.is_empty());
    }
}
