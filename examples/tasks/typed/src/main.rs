//! An example task component: a `wasi:cli` command that reads whole connection records (and variables,
//! configuration values, Flyte secrets) through this project's typed `wasm-secrets:provider/task` interface.
//!
//! ```text
//! example-task-typed connection ID    the connection's fields, one FIELD=VALUE per line, or (none)
//! example-task-typed variable KEY     the variable, or (none)
//! example-task-typed config KEY       the configuration value, or (none)
//! example-task-typed secret GROUP KEY the Flyte secret, or (none)
//! ```
//!
//! Exit status: 0, or 1 when the read failed (the error's kind and message on stdout). It prints values: it is
//! an example for checking what a task sees (`secrets task run`), not a pattern for real tasks.

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
    use bindings::wasm_secrets::provider::task;
    use bindings::wasm_secrets::provider::types::Error;

    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let text = |answer: Result<Option<String>, Error>| answer.map(|v| v.map(|v| vec![("value", v)]));
    let answer = match args.as_slice() {
        ["connection", id] => task::get_connection(id).map(|c| {
            c.map(|c| {
                let mut fields = vec![("conn_type", c.conn_type.unwrap_or_default())];
                for (name, value) in [
                    ("description", c.description),
                    ("host", c.host),
                    ("schema", c.schema),
                    ("login", c.login),
                    ("password", c.password),
                    ("port", c.port.map(|p| p.to_string())),
                    ("extra", c.extra),
                ] {
                    if let Some(value) = value {
                        fields.push((name, value));
                    }
                }
                fields
            })
        }),
        ["variable", key] => text(task::get_variable(key)),
        ["config", key] => text(task::get_config(key)),
        ["secret", group, key] => text(task::get_secret(group, key)),
        _ => {
            eprintln!("usage: example-task-typed connection ID | variable KEY | config KEY | secret GROUP KEY");
            return ExitCode::from(2);
        }
    };
    match answer {
        Ok(Some(fields)) => {
            for (name, value) in fields {
                println!("{name}={value}");
            }
            ExitCode::SUCCESS
        }
        Ok(None) => {
            println!("(none)");
            ExitCode::SUCCESS
        }
        Err(e) => {
            let (kind, message) = match e {
                Error::InvalidConfiguration(m) => ("invalid-configuration", m),
                Error::InvalidRequest(m) => ("invalid-request", m),
                Error::MalformedPayload(m) => ("malformed-payload", m),
                Error::AccessDenied(m) => ("access-denied", m),
                Error::DeniedByHost(m) => ("denied-by-host", m),
                Error::Upstream(m) => ("upstream", m),
                Error::Unavailable(m) => ("unavailable", m),
                Error::Timeout(m) => ("timeout", m),
            };
            println!("error {kind}: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Built for another target, there is nothing to run.
#[cfg(not(target_arch = "wasm32"))]
fn main() -> ExitCode {
    eprintln!("example-task-typed is a wasm32-wasip2 task component: run it with `secrets task run`");
    ExitCode::from(2)
}
