//! The registration loop's wiring: one kube `Controller` over TargetGroupBindings, woken by the
//! Services of the shared Service watch and the EndpointSlices, Nodes and gated Pods of the
//! cache's watches. The work of one
//! reconcile is `BindingReconciler::reconcile`.

use super::cache::ClusterCache;
use super::networking::NetworkingSettings;
use super::{BindingReconciler, RegistrationError, NETWORKING_RETRY};
use crate::cloud::Cloud;
use crate::crd::target_group_binding::{BindingTargetType, TargetGroupBinding};
use crate::targets::gates::GATE_PREFIX;
use crate::targets::SERVICE_NAME_LABEL;
use crate::watched::services::WatchedServices;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::Controller;
use kube::ResourceExt;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// The bindings in `namespace` whose Service is `service`.
fn bindings_of_service(
    bindings: &Store<TargetGroupBinding>,
    namespace: Option<String>,
    service: Option<String>,
) -> Vec<ObjectRef<TargetGroupBinding>> {
    bindings
        .state()
        .into_iter()
        .filter(|binding| {
            binding.namespace() == namespace
                && Some(&binding.spec.service_ref.name) == service.as_ref()
        })
        .map(|binding| ObjectRef::from_obj(binding.as_ref()))
        .collect()
}

/// Runs the registration loop until the stream of bindings ends: one watch each for bindings,
/// EndpointSlices, Nodes and Pods, the latter three also filling the cache, and the process's
/// shared Service watch (`services`).
pub async fn run_registration_loop<C: Cloud + 'static>(
    client: kube::Client,
    cloud: C,
    networking: NetworkingSettings,
    services: WatchedServices,
) {
    let service_changes = services.subscribe_changes();
    let (cache, streams) = ClusterCache::new(&client, services);
    // Namespace labels wake nothing: they are read when a binding syncs.
    tokio::spawn(crate::watched::drain(streams.namespaces));
    let reconciler = Arc::new(BindingReconciler::new(
        client.clone(),
        cloud,
        cache,
        networking,
    ));
    // The bindings' own watch is one of ours too, so its failures never back off the others.
    let (binding_store, binding_stream) =
        crate::watched::cached(&client, |binding: &mut TargetGroupBinding| {
            binding.metadata.managed_fields = None
        });
    let controller = Controller::for_stream(binding_stream, binding_store);
    let (binding_store, synced) = (controller.store(), reconciler.cache.clone());
    // Ready (for `/readyz`) once the bindings and the cache hold their first lists.
    tokio::spawn(async move {
        if crate::watched::store_ready(&binding_store).await.is_ok() {
            synced.wait_until_ready().await;
            crate::lifecycle::cache_synced();
        }
    });
    let by_service = controller.store();
    let by_slice = controller.store();
    let by_node = controller.store();
    let by_service = service_changes.flat_map(move |service| {
        futures::stream::iter(bindings_of_service(
            &by_service,
            service.namespace,
            Some(service.name),
        ))
    });
    controller
        .reconcile_on(by_service)
        .watches_stream(streams.slices, move |slice: EndpointSlice| {
            let service = slice.labels().get(SERVICE_NAME_LABEL).cloned();
            bindings_of_service(&by_slice, slice.namespace(), service)
        })
        .watches_stream(streams.nodes, move |_node: Node| {
            by_node
                .state()
                .into_iter()
                .filter(|binding| binding.spec.target_type == Some(BindingTargetType::Instance))
                .map(|binding| ObjectRef::from_obj(binding.as_ref()))
                .collect::<Vec<_>>()
        })
        .watches_stream(streams.pods, |pod: Pod| {
            // A gated pod wakes the bindings its gates name.
            let namespace = pod.namespace().unwrap_or_default();
            pod.spec
                .and_then(|spec| spec.readiness_gates)
                .into_iter()
                .flatten()
                .filter_map(|gate| {
                    gate.condition_type
                        .strip_prefix(GATE_PREFIX)
                        .map(|binding| ObjectRef::new(binding).within(&namespace))
                })
                .collect::<Vec<_>>()
        })
        .run(
            |binding, reconciler: Arc<BindingReconciler<C>>| async move {
                let span = tracing::info_span!(
                    "reconcile",
                    controller = "targetGroupBinding",
                    binding = %format!("{}/{}", binding.namespace().unwrap_or_default(), binding.name_any())
                );
                crate::metrics::observe_reconcile(
                    "targetGroupBinding",
                    reconciler.reconcile(binding.clone()),
                )
                .instrument(span)
                .await
            },
            |binding, error, _| {
                tracing::warn!(binding = %binding.name_any(), %error, "target registration failed");
                match error {
                    RegistrationError::Networking(_) => Action::requeue(NETWORKING_RETRY),
                    _ => Action::requeue(Duration::from_secs(5)),
                }
            },
            reconciler,
        )
        .for_each(|_| async {})
        .await;
}
