//! The host configuration file (TOML) as `secrets --config` and `ChainSpec::from_file` read it.
//!
//! Properties: no panic; an error never shows a `backend_kwargs` value (a canary), though it may name keys,
//! providers and paths (a canary anywhere else); an error about text that is not TOML quotes at most a key
//! (the configuration may hold credentials in kwargs); the parsed configuration's `Debug` never shows a `backend_kwargs` value but the
//! grants the built-in providers take from them (files, environment prefixes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasm_secrets::ChainSpec;
use wasm_secrets_fuzz::{expand, holds, json_quotable};

/// Whether canary `i` stands somewhere a message may quote: a key, or a value outside `backend_kwargs` (inside
/// it, a key of its JSON text).
fn quotable(value: &toml::Value, in_kwargs: bool, i: usize) -> bool {
    match value {
        toml::Value::String(s) if in_kwargs => {
            serde_json::from_str::<serde_json::Value>(s).is_ok_and(|v| json_quotable(&v, &[], i))
        }
        toml::Value::String(s) => holds(s, i),
        toml::Value::Array(items) => items.iter().any(|v| quotable(v, in_kwargs, i)),
        toml::Value::Table(table) => {
            table.iter().any(|(k, v)| holds(k, i) || quotable(v, in_kwargs || k == "backend_kwargs", i))
        }
        _ => false,
    }
}

/// Whether canary `i` stands, lexically, where a TOML key stands: in a `[table]` header, or before the first `=`
/// of a line. For text that is not TOML as a whole: the host's reading stops at the first error, which may be a
/// data error naming a key of an earlier line (`unknown field`) when a later line does not parse (an integer out
/// of range, say); found by the long run of `host_config`.
fn in_key_position(text: &str, i: usize) -> bool {
    text.lines().any(|line| {
        let line = line.trim_start();
        let key = if line.starts_with('[') { line } else { line.split_once('=').map_or("", |(key, _)| key) };
        holds(key, i)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = expand(data) else { return };
    // A canary's place, from an independent TOML reading; for text that is not TOML, its place on its line.
    let table = input.data.parse::<toml::Table>().ok().map(toml::Value::Table);
    let place = |i: usize| match &table {
        Some(table) => quotable(table, false, i),
        None => in_key_position(&input.data, i),
    };
    match ChainSpec::parse(&input.data, std::path::Path::new("/etc/wasm-secrets/host.toml")) {
        // `Debug` shows each provider's grants (files, environment prefixes), which the built-in providers take
        // from their kwargs on purpose: what a provider may reach is not a secret.
        Ok(spec) => {
            let granted = |i: usize| {
                spec.providers.iter().any(|p| {
                    p.files.iter().any(|f| holds(&f.display().to_string(), i))
                        || p.env_prefixes.iter().any(|e| holds(e, i))
                })
            };
            input.check(&format!("{spec:?}"), "Debug of a host configuration", |i| place(i) || granted(i));
        }
        Err(e) => input.check(&e.to_string(), "a host configuration error", place),
    }
});
