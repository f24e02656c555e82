//! What the fuzz targets share: canaries that stand for secrets, and the checks that they never show.
//!
//! A target's input may hold the bytes `0x01` and `0x02`. Before parsing, the k-th of them becomes the k-th
//! canary ([`canary`]): `0x01` as is, `0x02` base64-encoded (where a format carries secrets in base64, such as
//! a Secret's `data`). The fuzzer so learns to put "a secret" in every position of every format: a password, a
//! token, a kwargs value, a Secret's data, a key. Whatever the parser then says (an error, a warning, a log
//! record, a `Debug` form) must not contain any part of a canary ([`Expanded::check`]), unless the target
//! shows that this very canary (each one is distinct) stood where messages may quote it: a key, a Secret's
//! name. A canary elsewhere in the same input excuses nothing.

use base64::Engine as _;

/// At most this many canaries per input; an input with more markers is skipped.
pub const MAX_CANARIES: usize = 16;

/// The `i`-th canary: 12 ASCII letters and digits, distinct for every `i`, so that its base64 form (16
/// characters, no padding) can be placed next to other base64 text.
pub fn canary(i: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut state = 0x9e37_79b9_7f4a_7c15_u64 ^ (i as u64).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    (0..12)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ALPHABET[(state % ALPHABET.len() as u64) as usize] as char
        })
        .collect()
}

/// Whether `text` holds 6 characters in a row of the `i`-th canary.
pub fn holds(text: &str, i: usize) -> bool {
    let canary = canary(i);
    canary.as_bytes().windows(6).any(|w| text.as_bytes().windows(6).any(|t| t == w))
}

/// An input with its markers replaced by canaries.
#[derive(Debug)]
pub struct Expanded<T> {
    /// The input, expanded.
    pub data: T,
    /// How many canaries it holds (`0..count`).
    pub count: usize,
}

impl<T> Expanded<T> {
    /// Panics (a finding) when `message`, which `what` produced, shows part of a canary that `quotable` does not
    /// allow there.
    #[track_caller]
    pub fn check(&self, message: &str, what: &str, quotable: impl Fn(usize) -> bool) {
        for i in (0..self.count).filter(|&i| holds(message, i)) {
            assert!(quotable(i), "{what} shows secret #{i} ({}): {message}", canary(i));
        }
    }

    /// [`Expanded::check`] with no canary allowed anywhere.
    #[track_caller]
    pub fn check_none(&self, message: &str, what: &str) {
        self.check(message, what, |_| false);
    }
}

fn expand_raw(data: &[u8], first: usize) -> Option<Expanded<Vec<u8>>> {
    let lossy = String::from_utf8_lossy(data);
    // An input that already holds part of a canary could make its own text look like a leak.
    if (0..MAX_CANARIES).any(|i| holds(&lossy, i)) {
        return None;
    }
    let mut out = Vec::with_capacity(data.len());
    let mut count = first;
    for &b in data {
        match b {
            1 | 2 if count == MAX_CANARIES => return None,
            1 => {
                out.extend_from_slice(canary(count).as_bytes());
                count += 1;
            }
            2 => {
                out.extend_from_slice(base64::engine::general_purpose::STANDARD.encode(canary(count)).as_bytes());
                count += 1;
            }
            b => out.push(b),
        }
    }
    Some(Expanded { data: out, count })
}

/// The input as text with its markers replaced; `None` when it is not UTF-8, holds too many markers, or
/// already holds part of a canary.
pub fn expand(data: &[u8]) -> Option<Expanded<String>> {
    std::str::from_utf8(data).ok()?;
    let Expanded { data, count } = expand_raw(data, 0)?;
    Some(Expanded { data: String::from_utf8(data).ok()?, count })
}

/// [`expand`] for byte inputs (answers from the API), which need not be UTF-8.
pub fn expand_bytes(data: &[u8]) -> Option<Expanded<Vec<u8>>> {
    expand_raw(data, 0)
}

/// [`expand_bytes`] for one of several inputs: its canaries are numbered from `first` (the count of those
/// before it), so every canary of the whole is distinct. The result's `count` is the total so far.
pub fn expand_bytes_from(data: &[u8], first: usize) -> Option<Expanded<Vec<u8>>> {
    expand_raw(data, first)
}

/// Whether canary `i` stands in an object key of the JSON `value`, or in a string under a key named in
/// `names` (a Secret's `name`, say): places messages may quote.
pub fn json_quotable(value: &serde_json::Value, names: &[&str], i: usize) -> bool {
    match value {
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| {
            holds(k, i)
                || (names.contains(&k.as_str()) && v.as_str().is_some_and(|s| holds(s, i)))
                || json_quotable(v, names, i)
        }),
        serde_json::Value::Array(items) => items.iter().any(|v| json_quotable(v, names, i)),
        _ => false,
    }
}

/// The local-files targets: `data` as the file at `path` (its extension picks the format), read for
/// connections in both dialects, for variables and for config values. An error may quote a canary only when
/// the provider's own reading of the file put it in a key (of the file, or of a connection object).
pub fn local_files(path: &str, data: &[u8]) {
    use wasm_secrets_provider_local_files::file::{load_configs, load_connections, load_variables, parse_secret_file};
    use wasm_secrets_provider_local_files::value::Value;

    fn in_keys(value: &Value, i: usize) -> bool {
        match value {
            Value::Map(entries) => entries.iter().any(|(k, v)| holds(&format!("{k:?}"), i) || in_keys(v, i)),
            Value::Seq(items) => items.iter().any(|v| in_keys(v, i)),
            _ => false,
        }
    }

    let Some(input) = expand(data) else { return };
    let bytes = input.data.as_bytes();
    let entries = parse_secret_file(path, bytes).ok();
    let quotable = |i: usize| {
        entries
            .as_ref()
            .is_some_and(|entries| entries.iter().any(|(k, v)| holds(&format!("{k:?}"), i) || in_keys(v, i)))
    };
    let check = |message: String| {
        assert!(message.len() <= 4096 + path.len(), "an error of {} bytes: {message}", message.len());
        input.check(&message, "a local-files error", quotable);
    };
    for dialect in [airflow_compat::Dialect::Server, airflow_compat::Dialect::Worker] {
        match load_connections(path, bytes, dialect) {
            // A connection's Debug hides its password and extra; the other fields are shown.
            Ok(connections) => {
                for (_, conn) in &connections {
                    let shown = [&conn.conn_type, &conn.host, &conn.schema, &conn.login, &conn.description];
                    input.check(&format!("{conn:?}"), "Debug of a file's connection", |i| {
                        shown.iter().any(|f| f.as_deref().is_some_and(|s| holds(s, i)))
                    });
                }
            }
            Err(e) => check(e.to_string()),
        }
    }
    if let Err(e) = load_variables(path, bytes) {
        check(e.to_string());
    }
    if let Err(e) = load_configs(path, bytes) {
        check(e.to_string());
    }
}
