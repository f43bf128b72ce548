//! A Kubernetes API emulator on a loopback port, with a kube client pointed at it, and a way
//! to fill it quickly.

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

/// Creates every object (32 at a time) through `api`. Panics if one is refused (test setup).
pub async fn create_all<K>(api: &kube::Api<K>, objects: impl IntoIterator<Item = serde_json::Value>)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    use futures::StreamExt;
    futures::stream::iter(objects)
        .map(|object| async move {
            let typed: K = serde_json::from_value(object).expect("a valid object");
            api.create(&kube::api::PostParams::default(), &typed)
                .await
                .expect("the emulator stores the object");
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
}
