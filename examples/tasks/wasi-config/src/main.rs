//! An example task component: a `wasi:cli` command that reads its secrets through `wasi:config/store`, the
//! interface generic components already use for configuration (keys in docs/embedding.md).
//!
//! ```text
//! example-task-wasi-config get KEY...   one line per key: KEY=VALUE, KEY (none) or KEY error: MESSAGE
//! example-task-wasi-config all          every granted key with a value (get-all), one KEY=VALUE per line
//! example-task-wasi-config probe        what else the task can reach: environment, files, network, stdin
//! ```
//!
//! Exit status: 0, or 1 when a read failed. It prints values: it is an example for checking what a task sees
//! (`secrets task run`), not a pattern for real tasks, which should never print a secret.

use std::process::ExitCode;

/// The bindings of the `task-imports` world (private to the binary: no documentation is required).
#[cfg(target_arch = "wasm32")]
mod bindings {
    wit_bindgen::generate!({
        path: "../../../wit",
        world: "wasm-secrets:provider/task-imports",
        generate_all,
    });
}

#[cfg(target_arch = "wasm32")]
fn main() -> ExitCode {
    use bindings::wasi::config::store;

    let args: Vec<String> = std::env::args().skip(1).collect();
    let describe = |e: &store::Error| match e {
        store::Error::Upstream(m) => format!("upstream: {m}"),
        store::Error::Io(m) => format!("io: {m}"),
    };
    let mut failed = false;
    match args.first().map(String::as_str) {
        Some("get") => {
            for key in &args[1..] {
                match store::get(key) {
                    Ok(Some(value)) => println!("{key}={value}"),
                    Ok(None) => println!("{key} (none)"),
                    Err(e) => {
                        println!("{key} error: {}", describe(&e));
                        failed = true;
                    }
                }
            }
        }
        Some("all") => match store::get_all() {
            Ok(pairs) => {
                for (key, value) in pairs {
                    println!("{key}={value}");
                }
            }
            Err(e) => {
                println!("get-all error: {}", describe(&e));
                failed = true;
            }
        },
        Some("probe") => probe(),
        _ => {
            eprintln!("usage: example-task-wasi-config get KEY... | all | probe");
            return ExitCode::from(2);
        }
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

/// Prints what the task can reach besides its secrets: a task run by `secrets task run` gets no environment
/// variable, no file, no socket and an empty stdin.
#[cfg(target_arch = "wasm32")]
fn probe() {
    use std::io::Read as _;

    println!("environment variables: {}", std::env::vars_os().count());
    match std::fs::read_dir("/") {
        Ok(_) => println!("files: readable"),
        Err(_) => println!("files: none"),
    }
    match std::net::TcpStream::connect("127.0.0.1:443") {
        Ok(_) => println!("network: connected"),
        Err(_) => println!("network: refused"),
    }
    let mut input = Vec::new();
    match std::io::stdin().read_to_end(&mut input) {
        Ok(n) => println!("stdin bytes: {n}"),
        Err(_) => println!("stdin: unreadable"),
    }
}

/// Built for another target, there is nothing to run.
#[cfg(not(target_arch = "wasm32"))]
fn main() -> ExitCode {
    eprintln!("example-task-wasi-config is a wasm32-wasip2 task component: run it with `secrets task run`");
    ExitCode::from(2)
}
