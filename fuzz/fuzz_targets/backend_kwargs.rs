//! `backend_kwargs` JSON text as each provider reads it (Kubernetes, environment, local files), and the
//! `dialect` key as the host reads it.
//!
//! Properties: no panic; an error never shows a kwargs value (a canary), though it may name a key that holds
//! that canary.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasm_secrets_fuzz::{Expanded, expand, json_quotable};
use wasm_secrets_provider_common::FromKwargs;
use wasm_secrets_provider_common::kwargs::dialect;

fn check<T: FromKwargs>(input: &Expanded<String>, quotable: &impl Fn(usize) -> bool) {
    if let Err(e) = T::from_json(&input.data) {
        input.check(&e.to_string(), "a backend_kwargs error", quotable);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = expand(data) else { return };
    let parsed = serde_json::from_str::<serde_json::Value>(&input.data).ok();
    let quotable = |i: usize| parsed.as_ref().is_some_and(|v| json_quotable(v, &[], i));
    check::<wasm_secrets_provider_kubernetes::config::BackendConfig>(&input, &quotable);
    check::<wasm_secrets_provider_environment::config::BackendConfig>(&input, &quotable);
    check::<wasm_secrets_provider_local_files::config::BackendConfig>(&input, &quotable);
    if let Err(e) = dialect(&input.data) {
        input.check(&e.to_string(), "the host's dialect error", quotable);
    }
});
