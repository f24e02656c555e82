//! The daemon's HTTP surface (`secrets serve`, docs/serve.md): a request line as `Route::parse` reads it (the
//! first byte even, not a multiple of 4), an answer as the daemon's client reads it
//! (`serve::client::parse_answer`, odd), and an `Authorization` header value as the TCP listener reads it
//! (`serve::access::bearer_token`, a multiple of 4).
//!
//! Properties: no panic; a request that names a read is asked for again, exactly, by the client's own
//! `Read::target` (the client and the daemon agree on every id and team), whenever that target fits the
//! daemon's bound; the grant key of a read names the same id; an answer that parses has a body of exactly its
//! `Content-Length` and a status from 100 to 599; a bearer token is the non-empty rest of the value after a
//! `Bearer ` in any case.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasm_secrets::serve::access::bearer_token;
use wasm_secrets::serve::client::parse_answer;
use wasm_secrets::serve::route::{MAX_TARGET_BYTES, Read, Route};
use wasm_secrets::task::ConfigKey;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    if selector % 2 == 1 {
        if let Ok((status, body)) = parse_answer(rest) {
            assert!((100..=599).contains(&status), "status {status}");
            assert!(body.len() <= rest.len());
        }
        return;
    }
    if selector % 4 == 0 {
        if let Some(token) = bearer_token(rest) {
            assert!(!token.is_empty() && rest.len() == token.len() + 7 && rest.ends_with(token));
            assert!(rest[..7].eq_ignore_ascii_case(b"bearer "));
        }
        return;
    }
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let (method, target) = text.split_once(' ').unwrap_or(("GET", text));
    if let Ok(Route::Read { read, team }) = Route::parse(method, target) {
        let again = read.target(team.as_deref());
        if again.len() <= MAX_TARGET_BYTES {
            assert_eq!(Route::parse("GET", &again), Ok(Route::Read { read: read.clone(), team: team.clone() }));
        }
        let same_id = match (&read, read.grant_key()) {
            (Read::Connection(id) | Read::ConnValue(id) | Read::ConnUri(id), ConfigKey::Connection(key)) => *id == key,
            (Read::Variable(id), ConfigKey::Variable(key)) | (Read::Config(id), ConfigKey::Config(key)) => *id == key,
            (Read::Secret { group, key }, ConfigKey::Secret { group: g, key: k }) => *group == g && *key == k,
            _ => false,
        };
        assert!(same_id, "{read:?}");
    }
});
