//! Builds the provider components for `wasm32-wasip2` as part of the ordinary workspace build, so a fresh
//! clone needs nothing but cargo (and the target from rust-toolchain.toml).
//!
//! The pattern is wasmtime's `crates/test-programs/artifacts/build.rs`: a nested `cargo build` with its own
//! target directory under `OUT_DIR` (sharing the outer one deadlocks on cargo's build-directory lock), and
//! without the outer build's flags, which are meant for the host target.

use std::env;
use std::error::Error;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// (package, file stem of the library or binary, constant prefix)
const COMPONENTS: [(&str, &str, &str); 7] = [
    ("wasm-secrets-provider-kubernetes", "wasm_secrets_provider_kubernetes", "KUBERNETES_PROVIDER"),
    ("wasm-secrets-provider-environment", "wasm_secrets_provider_environment", "ENVIRONMENT_PROVIDER"),
    ("wasm-secrets-provider-local-files", "wasm_secrets_provider_local_files", "LOCAL_FILES_PROVIDER"),
    ("wasm-secrets-provider-vault", "wasm_secrets_provider_vault", "VAULT_PROVIDER"),
    ("rogue-provider", "rogue_provider", "ROGUE_PROVIDER"),
    // The example task components (wasi:cli commands, docs/embedding.md).
    ("example-task-wasi-config", "example-task-wasi-config", "WASI_CONFIG_TASK"),
    ("example-task-typed", "example-task-typed", "TYPED_TASK"),
];

fn main() -> Result<(), Box<dyn Error>> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let root = manifest_dir.parent().ok_or("artifacts/ has no parent directory")?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    let target_dir = out_dir.join("wasm-target");

    // Everything a component is built from: its sources, the shared crates, the WIT, the lock file, and the
    // root manifest (its `[profile.guest]` decides how the components are compiled).
    for watched in [
        "guest",
        "airflow-compat/src",
        "airflow-compat/Cargo.toml",
        "tests/fixtures/rogue-provider/src",
        "tests/fixtures/rogue-provider/Cargo.toml",
        "examples/tasks",
        "wit",
        "Cargo.lock",
        "Cargo.toml",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .args(["--target", "wasm32-wasip2", "--profile", "guest"])
        .env("CARGO_TARGET_DIR", &target_dir);
    for (package, _, _) in COMPONENTS {
        cmd.args(["-p", package]);
    }
    for var in
        ["CARGO_ENCODED_RUSTFLAGS", "RUSTFLAGS", "CARGO_BUILD_TARGET", "RUSTC_WORKSPACE_WRAPPER", "RUSTC_WRAPPER"]
    {
        cmd.env_remove(var);
    }
    let status = cmd.status()?;
    if !status.success() {
        return Err(format!(
            "building the provider components for wasm32-wasip2 failed ({status}); \
             is the target installed? run `rustup toolchain install` in the repository"
        )
        .into());
    }

    let mut code = String::new();
    for (package, stem, prefix) in COMPONENTS {
        let path = target_dir.join("wasm32-wasip2").join("guest").join(format!("{stem}.wasm"));
        check_component(&path, package)?;
        let path = path.to_str().ok_or("non-UTF-8 build path")?;
        writeln!(code, "/// Path of the `{package}` component built for this workspace.")?;
        writeln!(code, "pub const {prefix}_PATH: &str = {path:?};")?;
    }
    std::fs::write(out_dir.join("artifacts.rs"), code)?;
    Ok(())
}

/// A component (not a core module) starts with `\0asm` and the component-model layer `0d 00 01 00`.
fn check_component(path: &Path, package: &str) -> Result<(), Box<dyn Error>> {
    let bytes = std::fs::read(path).map_err(|e| format!("{package}: cannot read {}: {e}", path.display()))?;
    if bytes.get(..8) != Some(&[0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00][..]) {
        return Err(format!("{} is not a WebAssembly component", path.display()).into());
    }
    Ok(())
}
