//! From file bytes to the text Airflow parses: `open(file_path).read()`.
//!
//! Python opens the file in text mode with the locale's encoding (UTF-8 on every supported Airflow image)
//! and universal newlines: `\r\n` and a lone `\r` both become `\n`. A byte-order mark is kept (the codec is
//! `utf-8`, not `utf-8-sig`). Invalid UTF-8 raises `UnicodeDecodeError`; here it is a parse error naming the
//! line of the first invalid byte.

/// Why the bytes are not text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotUtf8 {
    /// 1-based line of the first invalid byte.
    pub line: usize,
}

/// Decodes UTF-8 and translates newlines as Python's text mode does.
///
/// ```
/// use wasm_secrets_provider_local_files::text::decode;
/// assert_eq!(decode(b"a=1\r\nb=2\rc=3\n").unwrap(), "a=1\nb=2\nc=3\n");
/// assert_eq!(decode(b"a=1\n\xff").unwrap_err().line, 2);
/// ```
pub fn decode(bytes: &[u8]) -> Result<String, NotUtf8> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let before = bytes.get(..e.valid_up_to()).unwrap_or_default();
        let line = before.iter().filter(|&&b| b == b'\n').count()
            + before.windows(2).filter(|w| w[0] == b'\r' && w[1] != b'\n').count()
            + usize::from(before.last() == Some(&b'\r'))
            + 1;
        NotUtf8 { line }
    })?;
    if !text.contains('\r') {
        return Ok(text.to_owned());
    }
    Ok(text.replace("\r\n", "\n").replace('\r', "\n"))
}

/// Python's `str.splitlines()`: splits at `\n`, `\r`, `\r\n`, `\v`, `\f`, `\x1c`, `\x1d`, `\x1e`, `\x85`,
/// U+2028 and U+2029; a final line break does not start an empty line.
///
/// ```
/// use wasm_secrets_provider_local_files::text::splitlines;
/// assert_eq!(splitlines("a\nb\x0cc\n"), vec!["a", "b", "c"]);
/// assert_eq!(splitlines("\n\n"), vec!["", ""]);
/// ```
pub fn splitlines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        match rest.char_indices().find(|(_, c)| is_line_break(*c)) {
            Some((i, c)) => {
                lines.push(&rest[..i]);
                let mut next = i + c.len_utf8();
                if c == '\r' && rest[next..].starts_with('\n') {
                    next += 1;
                }
                rest = &rest[next..];
            }
            None => {
                lines.push(rest);
                rest = "";
            }
        }
    }
    lines
}

fn is_line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{b}' | '\u{c}' | '\u{1c}' | '\u{1d}' | '\u{1e}' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// Python's `str.isspace()` for one character: Unicode `White_Space` plus U+001C..U+001F.
pub fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn universal_newlines() {
        assert_eq!(decode(b"\r\r\n\n").unwrap(), "\n\n\n");
        assert_eq!(decode("\u{feff}x".as_bytes()).unwrap(), "\u{feff}x");
        assert_eq!(decode(b"").unwrap(), "");
    }

    #[test]
    fn invalid_utf8_line() {
        assert_eq!(decode(b"\xc3").unwrap_err(), NotUtf8 { line: 1 });
        assert_eq!(decode(b"a\r\nb\rc\n\xed\xa0\x80").unwrap_err(), NotUtf8 { line: 4 });
        assert_eq!(decode(b"a\r\xff").unwrap_err(), NotUtf8 { line: 2 });
    }

    #[test]
    fn splitlines_like_python() {
        assert_eq!(splitlines(""), Vec::<&str>::new());
        assert_eq!(splitlines("a"), vec!["a"]);
        assert_eq!(splitlines("a\r\nb\rc\u{2028}d\u{85}e\u{1e}f\u{b}"), vec!["a", "b", "c", "d", "e", "f"]);
        assert_eq!(splitlines("\na"), vec!["", "a"]);
    }

    #[test]
    fn python_isspace() {
        for c in [' ', '\t', '\u{1f}', '\u{a0}', '\u{3000}', '\u{2007}', '\u{85}'] {
            assert!(is_py_space(c), "{c:?}");
        }
        for c in ['\u{200b}', 'a', '\u{feff}', '\u{180e}'] {
            assert!(!is_py_space(c), "{c:?}");
        }
    }
}
