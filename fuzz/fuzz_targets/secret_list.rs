//! The Kubernetes API's answers as the provider reads them: a Secret list (`select`, Airflow's
//! `_get_secret_by_selector`) and a single Secret (`secret_data`, the Flyte read).
//!
//! Properties: no panic; errors and warnings never show a Secret's data (the canary), though they may name a
//! Secret, a namespace or a data key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasm_secrets_fuzz::{assert_no_leak, canary_in_json_names, expand_bytes, leaks};
use wasm_secrets_provider_kubernetes::secrets::{secret_data, select};

fuzz_target!(|data: &[u8]| {
    let Some(body) = expand_bytes(data) else { return };
    // Names a message may quote: a Secret's name, a key of its data.
    let named = || {
        serde_json::from_slice::<serde_json::Value>(&body)
            .is_ok_and(|v| canary_in_json_names(&v, &["name", "namespace"]))
    };
    let check = |text: &str, what: &str| {
        if leaks(text) && !named() {
            assert_no_leak(text, what);
        }
    };
    for warn in [true, false] {
        match select(&body, "value", "airflow.apache.org/variable-key=k,!airflow.apache.org/team", "airflow", warn) {
            Ok(selection) => {
                for warning in &selection.warnings {
                    check(warning, "a warning about a Secret list");
                }
            }
            Err(e) => check(&e.to_string(), "an error about a Secret list"),
        }
    }
    if let Err(e) = secret_data(&body, "value", "db-creds") {
        check(&e.to_string(), "an error about a Secret");
    }
});
