//! Which Ingresses are ours (upstream's §1.1–1.3): the legacy `kubernetes.io/ingress.class`
//! annotation, else `spec.ingressClassName` or the cluster's default IngressClass, whose
//! controller must be `ingress.k8s.aws/alb`; its IngressClassParams, when it names some, must
//! exist and admit the Ingress's namespace. Pure: the caller hands in the classes, params and
//! namespace labels it has read.

use crate::crd::ingress_class_params::IngressClassParams;
use crate::targets::selector_matches;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use std::collections::BTreeMap;

/// The controller string of IngressClasses this controller serves.
pub const INGRESS_CONTROLLER: &str = "ingress.k8s.aws/alb";
pub const LEGACY_CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
pub const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";

/// What the classification reads besides the Ingress.
#[derive(Debug, Clone, Copy)]
pub struct ClassContext<'a> {
    /// `--ingress-class` (default `alb`).
    pub ingress_class_flag: &'a str,
    pub classes: &'a [IngressClass],
    pub params: &'a [IngressClassParams],
    /// Labels of each namespace, for `namespaceSelector`.
    pub namespace_labels: &'a BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Classification {
    /// Not for this controller (or being deleted).
    NotOurs,
    Ours {
        params: Option<Box<IngressClassParams>>,
    },
    /// The class or its params are missing or refuse the Ingress. Blocks a group the Ingress
    /// already belongs to (nothing is torn down by accident); otherwise the Ingress is ignored.
    InvalidClass(String),
    /// A cluster-wide problem (several default classes).
    Error(String),
}

fn default_class_name(classes: &[IngressClass]) -> Result<Option<String>, String> {
    let defaults: Vec<String> = classes
        .iter()
        .filter(|class| {
            class
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION))
                .is_some_and(|value| value == "true")
        })
        .filter_map(|class| class.metadata.name.clone())
        .collect();
    match defaults.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        several => Err(format!(
            "{} IngressClasses are marked default ({}); at most one may be",
            several.len(),
            several.join(", ")
        )),
    }
}

/// Classifies one Ingress.
pub fn classify(ingress: &Ingress, context: &ClassContext) -> Classification {
    if ingress.metadata.deletion_timestamp.is_some() {
        return Classification::NotOurs;
    }
    let legacy = ingress
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(LEGACY_CLASS_ANNOTATION));
    if let Some(value) = legacy {
        let flag = context.ingress_class_flag;
        // With an empty flag, upstream's comparison also admits an empty value.
        let ours = if flag.is_empty() {
            value == "alb" || value.is_empty()
        } else {
            value == flag
        };
        return if ours {
            Classification::Ours { params: None }
        } else {
            Classification::NotOurs
        };
    }
    let named = ingress
        .spec
        .as_ref()
        .and_then(|s| s.ingress_class_name.clone());
    let class_name = match named {
        Some(name) => name,
        None => match default_class_name(context.classes) {
            Err(problem) => return Classification::Error(problem),
            Ok(Some(name)) => name,
            Ok(None) if context.ingress_class_flag.is_empty() => {
                return Classification::Ours { params: None }
            }
            Ok(None) => return Classification::NotOurs,
        },
    };
    let Some(class) = context
        .classes
        .iter()
        .find(|c| c.metadata.name.as_deref() == Some(class_name.as_str()))
    else {
        return Classification::InvalidClass(format!("IngressClass {class_name} does not exist"));
    };
    let spec = class.spec.clone().unwrap_or_default();
    if spec.controller.as_deref() != Some(INGRESS_CONTROLLER) {
        return Classification::NotOurs;
    }
    let Some(reference) = spec.parameters else {
        return Classification::Ours { params: None };
    };
    if reference.api_group.as_deref() != Some("elbv2.k8s.aws")
        || reference.kind != "IngressClassParams"
    {
        return Classification::InvalidClass(format!(
            "IngressClass {class_name} references parameters of an unknown kind ({}/{})",
            reference.api_group.unwrap_or_default(),
            reference.kind
        ));
    }
    let Some(params) = context
        .params
        .iter()
        .find(|p| p.metadata.name.as_deref() == Some(reference.name.as_str()))
    else {
        return Classification::InvalidClass(format!(
            "IngressClassParams {} of IngressClass {class_name} does not exist",
            reference.name
        ));
    };
    if let Some(selector) = &params.spec.namespace_selector {
        let namespace = ingress.metadata.namespace.clone().unwrap_or_default();
        let admitted = context
            .namespace_labels
            .get(&namespace)
            .is_some_and(|labels| selector_matches(selector, labels));
        if !admitted {
            return Classification::InvalidClass(format!(
                "IngressClassParams {} does not admit namespace {namespace}",
                reference.name
            ));
        }
    }
    Classification::Ours {
        params: Some(Box::new(params.clone())),
    }
}
