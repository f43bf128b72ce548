//! The controller binary: parses the command line and prints what the command returns.
//! `plan` is the offline dry run; the in-cluster `run` arrives with the reconcile loop.

use aws_load_balancer_controller::cli::{execute, Arguments};
use clap::Parser;
use std::io::Read;
use std::process::ExitCode;

fn main() -> ExitCode {
    let arguments = Arguments::parse();
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
