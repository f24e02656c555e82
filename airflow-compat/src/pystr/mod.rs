//! Python `str` semantics that Airflow relies on: `isspace`/`strip`, `isprintable`, `lower`, `upper` and
//! `int(str)`.
//!
//! Only [`upper`] is public (the environment provider builds variable names with it); the rest serves this
//! crate. The Unicode data comes from CPython 3.11.7 (Unicode 14.0) through the generated `tables` module
//! (`bash scripts/check-unicode-tables.sh` regenerates and checks it).

mod tables;

/// Python's `str.isspace()` for one character (Unicode White_Space plus U+001C..U+001F).
pub(crate) fn is_space(c: char) -> bool {
    tables::PY_SPACE.contains(&c)
}

/// Python's `str.strip()` with no argument: removes leading and trailing `str.isspace()` characters.
pub(crate) fn strip(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// Python's `str.isprintable()` for one character (`repr()` escapes the non-printable ones).
pub(crate) fn is_printable(c: char) -> bool {
    let cp = u32::from(c);
    if cp < 0x80 {
        return (0x20..0x7f).contains(&cp);
    }
    let idx = tables::NON_PRINTABLE.partition_point(|&(_, end)| end < cp);
    match tables::NON_PRINTABLE.get(idx) {
        Some(&(start, end)) => !(start <= cp && cp <= end),
        None => true,
    }
}

/// The value of a Unicode decimal digit (`unicodedata.decimal`), as `int()` accepts them.
pub(crate) fn decimal_value(c: char) -> Option<u32> {
    let cp = u32::from(c);
    let idx = tables::DECIMAL_ZEROS.partition_point(|&zero| zero <= cp);
    let zero = *tables::DECIMAL_ZEROS.get(idx.checked_sub(1)?)?;
    let value = cp - zero;
    (value < 10).then_some(value)
}

/// True when NFKC normalisation of `c` yields one of `/?#@:` (see `urllib.parse._checknetloc`).
pub(crate) fn nfkc_has_url_delimiter(c: char) -> bool {
    tables::NFKC_URL_DELIMITERS.contains(&c)
}

/// Python's `str.lower()` (full case mapping, final sigma included).
///
/// Characters that Python 3.11 does not know (Unicode 14) stay unchanged. They are neither cased nor
/// case-ignorable for Python, so lowercasing the pieces between them separately keeps the final-sigma
/// context exact.
pub fn lower(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for piece in s.split_inclusive(|c| tables::LOWER_UNCHANGED.contains(&c)) {
        match piece.char_indices().last() {
            Some((i, c)) if tables::LOWER_UNCHANGED.contains(&c) => {
                out.push_str(&piece[..i].to_lowercase());
                out.push(c);
            }
            _ => out.push_str(&piece.to_lowercase()),
        }
    }
    out
}

/// Python 3.11's `s.upper()`.
///
/// Python and Rust both apply the full Unicode case mapping (`SpecialCasing.txt` included: `ß` becomes `SS`,
/// `ﬁ` becomes `FI`, `ŉ` becomes `ʼN`), and uppercasing needs no context, so [`char::to_uppercase`] is
/// exact except for the Unicode version. CPython 3.11 (the interpreter this crate reproduces) has Unicode 14.0;
/// the pinned Rust has a newer version, which also uppercases the code points of `tables::UPPER_UNCHANGED` (found
/// by comparing `char::to_uppercase` with Python 3.11.7's `str.upper` for every code point). `upper` leaves
/// those unchanged, like Python 3.11. Newer Pythons (3.12: Unicode 15.0, 3.13: 15.1) uppercase a few of them
/// too (U+019B, U+0264, U+A7D3, ...): ids using them are ambiguous between Python versions and unlikely in
/// environment variable names.
///
/// ```
/// use airflow_compat::pystr::upper;
/// assert_eq!(upper("my_db-1"), "MY_DB-1");
/// assert_eq!(upper("straße"), "STRASSE");
/// assert_eq!(upper("ﬁle"), "FILE");
/// ```
pub fn upper(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if tables::UPPER_UNCHANGED.contains(&c) {
            out.push(c);
        } else {
            out.extend(c.to_uppercase());
        }
    }
    out
}

/// Why Python's `int(str)` would not give a usable `i64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntParseError {
    /// `int()` raises `ValueError`.
    Invalid,
    /// `int()` succeeds but the value does not fit in an `i64`.
    TooLarge,
}

/// Python's `int(s)` for a `str` (base 10): surrounding whitespace, a sign, Unicode decimal digits and single
/// underscores between digits are accepted.
pub(crate) fn int_from_str(s: &str) -> Result<i64, IntParseError> {
    let s = strip(s);
    let (negative, digits) = if let Some(rest) = s.strip_prefix('-') {
        (true, rest)
    } else if let Some(rest) = s.strip_prefix('+') {
        (false, rest)
    } else {
        (false, s)
    };
    if digits.is_empty() {
        return Err(IntParseError::Invalid);
    }
    // The magnitude is accumulated as a negative number so that i64::MIN fits.
    let mut value: i64 = 0;
    let mut overflow = false;
    let mut previous_was_digit = false;
    for c in digits.chars() {
        if c == '_' {
            if !previous_was_digit {
                return Err(IntParseError::Invalid);
            }
            previous_was_digit = false;
            continue;
        }
        let d = decimal_value(c).ok_or(IntParseError::Invalid)?;
        previous_was_digit = true;
        if !overflow {
            match value.checked_mul(10).and_then(|v| v.checked_sub(i64::from(d))) {
                Some(v) => value = v,
                None => overflow = true,
            }
        }
    }
    if !previous_was_digit {
        return Err(IntParseError::Invalid);
    }
    if overflow {
        return Err(IntParseError::TooLarge);
    }
    if negative { Ok(value) } else { value.checked_neg().ok_or(IntParseError::TooLarge) }
}

/// Python's `int(f)` for a float: truncation toward zero.
pub(crate) fn int_from_float(f: f64) -> Result<i64, IntParseError> {
    if f.is_nan() {
        return Err(IntParseError::Invalid);
    }
    if f.is_infinite() {
        return Err(IntParseError::TooLarge);
    }
    let t = f.trunc();
    // 2^63 is exactly representable; every f64 in [-2^63, 2^63) converts exactly.
    if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&t) {
        #[allow(clippy::cast_possible_truncation, reason = "range checked just above; the value is already integral")]
        Ok(t as i64)
    } else {
        Err(IntParseError::TooLarge)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_matches_python() {
        // python3 -c "print(repr('\x1c\u3000 a b\x85\n'.strip()))" -> 'a b'
        assert_eq!(strip("\u{1c}\u{3000} a b\u{85}\n"), "a b");
        // U+200B is not whitespace for Python
        assert_eq!(strip("\u{200b}a"), "\u{200b}a");
        assert_eq!(strip(" \t\n"), "");
    }

    #[test]
    fn printable() {
        assert!(is_printable('a'));
        assert!(is_printable(' '));
        assert!(!is_printable('\u{7f}'));
        assert!(!is_printable('\u{a0}'));
        assert!(is_printable('é'));
        assert!(!is_printable('\u{ad}'));
        assert!(!is_printable('\u{2028}'));
        assert!(is_printable('✓'));
        assert!(!is_printable('\u{e000}'));
        assert!(!is_printable('\u{10ffff}'));
        assert!(is_printable('😀'));
    }

    #[test]
    fn lower_matches_python_311() {
        // python3 -c "print(ascii('HÉ\u0130\u1c89\u03a3\u03a3 \u03a3'.lower()))"
        assert_eq!(lower("HÉ\u{130}\u{1c89}\u{3a3}\u{3a3} \u{3a3}"), "hé\u{69}\u{307}\u{1c89}\u{3c3}\u{3c2} \u{3c3}");
        assert_eq!(lower("A\u{3a3}\u{1c89}"), "a\u{3c2}\u{1c89}");
    }

    #[test]
    fn upper_ascii_and_special_casing() {
        assert_eq!(upper("aws_default"), "AWS_DEFAULT");
        assert_eq!(upper("ŉ"), "\u{2bc}N");
        assert_eq!(upper("ǅ"), "Ǆ");
        assert_eq!(upper("ΐ"), "\u{399}\u{308}\u{301}");
        assert_eq!(upper("ı"), "I");
        assert_eq!(upper("ﬀ"), "FF");
    }

    #[test]
    fn upper_leaves_newer_unicode_letters_as_python_311_does() {
        for &c in tables::UPPER_UNCHANGED {
            assert_ne!(c.to_uppercase().collect::<String>(), c.to_string(), "{c:?} is uppercased by Rust");
            assert_eq!(upper(&c.to_string()), c.to_string());
        }
        assert_eq!(upper("a\u{1c8a}b"), "A\u{1c8a}B");
    }

    #[test]
    fn decimal_digits() {
        assert_eq!(decimal_value('7'), Some(7));
        assert_eq!(decimal_value('\u{668}'), Some(8));
        assert_eq!(decimal_value('\u{ff15}'), Some(5));
        assert_eq!(decimal_value('a'), None);
        assert_eq!(decimal_value('\u{b2}'), None); // superscript two is a digit but not decimal
        assert_eq!(decimal_value('\u{0}'), None);
    }

    #[test]
    fn int_semantics() {
        // Each expectation checked with python3 3.11.7: int(s)
        assert_eq!(int_from_str(" 80 "), Ok(80));
        assert_eq!(int_from_str("0080"), Ok(80));
        assert_eq!(int_from_str("+80"), Ok(80));
        assert_eq!(int_from_str("-5"), Ok(-5));
        assert_eq!(int_from_str("1_000"), Ok(1000));
        assert_eq!(int_from_str("\u{668}\u{660}"), Ok(80));
        assert_eq!(int_from_str("\u{3000}80\u{85}"), Ok(80));
        assert_eq!(int_from_str("1__0"), Err(IntParseError::Invalid));
        assert_eq!(int_from_str("_1"), Err(IntParseError::Invalid));
        assert_eq!(int_from_str("1_"), Err(IntParseError::Invalid));
        assert_eq!(int_from_str("- 5"), Err(IntParseError::Invalid));
        assert_eq!(int_from_str(""), Err(IntParseError::Invalid));
        assert_eq!(int_from_str("-"), Err(IntParseError::Invalid));
        assert_eq!(int_from_str("5432.0"), Err(IntParseError::Invalid));
        assert_eq!(int_from_str("0x10"), Err(IntParseError::Invalid));
        assert_eq!(int_from_str("abc"), Err(IntParseError::Invalid));
        assert_eq!(int_from_str("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(int_from_str("9223372036854775808"), Err(IntParseError::TooLarge));
        assert_eq!(int_from_float(5432.7), Ok(5432));
        assert_eq!(int_from_float(-0.5), Ok(0));
        assert_eq!(int_from_float(f64::NAN), Err(IntParseError::Invalid));
        assert_eq!(int_from_float(1e300), Err(IntParseError::TooLarge));
    }
}
