//! What the webhooks read, kept current by watches of their own (they run on every replica,
//! also on standbys whose loops are not started): TargetGroupBindings, IngressClasses,
//! IngressClassParams, Namespaces (labels), and the Services of the process's shared watch
//! (`crate::watched::services`, which the webhooks start before any loop). Admission never
//! calls the Kubernetes API.

use crate::crd::ingress_class_params::IngressClassParams;
use crate::crd::target_group_binding::TargetGroupBinding;
use crate::watched::services::WatchedServices;
use crate::watched::{cached, drain, store_ready};
use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::networking::v1::IngressClass;
use kube::runtime::reflector::Store;
use kube::Resource;
use std::collections::BTreeMap;

/// The stores; cheap to clone.
#[derive(Clone)]
pub struct WebhookCaches {
    pub bindings: Store<TargetGroupBinding>,
    pub services: WatchedServices,
    pub classes: Store<IngressClass>,
    pub params: Store<IngressClassParams>,
    pub namespaces: Store<Namespace>,
}

fn slim_meta<K: Resource>(object: &mut K) {
    object.meta_mut().managed_fields = None;
}

fn slim_namespace(namespace: &mut Namespace) {
    namespace.metadata.managed_fields = None;
    namespace.metadata.annotations = None;
    namespace.spec = None;
    namespace.status = None;
}

impl WebhookCaches {
    /// Starts the watches on tasks of their own and returns their stores (not yet filled: see
    /// [`WebhookCaches::wait_until_ready`]); `services` is the shared Service watch.
    pub fn spawn(client: &kube::Client, services: WatchedServices) -> Self {
        let (bindings, binding_stream) = cached(client, slim_meta::<TargetGroupBinding>);
        let (classes, class_stream) = cached(client, slim_meta::<IngressClass>);
        let (params, params_stream) = cached(client, slim_meta::<IngressClassParams>);
        let (namespaces, namespace_stream) = cached(client, slim_namespace);
        tokio::spawn(drain(binding_stream));
        tokio::spawn(drain(class_stream));
        tokio::spawn(drain(params_stream));
        tokio::spawn(drain(namespace_stream));
        Self {
            bindings,
            services,
            classes,
            params,
            namespaces,
        }
    }

    /// Stores holding exactly these objects and fed by no watch (for tests and offline use).
    pub fn from_objects(
        bindings: Vec<TargetGroupBinding>,
        services: Vec<Service>,
        classes: Vec<IngressClass>,
        params: Vec<IngressClassParams>,
        namespaces: Vec<Namespace>,
    ) -> Self {
        fn filled<K>(objects: Vec<K>) -> Store<K>
        where
            K: Resource<DynamicType = ()> + Clone + 'static,
        {
            let (store, mut writer) = kube::runtime::reflector::store();
            writer.apply_watcher_event(&kube::runtime::watcher::Event::Init);
            for object in objects {
                writer.apply_watcher_event(&kube::runtime::watcher::Event::InitApply(object));
            }
            writer.apply_watcher_event(&kube::runtime::watcher::Event::InitDone);
            store
        }
        Self {
            bindings: filled(bindings),
            services: WatchedServices::filled(services),
            classes: filled(classes),
            params: filled(params),
            namespaces: filled(namespaces),
        }
    }

    /// Resolves once every store holds its first full list.
    pub async fn wait_until_ready(&self) -> Result<(), String> {
        let failed = |e: kube::runtime::reflector::store::WriterDropped| e.to_string();
        store_ready(&self.bindings).await.map_err(failed)?;
        self.services.wait_until_ready().await;
        store_ready(&self.classes).await.map_err(failed)?;
        store_ready(&self.params).await.map_err(failed)?;
        store_ready(&self.namespaces).await.map_err(failed)
    }

    pub fn bindings_in(&self, namespace: &str) -> Vec<TargetGroupBinding> {
        in_namespace(&self.bindings, namespace)
    }

    pub fn services_in(&self, namespace: &str) -> Vec<Service> {
        self.services.services_in(namespace)
    }

    pub fn namespace_labels(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        self.namespaces
            .state()
            .iter()
            .filter_map(|namespace| {
                let name = namespace.metadata.name.clone()?;
                Some((name, namespace.metadata.labels.clone().unwrap_or_default()))
            })
            .collect()
    }
}

fn in_namespace<K: Resource<DynamicType = ()> + Clone>(
    store: &Store<K>,
    namespace: &str,
) -> Vec<K> {
    store
        .state()
        .iter()
        .filter(|object| object.meta().namespace.as_deref() == Some(namespace))
        .map(|object| object.as_ref().clone())
        .collect()
}
