//! A page of the Kubernetes API's Secret list as the provider's `list-all` reads it (`list_page`): every
//! Secret carrying the listing label, its team label, its name and the base64 text under the data key, and the
//! list's `resourceVersion` and `continue` token.
//!
//! Properties: no panic; errors, and the page's `Debug`, never show a Secret's data (a canary, plain or
//! base64-encoded as `data` carries it), though they may show names, labels and keys; on success, the ids
//! are those an independent JSON reading finds, in the same order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasm_secrets_fuzz::{expand_bytes, json_quotable};
use wasm_secrets_provider_kubernetes::secrets::list_page;

const LABEL: &str = "airflow.apache.org/variable-key";
const TEAM_LABEL: &str = "airflow.apache.org/team";

fuzz_target!(|data: &[u8]| {
    let Some(input) = expand_bytes(data) else { return };
    let body = &input.data;
    let parsed = serde_json::from_slice::<serde_json::Value>(body).ok();
    let quotable = |i: usize| {
        let names = ["name", "namespace", "resourceVersion", "continue", LABEL, TEAM_LABEL];
        parsed.as_ref().is_some_and(|v| json_quotable(v, &names, i))
    };
    match list_page(body, LABEL, Some(TEAM_LABEL), "value") {
        Ok(page) => {
            input.check(&format!("{page:?}"), "a listed page's Debug", quotable);
            for item in &page.items {
                if let Err(e) = &item.encoded {
                    input.check(&e.to_string(), "an error about a listed Secret", quotable);
                }
            }
            // An independent reading: the label's value of every item that carries it, in order.
            if let Some(items) = parsed.as_ref().and_then(|v| v.get("items")).and_then(|i| i.as_array()) {
                let expected: Vec<&str> = items
                    .iter()
                    .filter_map(|item| item.get("metadata")?.get("labels")?.get(LABEL)?.as_str())
                    .collect();
                let ids: Vec<&str> = page.items.iter().map(|i| i.id.as_str()).collect();
                assert_eq!(ids, expected, "the listed ids");
            }
        }
        Err(e) => input.check(&e.to_string(), "an error about a Secret list page", quotable),
    }
});
