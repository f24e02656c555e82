//! End-to-end tests: the real Kubernetes provider component, run by the real host, against the local
//! Kubernetes API emulator over HTTPS with a CA generated at test time.
//!
//! One test binary (every binary is a separate link on a 2-core CI machine), one module per concern.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation is the test failing"
)]

mod airflow;
mod bench;
mod canary;
mod chain;
mod cli;
mod faults;
mod kubectl;
mod list;
mod live;
mod load;
mod lookup;
mod security;
mod serve;
mod support;
mod task;
mod vault;
