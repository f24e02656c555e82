//! Running the real `kubectl` against an emulator, for conformance tests.

use std::path::Path;
use std::process::Command;

/// What one `kubectl` run printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubectlOutput {
    /// Whether it exited 0.
    pub success: bool,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// The `kubectl` the conformance tests run: `$WASM_SECRETS_KUBECTL` (scripts/test.sh installs a pinned one
/// from PyPI under `target/` and names it there), else `kubectl` on `PATH`.
pub fn program() -> std::ffi::OsString {
    std::env::var_os("WASM_SECRETS_KUBECTL").unwrap_or_else(|| "kubectl".into())
}

/// Runs `kubectl <args>` ([`program`]) with an isolated `$HOME` (so no discovery cache from an earlier server
/// is reused) and `kubeconfig`, and without the in-cluster variables. Fails when `kubectl` is not installed:
/// the conformance tests must fail, never skip, without it.
pub fn run(home: &Path, kubeconfig: &Path, args: &[&str]) -> std::io::Result<KubectlOutput> {
    let output = Command::new(program())
        .args(args)
        .env("HOME", home)
        .env("KUBECONFIG", kubeconfig)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .output()?;
    Ok(KubectlOutput {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}
