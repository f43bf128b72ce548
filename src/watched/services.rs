//! The process's one watch of Services, shared by the Service loop, the Ingress loop, target
//! registration and the webhooks (each used to keep its own watch and its own copy of every
//! Service: four copies, about 12 KiB per Service with kubectl's last-applied annotation).
//!
//! - Every Service is kept as a [`ServiceSummary`]: only the fields those readers use (name,
//!   uid, resource version, type, ports, selector, IP families, external traffic policy and the
//!   `alb.ingress.kubernetes.io/` annotations). Readers get it back as a `Service` holding just
//!   those fields, so the pure steps keep taking Kubernetes types.
//! - The Services the Service loop may act on (type `LoadBalancer`, a load balancer class or
//!   type annotation, or still holding its finalizer) are also kept whole, less managed fields
//!   and kubectl's last-applied configuration, in a reflector store for that loop.
//! - Readers subscribe to changes: the Ingress loop and registration to the keys of changed
//!   Services, the Service loop to its whole Services. A relist (after a `410 Gone`) announces
//!   only the Services that differ from before, deletions included.
//!
//! It decides nothing: which Services matter to a load balancer is each loop's business.

use super::events;
use super::summaries::{self, Summaries, Writer as SummaryWriter};
use crate::ingress::member::INGRESS_PREFIX;
use crate::service::SERVICE_FINALIZER;
use futures::channel::mpsc::{unbounded, UnboundedSender};
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

/// The annotation kubectl leaves on every object it applies: a copy of the whole manifest.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// The annotation that hands a Service to this controller without a load balancer class.
const TYPE_ANNOTATION: &str = "service.beta.kubernetes.io/aws-load-balancer-type";

/// A port of a [`ServiceSummary`].
#[derive(Debug, Clone, PartialEq)]
struct PortSummary {
    name: Option<Box<str>>,
    protocol: Option<Box<str>>,
    port: i32,
    target_port: Option<IntOrString>,
    node_port: Option<i32>,
}

type Pairs = Box<[(Box<str>, Box<str>)]>;

/// What the Ingress loop, registration and the webhooks read of a Service.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSummary {
    name: Box<str>,
    uid: Option<Box<str>>,
    /// The version read (what a reconcile records it read).
    resource_version: Option<Box<str>>,
    type_: Option<Box<str>>,
    ports: Box<[PortSummary]>,
    selector: Option<Pairs>,
    ip_families: Option<Box<[Box<str>]>>,
    external_traffic_policy: Option<Box<str>>,
    ingress_annotations: Pairs,
}

fn boxed(text: Option<String>) -> Option<Box<str>> {
    text.map(String::into_boxed_str)
}

fn pairs(map: BTreeMap<String, String>) -> Pairs {
    map.into_iter()
        .map(|(key, value)| (key.into_boxed_str(), value.into_boxed_str()))
        .collect()
}

fn unpaired(pairs: &[(Box<str>, Box<str>)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

impl ServiceSummary {
    pub fn of(service: &Service) -> Self {
        let spec = service.spec.clone().unwrap_or_default();
        let annotations = service.metadata.annotations.clone().unwrap_or_default();
        Self {
            name: service.metadata.name.clone().unwrap_or_default().into(),
            uid: boxed(service.metadata.uid.clone()),
            resource_version: boxed(service.metadata.resource_version.clone()),
            type_: boxed(spec.type_),
            ports: spec
                .ports
                .unwrap_or_default()
                .into_iter()
                .map(|port| PortSummary {
                    name: boxed(port.name),
                    protocol: boxed(port.protocol),
                    port: port.port,
                    target_port: port.target_port,
                    node_port: port.node_port,
                })
                .collect(),
            selector: spec.selector.map(pairs),
            ip_families: spec
                .ip_families
                .map(|families| families.into_iter().map(String::into_boxed_str).collect()),
            external_traffic_policy: boxed(spec.external_traffic_policy),
            ingress_annotations: pairs(
                annotations
                    .into_iter()
                    .filter(|(key, _)| key.starts_with(INGRESS_PREFIX))
                    .collect(),
            ),
        }
    }

    /// The summary as a `Service` of `namespace` (only the summarised fields are set).
    pub fn to_service(&self, namespace: &str) -> Service {
        let ports = self
            .ports
            .iter()
            .map(|port| ServicePort {
                name: port.name.as_deref().map(str::to_string),
                protocol: port.protocol.as_deref().map(str::to_string),
                port: port.port,
                target_port: port.target_port.clone(),
                node_port: port.node_port,
                ..ServicePort::default()
            })
            .collect();
        Service {
            metadata: ObjectMeta {
                name: Some(self.name.to_string()),
                namespace: Some(namespace.to_string()),
                uid: self.uid.as_deref().map(str::to_string),
                resource_version: self.resource_version.as_deref().map(str::to_string),
                annotations: (!self.ingress_annotations.is_empty())
                    .then(|| unpaired(&self.ingress_annotations)),
                ..ObjectMeta::default()
            },
            spec: Some(ServiceSpec {
                type_: self.type_.as_deref().map(str::to_string),
                ports: Some(ports),
                selector: self.selector.as_deref().map(unpaired),
                ip_families: self
                    .ip_families
                    .as_ref()
                    .map(|families| families.iter().map(|f| f.to_string()).collect()),
                external_traffic_policy: self
                    .external_traffic_policy
                    .as_deref()
                    .map(str::to_string),
                ..ServiceSpec::default()
            }),
            status: None,
        }
    }
}

/// The Service loop may act on it: a load balancer Service, or one still holding its finalizer.
pub fn concerns_service_loop(service: &Service) -> bool {
    let spec = service.spec.as_ref();
    spec.and_then(|s| s.type_.as_deref()) == Some("LoadBalancer")
        || spec.is_some_and(|s| s.load_balancer_class.is_some())
        || service
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(TYPE_ANNOTATION))
        || service
            .metadata
            .finalizers
            .iter()
            .flatten()
            .any(|f| f == SERVICE_FINALIZER)
}

/// A whole Service as the Service loop keeps it.
fn slim_whole(mut service: Service) -> Service {
    service.metadata.managed_fields = None;
    if let Some(annotations) = service.metadata.annotations.as_mut() {
        annotations.remove(LAST_APPLIED);
    }
    service
}

#[derive(Default)]
struct Subscribers {
    changes: Vec<UnboundedSender<ObjectRef<Service>>>,
    whole: Vec<UnboundedSender<Arc<Service>>>,
}

impl Subscribers {
    fn changed(&mut self, namespace: &str, name: &str) {
        let key = ObjectRef::new(name).within(namespace);
        self.changes
            .retain(|sender| sender.unbounded_send(key.clone()).is_ok());
    }

    fn whole_changed(&mut self, service: &Arc<Service>) {
        self.whole
            .retain(|sender| sender.unbounded_send(service.clone()).is_ok());
    }
}

/// The shared watch's stores; cheap to clone.
#[derive(Clone)]
pub struct WatchedServices {
    summaries: Summaries<ServiceSummary>,
    load_balancers: Store<Service>,
    subscribers: Arc<Mutex<Subscribers>>,
}

/// What the watch task owns: the writing ends.
struct Follower {
    shared: WatchedServices,
    summaries: SummaryWriter<ServiceSummary>,
    writer: reflector::store::Writer<Service>,
    /// The first full list is in.
    listed_once: bool,
    /// The whole Services of a relist under way.
    relisted_whole: Vec<Arc<Service>>,
}

impl WatchedServices {
    /// Starts the watch of every Service on a task of its own.
    pub fn spawn(client: &kube::Client) -> Self {
        let (follower, shared) = Self::empty_with_writer();
        tokio::spawn(follower.follow(events(client, |_: &mut Service| {})));
        shared
    }

    fn empty_with_writer() -> (Follower, Self) {
        let (load_balancers, writer) = reflector::store();
        let (summaries, summary_writer) = summaries::empty();
        let shared = Self {
            summaries,
            load_balancers,
            subscribers: Arc::default(),
        };
        let follower = Follower {
            shared: shared.clone(),
            summaries: summary_writer,
            writer,
            listed_once: false,
            relisted_whole: Vec::new(),
        };
        (follower, shared)
    }

    /// A watch that already listed `services` and follows nothing more (for tests and for
    /// reconciling outside a loop).
    pub fn filled(services: impl IntoIterator<Item = Service>) -> Self {
        let (mut follower, shared) = Self::empty_with_writer();
        follower.apply(watcher::Event::Init);
        for service in services {
            follower.apply(watcher::Event::InitApply(service));
        }
        follower.apply(watcher::Event::InitDone);
        shared
    }

    /// Resolves once the first full list is in (never, if the watch task is gone before).
    pub async fn wait_until_ready(&self) {
        self.summaries.wait_until_ready().await;
    }

    /// The whole Services the Service loop may act on.
    pub fn load_balancers(&self) -> Store<Service> {
        self.load_balancers.clone()
    }

    /// The Service `namespace/name`, summarised.
    pub fn service(&self, namespace: &str, name: &str) -> Option<Service> {
        self.summaries
            .get(namespace, name)
            .map(|summary| summary.to_service(namespace))
    }

    /// Every Service of `namespace`, summarised.
    pub fn services_in(&self, namespace: &str) -> Vec<Service> {
        self.services_in_named(namespace, |_| true)
    }

    /// The Services of `namespace` whose name `wanted` keeps, summarised (only those are
    /// turned back into `Service`s).
    pub fn services_in_named(
        &self,
        namespace: &str,
        wanted: impl Fn(&str) -> bool,
    ) -> Vec<Service> {
        self.summaries
            .in_namespace_where(namespace, wanted)
            .into_iter()
            .map(|(_, summary)| summary.to_service(namespace))
            .collect()
    }

    /// The keys of Services created, changed or deleted from now on.
    pub fn subscribe_changes(&self) -> impl Stream<Item = ObjectRef<Service>> + Send + 'static {
        let (sender, receiver) = unbounded();
        self.lock_subscribers().changes.push(sender);
        receiver
    }

    /// The Service loop's Services: those already stored, then every one created or changed.
    pub fn subscribe_load_balancers(&self) -> impl Stream<Item = Arc<Service>> + Send + 'static {
        let (sender, receiver) = unbounded();
        let mut subscribers = self.lock_subscribers();
        // Under the lock the watch task notifies under: nothing falls between the two.
        for service in self.load_balancers.state() {
            let _ = sender.unbounded_send(service);
        }
        subscribers.whole.push(sender);
        receiver
    }

    fn lock_subscribers(&self) -> std::sync::MutexGuard<'_, Subscribers> {
        self.subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Follower {
    async fn follow(
        mut self,
        events: impl Stream<Item = Result<watcher::Event<Service>, watcher::Error>>,
    ) {
        let mut events = std::pin::pin!(events);
        while let Some(event) = events.next().await {
            match event {
                Ok(event) => self.apply(event),
                Err(error) => tracing::warn!(%error, "the Service watch failed; retrying"),
            }
        }
    }

    fn apply(&mut self, event: watcher::Event<Service>) {
        // Under the subscribers' lock, so a subscriber's snapshot and its notifications meet.
        let mut subscribers = self.shared.lock_subscribers();
        let changed = self.summaries.apply(&event, ServiceSummary::of);
        match event {
            watcher::Event::Apply(service) => {
                if concerns_service_loop(&service) {
                    let whole = slim_whole(service);
                    self.writer
                        .apply_watcher_event(&watcher::Event::Apply(whole.clone()));
                    subscribers.whole_changed(&Arc::new(whole));
                } else {
                    self.writer
                        .apply_watcher_event(&watcher::Event::Delete(service));
                }
            }
            watcher::Event::Delete(service) => {
                self.writer
                    .apply_watcher_event(&watcher::Event::Delete(service));
            }
            watcher::Event::Init => {
                self.relisted_whole.clear();
                self.writer.apply_watcher_event(&watcher::Event::Init);
            }
            watcher::Event::InitApply(service) => {
                if concerns_service_loop(&service) {
                    let whole = slim_whole(service);
                    self.writer
                        .apply_watcher_event(&watcher::Event::InitApply(whole.clone()));
                    self.relisted_whole.push(Arc::new(whole));
                }
            }
            watcher::Event::InitDone => {
                let old_versions: HashMap<ObjectRef<Service>, Option<String>> = self
                    .shared
                    .load_balancers
                    .state()
                    .iter()
                    .map(|s| {
                        (
                            ObjectRef::from_obj(s.as_ref()),
                            s.metadata.resource_version.clone(),
                        )
                    })
                    .collect();
                self.writer.apply_watcher_event(&watcher::Event::InitDone);
                for whole in self.relisted_whole.drain(..) {
                    let key = ObjectRef::from_obj(whole.as_ref());
                    let version = &whole.metadata.resource_version;
                    if !self.listed_once || old_versions.get(&key) != Some(version) {
                        subscribers.whole_changed(&whole);
                    }
                }
                self.listed_once = true;
            }
        }
        for (namespace, name) in changed {
            subscribers.changed(&namespace, &name);
        }
    }
}

#[cfg(test)]
#[path = "services_tests.rs"]
mod tests;
