//! A kubeconfig as `secrets --kubeconfig` loads it (`ClusterConfig::from_kubeconfig_text`: kube's parser, the
//! files it names resolved and read bounded, the current context's cluster and user).
//!
//! Properties: no panic; an error and the loaded configuration's `Debug` never show a credential (a canary as
//! the value of `token`, `password`, `client-key-data`, ...), though they may name a cluster, a user, a server,
//! a path or a key (a canary anywhere else).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasm_secrets::ClusterConfig;
use wasm_secrets_fuzz::{expand, holds};

/// The kubeconfig keys whose values are credentials.
const CREDENTIALS: &[&str] =
    &["token", "password", "client-key-data", "id-token", "refresh-token", "client-secret", "access-token"];

/// Whether canary `i` stands somewhere a message may quote: anywhere but a credential's value.
fn quotable(value: &serde_json::Value, i: usize) -> bool {
    match value {
        serde_json::Value::String(s) => holds(s, i),
        serde_json::Value::Array(items) => items.iter().any(|v| quotable(v, i)),
        serde_json::Value::Object(map) => {
            map.iter().any(|(k, v)| holds(k, i) || (!CREDENTIALS.contains(&k.as_str()) && quotable(v, i)))
        }
        _ => false,
    }
}

thread_local! {
    static RUNTIME: tokio::runtime::Runtime =
        tokio::runtime::Builder::new_current_thread().build().expect("a tokio runtime");
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = expand(data) else { return };
    let text = &input.data;
    let loaded = RUNTIME.with(|rt| {
        rt.block_on(ClusterConfig::from_kubeconfig_text(text, std::path::Path::new("/nonexistent/fuzz/kubeconfig")))
    });
    let (shown, what) = match &loaded {
        Ok(config) => (format!("{config:?}"), "the loaded configuration's Debug"),
        Err(e) => (e.to_string(), "a kubeconfig error"),
    };
    // Where each canary stands, read as kube reads the file (serde-saphyr, every document); when that fails, by
    // line: the canary in the key of its line, or in the value of a key that is not a credential.
    let parsed = serde_saphyr::from_multiple::<serde_json::Value>(text).ok();
    input.check(&shown, what, |i| match &parsed {
        Some(documents) => documents.iter().any(|d| quotable(d, i)),
        None => text.lines().any(|line| {
            line.split_once(':').is_some_and(|(key, value)| {
                let key = key.trim().trim_start_matches("- ").trim_matches(['"', '\'', ' ']);
                holds(key, i) || (holds(value, i) && !CREDENTIALS.contains(&key))
            })
        }),
    });
});
