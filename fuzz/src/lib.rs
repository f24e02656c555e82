//! What the fuzz targets share: the canary that stands for a secret, and the checks that it never shows.
//!
//! A target's input may hold the byte `0x01`, which [`expand`] replaces with [`CANARY`] before parsing: the
//! fuzzer learns to put "a secret" in every position of every format (a password, a token, a kwargs value, a
//! Secret's data). Whatever the parser then says (an error, a warning, a `Debug` form) must not contain any
//! part of the canary ([`leaks`]), unless the target shows the canary stood somewhere that is not secret and
//! that messages may name (a key, a Secret's name).

/// The stand-in secret. Distinctive: no message of the project contains 6 characters of it in a row.
pub const CANARY: &str = "Qx7Zk9WvPp3Lg";

/// The input as text with every `0x01` replaced by [`CANARY`]; `None` when it is not UTF-8 or when the raw
/// input already holds a part of the canary (then a "leak" could be the fuzzer's own text, quoted legitimately).
pub fn expand(data: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(data).ok()?;
    if leaks(text) {
        return None;
    }
    Some(text.replace('\u{1}', CANARY))
}

/// [`expand`] for byte inputs (answers from the API): the bytes need not be UTF-8.
pub fn expand_bytes(data: &[u8]) -> Option<Vec<u8>> {
    if leaks(&String::from_utf8_lossy(data)) {
        return None;
    }
    let mut out = Vec::with_capacity(data.len());
    for &b in data {
        if b == 1 {
            out.extend_from_slice(CANARY.as_bytes());
        } else {
            out.push(b);
        }
    }
    Some(out)
}

/// Whether `text` holds 6 characters of the canary in a row.
pub fn leaks(text: &str) -> bool {
    CANARY.as_bytes().windows(6).any(|w| text.as_bytes().windows(6).any(|t| t == w))
}

/// Panics (a finding) when `text`, which `what` produced, contains part of the canary.
#[track_caller]
pub fn assert_no_leak(text: &str, what: &str) {
    assert!(!leaks(text), "{what} shows part of the secret: {text}");
}

/// Whether the canary stands in an object key of the JSON `value`, or in a string under a key named in
/// `names` (a Secret's `name`, say): places that messages may quote.
pub fn canary_in_json_names(value: &serde_json::Value, names: &[&str]) -> bool {
    match value {
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| {
            leaks(k) || (names.contains(&k.as_str()) && v.as_str().is_some_and(leaks)) || canary_in_json_names(v, names)
        }),
        serde_json::Value::Array(items) => items.iter().any(|v| canary_in_json_names(v, names)),
        _ => false,
    }
}

/// Whether the canary stands in a mapping key of the YAML `value` (or in a non-string key's text).
pub fn canary_in_yaml_keys(value: &serde_yaml::Value) -> bool {
    match value {
        serde_yaml::Value::Mapping(map) => {
            map.iter().any(|(k, v)| serde_yaml::to_string(k).is_ok_and(|s| leaks(&s)) || canary_in_yaml_keys(v))
        }
        serde_yaml::Value::Sequence(items) => items.iter().any(canary_in_yaml_keys),
        serde_yaml::Value::Tagged(tagged) => leaks(&tagged.tag.to_string()) || canary_in_yaml_keys(&tagged.value),
        _ => false,
    }
}

/// Whether a line of `text` has the canary before its first `separator` (the key of a `.env` line with `=`,
/// of a YAML line with `: ` or a final `:`).
pub fn canary_in_line_keys(text: &str, separator: &str) -> bool {
    // Python's `str.splitlines()` boundaries, which the `.env` reader follows.
    let breaks = ['\n', '\r', '\u{b}', '\u{c}', '\u{1c}', '\u{1d}', '\u{1e}', '\u{85}', '\u{2028}', '\u{2029}'];
    text.split(breaks).any(|line| {
        let end = line.find(separator).or_else(|| line.trim_end().strip_suffix(separator.trim()).map(str::len));
        end.is_some_and(|at| leaks(&line[..at]))
    })
}

/// Whether the canary comes before a `:` on its line: a YAML key, plain, quoted or in a flow mapping.
pub fn canary_before_colon(text: &str) -> bool {
    text.lines().any(|line| {
        CANARY
            .as_bytes()
            .windows(6)
            .any(|w| line.as_bytes().windows(6).position(|t| t == w).is_some_and(|at| line[at..].contains(':')))
    })
}

/// Whether the canary stands in a mapping key of a value the local-files provider parsed.
fn canary_in_map_keys(value: &wasm_secrets_provider_local_files::value::Value) -> bool {
    use wasm_secrets_provider_local_files::value::Value;
    match value {
        Value::Map(entries) => entries.iter().any(|(k, v)| leaks(&format!("{k:?}")) || canary_in_map_keys(v)),
        Value::Seq(items) => items.iter().any(canary_in_map_keys),
        _ => false,
    }
}

/// The local-files targets: `data` as the file at `path` (its extension picks the format), read for
/// connections in both dialects, for variables and for config values.
pub fn local_files(path: &str, data: &[u8]) {
    use wasm_secrets_provider_local_files::file::{load_configs, load_connections, load_variables};

    let Some(text) = expand(data) else { return };
    let bytes = text.as_bytes();
    // Where a message may quote the canary: a key (of a line, a JSON object, a YAML mapping).
    let in_a_key = || {
        (if path.ends_with(".env") { canary_in_line_keys(&text, "=") } else { canary_before_colon(&text) })
            || wasm_secrets_provider_local_files::file::parse_secret_file(path, bytes)
                .is_ok_and(|entries| entries.iter().any(|(k, v)| leaks(&format!("{k:?}")) || canary_in_map_keys(v)))
            || serde_json::from_str::<serde_json::Value>(&text).is_ok_and(|v| canary_in_json_names(&v, &[]))
            || serde_yaml::from_str::<serde_yaml::Value>(&text).is_ok_and(|v| canary_in_yaml_keys(&v))
    };
    let check = |message: String| {
        assert!(message.len() <= 4096 + path.len(), "an error of {} bytes: {message}", message.len());
        if leaks(&message) && !in_a_key() {
            assert_no_leak(&message, "a local-files error");
        }
    };
    for dialect in [airflow_compat::Dialect::Server, airflow_compat::Dialect::Worker] {
        if let Err(e) = load_connections(path, bytes, dialect) {
            check(e.to_string());
        }
    }
    if let Err(e) = load_variables(path, bytes) {
        check(e.to_string());
    }
    if let Err(e) = load_configs(path, bytes) {
        check(e.to_string());
    }
}
