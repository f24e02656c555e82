//! `example-scheduler SCHEDULE.toml`: runs the schedule's tasks and prints what each wrote.

use anyhow::Context as _;

#[tokio::main]
async fn main() -> anyhow::Result<std::process::ExitCode> {
    let path = std::env::args_os().nth(1).context("usage: example-scheduler SCHEDULE.toml")?;
    let schedule = example_scheduler::load(std::path::Path::new(&path))?;
    let finished = example_scheduler::run(&schedule, &wasm_secrets::cli::ProcessEnvironment).await?;
    let mut all_ok = true;
    for task in finished {
        let exit = match &task.exit {
            example_scheduler::Exit::Status(status) => format!("exit {status}"),
            example_scheduler::Exit::Trapped(message) => format!("trapped: {message}"),
            example_scheduler::Exit::TimedOut => "timed out".to_owned(),
        };
        all_ok &= task.exit == example_scheduler::Exit::Status(0);
        println!("== {} ({exit}) ==", task.name);
        print!("{}", task.stdout);
        eprint!("{}", task.stderr);
    }
    Ok(if all_ok { std::process::ExitCode::SUCCESS } else { std::process::ExitCode::FAILURE })
}
