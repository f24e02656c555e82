//! Python's lenient `base64.b64decode` (what Airflow applies to a Secret's data value) and the value decoding
//! on top of it (UTF-8).
//!
//! Properties: no panic; the standard encoding of any bytes decodes back to them, also with the characters
//! Python's decoder discards (whitespace, anything outside the alphabet) spread through it; where a strict
//! decoder accepts the text, the lenient one gives the same bytes; the value decodes exactly when the bytes
//! are UTF-8; an error never quotes the text.
#![no_main]

use airflow_compat::{b64decode, decode_secret_value};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use wasm_secrets_fuzz::expand;

fuzz_target!(|data: &[u8]| {
    let encoded = STANDARD.encode(data);
    assert_eq!(b64decode(&encoded).ok().as_deref(), Some(data), "the encoding of the input does not decode back");
    // Python drops characters outside the alphabet before decoding: the same bytes with noise between groups.
    let noisy: String =
        encoded.chars().enumerate().flat_map(|(n, c)| [c, if n % 3 == 0 { '\n' } else { '#' }]).collect();
    assert_eq!(b64decode(&noisy).ok().as_deref(), Some(data), "discarded characters changed the bytes");

    let Some(input) = expand(data) else { return };
    let text = &input.data;
    let lenient = b64decode(text);
    if let Ok(strict) = STANDARD.decode(text) {
        assert_eq!(lenient.as_ref().ok(), Some(&strict), "strict and lenient decoding disagree");
    }
    match lenient {
        Ok(bytes) => match decode_secret_value(text) {
            Ok(value) => assert_eq!(Ok(value.as_str()), std::str::from_utf8(&bytes)),
            Err(e) => {
                assert!(std::str::from_utf8(&bytes).is_err(), "decoded bytes are UTF-8 yet the value failed: {e}");
                input.check_none(&e.to_string(), "a value decoding error");
            }
        },
        Err(e) => {
            assert!(decode_secret_value(text).is_err());
            input.check_none(&e.to_string(), "a base64 error");
        }
    }
});
