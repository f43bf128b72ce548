//! The offline dry run behind `plan`: every Service and every Ingress group in a set of manifests
//! is put through the controller's own pipeline (`pipeline`, offline: observed and discovered
//! from AWS facts given as data, stopping at the plan), and the result is reported per owner — the desired stack, its warnings (held Ingress
//! members), or every problem with its input. Ingress groups read the manifests' IngressClasses
//! and IngressClassParams (an IngressClass `alb` for this controller is assumed when none is
//! given) and the Services their backends name.
//!
//! No Kubernetes, no AWS, no clock. Reading files and printing is the binary's job; the
//! table and JSON renderings live here so tests can check them.

use crate::config::ControllerConfig;
use crate::facts::CloudFacts;
use crate::model::{SecurityGroupRef, Stack};
use crate::pipeline::service::{run_service, ServiceOutcome};
use crate::pipeline::{NoCluster, Offline};
use crate::plan::Change;
use crate::service::{is_managed, Problem};
use k8s_openapi::api::core::v1::Service;
use serde::Serialize;
use serde_json::Value;
use std::fmt::Write;
use std::sync::Arc;

mod ingress;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Owner {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for Owner {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OwnerStack {
    pub owner: Owner,
    /// Whether this controller manages the object; unmanaged objects get an empty stack.
    pub managed: bool,
    pub stack: Stack,
    pub warnings: Vec<Problem>,
    /// What would change in AWS, given the existing resources in the facts (all creates when
    /// the facts hold none of this stack's resources).
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OwnerProblem {
    pub owner: Owner,
    pub location: String,
    pub message: String,
}

/// What `plan -o json` prints (schema in `docs/plan.md`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DryRunReport {
    pub stacks: Vec<OwnerStack>,
    pub problems: Vec<OwnerProblem>,
}

fn owner_of(object: &Value) -> Owner {
    Owner {
        kind: object["kind"].as_str().unwrap_or_default().to_string(),
        namespace: object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_string(),
        name: object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    }
}

/// Builds the stack of every Service and every Ingress group among `objects`.
pub fn dry_run(objects: &[Value], config: &ControllerConfig, facts: &CloudFacts) -> DryRunReport {
    let mut report = dry_run_services(objects, config, facts);
    ingress::dry_run_ingresses(objects, config, facts, &mut report);
    report
}

pub(super) fn typed<T: serde::de::DeserializeOwned>(
    objects: &[Value],
    api_version: &str,
    kind: &str,
    report: &mut DryRunReport,
) -> Vec<T> {
    let mut found = Vec::new();
    for object in objects
        .iter()
        .filter(|o| o["kind"] == kind && o["apiVersion"] == api_version)
    {
        let mut object = object.clone();
        if kind != "IngressClass" && kind != "IngressClassParams" {
            // A `metadata` that is not a map is left as it is: it fails to parse below.
            if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                if metadata.get("namespace").is_none_or(Value::is_null) {
                    metadata.insert("namespace".into(), Value::from("default"));
                }
            } else if object.get("metadata").is_none() {
                object["metadata"] = serde_json::json!({"namespace": "default"});
            }
        }
        match serde_json::from_value(object.clone()) {
            Ok(typed) => found.push(typed),
            Err(error) => report.problems.push(OwnerProblem {
                owner: owner_of(&object),
                location: "manifest".into(),
                message: format!("not a valid {kind}: {error}"),
            }),
        }
    }
    found
}

fn dry_run_services(
    objects: &[Value],
    config: &ControllerConfig,
    facts: &CloudFacts,
) -> DryRunReport {
    let mut report = DryRunReport::default();
    for object in objects
        .iter()
        .filter(|o| o["kind"] == "Service" && o["apiVersion"] == "v1")
    {
        let owner = owner_of(object);
        let mut service: Service = match serde_json::from_value(object.clone()) {
            Ok(service) => service,
            Err(error) => {
                let message = format!("not a valid Service: {error}");
                report.problems.push(OwnerProblem {
                    owner,
                    location: "manifest".into(),
                    message,
                });
                continue;
            }
        };
        service
            .metadata
            .namespace
            .get_or_insert_with(|| "default".to_string());
        let aws = Offline { facts, config };
        // Offline, every step is ready at once: no runtime is needed to drive the run.
        let outcome = futures::executor::block_on(run_service(&aws, &NoCluster, &service, None));
        let run = match outcome {
            Ok(ServiceOutcome::Built(run)) => run,
            Ok(ServiceOutcome::Invalid(problems)) => {
                report
                    .problems
                    .extend(problems.into_iter().map(|problem| OwnerProblem {
                        owner: owner.clone(),
                        location: problem.location,
                        message: problem.message,
                    }));
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
        match run.deployed {
            Ok(deployed) => report.stacks.push(OwnerStack {
                owner,
                managed: is_managed(&service, config),
                stack: Arc::unwrap_or_clone(run.stack),
                warnings: run.warnings,
                changes: deployed.plan.changes,
            }),
            Err(error) => report.problems.push(plan_problem(owner, error)),
        }
    }
    report
}

/// A stack that cannot be planned against the existing AWS resources.
pub(super) fn plan_problem(owner: Owner, error: crate::deploy::DeployError) -> OwnerProblem {
    OwnerProblem {
        owner,
        location: "existing AWS resources".into(),
        message: match error {
            crate::deploy::DeployError::Plan(error) => error.to_string(),
            other => other.to_string(),
        },
    }
}

fn security_group_label(group: &SecurityGroupRef) -> String {
    match group {
        SecurityGroupRef::Managed => "managed".into(),
        SecurityGroupRef::Backend => "shared backend".into(),
        SecurityGroupRef::Id(id) => id.clone(),
    }
}

fn render_stack(out: &mut String, entry: &OwnerStack) -> std::fmt::Result {
    let stack = &entry.stack;
    writeln!(out, "{}  (stack {})", entry.owner, stack.id)?;
    let Some(lb) = &stack.load_balancer else {
        let reason = if entry.managed {
            "nothing to create"
        } else {
            "not managed by this controller"
        };
        writeln!(out, "  {reason}")?;
        return write_changes(out, entry);
    };
    render_load_balancer(out, "load balancer", lb)?;
    render_listeners(out, &stack.listeners)?;
    let mut rules: Vec<_> = stack.rules.values().collect();
    rules.sort_by_key(|rule| (rule.port, rule.priority));
    for rule in rules {
        let conditions: Vec<String> = rule
            .conditions
            .iter()
            .map(|c| serde_json::to_string(c).unwrap_or_default())
            .collect();
        let actions: Vec<String> = rule
            .actions
            .iter()
            .map(|a| match a {
                crate::model::ListenerAction::Forward { .. } => a.target_groups().join(", "),
                crate::model::ListenerAction::Redirect(r) => format!("redirect {}", r.status_code),
                crate::model::ListenerAction::FixedResponse(f) => {
                    format!("fixed {}", f.status_code)
                }
                crate::model::ListenerAction::AuthenticateOidc(o) => {
                    format!("authenticate OIDC {}", o.issuer)
                }
                crate::model::ListenerAction::AuthenticateCognito(c) => {
                    format!("authenticate Cognito {}", c.user_pool_domain)
                }
                crate::model::ListenerAction::JwtValidation(j) => {
                    format!("validate JWT from {}", j.issuer)
                }
            })
            .collect();
        writeln!(
            out,
            "  rule {}:{:<4} {} → {}",
            rule.port,
            rule.priority,
            conditions.join(" "),
            actions.join("; ")
        )?;
    }
    render_target_groups(out, &stack.target_groups)?;
    for (id, certificate) in &stack.certificates {
        writeln!(
            out,
            "  certificate     {id}  {} ({})",
            certificate.subject_alternative_names.join(", "),
            if certificate.certificate_authority_arn.is_some() {
                "private"
            } else {
                "Amazon-issued, DNS validation"
            }
        )?;
    }
    if let Some(frontend) = &stack.frontend_nlb {
        render_load_balancer(out, "frontend NLB", &frontend.load_balancer)?;
        render_listeners(out, &frontend.listeners)?;
        render_target_groups(out, &frontend.target_groups)?;
        for (id, port) in &frontend.alb_ports {
            writeln!(out, "                  {id} holds the ALB on port {port}")?;
        }
    }
    if let Some(group) = &stack.security_group {
        let rules: Vec<String> = group
            .ingress
            .iter()
            .map(|r| {
                format!(
                    "{} {}-{} from {}",
                    r.protocol, r.from_port, r.to_port, r.source
                )
            })
            .collect();
        writeln!(
            out,
            "  security group  {}  inbound: {}",
            group.name,
            rules.join("; ")
        )?;
    }
    for warning in &entry.warnings {
        writeln!(out, "  warning         {warning}")?;
    }
    write_changes(out, entry)
}

fn render_load_balancer(
    out: &mut String,
    label: &str,
    lb: &crate::model::LoadBalancerSpec,
) -> std::fmt::Result {
    writeln!(
        out,
        "  {label:<15} {}  {}, {}, {}",
        lb.name,
        lb.load_balancer_type.as_str(),
        lb.scheme.as_str(),
        lb.ip_address_type.as_str()
    )?;
    let subnets: Vec<String> = lb
        .subnet_mappings
        .iter()
        .map(|m| {
            let extra: Vec<&str> = [
                m.allocation_id.as_deref(),
                m.private_ipv4_address.as_deref(),
                m.ipv6_address.as_deref(),
            ]
            .into_iter()
            .flatten()
            .collect();
            if extra.is_empty() {
                m.subnet_id.clone()
            } else {
                format!("{} ({})", m.subnet_id, extra.join(", "))
            }
        })
        .collect();
    writeln!(out, "                  subnets: {}", subnets.join(", "))?;
    let groups: Vec<String> = lb
        .security_groups
        .iter()
        .map(security_group_label)
        .collect();
    writeln!(
        out,
        "                  security groups: {}",
        if groups.is_empty() {
            "none".into()
        } else {
            groups.join(", ")
        }
    )?;
    for (key, value) in &lb.attributes {
        writeln!(out, "                  attribute {key}={value}")?;
    }
    Ok(())
}

fn render_listeners(
    out: &mut String,
    listeners: &std::collections::BTreeMap<String, crate::model::ListenerSpec>,
) -> std::fmt::Result {
    let mut listeners: Vec<_> = listeners.values().collect();
    listeners.sort_by_key(|listener| listener.port);
    for listener in listeners {
        let targets: Vec<String> = match &listener.default_action {
            crate::model::ListenerAction::Redirect(r) => {
                vec![format!(
                    "redirect to {} {}",
                    r.port.clone().unwrap_or_default(),
                    r.status_code
                )]
            }
            crate::model::ListenerAction::FixedResponse(f) => {
                vec![format!("fixed {}", f.status_code)]
            }
            forward => forward
                .target_groups()
                .iter()
                .map(|t| t.to_string())
                .collect(),
        };
        let tls = listener
            .ssl_policy
            .as_ref()
            .map(|policy| {
                format!(
                    "  [{policy}, {} certificate(s)]",
                    listener.certificates.len()
                )
            })
            .unwrap_or_default();
        writeln!(
            out,
            "  listener {:<6} {} → {}{tls}",
            listener.port,
            listener.protocol,
            targets.join(", ")
        )?;
    }
    Ok(())
}

fn render_target_groups(
    out: &mut String,
    groups: &std::collections::BTreeMap<String, crate::model::TargetGroupSpec>,
) -> std::fmt::Result {
    for (id, group) in groups {
        let check = &group.health_check;
        writeln!(
            out,
            "  target group    {id}  {}  {} port {} ({} targets), health {} {} every {}s",
            group.name,
            group.protocol,
            group.port,
            group.target_type.as_str(),
            check.protocol,
            check.port,
            check.interval_seconds
        )?;
    }
    Ok(())
}

fn write_changes(out: &mut String, entry: &OwnerStack) -> std::fmt::Result {
    if entry.changes.is_empty() {
        return if entry.stack.is_empty() {
            Ok(())
        } else {
            writeln!(out, "  changes         none: AWS already matches")
        };
    }
    writeln!(out, "  changes:")?;
    for change in &entry.changes {
        writeln!(out, "    {change}")?;
    }
    Ok(())
}

/// The readable form of a report's stacks: one block per object.
pub fn render_table(report: &DryRunReport) -> String {
    let mut out = String::new();
    for entry in &report.stacks {
        // Writing into a String cannot fail.
        let _ = render_stack(&mut out, entry);
        out.push('\n');
    }
    out
}

/// One line per problem, naming the object and the annotation or field.
pub fn render_problems(report: &DryRunReport) -> String {
    report
        .problems
        .iter()
        .map(|problem| {
            format!(
                "error: {}: {}: {}\n",
                problem.owner, problem.location, problem.message
            )
        })
        .collect()
}

#[cfg(test)]
mod tests;
