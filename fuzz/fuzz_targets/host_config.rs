//! The host configuration file (TOML) as `secrets --config` and `ChainSpec::from_file` read it.
//!
//! Properties: no panic; an error never shows a `backend_kwargs` value (the canary), though it may name a key,
//! a provider or a path; a syntax error never quotes the file (the configuration may hold credentials in kwargs).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasm_secrets::ChainSpec;
use wasm_secrets_fuzz::{assert_no_leak, canary_in_json_names, expand, leaks};

/// Whether the canary stands somewhere a message may quote: a key, or a value outside `backend_kwargs`.
fn quotable(value: &toml::Value, in_kwargs: bool) -> bool {
    match value {
        toml::Value::String(s) if in_kwargs => {
            serde_json::from_str::<serde_json::Value>(s).is_ok_and(|v| canary_in_json_names(&v, &[]))
        }
        toml::Value::String(s) => leaks(s),
        toml::Value::Array(items) => items.iter().any(|v| quotable(v, in_kwargs)),
        toml::Value::Table(table) => {
            table.iter().any(|(k, v)| leaks(k) || quotable(v, in_kwargs || k == "backend_kwargs"))
        }
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(text) = expand(data) else { return };
    if let Err(e) = ChainSpec::parse(&text, std::path::Path::new("/etc/wasm-secrets/host.toml")) {
        let message = e.to_string();
        let allowed = || text.parse::<toml::Table>().is_ok_and(|t| quotable(&toml::Value::Table(t), false));
        if leaks(&message) && !allowed() {
            assert_no_leak(&message, "a host configuration error");
        }
    }
});
