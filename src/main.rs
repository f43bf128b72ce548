//! The controller binary. Its subcommands (`run`, `plan`) arrive with the reconcile pipeline;
//! today it only answers `--help` and `--version`.

use clap::Parser;

/// Kubernetes controller for AWS Application and Network Load Balancers.
#[derive(Parser)]
#[command(version, about)]
struct Arguments {}

fn main() {
    let _arguments = Arguments::parse();
    println!(
        "aws-load-balancer-controller {}: the reconcile pipeline is not built yet",
        env!("CARGO_PKG_VERSION")
    );
}
