//! What an Ingress's status says (upstream's §7.1, plus a problem marker of ours): the ALB's
//! hostname in `status.loadBalancer.ingress[0]`, and, while the member is held or its group
//! cannot be built or deployed, an `error` on each of its listener ports there
//! (`ingress.k8s.aws/FailedBuildModel` or `ingress.k8s.aws/FailedDeployModel`).
//!
//! Why ports: the Ingress API has no conditions, and `ports[].error` is the one place in its
//! status that a real API server keeps for a controller's problem reports (a qualified
//! `domain/CamelCase` value). The message itself is in the Warning event of the same reason.
//! A member that reconciles again gets its plain hostname entry back.

use crate::ingress::group::Member;
use crate::ingress::listen::listen_ports;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Api, Patch, PatchParams};
use kube::ResourceExt;
use serde_json::{json, Value};

pub const FAILED_BUILD: &str = "ingress.k8s.aws/FailedBuildModel";
pub const FAILED_DEPLOY: &str = "ingress.k8s.aws/FailedDeployModel";

/// The status entry for `hostname` (kept from the current status when `None`) with `problem`
/// on each listener port of the Ingress.
pub fn status_entry(ingress: &Ingress, hostname: Option<&str>, problem: Option<&str>) -> Value {
    let hostname = hostname
        .map(str::to_string)
        .or_else(|| current_hostname(ingress));
    let mut entry = serde_json::Map::new();
    if let Some(hostname) = hostname {
        entry.insert("hostname".into(), json!(hostname));
    }
    if let Some(problem) = problem {
        let member = Member {
            ingress: ingress.clone(),
            params: None,
            order: 0,
        };
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
        entry.insert("ports".into(), Value::Array(ports));
    }
    Value::Object(entry)
}

fn current_hostname(ingress: &Ingress) -> Option<String> {
    ingress
        .status
        .as_ref()?
        .load_balancer
        .as_ref()?
        .ingress
        .as_ref()?
        .first()?
        .hostname
        .clone()
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

/// Writes the Ingress's status entry when it differs from what the status holds.
pub async fn publish_status(
    api: &Api<Ingress>,
    ingress: &Ingress,
    hostname: Option<&str>,
    problem: Option<&str>,
) -> Result<(), kube::Error> {
    let entry = status_entry(ingress, hostname, problem);
    let wanted = if entry.as_object().is_some_and(|e| e.is_empty()) {
        Value::Null
    } else {
        json!([entry])
    };
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
    fn a_held_member_keeps_its_hostname_and_marks_each_listener_port() {
        let held = ingress(
            json!({"alb.ingress.kubernetes.io/listen-ports": r#"[{"HTTP": 80}, {"HTTPS": 443}]"#}),
            json!({"loadBalancer": {"ingress": [{"hostname": "lb.example"}]}}),
        );
        assert_eq!(
            status_entry(&held, None, Some(FAILED_BUILD)),
            json!({"hostname": "lb.example", "ports": [
                {"port": 80, "protocol": "TCP", "error": FAILED_BUILD},
                {"port": 443, "protocol": "TCP", "error": FAILED_BUILD},
            ]})
        );
        assert_eq!(
            status_entry(&held, Some("lb.example"), None),
            json!({"hostname": "lb.example"}),
            "fixed: the marker goes"
        );
    }
}
