//! The dry run of Ingress groups: each group found in the manifests is loaded, then run through
//! the Ingress loop's own pipeline (`pipeline::ingress::run_group`) offline, against the facts.

use super::{typed, DryRunReport, Owner, OwnerProblem, OwnerStack};
use crate::config::ControllerConfig;
use crate::facts::CloudFacts;
use crate::pipeline::ingress::{run_group, GroupOutcome, GroupRun};
use crate::pipeline::{NoCluster, Offline};
use crate::service::Problem;
use k8s_openapi::api::core::v1::Service;
use serde_json::Value;
use std::collections::BTreeMap;

pub(super) fn dry_run_ingresses(
    objects: &[Value],
    config: &ControllerConfig,
    facts: &CloudFacts,
    report: &mut DryRunReport,
) {
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
        let oidc_clients = crate::ingress::auth::oidc_clients_from(
            &secrets,
            &crate::ingress::auth::oidc_secret_names(&group.members, &services),
        );
        let run = GroupRun {
            id: &id,
            group: &group,
            services: &services,
            oidc_clients: &oidc_clients,
            previous: &BTreeMap::new(),
        };
        let aws = Offline { facts, config };
        // Offline, every step is ready at once: no runtime is needed to drive the run.
        let outcome = futures::executor::block_on(run_group(
            &aws,
            &NoCluster,
            &run,
            std::time::SystemTime::UNIX_EPOCH,
        ));
        let run = match outcome {
            Ok(GroupOutcome::Built(run)) => run,
            Ok(GroupOutcome::Unbuildable(message)) => {
                report.problems.push(OwnerProblem {
                    owner,
                    location: "group".into(),
                    message,
                });
                continue;
            }
            Err(error) => {
                report.problems.push(OwnerProblem {
                    owner,
                    location: "existing AWS resources".into(),
                    message: error.to_string(),
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
                run.built
                    .held
                    .iter()
                    .map(|p| Problem::new(format!("Ingress {}", p.ingress), p.problem.clone())),
            )
            .collect();
        match run.deployed {
            Ok(deployed) => report.stacks.push(OwnerStack {
                owner,
                managed: true,
                stack: run.built.stack,
                warnings,
                changes: deployed.plan.changes,
            }),
            Err(error) => report.problems.push(super::plan_problem(owner, error)),
        }
    }
}
