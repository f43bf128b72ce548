//! What a group's reconcile reads from Kubernetes, reduced to what decides whether it must
//! run again (`inputs_hash`), and which Ingresses a Service concerns (`names_service`).

use super::ingress::ClusterView;
use k8s_openapi::api::networking::v1::Ingress;
use kube::ResourceExt;
use serde_json::json;
use std::hash::{Hash, Hasher};

/// A hash of everything a group's reconcile reads from Kubernetes: its members' and leaving
/// Ingresses' annotations and spec (and a leaving one's finalizers and deletion); the Services
/// they name; the IngressClasses and their params. Statuses, labels and resource
/// versions are left out, so the controller's own writes do not count as a change.
pub(super) fn inputs_hash(group: &crate::ingress::group::Group, view: &ClusterView<'_>) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    // The members' own finalizer is the controller's doing, not an input.
    let ingresses = group
        .members
        .iter()
        .map(|m| (&m.ingress, false))
        .chain(group.held.iter().map(|(i, _)| (i, false)))
        .chain(group.leaving.iter().map(|i| (i, true)));
    let mut namespaces = std::collections::BTreeSet::new();
    for (ingress, leaving) in ingresses {
        let meta = &ingress.metadata;
        namespaces.insert(meta.namespace.clone().unwrap_or_default());
        let finalizers = if leaving {
            meta.finalizers.clone()
        } else {
            None
        };
        // The plan annotation is the controller's own output.
        let annotations: Option<std::collections::BTreeMap<&String, &String>> =
            meta.annotations.as_ref().map(|all| {
                all.iter()
                    .filter(|(key, _)| key.as_str() != super::ingress_status::PLAN_ANNOTATION)
                    .collect()
            });
        json!([
            meta.namespace,
            meta.name,
            annotations,
            finalizers,
            meta.deletion_timestamp,
            ingress.spec
        ])
        .to_string()
        .hash(&mut hasher);
    }
    for service in view
        .services
        .iter()
        .filter(|s| namespaces.contains(s.metadata.namespace.as_deref().unwrap_or_default()))
    {
        json!([
            service.metadata.namespace,
            service.metadata.name,
            service.metadata.uid,
            service.metadata.annotations,
            service.spec
        ])
        .to_string()
        .hash(&mut hasher);
    }
    for class in view.classes {
        json!([class.metadata.name, class.metadata.annotations, class.spec])
            .to_string()
            .hash(&mut hasher);
    }
    for params in view.params {
        json!([params.metadata.name, params.spec])
            .to_string()
            .hash(&mut hasher);
    }
    hasher.finish()
}

/// The Ingress names Service `name` in a backend or in an `actions.*` annotation.
pub(super) fn names_service(ingress: &Ingress, name: &str) -> bool {
    let in_backend = ingress
        .spec
        .iter()
        .flat_map(|spec| {
            spec.rules
                .iter()
                .flatten()
                .filter_map(|rule| rule.http.as_ref())
                .flat_map(|http| http.paths.iter().map(|p| &p.backend))
                .chain(spec.default_backend.as_ref())
        })
        .any(|backend| backend.service.as_ref().is_some_and(|s| s.name == name));
    let quoted = format!("\"{name}\"");
    in_backend
        || ingress.annotations().iter().any(|(key, value)| {
            key.starts_with("alb.ingress.kubernetes.io/actions.") && value.contains(&quoted)
        })
}
