//! What an Ingress's status says (upstream's §7.1, plus a problem marker of ours): the ALB's
//! hostname in `status.loadBalancer.ingress[0]`, and, while the member is held or its group
//! cannot be built or deployed, an `error` on each of its listener ports there
//! (`ingress.k8s.aws/FailedBuildModel` or `ingress.k8s.aws/FailedDeployModel`).
//!
//! Why ports: the Ingress API has no conditions, and `ports[].error` is the one place in its
//! status that a real API server keeps for a controller's problem reports (a qualified
//! `domain/CamelCase` value). The message itself is in the Warning event of the same reason.
//! A member that reconciles again gets its plain entries back: the ALB's hostname with the
//! group's listener ports, and the frontend NLB's hostname when the group has one.

use crate::ingress::listen::listen_ports;
use crate::ingress::member::Member;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, Patch, PatchParams};
use kube::ResourceExt;
use serde_json::{json, Value};

pub const FAILED_BUILD: &str = "ingress.k8s.aws/FailedBuildModel";
pub const FAILED_DEPLOY: &str = "ingress.k8s.aws/FailedDeployModel";

/// Where a deployed group's load balancers answer.
#[derive(Debug, Clone, Copy)]
pub struct Addresses<'a> {
    /// The ALB's DNS name, lower-cased.
    pub hostname: &'a str,
    /// The group's listener ports, ascending.
    pub ports: &'a [i32],
    /// The frontend NLB's DNS name, lower-cased, when the group has one.
    pub frontend_hostname: Option<&'a str>,
}

/// What a member's status reports.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// Its group deployed with it.
    Deployed(Addresses<'a>),
    /// It is held, or its group failed: this problem marks its listener ports.
    Problem(&'a str),
}

/// The `status.loadBalancer.ingress` entries for `outcome` (`Null` for none). Deployed: the
/// ALB's hostname with the group's listener ports (`protocol` empty, as upstream), then the
/// frontend NLB's hostname. A problem keeps the current hostname (and any frontend entry) and
/// marks each of the Ingress's own listener ports.
pub fn status_entries(ingress: &Ingress, outcome: Outcome) -> Value {
    let mut entries = Vec::new();
    match outcome {
        Outcome::Deployed(addresses) => {
            let ports: Vec<Value> = addresses
                .ports
                .iter()
                .map(|port| json!({"port": port, "protocol": ""}))
                .collect();
            let mut entry = json!({"hostname": addresses.hostname});
            if !ports.is_empty() {
                entry["ports"] = Value::Array(ports);
            }
            entries.push(entry);
            if let Some(frontend) = addresses.frontend_hostname {
                entries.push(json!({"hostname": frontend}));
            }
        }
        Outcome::Problem(problem) => {
            let member = Member::new(ingress.clone(), None, 0);
            let mut ports: Vec<i32> = listen_ports(&member)
                .map(|ports| ports.into_keys().collect())
                .unwrap_or_default();
            if ports.is_empty() {
                ports.push(80);
            }
            let ports: Vec<Value> = ports
                .into_iter()
                .map(|port| json!({"port": port, "protocol": "TCP", "error": problem}))
                .collect();
            let mut current = current_hostnames(ingress).into_iter();
            let mut entry = serde_json::Map::new();
            if let Some(hostname) = current.next() {
                entry.insert("hostname".into(), json!(hostname));
            }
            entry.insert("ports".into(), Value::Array(ports));
            entries.push(Value::Object(entry));
            entries.extend(current.map(|hostname| json!({"hostname": hostname})));
        }
    }
    Value::Array(entries)
}

fn current_hostnames(ingress: &Ingress) -> Vec<String> {
    ingress
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.hostname.clone())
        .collect()
}

fn current_entries(ingress: &Ingress) -> Value {
    ingress
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .map(|entries| serde_json::to_value(entries).unwrap_or(Value::Null))
        .unwrap_or(Value::Null)
}

/// Writes the Ingress's status entries when they differ from what the status holds.
pub async fn publish_status(
    api: &Api<Ingress>,
    ingress: &Ingress,
    outcome: Outcome<'_>,
) -> Result<(), kube::Error> {
    let wanted = status_entries(ingress, outcome);
    if wanted == current_entries(ingress) {
        return Ok(());
    }
    let patch = json!({"status": {"loadBalancer": {"ingress": wanted}}});
    api.patch_status(
        &ingress.name_any(),
        &PatchParams::default(),
        &Patch::Merge(patch),
    )
    .await?;
    Ok(())
}

/// Where the group's desired stack is shown (gate `IngressPlanAnnotation`).
pub const PLAN_ANNOTATION: &str = "alb.ingress.kubernetes.io/dry-run-plan";

/// The members whose plan annotation must change, with its new value (`None`: removed): the
/// first member shows `plan` (the desired stack as JSON, when the gate is on), the others none.
pub fn plan_annotation_changes<'a>(
    members: &[&'a Ingress],
    plan: Option<&str>,
) -> Vec<(&'a Ingress, Option<String>)> {
    members
        .iter()
        .enumerate()
        .filter_map(|(index, ingress)| {
            let wanted = plan.filter(|_| index == 0).map(str::to_string);
            let current = ingress.annotations().get(PLAN_ANNOTATION).cloned();
            (current != wanted).then_some((*ingress, wanted))
        })
        .collect()
}

/// Writes the plan annotation changes; a failure is only logged (as upstream).
pub async fn publish_plan_annotations(
    api_of: impl Fn(&Ingress) -> Api<Ingress>,
    changes: Vec<(&Ingress, Option<String>)>,
) {
    for (ingress, value) in changes {
        let patch = json!({"metadata": {"annotations": {PLAN_ANNOTATION: value}}});
        let written = api_of(ingress)
            .patch(
                &ingress.name_any(),
                &PatchParams::default(),
                &Patch::Merge(patch),
            )
            .await;
        if let Err(error) = written {
            tracing::warn!(ingress = %ingress.name_any(), %error, "writing the plan annotation failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ingress(annotations: Value, status: Value) -> Ingress {
        serde_json::from_value(json!({
            "metadata": {"name": "a", "namespace": "n", "annotations": annotations},
            "status": status,
        }))
        .unwrap()
    }

    #[test]
    fn a_held_member_keeps_its_hostnames_and_marks_each_listener_port() {
        let held = ingress(
            json!({"alb.ingress.kubernetes.io/listen-ports": r#"[{"HTTP": 80}, {"HTTPS": 443}]"#}),
            json!({"loadBalancer": {"ingress": [{"hostname": "lb.example"}, {"hostname": "nlb.example"}]}}),
        );
        assert_eq!(
            status_entries(&held, Outcome::Problem(FAILED_BUILD)),
            json!([{"hostname": "lb.example", "ports": [
                {"port": 80, "protocol": "TCP", "error": FAILED_BUILD},
                {"port": 443, "protocol": "TCP", "error": FAILED_BUILD},
            ]}, {"hostname": "nlb.example"}])
        );
        let fixed = Addresses {
            hostname: "lb.example",
            ports: &[],
            frontend_hostname: None,
        };
        assert_eq!(
            status_entries(&held, Outcome::Deployed(fixed)),
            json!([{"hostname": "lb.example"}]),
            "fixed: the marker goes, and so does a frontend the group no longer has"
        );
    }

    #[test]
    fn a_deployed_member_shows_the_groups_ports_and_the_frontend_hostname() {
        let member = ingress(json!({}), json!({}));
        let addresses = Addresses {
            hostname: "alb.example",
            ports: &[80, 443],
            frontend_hostname: Some("nlb.example"),
        };
        assert_eq!(
            status_entries(&member, Outcome::Deployed(addresses)),
            json!([
                {"hostname": "alb.example", "ports": [
                    {"port": 80, "protocol": ""}, {"port": 443, "protocol": ""},
                ]},
                {"hostname": "nlb.example"},
            ])
        );
    }

    #[test]
    fn the_plan_shows_on_the_first_member_only_and_goes_when_the_gate_is_off() {
        let first = ingress(json!({}), json!({}));
        let second = ingress(json!({PLAN_ANNOTATION: "{\"old\":1}"}), json!({}));
        let changes = plan_annotation_changes(&[&first, &second], Some("{}"));
        let changed: Vec<Option<String>> = changes.into_iter().map(|(_, v)| v).collect();
        assert_eq!(changed, [Some("{}".to_string()), None]);
        let shown = ingress(json!({PLAN_ANNOTATION: "{}"}), json!({}));
        assert!(
            plan_annotation_changes(&[&shown], Some("{}")).is_empty(),
            "unchanged: no write"
        );
        let off = plan_annotation_changes(&[&shown, &first], None);
        assert_eq!(off.len(), 1, "only the member holding one is patched");
        assert_eq!(off[0].1, None);
    }
}
