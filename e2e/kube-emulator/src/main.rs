//! Serves the Kubernetes API emulator on a loopback port until interrupted.

use clap::Parser;
use kube_emulator::{ResourceTable, RunningEmulator};

/// An in-memory Kubernetes API server for tests and the playground.
#[derive(Parser)]
#[command(version)]
struct Arguments {
    /// Loopback port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8001)]
    port: u16,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let arguments = Arguments::parse();
    let running = RunningEmulator::start(
        ResourceTable::for_load_balancer_controller(),
        arguments.port,
    )
    .await?;
    let url = running.url();
    println!("kube-emulator serving the Kubernetes API at {url}");
    println!("point kubectl at it with:");
    println!("  kubectl --server {url} --validate=false apply -f <manifest>");
    println!("  kubectl --server {url} get ingress,svc -A");
    println!("press Ctrl-C to stop");
    tokio::signal::ctrl_c().await?;
    Ok(())
}
