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
fn quotable(value: &serde_yaml::Value, i: usize) -> bool {
    match value {
        serde_yaml::Value::String(s) => holds(s, i),
        serde_yaml::Value::Sequence(items) => items.iter().any(|v| quotable(v, i)),
        serde_yaml::Value::Mapping(map) => map.iter().any(|(k, v)| {
            let credential = k.as_str().is_some_and(|k| CREDENTIALS.contains(&k));
            serde_yaml::to_string(k).is_ok_and(|k| holds(&k, i)) || (!credential && quotable(v, i))
        }),
        serde_yaml::Value::Tagged(tagged) => holds(&tagged.tag.to_string(), i) || quotable(&tagged.value, i),
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
    let parsed = serde_yaml::from_str::<serde_yaml::Value>(text).ok();
    input.check(&shown, what, |i| match &parsed {
        Some(value) => quotable(value, i),
        // serde_yaml refuses a duplicate key, which kube's parser names ("duplicate mapping key: …"): the canary
        // before the first `:` of its line, in such an error only, is that key.
        None => {
            shown.contains("duplicate mapping key")
                && text.lines().any(|line| line.split_once(':').is_some_and(|(key, _)| holds(key, i)))
        }
    });
});
