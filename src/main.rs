//! The controller binary: parses the command line, then runs `plan` (offline) or `run` (the
//! controller in the cluster) and exits with their code.

use aws_load_balancer_controller::cli::{execute, run::run, with_implied_run, Arguments, Command};
use clap::Parser;
use std::io::Read;
use std::process::ExitCode;

fn main() -> ExitCode {
    let arguments = Arguments::parse_from(with_implied_run(std::env::args_os().collect()));
    if let Command::Run(run_arguments) = &arguments.command {
        let level = if run_arguments.log_level == "debug" {
            "debug"
        } else {
            "info"
        };
        let filter =
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| level.into());
        let logs = tracing_subscriber::fmt().with_env_filter(filter);
        if run_arguments.log_format == "json" {
            // Every line carries its spans' fields (the stack id of a reconcile).
            logs.json()
                .with_current_span(true)
                .with_span_list(false)
                .init();
        } else {
            logs.init();
        }
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
