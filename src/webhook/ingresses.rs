//! The Ingress validator (`vingress.elbv2.k8s.aws`). An Ingress that is not ours is admitted
//! untouched. One of ours is refused when its IngressClass is missing, when its class's
//! IngressClassParams do not admit its namespace, when its group name or `group.order` is
//! invalid, or when its own annotations could never build (conflicting or malformed settings,
//! listen ports, inbound CIDRs, `conditions.*`): the user learns at `kubectl apply` what the
//! loop would otherwise report as a held member.
//!
//! Never blocks what must go through: an object being deleted is admitted, and an update is
//! refused only for a problem the old object did not already have (so the controller can still
//! remove its finalizer from an Ingress that went bad while the webhook was off). Params that
//! do not exist yet are a warning, not a refusal (`kubectl apply -f dir/` may create them after
//! the Ingress). Pure: the caller hands in classes, params and namespace labels from its caches.

use crate::crd::ingress_class_params::IngressClassParams;
use crate::ingress::class::{classify, ClassContext, Classification};
use crate::ingress::group::{group_id_of, group_order};
use crate::ingress::member::Member;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};

/// The verdict on one Ingress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngressVerdict {
    Admit,
    AdmitWithWarning(String),
    Refuse(String),
}

/// The params an Ingress's class names but that do not exist.
fn missing_params(ingress: &Ingress, context: &ClassContext) -> Option<String> {
    let class_name = ingress.spec.as_ref()?.ingress_class_name.as_deref()?;
    let class: &IngressClass = context
        .classes
        .iter()
        .find(|c| c.metadata.name.as_deref() == Some(class_name))?;
    let reference = class.spec.as_ref()?.parameters.as_ref()?;
    let exists = context
        .params
        .iter()
        .any(|p: &IngressClassParams| p.metadata.name.as_deref() == Some(reference.name.as_str()));
    (!exists).then(|| {
        format!(
            "IngressClassParams {} of IngressClass {class_name} does not exist yet; this Ingress waits for it",
            reference.name
        )
    })
}

/// What is wrong with the Ingress as one of ours, if anything (`Ok(None)`: not ours).
fn problem_of(ingress: &Ingress, context: &ClassContext) -> Result<Option<String>, String> {
    let params = match classify(ingress, context) {
        Classification::NotOurs => return Ok(None),
        Classification::Error(problem) => return Err(problem),
        Classification::InvalidClass(problem) => {
            return match missing_params(ingress, context) {
                Some(_) => Ok(Some(String::new())),
                None => Err(problem),
            }
        }
        Classification::Ours { params } => params,
    };
    group_id_of(ingress, params.as_deref())
        .map_err(|e| format!("annotation alb.ingress.kubernetes.io/group.name: {e}"))?;
    let order = group_order(ingress)?;
    let member = Member::new(ingress.clone(), params, order);
    match crate::ingress::member_annotation_problem(&member) {
        Some(problem) => Err(problem),
        None => Ok(Some(String::new())),
    }
}

/// Judges `ingress` (being created when `old` is absent) against the cluster's `context`.
pub fn judge_ingress(
    ingress: &Ingress,
    old: Option<&Ingress>,
    context: &ClassContext,
) -> IngressVerdict {
    if ingress.metadata.deletion_timestamp.is_some() {
        return IngressVerdict::Admit;
    }
    let name = format!(
        "Ingress {}/{}",
        ingress.metadata.namespace.as_deref().unwrap_or_default(),
        ingress.metadata.name.as_deref().unwrap_or_default()
    );
    match problem_of(ingress, context) {
        Ok(_) => match missing_params(ingress, context) {
            Some(warning) => IngressVerdict::AdmitWithWarning(warning),
            None => IngressVerdict::Admit,
        },
        Err(problem) => {
            let old_problem = old.and_then(|old| problem_of(old, context).err());
            if old_problem.as_deref() == Some(problem.as_str()) {
                IngressVerdict::AdmitWithWarning(format!(
                    "{name}: {problem} (already so before this update)"
                ))
            } else {
                IngressVerdict::Refuse(format!("{name}: {problem}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn ingress(annotations: serde_json::Value, class: &str) -> Ingress {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "shop", "annotations": annotations},
            "spec": {"ingressClassName": class, "rules": [{"http": {"paths": [
                {"path": "/", "pathType": "Prefix",
                 "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}
        }))
        .unwrap()
    }

    fn class(name: &str, controller: &str, params: Option<&str>) -> IngressClass {
        let parameters = params
            .map(|p| json!({"apiGroup": "elbv2.k8s.aws", "kind": "IngressClassParams", "name": p}));
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"controller": controller, "parameters": parameters}
        }))
        .unwrap()
    }

    fn params(name: &str, selector: serde_json::Value) -> IngressClassParams {
        serde_json::from_value(json!({
            "apiVersion": "elbv2.k8s.aws/v1beta1", "kind": "IngressClassParams",
            "metadata": {"name": name}, "spec": {"namespaceSelector": selector}
        }))
        .unwrap()
    }

    fn judge(ingress: &Ingress, old: Option<&Ingress>) -> IngressVerdict {
        let classes = [
            class("alb", "ingress.k8s.aws/alb", None),
            class("team", "ingress.k8s.aws/alb", Some("team")),
            class("later", "ingress.k8s.aws/alb", Some("later")),
            class("nginx", "k8s.io/ingress-nginx", None),
        ];
        let all_params = [params("team", json!({"matchLabels": {"team": "yes"}}))];
        let labels = BTreeMap::from([("shop".to_string(), BTreeMap::new())]);
        let context = ClassContext {
            ingress_class_flag: "alb",
            classes: &classes,
            params: &all_params,
            namespace_labels: &labels,
        };
        judge_ingress(ingress, old, &context)
    }

    #[test]
    fn good_and_foreign_ingresses_are_admitted() {
        assert_eq!(
            judge(&ingress(json!({}), "alb"), None),
            IngressVerdict::Admit
        );
        let foreign = ingress(
            json!({"alb.ingress.kubernetes.io/scheme": "sideways"}),
            "nginx",
        );
        assert_eq!(
            judge(&foreign, None),
            IngressVerdict::Admit,
            "not ours: not judged"
        );
    }

    #[test]
    fn problems_of_ours_are_refused_naming_the_setting() {
        let cases = [
            (
                ingress(json!({}), "missing"),
                "IngressClass missing does not exist",
            ),
            (ingress(json!({}), "team"), "does not admit namespace shop"),
            (
                ingress(
                    json!({"alb.ingress.kubernetes.io/group.name": "Bad_Name"}),
                    "alb",
                ),
                "group.name",
            ),
            (
                ingress(json!({"alb.ingress.kubernetes.io/group.order": "x"}), "alb"),
                "group.order",
            ),
            (
                ingress(
                    json!({"alb.ingress.kubernetes.io/scheme": "sideways"}),
                    "alb",
                ),
                "scheme",
            ),
            (
                ingress(
                    json!({"alb.ingress.kubernetes.io/listen-ports": "[{\"HTTP\": \"x\"}]"}),
                    "alb",
                ),
                "listen-ports",
            ),
            (
                ingress(
                    json!({"alb.ingress.kubernetes.io/inbound-cidrs": "10.0.0.1/40"}),
                    "alb",
                ),
                "inbound-cidrs",
            ),
            (
                ingress(
                    json!({"alb.ingress.kubernetes.io/conditions.web": "[{\"field\": \"host-header\"}]"}),
                    "alb",
                ),
                "conditions.web",
            ),
        ];
        for (ingress, expected) in cases {
            match judge(&ingress, None) {
                IngressVerdict::Refuse(message) => {
                    assert!(
                        message.contains(expected),
                        "{message:?} should name {expected:?}"
                    );
                    assert!(message.starts_with("Ingress shop/web: "), "{message}");
                }
                other => panic!("{expected}: {other:?}"),
            }
        }
    }

    #[test]
    fn deletions_old_problems_and_missing_params_never_block() {
        let bad = ingress(
            json!({"alb.ingress.kubernetes.io/scheme": "sideways"}),
            "alb",
        );
        assert!(
            matches!(judge(&bad, Some(&bad)), IngressVerdict::AdmitWithWarning(_)),
            "an update keeping an old problem"
        );
        let good = ingress(json!({}), "alb");
        assert!(
            matches!(judge(&bad, Some(&good)), IngressVerdict::Refuse(_)),
            "a new problem"
        );
        let mut deleting = bad.clone();
        deleting.metadata.deletion_timestamp = Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Default::default()),
        );
        assert_eq!(judge(&deleting, None), IngressVerdict::Admit);
        match judge(&ingress(json!({}), "later"), None) {
            IngressVerdict::AdmitWithWarning(warning) => {
                assert!(warning.contains("IngressClassParams later"))
            }
            other => panic!("{other:?}"),
        }
    }
}
