//! Pipeline tests of the frontend NLB: created after the ALB with the ALB registered in its
//! target groups, converged with no write, changed port by port, and removed before the ALB
//! (the simulator, like AWS, refuses to delete an ALB still registered as a target).

use super::{failed_then_retried, member, with_annotation, write_steps, Harness};
use crate::cloud::Target;
use k8s_openapi::api::networking::v1::Ingress;
use std::collections::BTreeMap;

fn fronted(name: &str, order: i32, path: &str) -> Ingress {
    with_annotation(member(name, order, &[path]), "enable-frontend-nlb", "true")
}

/// The group's ALB (the load balancer not ending in `-nlb`) and its frontend NLB, by name.
fn load_balancers(harness: &Harness) -> (Option<String>, Option<String>) {
    let names = harness.cloud.load_balancer_names();
    let alb = names.iter().find(|n| !n.ends_with("-nlb")).cloned();
    let nlb = names.iter().find(|n| n.ends_with("-nlb")).cloned();
    (alb, nlb)
}

/// Targets of every frontend target group (by the port they listen on, read from the tags).
fn registrations(harness: &Harness) -> BTreeMap<String, Vec<Target>> {
    harness
        .cloud
        .target_group_names()
        .into_iter()
        .map(|name| (name.clone(), harness.cloud.targets_of(&name)))
        .filter(|(_, targets)| targets.iter().any(|t| t.id.contains(":loadbalancer/app/")))
        .collect()
}

#[tokio::test]
async fn a_frontend_nlb_fronts_the_alb_converges_follows_port_changes_and_goes_alone() {
    let mut harness = Harness::new();
    let a = fronted("a", 0, "/a");
    harness.reconcile(std::slice::from_ref(&a)).await.unwrap();
    let (Some(alb), Some(nlb)) = load_balancers(&harness) else {
        panic!("{:?}", harness.cloud.load_balancer_names());
    };
    assert_eq!(nlb, format!("{}-nlb", &alb[..alb.len().min(28)]));
    let alb_arn = harness.cloud.load_balancer_arn(&alb).unwrap();
    let registered: Vec<Vec<Target>> = registrations(&harness).into_values().collect();
    assert_eq!(
        registered,
        [vec![Target {
            id: alb_arn.clone(),
            port: 80
        }]],
        "the ALB is registered on its port 80"
    );

    harness.cloud.calls.clear();
    harness.reconcile(std::slice::from_ref(&a)).await.unwrap();
    assert!(
        harness.cloud.calls.writes().is_empty(),
        "{:?}",
        harness.cloud.calls.writes()
    );

    // NLB port 8080 now fronts ALB port 80: a listener and target group for 8080 replace 80's.
    let mapped = with_annotation(a.clone(), "frontend-nlb-listener-port-mapping", "8080=80");
    let writes = harness.writes_for(&mapped).await;
    assert!(
        !writes.contains(&"DeleteLoadBalancer") && !writes.contains(&"CreateLoadBalancer"),
        "{writes:?}"
    );
    assert_eq!(
        writes.iter().filter(|w| **w == "RegisterTargets").count(),
        1
    );
    let mut ports = harness.cloud.listener_ports();
    ports.sort();
    assert_eq!(ports, [80, 8080], "the ALB's 80 and the NLB's 8080");
    assert_eq!(
        registrations(&harness).into_values().collect::<Vec<_>>(),
        [vec![Target {
            id: alb_arn.clone(),
            port: 80
        }]]
    );

    // The frontend is switched off: the NLB and its target group go, the ALB stays as it was.
    let plain = member("a", 0, &["/a"]);
    let writes = harness.writes_for(&plain).await;
    assert_eq!(load_balancers(&harness), (Some(alb.clone()), None));
    assert_eq!(
        writes
            .iter()
            .filter(|w| !matches!(**w, "DeleteLoadBalancer" | "DeleteTargetGroup"))
            .count(),
        0,
        "nothing of the ALB changes: {writes:?}"
    );
    assert_eq!(harness.rules(), ["/a"]);
    assert!(registrations(&harness).is_empty());

    // Back on, then the group goes: the frontend is removed first, so the ALB can go.
    harness.reconcile(std::slice::from_ref(&a)).await.unwrap();
    harness.reconcile(&[]).await.unwrap();
    assert!(harness.cloud.load_balancer_names().is_empty());
    assert!(harness.cloud.target_group_names().is_empty());
}

#[tokio::test]
async fn a_replaced_alb_is_released_by_the_frontend_then_registered_anew() {
    let mut harness = Harness::new();
    let a = fronted("a", 0, "/a");
    harness.reconcile(std::slice::from_ref(&a)).await.unwrap();
    let (_, nlb) = load_balancers(&harness);

    // The ALB's scheme changes: it is replaced; the frontend NLB (its own scheme) stays.
    let public = with_annotation(a.clone(), "scheme", "internet-facing");
    harness
        .reconcile(std::slice::from_ref(&public))
        .await
        .unwrap();
    let (Some(alb), nlb_after) = load_balancers(&harness) else {
        panic!("no ALB");
    };
    assert_eq!(nlb_after, nlb);
    let alb_arn = harness.cloud.load_balancer_arn(&alb).unwrap();
    assert_eq!(
        registrations(&harness).into_values().collect::<Vec<_>>(),
        [vec![Target {
            id: alb_arn,
            port: 80
        }]],
        "only the new ALB is registered"
    );
}

#[tokio::test]
async fn a_failure_injected_at_any_write_of_a_fronted_group_converges_on_retry() {
    let members = [fronted("a", 0, "/a"), member("b", 10, &["/b"])];
    let steps = write_steps(&members).await;
    assert!(steps.contains(&("RegisterTargets", 1)), "{steps:?}");
    for (operation, occurrence) in steps {
        let mut harness = failed_then_retried(&members, operation, occurrence).await;
        let after = format!("after {operation} #{occurrence}");
        assert_eq!(harness.cloud.load_balancer_names().len(), 2, "{after}");
        assert_eq!(registrations(&harness).len(), 1, "{after}");
        harness.assert_converged(&members, &after).await;
    }
}
