//! Python's `str.upper()`, which builds every environment variable name.
//!
//! Python and Rust both apply the full Unicode case mapping (`SpecialCasing.txt` included: `ß` becomes `SS`,
//! `ﬁ` becomes `FI`, `ŉ` becomes `ʼN`), and uppercasing needs no context, so [`char::to_uppercase`] is
//! exact except for the Unicode version. CPython 3.11 (the interpreter the rest of wasm-secrets reproduces,
//! see `airflow-compat`) has Unicode 14.0; Rust 1.95 has a newer version, which also uppercases the 55 code
//! points of [`PY311_UNCHANGED`] (found by comparing `char::to_uppercase` with Python 3.11.7's `str.upper`
//! for every code point). [`upper`] leaves those unchanged, like Python 3.11. Newer Pythons (3.12: Unicode
//! 15.0, 3.13: 15.1) uppercase a few of them too (U+019B, U+0264, U+A7D3, ...): ids using them are
//! ambiguous between Python versions and unlikely in environment variable names.

/// Code points that CPython 3.11 leaves unchanged in `str.upper()` but that Rust 1.95 uppercases.
pub const PY311_UNCHANGED: &[char] = &[
    '\u{19b}',
    '\u{264}',
    '\u{1c8a}',
    '\u{a7cd}',
    '\u{a7cf}',
    '\u{a7d3}',
    '\u{a7d5}',
    '\u{a7db}',
    '\u{10d70}',
    '\u{10d71}',
    '\u{10d72}',
    '\u{10d73}',
    '\u{10d74}',
    '\u{10d75}',
    '\u{10d76}',
    '\u{10d77}',
    '\u{10d78}',
    '\u{10d79}',
    '\u{10d7a}',
    '\u{10d7b}',
    '\u{10d7c}',
    '\u{10d7d}',
    '\u{10d7e}',
    '\u{10d7f}',
    '\u{10d80}',
    '\u{10d81}',
    '\u{10d82}',
    '\u{10d83}',
    '\u{10d84}',
    '\u{10d85}',
    '\u{16ebb}',
    '\u{16ebc}',
    '\u{16ebd}',
    '\u{16ebe}',
    '\u{16ebf}',
    '\u{16ec0}',
    '\u{16ec1}',
    '\u{16ec2}',
    '\u{16ec3}',
    '\u{16ec4}',
    '\u{16ec5}',
    '\u{16ec6}',
    '\u{16ec7}',
    '\u{16ec8}',
    '\u{16ec9}',
    '\u{16eca}',
    '\u{16ecb}',
    '\u{16ecc}',
    '\u{16ecd}',
    '\u{16ece}',
    '\u{16ecf}',
    '\u{16ed0}',
    '\u{16ed1}',
    '\u{16ed2}',
    '\u{16ed3}',
];

/// Python 3.11's `s.upper()`.
///
/// ```
/// use wasm_secrets_environment::pyupper::upper;
/// assert_eq!(upper("my_db-1"), "MY_DB-1");
/// assert_eq!(upper("straße"), "STRASSE");
/// assert_eq!(upper("ﬁle"), "FILE");
/// ```
pub fn upper(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if PY311_UNCHANGED.contains(&c) {
            out.push(c);
        } else {
            out.extend(c.to_uppercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_and_special_casing() {
        assert_eq!(upper("aws_default"), "AWS_DEFAULT");
        assert_eq!(upper("ŉ"), "\u{2bc}N");
        assert_eq!(upper("ǅ"), "Ǆ");
        assert_eq!(upper("ΐ"), "\u{399}\u{308}\u{301}");
        assert_eq!(upper("ı"), "I");
        assert_eq!(upper("ﬀ"), "FF");
    }

    #[test]
    fn newer_unicode_letters_stay_as_python_311_leaves_them() {
        for &c in PY311_UNCHANGED {
            assert_ne!(c.to_uppercase().collect::<String>(), c.to_string(), "{c:?} is uppercased by Rust");
            assert_eq!(upper(&c.to_string()), c.to_string());
        }
        assert_eq!(PY311_UNCHANGED.len(), 55);
        assert_eq!(upper("a\u{1c8a}b"), "A\u{1c8a}B");
    }
}
