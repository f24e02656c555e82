//! Python's non-strict `base64.b64decode` (CPython 3.11 `binascii.a2b_base64` with `strict_mode=False`).
//!
//! The Kubernetes secrets backend decodes `secret.data[key]` with `base64.b64decode(value).decode("utf-8")`.
//! That decoder is lenient in ways a standard Rust decoder is not:
//! - characters outside `A-Z a-z 0-9 + /` and `=` are silently discarded (whitespace, `-`, `_`, `!`, ...);
//! - decoding stops at the first complete padding sequence, so anything after it is ignored
//!   (`aGk=aGk=` decodes to `hi`);
//! - a `=` that arrives before two data characters of a quantum is ignored;
//! - a leftover partial quantum is an error ("Incorrect padding"), and so is one single extra data character.

use crate::error::{Base64Error, ValueDecodeError};

/// Maps an ASCII byte to its 6-bit base64 value, or `None` for bytes outside the standard alphabet.
fn sextet(byte: u8) -> Option<u8> {
    match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Decodes `input` exactly like Python's `base64.b64decode(input)` (non-strict).
///
/// `base64.b64decode` first encodes a `str` argument as ASCII, so any non-ASCII character is an error
/// ([`Base64Error::NonAscii`]).
///
/// ```
/// use airflow_compat::pybase64::b64decode;
/// assert_eq!(b64decode("aGVs\nbG8=").unwrap(), b"hello");
/// assert_eq!(b64decode("aGk=aGk=").unwrap(), b"hi");
/// assert!(b64decode("aGVsbG8").is_err());
/// ```
pub fn b64decode(input: &str) -> Result<Vec<u8>, Base64Error> {
    if !input.is_ascii() {
        return Err(Base64Error::NonAscii);
    }
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3 + 3);
    let mut quad_pos = 0u8;
    let mut left: u8 = 0;
    let mut pads = 0u8;
    for &byte in bytes {
        if byte == b'=' {
            if quad_pos >= 2 {
                pads = pads.saturating_add(1);
                if quad_pos + pads >= 4 {
                    // A complete pad sequence: stop, ignoring whatever follows.
                    return Ok(out);
                }
            }
            continue;
        }
        let Some(value) = sextet(byte) else {
            continue;
        };
        pads = 0;
        match quad_pos {
            0 => {
                quad_pos = 1;
                left = value;
            }
            1 => {
                quad_pos = 2;
                out.push((left << 2) | (value >> 4));
                left = value & 0x0f;
            }
            2 => {
                quad_pos = 3;
                out.push((left << 4) | (value >> 2));
                left = value & 0x03;
            }
            _ => {
                quad_pos = 0;
                out.push((left << 6) | value);
                left = 0;
            }
        }
    }
    match quad_pos {
        0 => Ok(out),
        1 => Err(Base64Error::InvalidLength),
        _ => Err(Base64Error::IncorrectPadding),
    }
}

/// What the backend returns for a secret data value: `base64.b64decode(value).decode("utf-8")`.
///
/// The UTF-8 decoding is strict; a byte-order mark is kept as `U+FEFF`. The result is returned verbatim
/// (no stripping, no newline normalisation).
///
/// ```
/// use airflow_compat::pybase64::decode_secret_value;
/// assert_eq!(decode_secret_value("77u/aGk=").unwrap(), "\u{feff}hi");
/// assert!(decode_secret_value("Y2Fm6Q==").is_err()); // latin-1 bytes are not UTF-8
/// ```
pub fn decode_secret_value(b64: &str) -> Result<String, ValueDecodeError> {
    let bytes = b64decode(b64)?;
    String::from_utf8(bytes).map_err(|_| ValueDecodeError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_cpython() {
        // Expectations produced with python3 3.11.7: base64.b64decode(s)
        let ok: &[(&str, &[u8])] = &[
            ("aGVsbG8=", b"hello"),
            ("aG=!=", b"h"),
            ("aGk=aGk=", b"hi"),
            ("aGVsbG8=a", b"hello"),
            ("====", b""),
            ("", b""),
            ("abcd=", b"i\xb7\x1d"),
            ("Y=Q==", b"a"),
            ("YQ===", b"a"),
            ("=YQ==", b"a"),
            ("Y Q = =", b"a"),
            ("-__-", b""),
            ("aGVs\r\nbG8=\n", b"hello"),
        ];
        for (input, expected) in ok {
            assert_eq!(b64decode(input).as_deref(), Ok(*expected), "{input:?}");
        }
        let err: &[(&str, Base64Error)] = &[
            ("a=b=", Base64Error::IncorrectPadding),
            ("a", Base64Error::InvalidLength),
            ("ab", Base64Error::IncorrectPadding),
            ("abc", Base64Error::IncorrectPadding),
            ("YQ=", Base64Error::IncorrectPadding),
            ("aGVsbG8", Base64Error::IncorrectPadding),
            ("aGVsbG8=\u{e9}", Base64Error::NonAscii),
        ];
        for (input, expected) in err {
            assert_eq!(b64decode(input), Err(*expected), "{input:?}");
        }
    }

    #[test]
    fn secret_value() {
        assert_eq!(decode_secret_value("aGVsbG8=").as_deref(), Ok("hello"));
        assert_eq!(decode_secret_value("Y2Fm6Q=="), Err(ValueDecodeError::NotUtf8));
        assert!(matches!(decode_secret_value("aGVsbG8"), Err(ValueDecodeError::Base64(Base64Error::IncorrectPadding))));
    }
}
