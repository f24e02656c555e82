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

/// Host-side diagnostics (refused requests, cache problems) go to stderr; `RUST_LOG` set shows debug ones too.
fn tracing_subscriber_init() {
    let level = if std::env::var_os("RUST_LOG").is_some() { tracing::Level::DEBUG } else { tracing::Level::WARN };
    tracing_subscriber::fmt().with_writer(std::io::stderr).with_max_level(level).with_target(false).init();
}
