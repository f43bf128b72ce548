use super::*;
use crate::manifests::read_manifests;

fn report_for(manifest: &str) -> DryRunReport {
    report_with(manifest, &["examples/aws-facts.json"])
}

fn report_with(manifest: &str, fact_files: &[&str]) -> DryRunReport {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifests = std::fs::read_to_string(root.join(manifest)).unwrap();
    let facts: Vec<String> = fact_files
        .iter()
        .map(|f| std::fs::read_to_string(root.join(f)).unwrap())
        .collect();
    let facts = facts.join("\n---\n");
    let objects = read_manifests(manifest, &manifests).unwrap();
    let config = ControllerConfig::new("prod", "vpc-0example");
    dry_run(
        &objects,
        &config,
        &CloudFacts::from_documents(&facts).unwrap(),
    )
}

#[test]
fn the_examples_build_a_stack_per_service() {
    let report = report_for("examples/services.yaml");
    let owners: Vec<String> = report.stacks.iter().map(|s| s.owner.to_string()).collect();
    assert_eq!(
        owners,
        [
            "Service demo/echo",
            "Service demo/game",
            "Service demo/classic"
        ]
    );
    assert!(report.stacks[0].stack.load_balancer.is_some());
    assert!(!report.stacks[2].managed && report.stacks[2].stack.is_empty());
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

#[test]
fn the_table_names_every_resource() {
    let report = report_for("examples/services.yaml");
    let table = render_table(&report);
    let lb_name = &report.stacks[0].stack.load_balancer.as_ref().unwrap().name;
    assert!(table.contains(lb_name.as_str()), "{table}");
    let http = table.find("listener 80 ").unwrap();
    let https = table.find("listener 443").unwrap();
    assert!(http < https, "listeners are listed by port:\n{table}");
    assert!(table.contains("not managed by this controller"), "{table}");
}

#[test]
fn a_broken_service_is_reported_with_its_annotation_and_builds_nothing() {
    let report = report_for("examples/invalid-service.yaml");
    assert!(report.stacks.is_empty());
    assert_eq!(report.problems.len(), 1);
    assert_eq!(
        report.problems[0].location,
        "service.beta.kubernetes.io/aws-load-balancer-scheme"
    );
    let lines = render_problems(&report);
    assert!(
        lines.starts_with(
            "error: Service demo/typo: service.beta.kubernetes.io/aws-load-balancer-scheme: "
        ),
        "{lines}"
    );
}

#[test]
fn with_existing_resources_only_the_differences_are_planned() {
    let report = report_with(
        "examples/services.yaml",
        &["examples/aws-facts.json", "examples/existing-aws.json"],
    );
    let echo = &report.stacks[0];
    assert_eq!(echo.owner.to_string(), "Service demo/echo");
    let changes: Vec<String> = echo.changes.iter().map(ToString::to_string).collect();
    assert_eq!(
        changes,
        [
            "set attributes {\"deregistration_delay.timeout_seconds\": \"30\"} on target group demo/echo:80",
            "delete target group k8s-demo-echo-9f8e7d6c5b",
        ]
    );
    let table = render_table(&report);
    assert!(
        table.contains("delete target group k8s-demo-echo-9f8e7d6c5b"),
        "{table}"
    );
    let game = &report.stacks[1];
    assert!(
        game.changes
            .iter()
            .any(|c| matches!(c, Change::CreateLoadBalancer { .. })),
        "demo/game does not exist yet"
    );
    assert!(
        !game
            .changes
            .iter()
            .any(|c| matches!(c, Change::CreateBackendSecurityGroup { .. })),
        "the shared backend group exists in the facts"
    );
}

#[test]
fn an_ingress_leaving_with_deletion_protection_on_is_refused_as_the_controller_does() {
    let objects = vec![
        serde_json::json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
            "metadata": {"name": "alb"}, "spec": {"controller": "ingress.k8s.aws/alb"}}),
        serde_json::json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "shop", "namespace": "demo",
                "deletionTimestamp": "2026-12-07T08:00:00Z",
                "finalizers": ["ingress.k8s.aws/resources"],
                "annotations": {"alb.ingress.kubernetes.io/load-balancer-attributes":
                    "deletion_protection.enabled=true"}},
            "spec": {"ingressClassName": "alb", "defaultBackend":
                {"service": {"name": "web", "port": {"number": 80}}}}}),
    ];
    let facts = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/aws-facts.json"),
    )
    .unwrap();
    let report = dry_run(
        &objects,
        &ControllerConfig::new("prod", "vpc-0example"),
        &CloudFacts::from_documents(&facts).unwrap(),
    );
    assert!(report.stacks.is_empty(), "nothing planned for its group");
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(
        report.problems[0]
            .message
            .contains("deletion_protection.enabled=false"),
        "{:?}",
        report.problems[0]
    );
}
