//! The controller binary: parses the command line, then runs `plan` (offline) or `run` (the
//! controller in the cluster) and exits with their code.

use aws_load_balancer_controller::cli::{execute, run::run, Arguments, Command};
use clap::Parser;
use std::io::Read;
use std::process::ExitCode;

fn main() -> ExitCode {
    let arguments = Arguments::parse();
    if let Command::Run(run_arguments) = &arguments.command {
        tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "info".into()),
            )
            .init();
        let runtime = match tokio::runtime::Runtime::new() {
            Ok(runtime) => runtime,
            Err(error) => {
                eprintln!("error: cannot start the async runtime: {error}");
                return ExitCode::from(2);
            }
        };
        return match runtime.block_on(run(run_arguments)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("error: {message}");
                ExitCode::from(1)
            }
        };
    }
    let mut stdin = || {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map(|_| text)
            .map_err(|error| format!("standard input: {error}"))
    };
    let output = execute(&arguments, &mut stdin);
    print!("{}", output.stdout);
    eprint!("{}", output.stderr);
    ExitCode::from(output.exit_code)
}
