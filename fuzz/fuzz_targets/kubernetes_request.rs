//! The Kubernetes provider's lookups end to end over a fake API: backend kwargs, ids, team names and Flyte
//! group/key pairs become label selectors and request paths, and the fuzzer's answers come back.
//!
//! Properties: no panic; at most two requests per lookup; every request is a `GET` of
//! `/api/v1/namespaces/{ns}/secrets` with exactly the query `labelSelector=...&resourceVersion=0`, or of
//! `/api/v1/namespaces/{ns}/secrets/{name}` with a valid object name; the path is printable ASCII with no
//! fragment; the namespace and the selector decode back (an independent decoder) to the configured namespace
//! and to `label=id...`; errors and logs never show a Secret's data (the canary in a successful answer;
//! an error answer's own text is quoted on purpose, bounded and made printable).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wasm_secrets_fuzz::{assert_no_leak, canary_in_json_names, expand_bytes, leaks};
use wasm_secrets_provider_common::{FromKwargs as _, Lookups as _};
use wasm_secrets_provider_kubernetes::config::BackendConfig;
use wasm_secrets_provider_kubernetes::error::LookupError;
use wasm_secrets_provider_kubernetes::lookup::{Api, Backend, Level, Response};
use wasm_secrets_provider_kubernetes::request::is_object_name;

#[derive(Debug, Arbitrary)]
enum Call {
    ConnValue,
    Connection,
    Variable,
    Config,
    Secret { group: String, key: String },
}

#[derive(Debug, Arbitrary)]
struct Input {
    kwargs: String,
    detected_namespace: Result<String, String>,
    call: Call,
    id: String,
    team: Option<String>,
    answers: Vec<(u16, Vec<u8>)>,
}

struct FakeApi {
    detected: Result<String, String>,
    answers: std::vec::IntoIter<(u16, Vec<u8>)>,
    paths: Vec<String>,
    logs: Vec<String>,
}

impl Api for &mut FakeApi {
    fn get(&mut self, path_and_query: &str) -> Result<Response, LookupError> {
        self.paths.push(path_and_query.to_owned());
        let (status, body) = self.answers.next().unwrap_or((200, br#"{"items": []}"#.to_vec()));
        Ok(Response { status, body })
    }
    fn log(&mut self, _level: Level, message: &str) {
        self.logs.push(message.to_owned());
    }
    fn detected_namespace(&mut self) -> Result<String, String> {
        self.detected.clone()
    }
}

/// `application/x-www-form-urlencoded` and path decoding, written independently of the encoder under test.
fn percent_decode(text: &str, plus_is_space: bool) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("ASCII");
                out.push(u8::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("bad escape %{hex} in {text}")));
                i += 3;
            }
            b'%' => panic!("truncated escape in {text}"),
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fuzz_target!(|input: Input| {
    let Ok(config) = BackendConfig::from_json(&input.kwargs) else { return };
    // The secret goes into successful answers only, where Secret data travels. The body of an error answer is
    // the API server's (or a proxy's) words, which an error quotes on purpose, bounded and made printable.
    let successful = |status: u16| (200..300).contains(&status);
    let Some(answers) = input
        .answers
        .into_iter()
        .map(|(s, b)| if successful(s) { expand_bytes(&b).map(|b| (s, b)) } else { Some((s, b)) })
        .collect::<Option<Vec<_>>>()
    else {
        return;
    };
    if answers.iter().any(|(s, b)| !successful(*s) && leaks(&String::from_utf8_lossy(b))) {
        return;
    }
    let bodies: Vec<Vec<u8>> = answers.iter().map(|(_, b)| b.clone()).collect();
    let mut api = FakeApi {
        detected: input.detected_namespace.clone(),
        answers: answers.into_iter(),
        paths: Vec::new(),
        logs: Vec::new(),
    };
    let team = input.team.as_deref();
    let (result, label) = {
        let mut backend = Backend::new(&config, &mut api);
        match &input.call {
            Call::ConnValue => (backend.get_conn_value(&input.id, team).map(drop), config.connections_label.clone()),
            Call::Connection => (backend.get_connection(&input.id, team).map(drop), config.connections_label.clone()),
            Call::Variable => (backend.get_variable(&input.id, team).map(drop), config.variables_label.clone()),
            Call::Config => (backend.get_config(&input.id).map(drop), config.config_label.clone()),
            Call::Secret { group, key } => (backend.get_secret(group, key).map(drop), None),
        }
    };

    assert!(api.paths.len() <= 2, "{} requests for one lookup", api.paths.len());
    let namespace = config.namespace.clone().or_else(|| input.detected_namespace.clone().ok());
    for path in &api.paths {
        assert!(path.bytes().all(|b| b.is_ascii_graphic() && b != b'#'), "not a clean request path: {path:?}");
        let rest = path.strip_prefix("/api/v1/namespaces/").unwrap_or_else(|| panic!("outside the API: {path}"));
        let (ns, rest) = rest.split_once('/').unwrap_or_else(|| panic!("no resource: {path}"));
        assert_eq!(Some(percent_decode(ns, false)), namespace.as_ref().map(|n| n.as_bytes().to_vec()), "{path}");
        match rest.split_once('?') {
            Some(("secrets", query)) => {
                let pairs: Vec<(&str, &str)> =
                    query.split('&').map(|p| p.split_once('=').unwrap_or_else(|| panic!("{path}"))).collect();
                let [("labelSelector", selector), ("resourceVersion", "0")] = pairs[..] else {
                    panic!("unexpected query: {path}")
                };
                let selector = String::from_utf8(percent_decode(selector, true)).expect("UTF-8 selector");
                let label = label.as_deref().unwrap_or_else(|| panic!("a list request for a disabled kind: {path}"));
                assert!(selector.starts_with(&format!("{label}={}", input.id)), "{selector:?} is not for the id");
            }
            None => {
                let name = rest.strip_prefix("secrets/").unwrap_or_else(|| panic!("not a Secret: {path}"));
                assert!(is_object_name(name), "not an object name: {path}");
                assert!(matches!(input.call, Call::Secret { .. }), "a read request for a labelled lookup: {path}");
            }
            Some(_) => panic!("unexpected resource: {path}"),
        }
    }

    // A Secret's data never shows in an error or a log; its name, namespace or keys may.
    let named = bodies.iter().any(|b| {
        serde_json::from_slice::<serde_json::Value>(b).is_ok_and(|v| canary_in_json_names(&v, &["name", "namespace"]))
    });
    if !named {
        if let Err(e) = &result {
            assert_no_leak(&e.to_string(), "a lookup error");
        }
        for log in &api.logs {
            assert_no_leak(log, "a lookup log");
        }
    }
});
