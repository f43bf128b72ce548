//! Services → Network Load Balancers: which Services are ours, what their annotations say, and
//! the stack (NLB, listeners, target groups, managed security group) each one wants.
//!
//! All pure: `is_managed` and `build_service_stack` read a Service, the controller configuration
//! and [`crate::facts::CloudFacts`]; they never call Kubernetes or AWS. Problems in user input are
//! returned all at once, each naming the annotation (or field) and the rule it broke.

mod build;
mod listeners;
mod settings;
mod target_groups;

pub use build::{build_service_stack, BuiltStack, ServiceBuildInput};
pub use settings::{ServiceSettings, ANNOTATION_PREFIX};

use crate::config::ControllerConfig;
use k8s_openapi::api::core::v1::Service;

/// The finalizer the controller puts on the Services it manages.
pub const SERVICE_FINALIZER: &str = "service.k8s.aws/resources";

/// One problem with a Service's input: where it is (an annotation key or a field path) and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Problem {
    pub location: String,
    pub message: String,
}

impl Problem {
    pub fn new(location: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            location: location.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}: {}", self.location, self.message)
    }
}

fn annotation<'a>(service: &'a Service, suffix: &str) -> Option<&'a str> {
    service
        .metadata
        .annotations
        .as_ref()?
        .get(&format!("{ANNOTATION_PREFIX}{suffix}"))
        .map(String::as_str)
}

/// Upstream's selection rule: a live Service with our `loadBalancerClass`, or without a class and
/// with `aws-load-balancer-type: nlb-ip`, or `external` with an `ip`/`instance` target type.
pub fn is_managed(service: &Service, config: &ControllerConfig) -> bool {
    if service.metadata.deletion_timestamp.is_some() {
        return false;
    }
    let spec = service.spec.as_ref();
    if let Some(class) = spec.and_then(|spec| spec.load_balancer_class.as_deref()) {
        return class == config.load_balancer_class;
    }
    match annotation(service, "aws-load-balancer-type") {
        Some("nlb-ip") => true,
        Some("external") => matches!(
            annotation(service, "aws-load-balancer-nlb-target-type"),
            Some("ip" | "instance")
        ),
        _ => false,
    }
}

/// `namespace/name`, the stack id of a Service.
pub fn stack_id(service: &Service) -> String {
    format!(
        "{}/{}",
        service.metadata.namespace.as_deref().unwrap_or("default"),
        service.metadata.name.as_deref().unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn service(class: Option<&str>, annotations: serde_json::Value) -> Service {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "shop", "annotations": annotations},
            "spec": {"type": "LoadBalancer", "loadBalancerClass": class, "ports": [{"port": 80}]}
        }))
        .unwrap()
    }

    #[test]
    fn selection_follows_class_then_annotations() {
        let config = ControllerConfig::new("prod", "vpc-1");
        let prefix = ANNOTATION_PREFIX;
        let typed = |kind: &str, target: Option<&str>| {
            let mut annotations = serde_json::Map::new();
            annotations.insert(format!("{prefix}aws-load-balancer-type"), json!(kind));
            if let Some(target) = target {
                annotations.insert(
                    format!("{prefix}aws-load-balancer-nlb-target-type"),
                    json!(target),
                );
            }
            serde_json::Value::Object(annotations)
        };
        assert!(is_managed(
            &service(Some("service.k8s.aws/nlb"), json!({})),
            &config
        ));
        assert!(
            !is_managed(
                &service(Some("other.io/lb"), typed("nlb-ip", None)),
                &config
            ),
            "a foreign class wins"
        );
        assert!(is_managed(&service(None, typed("nlb-ip", None)), &config));
        assert!(is_managed(
            &service(None, typed("external", Some("ip"))),
            &config
        ));
        assert!(!is_managed(
            &service(None, typed("external", Some("IP"))),
            &config
        ));
        assert!(!is_managed(
            &service(None, typed("nlb", Some("ip"))),
            &config
        ));
        assert!(!is_managed(&service(None, json!({})), &config));
        let mut deleting = service(Some("service.k8s.aws/nlb"), json!({}));
        deleting.metadata.deletion_timestamp = Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Default::default()),
        );
        assert!(!is_managed(&deleting, &config));
        assert_eq!(stack_id(&deleting), "shop/web");
    }
}

#[cfg(test)]
mod golden_tests;
