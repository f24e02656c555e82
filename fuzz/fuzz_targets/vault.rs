//! The Vault provider's parsers: a KV read answer as the provider reads it (`guest/vault`, first byte even:
//! the next byte picks the status and the KV version, the rest is the body, answered to every request), and, odd,
//! the host's side: a provider's request path against the Vault policy (`vault::check_vault_request`) and a
//! login answer (`vault::parse_login`).
//!
//! Properties: no panic; errors and log lines never show a stored value (a canary), though they may quote Vault's
//! own `errors` text and field names; a path the policy lets through has no segment that is empty, `.` or `..`
//! once decoded and stays under the granted mount; a login refusal never shows the credential sent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasm_secrets::vault::{check_vault_request, parse_login};
use wasm_secrets_fuzz::{expand_bytes, holds};
use wasm_secrets_provider_common::http::Response;
use wasm_secrets_provider_common::{FromKwargs, LookupError, Lookups};
use wasm_secrets_provider_vault::config::BackendConfig;
use wasm_secrets_provider_vault::lookup::{Api, Backend, Level};

struct Answering<'a> {
    status: u16,
    body: &'a [u8],
    logs: Vec<String>,
}

impl Api for Answering<'_> {
    fn get(&mut self, _path: &str) -> Result<Response, LookupError> {
        Ok(Response { status: self.status, body: self.body.to_vec() })
    }
    fn log(&mut self, _level: Level, message: &str) {
        self.logs.push(message.to_owned());
    }
}

/// Whether canary `i` stands in an object key or in Vault's `errors` strings of `value`.
fn quotable(value: &serde_json::Value, i: usize) -> bool {
    match value {
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| {
            holds(k, i)
                || (k == "errors" && v.as_array().is_some_and(|a| a.iter().any(|e| e.as_str().is_some_and(|s| holds(s, i)))))
                || quotable(v, i)
        }),
        serde_json::Value::Array(items) => items.iter().any(|v| quotable(v, i)),
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    if selector % 2 == 0 {
        let Some((&pick, body)) = rest.split_first() else { return };
        let Some(input) = expand_bytes(body) else { return };
        let status = [200, 200, 200, 404, 403, 400, 500, 503][usize::from(pick % 8)];
        let kwargs = if pick & 8 == 0 { r#"{"kv_engine_version": 1}"# } else { "" };
        let config = BackendConfig::from_json(kwargs).expect("valid kwargs");
        let parsed = serde_json::from_slice::<serde_json::Value>(&input.data).ok();
        let ok = |i: usize| parsed.as_ref().is_some_and(|v| quotable(v, i));
        let mut api = Answering { status, body: &input.data, logs: Vec::new() };
        let mut backend = Backend::new(&config, &mut api);
        let errors = [
            backend.get_conn_value("db", None).err(),
            backend.get_connection("db", None).err(),
            backend.get_variable("k", None).err(),
            backend.get_config("k").err(),
            backend.get_secret("group", "key").err(),
        ];
        for error in errors.into_iter().flatten() {
            input.check(&error.to_string(), "an error about a Vault answer", ok);
            input.check(&format!("{error:?}"), "an error's Debug", ok);
        }
        for line in &api.logs {
            input.check(line, "a log line about a Vault answer", ok);
        }
        return;
    }
    let Some(input) = expand_bytes(rest) else { return };
    let Ok(text) = std::str::from_utf8(&input.data) else { return };
    let (path, answer) = text.split_once('\n').unwrap_or((text, ""));
    let mounts = ["secret".to_owned(), "team/kv".to_owned()];
    if let Ok(request) = http::Request::get(format!("https://vault.invalid{path}")).body(())
        && check_vault_request(&request, &mounts).is_ok()
    {
        let path = request.uri().path();
        let segments: Vec<String> = path
            .split('/')
            .skip(2)
            .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
            .collect();
        assert!(segments.iter().all(|s| !s.is_empty() && s != "." && s != ".." && !s.contains('/')), "{path}");
        assert!(
            segments.first().is_some_and(|m| m == "secret") && segments.len() > 1
                || segments.starts_with(&["team".to_owned(), "kv".to_owned()]) && segments.len() > 2,
            "{path}"
        );
    }
    // The credential sent: an answer echoing it (whole, or JSON-escaped) never shows it in an error.
    const SECRET_ID: &str = "fuzz-secret-id-4b1d";
    let sent = secrecy::SecretString::from(format!(r#"{{"role_id":"r","secret_id":"{SECRET_ID}"}}"#));
    for status in [200, 400, 403, 500] {
        match parse_login(status, answer.as_bytes(), "approle", &sent) {
            Ok(login) => assert!(!format!("{login:?}").contains(SECRET_ID)),
            Err(error) => {
                assert!(!error.to_string().contains(SECRET_ID), "{error}");
                assert!(!error.for_provider().contains(SECRET_ID), "{error}");
            }
        }
    }
});
