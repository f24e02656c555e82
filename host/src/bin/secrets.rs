//! The `secrets` command: see `secrets --help`.

use std::io::Write as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    tracing_subscriber_init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: cannot start the async runtime: {e}");
            return ExitCode::from(wasm_secrets::cli::EXIT_UPSTREAM);
        }
    };
    let code = runtime.block_on(async {
        let mut out = std::io::stdout().lock();
        let mut err = std::io::stderr();
        wasm_secrets::cli::run(std::env::args_os(), &wasm_secrets::cli::ProcessEnvironment, &mut out, &mut err).await
    });
    ExitCode::from(code)
}

/// Host-side diagnostics (refused requests, cache problems) go to stderr: warnings and errors, or what
/// `RUST_LOG` selects (the usual filter syntax, see [`wasm_secrets::cli::log_filter`]).
fn tracing_subscriber_init() {
    let (filter, problem) = wasm_secrets::cli::log_filter(std::env::var("RUST_LOG").ok().as_deref());
    tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(filter).with_target(false).init();
    if let Some(problem) = problem {
        tracing::warn!("{problem}");
    }
}
