//! An in-memory Kubernetes API server for tests, enough of the real one that kubectl and kube-rs
//! (watchers, reflectors, `Controller`, `finalizer()`, events, leases) work against it unchanged.
//!
//! It serves a fixed table of kinds (built-ins plus the custom resources it is started with), keeps
//! every object in memory with one global resourceVersion counter, and streams watches from a
//! bounded event log. Tests steer it through [`Emulator`]'s control methods (seed objects, compact
//! the log so watchers get `410 Expired`, fail the next write of a kind) or the same controls over
//! HTTP under `/emulator/`.
//!
//! Admission webhooks with a `url` are called on creates and replacements (`admission`).
//!
//! What it deliberately does not do: authentication and authorization, built-in admission and defaulting,
//! schema validation, OpenAPI documents, protobuf, managedFields, owner-reference garbage
//! collection, and any controller behaviour (no pods appear for a Deployment).

#![forbid(unsafe_code)]

pub mod admission;
mod event_mirror;
mod listing;
pub mod patch;
pub mod resources;
pub mod selectors;
mod server;
pub mod status;
pub mod store;
mod watch;
pub mod writes;

pub use resources::{ResourceTable, ResourceType};
pub use status::ApiError;

use serde_json::Value;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use store::Store;

/// A handle on one emulated API server's state; cheap to clone.
#[derive(Clone)]
pub struct Emulator {
    table: Arc<ResourceTable>,
    store: Arc<Mutex<Store>>,
    /// Requests served, by verb (`list`, `watch`, `get`, `create`, `update`, `patch`, `delete`)
    /// and resource plural.
    requests: Arc<Mutex<std::collections::BTreeMap<(String, String), u64>>>,
    /// Where a cluster Service (namespace, name) is reached, for webhooks given by `service`.
    service_routes: Arc<Mutex<std::collections::BTreeMap<(String, String), SocketAddr>>>,
}

impl Emulator {
    pub fn new(table: ResourceTable) -> Self {
        let emulator = Self {
            table: Arc::new(table.clone()),
            store: Arc::new(Mutex::new(Store::new(table))),
            requests: Arc::default(),
            service_routes: Arc::default(),
        };
        for namespace in ["default", "kube-system", "kube-public"] {
            let object = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}, "status": {"phase": "Active"}});
            // The built-in table always serves namespaces, so seeding them cannot fail.
            let _ = emulator.seed(object);
        }
        emulator
    }

    /// Webhooks whose `clientConfig.service` names `namespace/name` are called at `address`
    /// (TLS still checks the certificate against `name.namespace.svc`, as the API server does).
    pub fn route_service(&self, namespace: &str, name: &str, address: SocketAddr) {
        let mut routes = self
            .service_routes
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        routes.insert((namespace.to_string(), name.to_string()), address);
    }

    pub(crate) fn service_route(&self, namespace: &str, name: &str) -> Option<SocketAddr> {
        let routes = self
            .service_routes
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        routes
            .get(&(namespace.to_string(), name.to_string()))
            .copied()
    }

    pub(crate) fn count_request(&self, verb: &str, plural: &str) {
        let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        *requests
            .entry((verb.to_string(), plural.to_string()))
            .or_default() += 1;
    }

    /// How many `verb` requests on `plural` (e.g. `list`, `services`) it has served.
    pub fn requests(&self, verb: &str, plural: &str) -> u64 {
        let requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        requests
            .get(&(verb.to_string(), plural.to_string()))
            .copied()
            .unwrap_or(0)
    }

    /// Every request served, by (verb, plural).
    pub fn request_counts(&self) -> std::collections::BTreeMap<(String, String), u64> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn table(&self) -> &ResourceTable {
        &self.table
    }

    pub(crate) fn with_store<T>(&self, work: impl FnOnce(&mut Store) -> T) -> T {
        let mut store = self
            .store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        work(&mut store)
    }

    /// Stores an object exactly as given (status included), creating or overwriting it.
    pub fn seed(&self, object: Value) -> Result<Value, ApiError> {
        self.with_store(|store| writes::seed(store, object))
            .map(|stored| stored.value.clone())
    }

    /// Drops the event log: resumed watches get `410 Expired`, live ones are ended with it.
    pub fn compact(&self) {
        self.with_store(Store::compact);
    }

    /// Makes the next create, replace, patch or delete of `(api_version, plural)` fail with
    /// `error` (`plural/status`: the next write of a status).
    pub fn fail_next_write(
        &self,
        api_version: &str,
        plural: &str,
        error: ApiError,
    ) -> Result<(), ApiError> {
        let failure = server::injected_failure(self, api_version, plural, error)?;
        self.with_store(|store| store.inject_failure(failure));
        Ok(())
    }

    /// How many injected failures no write has met yet.
    pub fn pending_failures(&self) -> usize {
        self.with_store(|store| store.pending_failures())
    }

    /// The stored object, for assertions (`namespace` is ignored for cluster-scoped kinds).
    pub fn get(
        &self,
        api_version: &str,
        plural: &str,
        namespace: &str,
        name: &str,
    ) -> Option<Value> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let resource = self.table.find(group, version, plural)?;
        let namespace = if self.table.get(resource).namespaced {
            namespace
        } else {
            ""
        };
        self.with_store(|store| store.get(resource, &store::ObjectKey::new(namespace, name)))
            .map(|stored| stored.value.clone())
    }

    /// The axum router serving this emulator.
    pub fn router(&self) -> axum::Router {
        axum::Router::new()
            .fallback(server::handle)
            .with_state(self.clone())
    }

    /// Serves on `listener` until the task is dropped or aborted.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        axum::serve(listener, self.router()).await
    }
}

/// An emulator serving on a loopback port; stops when dropped.
pub struct RunningEmulator {
    pub emulator: Emulator,
    pub address: SocketAddr,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningEmulator {
    /// Binds `127.0.0.1:port` (0 picks a free port) and serves `table` there.
    pub async fn start(table: ResourceTable, port: u16) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let address = listener.local_addr()?;
        let emulator = Emulator::new(table);
        let task = tokio::spawn(emulator.clone().serve(listener));
        Ok(Self {
            emulator,
            address,
            task,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}
