//! The pre-initialisation experiment of the latency work (feature `preinit`, off by default; see
//! `experiments/preinit/`): an exported `wizer-initialize` that runs one variable lookup against an answer
//! held in memory. It calls no import (wasmtime-wizer traps on imports while it initialises), so a snapshot
//! taken after it starts with the heap, the allocator's state and whatever was initialised lazily as an
//! instance has them after its first lookup.

use wasm_secrets_provider_common::Lookups as _;

use crate::config::BackendConfig;
use crate::error::LookupError;
use crate::lookup::{Api, Backend, Level, Response};

wit_bindgen::generate!({
    inline: r#"
        package wasm-secrets:preinit;
        world preinit {
            export wizer-initialize: func();
        }
    "#,
    world: "wasm-secrets:preinit/preinit",
});

/// A Secret list as a real API server sends it (with `managedFields`), about 0.9 kB: the answer the latency
/// benchmarks use.
const ANSWER: &str = r#"{"kind":"SecretList","apiVersion":"v1","metadata":{"resourceVersion":"48213"},"items":[{"metadata":{"name":"my-var-secret","namespace":"airflow","uid":"6f1c2d7e-3b1a-4c9e-9a55-0d6c1e2b7f41","resourceVersion":"48190","creationTimestamp":"2026-11-20T09:14:03Z","labels":{"airflow.apache.org/variable-key":"my_var"},"managedFields":[{"manager":"kubectl-create","operation":"Update","apiVersion":"v1","time":"2026-11-20T09:14:03Z","fieldsType":"FieldsV1","fieldsV1":{"f:data":{".":{},"f:value":{}},"f:type":{}}},{"manager":"kubectl-label","operation":"Update","apiVersion":"v1","time":"2026-11-20T09:14:04Z","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:labels":{".":{},"f:airflow.apache.org/variable-key":{}}}}}]},"data":{"value":"bXlfc2VjcmV0X3ZhbHVl"},"type":"Opaque"}]}"#;

/// Answers every request from [`ANSWER`].
struct InMemory;

impl Api for InMemory {
    fn get(&mut self, _path_and_query: &str) -> Result<Response, LookupError> {
        Ok(Response { status: 200, body: ANSWER.as_bytes().to_vec() })
    }
    fn log(&mut self, _level: Level, _message: &str) {}
    fn detected_namespace(&mut self) -> Result<String, String> {
        Ok("airflow".to_owned())
    }
}

struct Init;

impl Guest for Init {
    fn wizer_initialize() {
        let config = BackendConfig::default();
        let _ = std::hint::black_box(Backend::new(&config, InMemory).get_variable("my_var", None));
    }
}

export!(Init);
