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
use wasm_secrets_fuzz::{Expanded, MAX_CANARIES, expand_bytes_from, holds, json_quotable};
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
            b'%' if i + 2 < bytes.len() && bytes[i + 1..i + 3].iter().all(u8::is_ascii_hexdigit) => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("ASCII hex digits");
                out.push(u8::from_str_radix(hex, 16).expect("two hex digits"));
                i += 3;
            }
            b'%' => panic!("a `%` that is not an escape in {text}"),
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
    // Secrets go into successful answers only, where Secret data travels (`0x02` puts a base64-encoded one in
    // `data`). The body of an error answer is the API server's (or a proxy's) own words, which an error quotes
    // on purpose, bounded and made printable.
    let successful = |status: u16| (200..300).contains(&status);
    let mut count = 0;
    let mut answers = Vec::with_capacity(input.answers.len());
    for (status, body) in input.answers {
        if !successful(status) {
            if (0..MAX_CANARIES).any(|i| holds(&String::from_utf8_lossy(&body), i)) {
                return;
            }
            answers.push((status, body));
            continue;
        }
        // Numbered after the canaries of the answers before it: every canary of the lookup is distinct.
        let Some(expanded) = expand_bytes_from(&body, count) else { return };
        count = expanded.count;
        answers.push((status, expanded.data));
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
    // Airflow's selectors, in order, written out independently: the team-scoped query first when team handling
    // is on and a team is given, then the global one. A lookup sends a prefix of them (it stops at a match).
    let expected: Vec<String> = label.as_deref().map_or_else(Vec::new, |label| {
        let base = format!("{label}={}", input.id);
        match (config.team_label.as_deref(), team.filter(|t| !t.is_empty())) {
            (Some(tl), Some(t)) if !matches!(input.call, Call::Config) => {
                vec![format!("{base},{tl}={t}"), format!("{base},!{tl}")]
            }
            (Some(tl), _) => vec![format!("{base},!{tl}")],
            (None, _) => vec![base],
        }
    });
    let mut selectors = Vec::new();
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
                selectors.push(selector);
            }
            None => {
                let name = rest.strip_prefix("secrets/").unwrap_or_else(|| panic!("not a Secret: {path}"));
                assert!(is_object_name(name), "not an object name: {path}");
                assert!(matches!(input.call, Call::Secret { .. }), "a read request for a labelled lookup: {path}");
            }
            Some(_) => panic!("unexpected resource: {path}"),
        }
    }
    assert!(expected.starts_with(&selectors), "selectors {selectors:?}, expected a prefix of {expected:?}");

    // A Secret's data never shows in an error or a log; its name, its namespace or a data key may.
    let parsed: Vec<serde_json::Value> = bodies.iter().filter_map(|b| serde_json::from_slice(b).ok()).collect();
    let quotable = |i: usize| parsed.iter().any(|v| json_quotable(v, &["name", "namespace"], i));
    let canaries = Expanded { data: (), count };
    if let Err(e) = &result {
        canaries.check(&e.to_string(), "a lookup error", quotable);
    }
    for log in &api.logs {
        canaries.check(log, "a lookup log", quotable);
    }
});
