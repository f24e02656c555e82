#!/usr/bin/env bash
# Every check CI runs: formatting, lints, and all tests (unit, fixture vectors, emulator, end to end).
set -euo pipefail
cd "$(dirname "$0")/.."

# rust-toolchain.toml pins the toolchain and lists the wasm32-wasip2 target; cargo alone does not install it.
rustup toolchain install >/dev/null

# The emulator's conformance tests run the real Python `kubernetes` client (tests/python), which
# is not a cargo dependency: keep it in a virtualenv under target/ (created once, reused after).
if ! target/py/bin/python -c 'import kubernetes' 2>/dev/null; then
    python3 -m venv target/py && target/py/bin/pip install --quiet -r tests/python/requirements.txt
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace
# Benchmarks in criterion's test mode (each case once, debug build): keeps them compiling and working.
# The numbers come from `cargo bench -p wasm-secrets-e2e --bench lookup` (see BENCHMARKS.md).
cargo test -p wasm-secrets-e2e --bench lookup
