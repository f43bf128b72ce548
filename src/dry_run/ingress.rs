//! The dry run of Ingress groups: each group found in the manifests is loaded, built and planned
//! as the Ingress loop would, against the facts.

use super::{typed, DryRunReport, Owner, OwnerProblem, OwnerStack};
use crate::config::ControllerConfig;
use crate::facts::CloudFacts;
use crate::naming::backend_security_group_name;
use crate::observe::{observe_from_facts, StackIdentity};
use crate::plan::frontend::plan_stack;
use crate::plan::PlanContext;
use crate::service::Problem;
use k8s_openapi::api::core::v1::Service;
use serde_json::Value;

pub(super) fn dry_run_ingresses(
    objects: &[Value],
    config: &ControllerConfig,
    facts: &CloudFacts,
    report: &mut DryRunReport,
) {
    use crate::ingress::build::{build_ingress_stack, IngressBuildInput};
    use crate::ingress::class::ClassContext;
    use crate::ingress::group::{groups_of, ingress_key, load_group, GroupId};
    let ingresses: Vec<k8s_openapi::api::networking::v1::Ingress> =
        typed(objects, "networking.k8s.io/v1", "Ingress", report);
    if ingresses.is_empty() {
        return;
    }
    let mut classes: Vec<k8s_openapi::api::networking::v1::IngressClass> =
        typed(objects, "networking.k8s.io/v1", "IngressClass", report);
    if !classes
        .iter()
        .any(|c| c.metadata.name.as_deref() == Some("alb"))
    {
        if let Ok(alb) = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "alb"}, "spec": {"controller": crate::ingress::class::INGRESS_CONTROLLER}
        })) {
            classes.push(alb);
        }
    }
    let params: Vec<crate::crd::ingress_class_params::IngressClassParams> = typed(
        objects,
        "elbv2.k8s.aws/v1beta1",
        "IngressClassParams",
        report,
    );
    let services: Vec<Service> = typed(objects, "v1", "Service", report);
    let secrets: Vec<k8s_openapi::api::core::v1::Secret> = typed(objects, "v1", "Secret", report);
    let namespaces: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>> =
        objects
            .iter()
            .filter(|o| o["kind"] == "Namespace")
            .filter_map(|o| {
                let name = o["metadata"]["name"].as_str()?.to_string();
                let labels =
                    serde_json::from_value(o["metadata"]["labels"].clone()).unwrap_or_default();
                Some((name, labels))
            })
            .collect();
    let context = ClassContext {
        ingress_class_flag: "alb",
        classes: &classes,
        params: &params,
        namespace_labels: &namespaces,
    };
    let mut groups: Vec<GroupId> = ingresses
        .iter()
        .flat_map(|ingress| groups_of(ingress, &context))
        .collect();
    groups.sort();
    groups.dedup();
    for id in groups {
        let owner = match &id {
            GroupId::Explicit(name) => Owner {
                kind: "IngressGroup".into(),
                namespace: String::new(),
                name: name.clone(),
            },
            GroupId::Implicit { namespace, name } => Owner {
                kind: "Ingress".into(),
                namespace: namespace.clone(),
                name: name.clone(),
            },
        };
        let group = match load_group(&id, &ingresses, &context) {
            Ok(group) => group,
            Err(error) => {
                report.problems.push(OwnerProblem {
                    owner,
                    location: "group".into(),
                    message: error.to_string(),
                });
                continue;
            }
        };
        // As the controller: a member leaving while it keeps deletion protection on fails its
        // group, nothing planned.
        if let Err(message) = crate::ingress::group::refuse_protected_deletions(&group.leaving) {
            report.problems.push(OwnerProblem {
                owner,
                location: "load-balancer-attributes".into(),
                message,
            });
            continue;
        }
        let identity = StackIdentity::for_ingress(&config.cluster_name, &id.stack_id());
        let observed = observe_from_facts(facts, &identity, &config.vpc_id);
        let existing = observed.existing_load_balancer();
        let held_at_load: Vec<String> = group.held.iter().map(|(i, _)| ingress_key(i)).collect();
        let oidc_clients = crate::ingress::auth::oidc_clients_from(
            &secrets,
            &crate::ingress::auth::oidc_secret_names(&group.members, &services),
        );
        let built = match build_ingress_stack(&IngressBuildInput {
            oidc_clients: &oidc_clients,
            group_id: &id,
            members: &group.members,
            services: &services,
            config,
            facts,
            existing: existing.as_ref(),
            previous: &std::collections::BTreeMap::new(),
            held_at_load: &held_at_load,
        }) {
            Ok(built) => built,
            Err(message) => {
                report.problems.push(OwnerProblem {
                    owner,
                    location: "group".into(),
                    message,
                });
                continue;
            }
        };
        let warnings: Vec<Problem> = group
            .held
            .iter()
            .map(|(ingress, problem)| {
                Problem::new(format!("Ingress {}", ingress_key(ingress)), problem.clone())
            })
            .chain(
                built
                    .held
                    .iter()
                    .map(|p| Problem::new(format!("Ingress {}", p.ingress), p.problem.clone())),
            )
            .collect();
        let backend_name = backend_security_group_name(&config.cluster_name);
        let plan_context = PlanContext::from_config(config, &backend_name);
        let (main_observed, front_observed) = observed.split_frontend();
        match plan_stack(&built.stack, &main_observed, &front_observed, &plan_context) {
            Ok(planned) => {
                // Certificates are requested before anything else (facts carry none, so
                // nothing is overdue whatever the time).
                let mut changes = crate::plan::certificates::plan_certificate_requests(
                    &built.stack.certificates,
                    &observed.certificates,
                    std::time::SystemTime::UNIX_EPOCH,
                );
                changes.extend(planned.changes());
                report.stacks.push(OwnerStack {
                    owner,
                    managed: true,
                    stack: built.stack,
                    warnings,
                    changes,
                })
            }
            Err(error) => report.problems.push(OwnerProblem {
                owner,
                location: "existing AWS resources".into(),
                message: error.to_string(),
            }),
        }
    }
}
