//! `backend_kwargs` JSON text as each provider reads it (Kubernetes, environment, local files), and the
//! `dialect` key as the host reads it.
//!
//! Properties: no panic; an error never shows a kwargs value (the canary), though it may name a key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasm_secrets_fuzz::{assert_no_leak, canary_in_json_names, expand, leaks};
use wasm_secrets_provider_common::FromKwargs;
use wasm_secrets_provider_common::kwargs::dialect;

fn check<T: FromKwargs>(text: &str) {
    if let Err(e) = T::from_json(text) {
        quiet(&e.to_string(), text);
    }
}

fn quiet(message: &str, text: &str) {
    let in_a_key = || serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| canary_in_json_names(&v, &[]));
    if leaks(message) && !in_a_key() {
        assert_no_leak(message, "a backend_kwargs error");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(text) = expand(data) else { return };
    check::<wasm_secrets_provider_kubernetes::config::BackendConfig>(&text);
    check::<wasm_secrets_provider_environment::config::BackendConfig>(&text);
    check::<wasm_secrets_provider_local_files::config::BackendConfig>(&text);
    if let Err(e) = dialect(&text) {
        quiet(&e.to_string(), &text);
    }
});
