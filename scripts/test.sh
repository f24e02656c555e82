#!/usr/bin/env bash
# Every check CI runs: formatting, lints, and all tests (unit, fixture vectors, emulator, end to end).
set -euo pipefail
cd "$(dirname "$0")/.."

# rust-toolchain.toml pins the toolchain and lists the wasm32-wasip2 target; cargo alone does not install it.
rustup toolchain install >/dev/null

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace
