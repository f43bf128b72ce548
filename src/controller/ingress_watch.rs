//! The Ingress loop's view of the cluster and what wakes it: one watch each of Ingresses,
//! IngressClasses, IngressClassParams, Namespaces and TargetGroupBindings keeps a store current
//! (managed fields dropped), Services come from the process's shared watch
//! (`crate::watched::services`, summarised), and each change is
//! turned into the Ingress groups it touches (a binding's touches none). A reconcile reads these
//! stores: it lists nothing.
//!
//! What a change touches:
//! - an Ingress: the groups it asks for and the groups it holds a finalizer of;
//! - a Service: the groups of the Ingresses of its namespace that name it (backend or action);
//! - an IngressClass: the groups of the Ingresses of that class (and of those naming no class,
//!   when it is the default class);
//! - IngressClassParams: as a change of every class whose parameters name them;
//! - a Namespace: the groups of its Ingresses (its labels may select params).
//!
//! It decides nothing about a group; `controller::ingress` does.

use super::ingress_inputs::names_service;
use crate::crd::ingress_class_params::IngressClassParams;
use crate::crd::target_group_binding::TargetGroupBinding;
use crate::ingress::class::ClassContext;
use crate::ingress::group::{groups_of, GroupId};
use crate::watched::services::WatchedServices;
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher;
use kube::ResourceExt;
use std::collections::{BTreeMap, BTreeSet};
use std::pin::Pin;
use std::sync::Arc;

/// The stores; cheap to clone.
#[derive(Clone)]
pub struct IngressStores {
    pub ingresses: Store<Ingress>,
    pub services: WatchedServices,
    pub classes: Store<IngressClass>,
    pub params: Store<IngressClassParams>,
    pub namespaces: Store<Namespace>,
    /// The TargetGroupBindings (the reconciles' bindings step reads them here).
    pub bindings: Store<TargetGroupBinding>,
}

/// One change seen by a watch.
pub enum Change {
    Ingress(Ingress),
    /// A Service was created, changed or deleted.
    Service(ObjectRef<Service>),
    Class(IngressClass),
    /// IngressClassParams, by name.
    Params(String),
    /// A Namespace (by name: its labels are read from the store).
    Namespace(String),
    /// A binding: nothing to wake (the stores are what matters).
    Binding,
}

/// The changes of all five watches, in arrival order; polling it keeps the stores current.
pub type Changes = Pin<Box<dyn Stream<Item = Change> + Send>>;

fn watched<K>(client: &kube::Client, slim: fn(&mut K), wrap: fn(K) -> Change) -> (Store<K>, Changes)
where
    K: crate::watched::Watchable,
{
    let (reader, events) = crate::watched::reflected(client, slim);
    let stream = events.filter_map(move |event| async move {
        match event {
            Ok(watcher::Event::Apply(object))
            | Ok(watcher::Event::InitApply(object))
            | Ok(watcher::Event::Delete(object)) => Some(wrap(object)),
            Ok(_) => None,
            Err(error) => {
                tracing::warn!(%error, "Ingress loop watch failed; retrying");
                None
            }
        }
    });
    (reader, Box::pin(stream))
}

fn slim_meta<K: kube::Resource>(object: &mut K) {
    object.meta_mut().managed_fields = None;
}

impl IngressStores {
    /// The stores and the changes that fill them (not polled yet).
    pub fn new(client: &kube::Client, services: WatchedServices) -> (Self, Changes) {
        let (ingresses, a) = watched(client, slim_meta::<Ingress>, Change::Ingress);
        let b: Changes = Box::pin(services.subscribe_changes().map(Change::Service));
        let (classes, c) = watched(client, slim_meta::<IngressClass>, Change::Class);
        let (params, d) = watched(client, slim_meta::<IngressClassParams>, |params| {
            Change::Params(params.name_any())
        });
        let (namespaces, e) = watched(client, slim_meta::<Namespace>, |namespace| {
            Change::Namespace(namespace.name_any())
        });
        let (bindings, f) = watched(client, slim_meta::<TargetGroupBinding>, |_| Change::Binding);
        let changes = futures::stream::select_all([a, b, c, d, e, f]);
        (
            Self {
                ingresses,
                services,
                classes,
                params,
                namespaces,
                bindings,
            },
            Box::pin(changes),
        )
    }

    /// Every store has been filled once.
    pub async fn wait_until_ready(&self) -> Result<(), reflector::store::WriterDropped> {
        crate::watched::store_ready(&self.ingresses).await?;
        self.services.wait_until_ready().await;
        crate::watched::store_ready(&self.classes).await?;
        crate::watched::store_ready(&self.params).await?;
        crate::watched::store_ready(&self.namespaces).await?;
        crate::watched::store_ready(&self.bindings).await
    }

    /// What classification reads, as of now.
    pub fn classes_view(&self) -> ClassesView {
        let params: Vec<IngressClassParams> =
            self.params.state().iter().map(|p| (**p).clone()).collect();
        let namespace_labels = if params.iter().any(|p| p.spec.namespace_selector.is_some()) {
            self.namespaces
                .state()
                .iter()
                .map(|n| (n.name_any(), n.labels().clone()))
                .collect()
        } else {
            BTreeMap::new()
        };
        ClassesView {
            classes: self.classes.state().iter().map(|c| (**c).clone()).collect(),
            params,
            namespace_labels,
        }
    }

    /// The Services the Ingresses of `group` name (backends and actions), in their namespaces.
    pub fn services_named_by(&self, group: &crate::ingress::group::Group) -> Vec<Service> {
        let namespaces: BTreeSet<String> = group
            .ingresses()
            .map(|i| i.namespace().unwrap_or_default())
            .collect();
        namespaces
            .iter()
            .flat_map(|namespace| {
                self.services.services_in_named(namespace, |name| {
                    group.ingresses().any(|i| {
                        i.namespace().as_deref() == Some(namespace.as_str())
                            && names_service(i, name)
                    })
                })
            })
            .collect()
    }

    /// Every group some Ingress asks for or holds a finalizer of.
    pub fn all_groups(&self, ingress_class_flag: &str) -> BTreeSet<GroupId> {
        let view = self.classes_view();
        let context = view.context(ingress_class_flag);
        self.ingresses
            .state()
            .iter()
            .flat_map(|ingress| groups_of(ingress, &context))
            .collect()
    }

    /// The groups `change` touches.
    pub fn groups_touched(&self, change: &Change, ingress_class_flag: &str) -> BTreeSet<GroupId> {
        let ingresses = self.ingresses.state();
        let concerned: Vec<&Arc<Ingress>> = match change {
            Change::Ingress(ingress) => {
                let view = self.classes_view();
                return groups_of(ingress, &view.context(ingress_class_flag))
                    .into_iter()
                    .collect();
            }
            Change::Service(service) => ingresses
                .iter()
                .filter(|i| i.metadata.namespace == service.namespace)
                .filter(|i| names_service(i, &service.name))
                .collect(),
            Change::Class(class) => {
                let classes = class_names_of(class);
                ingresses
                    .iter()
                    .filter(|i| classes.contains(&class_name(i)))
                    .collect()
            }
            Change::Params(name) => {
                let classes: BTreeSet<Option<String>> = self
                    .classes
                    .state()
                    .iter()
                    .filter(|class| {
                        class
                            .spec
                            .as_ref()
                            .and_then(|s| s.parameters.as_ref())
                            .is_some_and(|p| p.kind == "IngressClassParams" && &p.name == name)
                    })
                    .flat_map(|class| class_names_of(class))
                    .collect();
                ingresses
                    .iter()
                    .filter(|i| classes.contains(&class_name(i)))
                    .collect()
            }
            Change::Binding => return BTreeSet::new(),
            Change::Namespace(name) => ingresses
                .iter()
                .filter(|i| i.metadata.namespace.as_deref() == Some(name.as_str()))
                .collect(),
        };
        if concerned.is_empty() {
            return BTreeSet::new();
        }
        let view = self.classes_view();
        let context = view.context(ingress_class_flag);
        concerned
            .into_iter()
            .flat_map(|ingress| groups_of(ingress, &context))
            .collect()
    }
}

/// The class an Ingress names (`None`: none, the default class applies).
fn class_name(ingress: &Ingress) -> Option<String> {
    ingress
        .spec
        .as_ref()
        .and_then(|s| s.ingress_class_name.clone())
}

/// The class names whose Ingresses a change of `class` concerns: its own, and `None` (no class
/// named) when it is the default class.
fn class_names_of(class: &IngressClass) -> Vec<Option<String>> {
    let mut names = vec![class.metadata.name.clone()];
    let default = class
        .annotations()
        .get("ingressclass.kubernetes.io/is-default-class")
        .is_some_and(|v| v == "true");
    if default {
        names.push(None);
    }
    names
}

/// Classes, params and namespace labels, owned, for a [`ClassContext`].
pub struct ClassesView {
    pub classes: Vec<IngressClass>,
    pub params: Vec<IngressClassParams>,
    pub namespace_labels: BTreeMap<String, BTreeMap<String, String>>,
}

impl ClassesView {
    pub fn context<'a>(&'a self, ingress_class_flag: &'a str) -> ClassContext<'a> {
        ClassContext {
            ingress_class_flag,
            classes: &self.classes,
            params: &self.params,
            namespace_labels: &self.namespace_labels,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::runtime::reflector::store::Writer;
    use serde_json::json;

    fn filled<K>(objects: Vec<K>) -> Store<K>
    where
        K: kube::Resource<DynamicType = ()> + Clone + 'static,
    {
        let mut writer: Writer<K> = Writer::default();
        for object in objects {
            writer.apply_watcher_event(&watcher::Event::Apply(object));
        }
        writer.as_reader()
    }

    fn ingress(name: &str, class: Option<&str>, group: Option<&str>, service: &str) -> Ingress {
        let annotations = match group {
            Some(group) => json!({"alb.ingress.kubernetes.io/group.name": group}),
            None => json!({}),
        };
        serde_json::from_value(json!({
            "metadata": {"namespace": "shop", "name": name, "annotations": annotations},
            "spec": {"ingressClassName": class, "rules": [{"http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": service, "port": {"number": 80}}}}
            ]}}]}
        }))
        .unwrap()
    }

    fn class(name: &str, default: bool, params: Option<&str>) -> IngressClass {
        let parameters = params
            .map(|p| json!({"apiGroup": "elbv2.k8s.aws", "kind": "IngressClassParams", "name": p}));
        serde_json::from_value(json!({
            "metadata": {"name": name, "annotations": if default {
                json!({"ingressclass.kubernetes.io/is-default-class": "true"})
            } else { json!({}) }},
            "spec": {"controller": "ingress.k8s.aws/alb", "parameters": parameters}
        }))
        .unwrap()
    }

    fn stores() -> IngressStores {
        IngressStores {
            ingresses: filled(vec![
                ingress("a", Some("alb"), Some("web"), "app"),
                ingress("b", Some("alb"), Some("web"), "app"),
                ingress("c", Some("alb"), None, "other"),
                ingress("d", None, None, "app"),
            ]),
            services: WatchedServices::filled(Vec::new()),
            classes: filled(vec![class("alb", true, Some("tuned"))]),
            params: filled(vec![serde_json::from_value(
                json!({"metadata": {"name": "tuned"}, "spec": {}}),
            )
            .unwrap()]),
            namespaces: filled(Vec::new()),
            bindings: filled(Vec::new()),
        }
    }

    fn names(groups: BTreeSet<GroupId>) -> Vec<String> {
        groups.into_iter().map(|g| g.stack_id()).collect()
    }

    fn service(namespace: &str, name: &str) -> ObjectRef<Service> {
        ObjectRef::new(name).within(namespace)
    }

    #[test]
    fn a_service_wakes_the_groups_of_the_ingresses_of_its_namespace_naming_it_once_each() {
        let stores = stores();
        let touched = stores.groups_touched(&Change::Service(service("shop", "app")), "alb");
        assert_eq!(names(touched), ["web", "shop/d"], "a and b share one group");
        let elsewhere = stores.groups_touched(&Change::Service(service("other", "app")), "alb");
        assert!(elsewhere.is_empty(), "{elsewhere:?}");
        let unnamed = stores.groups_touched(&Change::Service(service("shop", "db")), "alb");
        assert!(unnamed.is_empty());
    }

    #[test]
    fn a_default_class_or_its_params_wake_the_ingresses_naming_it_and_those_naming_none() {
        let stores = stores();
        let all = ["web", "shop/c", "shop/d"];
        let by_class = stores.groups_touched(&Change::Class(class("alb", true, None)), "alb");
        assert_eq!(names(by_class), all);
        assert_eq!(
            names(stores.groups_touched(&Change::Params("tuned".into()), "alb")),
            all
        );
        assert!(stores
            .groups_touched(&Change::Params("unused".into()), "alb")
            .is_empty());
    }

    #[test]
    fn an_ingress_wakes_its_own_groups_and_every_group_is_found_once_at_start() {
        let stores = stores();
        let moved = ingress("b", Some("alb"), Some("api"), "app");
        assert_eq!(
            names(stores.groups_touched(&Change::Ingress(moved), "alb")),
            ["api"]
        );
        assert_eq!(names(stores.all_groups("alb")), ["web", "shop/c", "shop/d"]);
    }
}
