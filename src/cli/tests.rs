use super::*;
use serde_json::Value;

fn run(arguments: &[&str], stdin: &str) -> CommandOutput {
    let mut line = vec!["aws-load-balancer-controller"];
    line.extend(arguments);
    let parsed = Arguments::try_parse_from(line).expect("valid arguments");
    let input = stdin.to_string();
    execute(&parsed, &mut || Ok(input.clone()))
}

fn example(path: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .display()
        .to_string()
}

#[test]
fn plan_without_files_plans_the_embedded_examples() {
    let output = run(&["plan"], "");
    assert_eq!(output.exit_code, 0, "{}", output.stderr);
    assert!(
        output.stdout.contains("Service demo/echo"),
        "{}",
        output.stdout
    );
    assert!(
        output.stdout.contains("IngressGroup /storefront")
            && output.stdout.contains("2 certificate(s)"),
        "the example group, its certificate found by host: {}",
        output.stdout
    );
    assert!(output.stderr.is_empty());
}

#[test]
fn plan_json_is_the_documented_report() {
    let services = example("examples/services.yaml");
    let facts = example("examples/aws-facts.json");
    let output = run(
        &[
            "plan",
            "-f",
            &services,
            "--facts",
            &facts,
            "--cluster-name",
            "prod",
            "-o",
            "json",
        ],
        "",
    );
    assert_eq!(output.exit_code, 0, "{}", output.stderr);
    let report: Value = serde_json::from_str(&output.stdout).expect("plan -o json prints JSON");
    let echo = &report["stacks"][0];
    assert_eq!(
        echo["owner"],
        serde_json::json!({"kind": "Service", "namespace": "demo", "name": "echo"})
    );
    assert_eq!(echo["managed"], true);
    let stack = &echo["stack"];
    assert_eq!(stack["id"], "demo/echo");
    assert_eq!(stack["loadBalancer"]["type"], "network");
    assert_eq!(stack["loadBalancer"]["scheme"], "internet-facing");
    assert_eq!(
        stack["loadBalancer"]["tags"]["service.k8s.aws/stack"],
        "demo/echo"
    );
    assert_eq!(
        stack["listeners"]["80"]["defaultAction"]["targetGroups"][0]["targetGroup"],
        "demo/echo:80"
    );
    assert_eq!(
        stack["targetGroups"]["demo/echo:80"]["attributes"]["deregistration_delay.timeout_seconds"],
        "30"
    );
    assert_eq!(report["problems"], serde_json::json!([]));
}

#[test]
fn plan_reads_manifests_from_stdin_and_exits_1_naming_the_bad_annotation() {
    let facts = example("examples/aws-facts.json");
    let manifest = std::fs::read_to_string(example("examples/invalid-service.yaml")).unwrap();
    let output = run(
        &[
            "plan",
            "-f",
            "-",
            "--facts",
            &facts,
            "--cluster-name",
            "prod",
        ],
        &manifest,
    );
    assert_eq!(output.exit_code, 1);
    assert!(
        output
            .stderr
            .contains("Service demo/typo: service.beta.kubernetes.io/aws-load-balancer-scheme"),
        "{}",
        output.stderr
    );
}

#[test]
fn plan_cannot_run_on_unreadable_input_and_says_why() {
    let missing = run(
        &[
            "plan",
            "-f",
            "/nonexistent/manifest.yaml",
            "--cluster-name",
            "x",
            "--vpc-id",
            "vpc-1",
        ],
        "",
    );
    assert_eq!(missing.exit_code, 2);
    assert!(missing.stderr.contains("/nonexistent/manifest.yaml"));
    let malformed = run(
        &[
            "plan",
            "-f",
            "-",
            "--cluster-name",
            "x",
            "--vpc-id",
            "vpc-1",
        ],
        "kind: [\n",
    );
    assert_eq!(malformed.exit_code, 2);
    assert!(
        malformed.stderr.contains("document 1"),
        "{}",
        malformed.stderr
    );
    let no_cluster = run(&["plan", "-f", "-"], "");
    assert!(
        no_cluster.stderr.contains("--cluster-name"),
        "{}",
        no_cluster.stderr
    );
    let bad_gate = run(&["plan", "--feature-gates", "Teleport=true"], "");
    assert_eq!(bad_gate.exit_code, 2);
    assert!(bad_gate.stderr.contains("Teleport"));
}

#[test]
fn crds_prints_the_generated_definitions() {
    let output = run(&["crds"], "");
    assert_eq!(output.exit_code, 0);
    assert_eq!(output.stdout, crate::crd::all_crds_yaml().unwrap());
    assert!(output
        .stdout
        .contains("name: targetgroupbindings.elbv2.k8s.aws"));
}

#[test]
fn plan_understands_ingress_groups_and_names_conflicting_members() {
    let facts = example("examples/aws-facts.json");
    let group = example("src/ingress/golden/group-worked-example.yaml");
    let flags = [
        "--facts",
        &facts,
        "--cluster-name",
        "my-cluster",
        "--aws-vpc-id",
        "vpc-0example",
    ];
    let mut line = vec!["plan", "-f", &group];
    line.extend(flags);
    let output = run(&line, "");
    assert_eq!(output.exit_code, 0, "{}", output.stderr);
    for expected in [
        "IngressGroup /web",
        "k8s-web-66ee2ef97b",
        "k8s-web-3264b2e21d",
        "rule 443:3",
        "/api/v2/*",
        "redirect to 443 HTTP_301",
    ] {
        assert!(
            output.stdout.contains(expected),
            "{expected} in:\n{}",
            output.stdout
        );
    }
    let conflict = example("src/ingress/golden/conflicting-scheme.yaml");
    let mut line = vec!["plan", "-f", &conflict];
    line.extend(flags);
    let output = run(&line, "");
    assert_eq!(output.exit_code, 1);
    assert!(
        output.stderr.contains("default/private") && output.stderr.contains("default/public"),
        "{}",
        output.stderr
    );
}

#[test]
fn plan_shows_a_frontend_nlb_after_its_alb_and_the_registrations_last() {
    let facts = example("examples/aws-facts.json");
    let group = example("src/ingress/golden/frontend-nlb-group.yaml");
    let output = run(
        &[
            "plan",
            "-f",
            &group,
            "--facts",
            &facts,
            "--cluster-name",
            "prod",
        ],
        "",
    );
    assert_eq!(output.exit_code, 0, "{}", output.stderr);
    let stdout = &output.stdout;
    for expected in [
        "frontend NLB    k8s-storefront-6ae9f125d1-nlb  network, internet-facing",
        "subnet-0a1c0ffee0000001 (eipalloc-0aaa)",
        "FrontendNlb-tg-TCP-8080 holds the ALB on port 80",
    ] {
        assert!(stdout.contains(expected), "{expected} in:\n{stdout}");
    }
    let position = |text: &str| {
        stdout
            .find(text)
            .unwrap_or_else(|| panic!("{text} in:\n{stdout}"))
    };
    assert!(
        position("create load balancer k8s-storefront-6ae9f125d1\n")
            < position("create load balancer k8s-storefront-6ae9f125d1-nlb")
            && position("create load balancer k8s-storefront-6ae9f125d1-nlb")
                < position("register the ALB on port 80 in FrontendNlb-tg-TCP-8080"),
        "the ALB first, then the NLB, then the registration:\n{stdout}"
    );
}

#[test]
fn plan_lists_requested_certificates_first_with_the_gate_only() {
    let facts = example("examples/aws-facts.json");
    let group = example("src/ingress/golden/create-acm-cert.yaml");
    let line = [
        "plan",
        "-f",
        &group,
        "--facts",
        &facts,
        "--cluster-name",
        "prod",
    ];
    let off = run(&line, "");
    assert!(
        !off.stdout.contains("request an ACM certificate"),
        "{}",
        off.stdout
    );
    let mut gated = line.to_vec();
    gated.extend(["--feature-gates", "EnableCertificateManagement=true"]);
    let on = run(&gated, "");
    assert_eq!(on.exit_code, 0, "{}", on.stderr);
    let stdout = &on.stdout;
    assert!(
        stdout.contains("  changes:\n    request an ACM certificate for shop.example.com"),
        "{stdout}"
    );
    assert!(
        stdout.contains("shop.example.com, www.shop.example.com (Amazon-issued, DNS validation)"),
        "{stdout}"
    );
}
