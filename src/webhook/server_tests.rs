//! The webhook server on AdmissionReview JSON, as the API server sends and reads it.

use super::caches::WebhookCaches;
use super::server::*;
use super::*;
use crate::cloud::simulator::Simulator;
use base64::Engine;
use serde_json::{json, Value};

fn admission() -> Admission<Simulator> {
    let binding = serde_json::from_value(json!({
        "apiVersion": "elbv2.k8s.aws/v1beta1", "kind": "TargetGroupBinding",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"targetGroupARN": "arn:tg", "targetType": "ip", "serviceRef": {"name": "web", "port": 80}}
    }))
    .unwrap();
    let service = serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "shop"}, "spec": {"selector": {"app": "web"}}
    }))
    .unwrap();
    let class = serde_json::from_value(json!({
        "metadata": {"name": "alb"}, "spec": {"controller": "ingress.k8s.aws/alb"}
    }))
    .unwrap();
    Admission {
        caches: WebhookCaches::from_objects(
            vec![binding],
            vec![service],
            vec![class],
            vec![],
            vec![],
        ),
        settings: WebhookSettings {
            inject_readiness_gates: true,
            load_balancer_class: "service.k8s.aws/nlb".into(),
            ingress_class: "alb".into(),
        },
        cloud: Simulator::default(),
    }
}

fn request(kind: (&str, &str, &str), operation: &str, object: Value, old: Value) -> Vec<u8> {
    let (group, version, resource) = kind;
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": "uid-1",
            "kind": {"group": group, "version": version, "kind": "x"},
            "resource": {"group": group, "version": version, "resource": resource},
            "namespace": "shop", "operation": operation,
            "userInfo": {}, "object": object, "oldObject": old, "dryRun": false
        }
    }))
    .unwrap()
}

async fn reviewed(path: &str, body: &[u8]) -> Value {
    reviewed_by(&admission(), path, body).await
}

async fn reviewed_by(admission: &Admission<Simulator>, path: &str, body: &[u8]) -> Value {
    let review = admission.review(path, body).await;
    serde_json::from_slice(&encoded(&review)).unwrap()
}

/// The AdmissionReview of a TargetGroupBinding being created.
fn binding_created(binding: Value) -> Vec<u8> {
    request(
        ("elbv2.k8s.aws", "v1beta1", "targetgroupbindings"),
        "CREATE",
        binding,
        Value::Null,
    )
}

fn patch_of(answer: &Value) -> Value {
    assert_eq!(answer["response"]["patchType"], "JSONPatch");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(answer["response"]["patch"].as_str().expect("base64 text"))
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn a_pod_review_gets_its_gate_as_a_base64_json_patch_with_the_uid() {
    let pod = json!({"metadata": {"generateName": "web-", "labels": {"app": "web"}},
                     "spec": {"containers": [{"name": "a", "image": "b"}]}});
    let answer = reviewed(
        POD_MUTATOR_PATH,
        &request(("", "v1", "pods"), "CREATE", pod, Value::Null),
    )
    .await;
    assert_eq!(answer["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(answer["kind"], "AdmissionReview");
    assert_eq!(answer["response"]["uid"], "uid-1");
    assert_eq!(answer["response"]["allowed"], true);
    assert_eq!(
        patch_of(&answer),
        json!([{"op": "add", "path": "/spec/readinessGates",
                "value": [{"conditionType": "target-health.elbv2.k8s.aws/web"}]}])
    );
    let other = json!({"metadata": {"labels": {"app": "other"}}, "spec": {"containers": []}});
    let untouched = reviewed(
        POD_MUTATOR_PATH,
        &request(("", "v1", "pods"), "CREATE", other, Value::Null),
    )
    .await;
    assert_eq!(untouched["response"]["allowed"], true);
    assert!(untouched["response"].get("patch").is_none());
}

#[tokio::test]
async fn a_service_review_gets_the_class() {
    let service = json!({"metadata": {"name": "web"}, "spec": {"type": "LoadBalancer"}});
    let answer = reviewed(
        SERVICE_MUTATOR_PATH,
        &request(("", "v1", "services"), "CREATE", service, Value::Null),
    )
    .await;
    assert_eq!(
        patch_of(&answer),
        json!([{"op": "add", "path": "/spec/loadBalancerClass", "value": "service.k8s.aws/nlb"}])
    );
}

#[tokio::test]
async fn validators_refuse_with_the_field_named() {
    let ingress = json!({"metadata": {"name": "web", "annotations": {"alb.ingress.kubernetes.io/scheme": "sideways"}},
                         "spec": {"ingressClassName": "alb"}});
    let answer = reviewed(
        INGRESS_VALIDATOR_PATH,
        &request(
            ("networking.k8s.io", "v1", "ingresses"),
            "CREATE",
            ingress,
            Value::Null,
        ),
    )
    .await;
    assert_eq!(answer["response"]["allowed"], false);
    let message = answer["response"]["status"]["message"].as_str().unwrap();
    assert!(
        message.contains("Ingress shop/web") && message.contains("scheme"),
        "{message}"
    );

    let params = json!({"apiVersion": "elbv2.k8s.aws/v1beta1", "kind": "IngressClassParams",
                        "metadata": {"name": "p"}, "spec": {"inboundCIDRs": ["10.0.0.1"]}});
    let answer = reviewed(
        PARAMS_VALIDATOR_PATH,
        &request(
            ("elbv2.k8s.aws", "v1beta1", "ingressclassparams"),
            "CREATE",
            params,
            Value::Null,
        ),
    )
    .await;
    assert!(answer["response"]["status"]["message"]
        .as_str()
        .unwrap()
        .contains("spec.inboundCIDRs[0]"));

    let rival = json!({"apiVersion": "elbv2.k8s.aws/v1beta1", "kind": "TargetGroupBinding",
                       "metadata": {"name": "api", "namespace": "shop"},
                       "spec": {"targetGroupARN": "arn:tg", "targetType": "ip", "serviceRef": {"name": "api", "port": 80}}});
    let answer = reviewed(BINDING_VALIDATOR_PATH, &binding_created(rival)).await;
    assert!(answer["response"]["status"]["message"]
        .as_str()
        .unwrap()
        .contains("already bound by shop/web"));
}

#[tokio::test]
async fn a_binding_naming_an_unknown_target_group_is_refused_and_nonsense_is_answered() {
    let by_name = json!({"apiVersion": "elbv2.k8s.aws/v1beta1", "kind": "TargetGroupBinding",
                         "metadata": {"name": "x", "namespace": "shop"},
                         "spec": {"targetGroupName": "nowhere", "serviceRef": {"name": "web", "port": 80}}});
    let answer = reviewed(BINDING_MUTATOR_PATH, &binding_created(by_name)).await;
    assert_eq!(answer["response"]["allowed"], false);
    assert!(answer["response"]["status"]["message"]
        .as_str()
        .unwrap()
        .contains("no such target group"));
    let nonsense = reviewed(POD_MUTATOR_PATH, b"{not json").await;
    assert_eq!(nonsense["response"]["allowed"], false);
    assert!(nonsense["response"]["status"]["message"]
        .as_str()
        .unwrap()
        .contains("not an AdmissionReview"));
    let elsewhere = reviewed("/nowhere", b"{}").await;
    assert!(elsewhere["response"]["status"]["message"]
        .as_str()
        .unwrap()
        .contains("/nowhere"));
}

#[tokio::test]
async fn a_binding_by_name_is_completed_from_its_target_group_in_aws() {
    use crate::cloud::{LoadBalancing, TargetGroupInput};
    use crate::model::{HealthCheck, Protocol, TargetType};
    let admission = admission();
    let created = admission
        .cloud
        .create_target_group(&TargetGroupInput {
            name: "legacy-blue".into(),
            target_type: TargetType::Ip,
            protocol: Protocol::Tcp,
            protocol_version: None,
            target_control_port: None,
            port: 80,
            ip_address_type: "ipv6".into(),
            vpc_id: "vpc-0123456789abcdef0".into(),
            health_check: HealthCheck::nlb_default(),
            tags: Default::default(),
        })
        .await
        .unwrap();
    let by_name = json!({"apiVersion": "elbv2.k8s.aws/v1beta1", "kind": "TargetGroupBinding",
                         "metadata": {"name": "blue", "namespace": "shop"},
                         "spec": {"targetGroupName": "legacy-blue", "serviceRef": {"name": "web", "port": 80}}});
    let answer = reviewed_by(&admission, BINDING_MUTATOR_PATH, &binding_created(by_name)).await;
    assert_eq!(answer["response"]["allowed"], true, "{answer}");
    let patch = patch_of(&answer).to_string();
    for expected in [
        format!("\"{}\"", created.arn),
        "\"ip\"".to_string(),
        "\"ipv6\"".to_string(),
        "\"TCP\"".to_string(),
        "\"vpc-0123456789abcdef0\"".to_string(),
    ] {
        assert!(patch.contains(&expected), "{expected} in {patch}");
    }
}
