//! The Service mutator (`mservice.elbv2.k8s.aws`): a new `type: LoadBalancer` Service without a
//! `loadBalancerClass` gets this controller's class, so it becomes an NLB of ours rather than a
//! Classic Load Balancer. On an update (when the webhook is configured for updates) a class the
//! old object had and the new one dropped is put back. Annotations are not read, as upstream.
//! Pure.

use k8s_openapi::api::core::v1::Service;

fn class_of(service: &Service) -> Option<&str> {
    service
        .spec
        .as_ref()
        .and_then(|s| s.load_balancer_class.as_deref())
        .filter(|class| !class.is_empty())
}

fn is_load_balancer(service: &Service) -> bool {
    service.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("LoadBalancer")
}

/// The class the Service should be given, if any: on CREATE (`old` absent) the controller's
/// `class`; on UPDATE the old object's class when the new one lost it.
pub fn class_to_set<'a>(
    service: &Service,
    old: Option<&'a Service>,
    class: &'a str,
) -> Option<&'a str> {
    if !is_load_balancer(service) || class_of(service).is_some() {
        return None;
    }
    match old {
        None => Some(class),
        Some(old) => class_of(old),
    }
}

/// The JSON patch setting `spec.loadBalancerClass`, or `None`.
pub fn load_balancer_class_patch(
    service: &Service,
    old: Option<&Service>,
    class: &str,
) -> Option<json_patch::Patch> {
    let class = class_to_set(service, old, class)?;
    let original = serde_json::to_value(service).ok()?;
    let mut mutated = original.clone();
    mutated
        .get_mut("spec")?
        .as_object_mut()?
        .insert("loadBalancerClass".into(), class.into());
    Some(json_patch::diff(&original, &mutated))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn service(spec: serde_json::Value) -> Service {
        serde_json::from_value(json!({"metadata": {"name": "web", "namespace": "a"}, "spec": spec}))
            .unwrap()
    }

    #[test]
    fn a_new_load_balancer_service_gets_the_class() {
        let new = service(json!({"type": "LoadBalancer", "ports": [{"port": 80}]}));
        let patch = load_balancer_class_patch(&new, None, "service.k8s.aws/nlb").unwrap();
        assert_eq!(
            serde_json::to_value(&patch).unwrap(),
            json!([{"op": "add", "path": "/spec/loadBalancerClass", "value": "service.k8s.aws/nlb"}])
        );
        let empty = service(json!({"type": "LoadBalancer", "loadBalancerClass": ""}));
        assert_eq!(class_to_set(&empty, None, "c"), Some("c"), "empty is none");
    }

    #[test]
    fn other_types_and_chosen_classes_are_left_alone() {
        let cluster_ip = service(json!({"type": "ClusterIP"}));
        assert_eq!(load_balancer_class_patch(&cluster_ip, None, "c"), None);
        let other = service(json!({"type": "LoadBalancer", "loadBalancerClass": "metallb"}));
        assert_eq!(load_balancer_class_patch(&other, None, "c"), None);
    }

    #[test]
    fn an_update_that_drops_the_class_gets_the_old_one_back() {
        let old =
            service(json!({"type": "LoadBalancer", "loadBalancerClass": "service.k8s.aws/nlb"}));
        let new = service(json!({"type": "LoadBalancer"}));
        assert_eq!(
            class_to_set(&new, Some(&old), "c"),
            Some("service.k8s.aws/nlb")
        );
        let never_had = service(json!({"type": "NodePort"}));
        assert_eq!(
            class_to_set(&new, Some(&never_had), "c"),
            None,
            "an existing Service turned LoadBalancer is not taken over on update"
        );
    }
}
