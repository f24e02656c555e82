//! The live view's decoders (docs/live-view.md): a Secret list page as the live view reads it
//! (`Follow::decode_list`, every item handed over) and a watch line (`Follow::decode_event`), from the API server.
//!
//! Properties: no panic; an error never shows a Secret's data (a canary, plain or base64-encoded), though it may
//! name a Secret or quote a key; a decoded page hands over at most as many items as the answer holds, each
//! carrying the id its label holds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasm_secrets_fuzz::{expand_bytes, json_quotable};
use wasm_secrets_provider_common::live::{Change, Follow as _, Kind};
use wasm_secrets_provider_kubernetes::config::BackendConfig;
use wasm_secrets_provider_kubernetes::error::LookupError;
use wasm_secrets_provider_kubernetes::lookup::{Api, Backend, Level, Response};

/// No request is expected: the host sends them.
struct NoApi;

impl Api for NoApi {
    fn get(&mut self, _: &str) -> Result<Response, LookupError> {
        Err(LookupError::Unavailable("no request expected".into()))
    }
    fn log(&mut self, _: Level, _: &str) {}
    fn detected_namespace(&mut self) -> Result<String, String> {
        Ok("airflow".into())
    }
}

const LABEL: &str = "airflow.apache.org/connection-id";

fuzz_target!(|data: &[u8]| {
    let Some(input) = expand_bytes(data) else { return };
    let body = &input.data;
    let parsed = serde_json::from_slice::<serde_json::Value>(body).ok();
    let quotable = |i: usize| parsed.as_ref().is_some_and(|v| json_quotable(v, &["name", "reason", "message", "type"], i));
    let config = BackendConfig::default();
    let mut backend = Backend::new(&config, NoApi);

    let mut items = Vec::new();
    match backend.decode_list(Kind::Connection, 200, body, &mut |item| {
        items.push(item);
        true
    }) {
        Ok(_) => {
            let listed = parsed.as_ref().and_then(|v| v.get("items")).and_then(|i| i.as_array()).map_or(0, Vec::len);
            assert!(items.len() <= listed, "{} items from a list of {listed}", items.len());
            for item in &items {
                let labelled = parsed.as_ref().and_then(|v| v.get("items")).and_then(|i| i.as_array()).is_some_and(|all| {
                    all.iter().any(|s| {
                        s.pointer("/metadata/name").and_then(|n| n.as_str()) == Some(item.name.as_str())
                            && s.pointer("/metadata/labels").and_then(|l| l.get(LABEL)).and_then(|v| v.as_str())
                                == Some(item.id.as_str())
                    })
                });
                assert!(labelled, "item {item:?} is not a labelled Secret of the answer");
            }
        }
        Err(e) => input.check(&e.to_string(), "an error about a Secret list page", quotable),
    }
    match backend.decode_event(Kind::Connection, body) {
        Ok(event) => {
            if let Change::Put(item) = &event.change {
                let id = parsed.as_ref().and_then(|v| v.pointer("/object/metadata/labels")).and_then(|l| l.get(LABEL));
                assert_eq!(id.and_then(|v| v.as_str()), Some(item.id.as_str()), "a put carries its label's value");
            }
        }
        Err(e) => input.check(&e.to_string(), "an error about a watch event", quotable),
    }
});
