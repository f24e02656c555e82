//! A kubeconfig as `secrets --kubeconfig` loads it (`ClusterConfig::from_kubeconfig_text`: kube's parser, the
//! files it names resolved and read bounded, the current context's cluster and user).
//!
//! Properties: no panic; an error and the loaded configuration's `Debug` never show a credential (a token,
//! a password, a client key: the canary in one of those places), though they may name a cluster, a user, a
//! server or a path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasm_secrets::ClusterConfig;
use wasm_secrets_fuzz::{assert_no_leak, canary_in_line_keys, expand, leaks};

/// The kubeconfig keys whose values are credentials.
const CREDENTIALS: &[&str] =
    &["token", "password", "client-key-data", "id-token", "refresh-token", "client-secret", "access-token"];

/// Whether the canary stands somewhere a message may quote: anywhere but a credential's value.
fn quotable(value: &serde_yaml::Value) -> bool {
    match value {
        serde_yaml::Value::String(s) => leaks(s),
        serde_yaml::Value::Sequence(items) => items.iter().any(quotable),
        serde_yaml::Value::Mapping(map) => map.iter().any(|(k, v)| {
            let credential = k.as_str().is_some_and(|k| CREDENTIALS.contains(&k));
            serde_yaml::to_string(k).is_ok_and(|k| leaks(&k)) || (!credential && quotable(v))
        }),
        serde_yaml::Value::Tagged(tagged) => leaks(&tagged.tag.to_string()) || quotable(&tagged.value),
        _ => false,
    }
}

thread_local! {
    static RUNTIME: tokio::runtime::Runtime =
        tokio::runtime::Builder::new_current_thread().build().expect("a tokio runtime");
}

fuzz_target!(|data: &[u8]| {
    let Some(text) = expand(data) else { return };
    let loaded = RUNTIME.with(|rt| {
        rt.block_on(ClusterConfig::from_kubeconfig_text(&text, std::path::Path::new("/nonexistent/fuzz/kubeconfig")))
    });
    let shown = match &loaded {
        Ok(config) => format!("{config:?}"),
        Err(e) => e.to_string(),
    };
    // kube's parser names a duplicate key ("duplicate mapping key: …"), where serde_yaml refuses the text: a
    // canary before the first `:` of its line is in a key too.
    let allowed = || {
        serde_yaml::from_str::<serde_yaml::Value>(&text).is_ok_and(|v| quotable(&v)) || canary_in_line_keys(&text, ":")
    };
    if leaks(&shown) && !allowed() {
        assert_no_leak(&shown, "a kubeconfig error or the loaded configuration");
    }
});
