//! Airflow's LocalFilesystemBackend over a `.env`: `KEY=value` lines, a repeated key collecting every value, as the local-files provider reads a
//! granted file: connections (both dialects), variables and config values.
//!
//! Properties: no panic; an error never shows a value from the file (the canary), though it may name a key and
//! the file's path; an error stays short (it never quotes the file).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasm_secrets_fuzz::local_files;

fuzz_target!(|data: &[u8]| local_files("/granted/secrets.env", data));
