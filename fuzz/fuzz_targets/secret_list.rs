//! The Kubernetes API's answers as the provider reads them: a Secret list (`select`, Airflow's
//! `_get_secret_by_selector`) and a single Secret (`secret_data`, the Flyte read).
//!
//! Properties: no panic; errors and warnings never show a Secret's data (a canary, plain or base64-encoded as
//! `data` carries it), though they may name the Secret, its namespace or a data key that holds that canary.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasm_secrets_fuzz::{expand_bytes, json_quotable};
use wasm_secrets_provider_kubernetes::secrets::{secret_data, select};

fuzz_target!(|data: &[u8]| {
    let Some(input) = expand_bytes(data) else { return };
    let body = &input.data;
    let parsed = serde_json::from_slice::<serde_json::Value>(body).ok();
    let quotable = |i: usize| parsed.as_ref().is_some_and(|v| json_quotable(v, &["name", "namespace"], i));
    for warn in [true, false] {
        match select(body, "value", "airflow.apache.org/variable-key=k,!airflow.apache.org/team", "airflow", warn) {
            Ok(selection) => {
                for warning in &selection.warnings {
                    input.check(warning, "a warning about a Secret list", quotable);
                }
            }
            Err(e) => input.check(&e.to_string(), "an error about a Secret list", quotable),
        }
    }
    if let Err(e) = secret_data(body, "value", "db-creds") {
        input.check(&e.to_string(), "an error about a Secret", quotable);
    }
});
