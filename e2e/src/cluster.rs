//! A Kubernetes API emulator on a loopback port, with a kube client pointed at it.

use kube_emulator::{ResourceTable, RunningEmulator};

/// A running emulator serving the controller's kinds, and a client for it.
pub struct TestCluster {
    pub server: RunningEmulator,
    pub client: kube::Client,
}

impl TestCluster {
    /// Starts an emulator on a free loopback port. Panics if it cannot (test startup).
    pub async fn start() -> Self {
        let server = RunningEmulator::start(ResourceTable::for_load_balancer_controller(), 0)
            .await
            .expect("start the Kubernetes API emulator");
        let url = server.url().parse().expect("emulator URL");
        let client =
            kube::Client::try_from(kube::Config::new(url)).expect("kube client for the emulator");
        Self { server, client }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Every LIST the emulator has served so far.
    pub fn lists(&self) -> u64 {
        self.server
            .emulator
            .request_counts()
            .iter()
            .filter(|((verb, _), _)| verb == "list")
            .map(|(_, count)| count)
            .sum()
    }
}
