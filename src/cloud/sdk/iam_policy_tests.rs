//! The IAM policies in `docs/install/` allow exactly the AWS operations the SDK adapter can call:
//! every call goes through `begin(SERVICE, "Operation", …)` or `begin_target_call("Operation", …)`,
//! the one place each operation is named (the throttle, the call log and the errors need the
//! name), so the adapter's source is the list.

use regex::Regex;
use std::collections::BTreeSet;
use std::path::Path;

fn sources() -> Vec<(String, String)> {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cloud/sdk");
    let mut files: Vec<_> = std::fs::read_dir(&directory)
        .expect("the SDK adapter's directory")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "rs"))
        .filter(|path| !path.ends_with("iam_policy_tests.rs"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("a source file");
            (path.display().to_string(), text)
        })
        .collect()
}

fn iam_prefix(service: &str) -> &'static str {
    match service {
        "ELBV2" => "elasticloadbalancing",
        "EC2" => "ec2",
        "TAGGING" => "tag",
        "ACM" => "acm",
        "WAFV2" => "wafv2",
        "WAF_REGIONAL" => "waf-regional",
        "SHIELD" => "shield",
        "ROUTE53" => "route53",
        other => panic!("no IAM prefix known for service constant {other}"),
    }
}

/// `prefix:Operation` for every call the adapter makes.
fn called_actions() -> BTreeSet<String> {
    let begin = Regex::new(r#"begin\(\s*([A-Z0-9_]+)\s*,\s*"([A-Za-z0-9]+)""#).unwrap();
    let target_call = Regex::new(r#"begin_target_call\(\s*"([A-Za-z0-9]+)""#).unwrap();
    let mut actions = BTreeSet::new();
    for (_, text) in sources() {
        for found in begin.captures_iter(&text) {
            actions.insert(format!("{}:{}", iam_prefix(&found[1]), &found[2]));
        }
        for found in target_call.captures_iter(&text) {
            actions.insert(format!("elasticloadbalancing:{}", &found[1]));
        }
    }
    actions
}

/// Operations AWS authorizes on the caller's behalf during calls the adapter makes.
const IMPLIED_ACTIONS: &[(&str, &str)] = &[
    (
        "iam:CreateServiceLinkedRole",
        "the first load balancer of an account creates ELB's service-linked role",
    ),
    (
        "ec2:CreateTags",
        "CreateSecurityGroup carries its tags (tag on create)",
    ),
    (
        "acm:AddTagsToCertificate",
        "RequestCertificate carries its tags (tag on create)",
    ),
];

fn policy_actions(file: &str) -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs/install")
        .join(file);
    let policy: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("the policy file"))
            .expect("the policy is JSON");
    let mut actions = BTreeSet::new();
    for statement in policy["Statement"].as_array().expect("statements") {
        assert_eq!(statement["Effect"], "Allow", "{file}: {statement}");
        match &statement["Action"] {
            serde_json::Value::String(action) => {
                actions.insert(action.clone());
            }
            serde_json::Value::Array(list) => {
                actions.extend(
                    list.iter()
                        .map(|a| a.as_str().expect("an action").to_string()),
                );
            }
            other => panic!("{file}: unexpected Action {other}"),
        }
    }
    actions
}

#[test]
fn the_policies_allow_exactly_what_the_code_calls() {
    let mut needed = called_actions();
    assert!(
        needed.len() > 50,
        "the source scan found the calls: {needed:?}"
    );
    needed.extend(IMPLIED_ACTIONS.iter().map(|(action, _)| action.to_string()));
    let mut allowed = policy_actions("iam_policy.json");
    let certificates = policy_actions("iam_policy_acm_certs.json");
    allowed.extend(certificates.iter().cloned());
    let missing: Vec<_> = needed.difference(&allowed).collect();
    let extra: Vec<_> = allowed.difference(&needed).collect();
    assert!(
        missing.is_empty(),
        "the code calls these, the policies do not allow them: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "the policies allow these, the code never calls them: {extra:?}"
    );
}

#[test]
fn certificate_requests_and_dns_validation_are_only_in_the_optional_policy() {
    let certificates = policy_actions("iam_policy_acm_certs.json");
    let default = policy_actions("iam_policy.json");
    assert!(certificates.is_disjoint(&default));
    // Every action of the optional policy is one only the certificate requester needs.
    // The requester's calls: those it begins itself, and those the adapter begins for it.
    let begun_for_it = Regex::new(
        r#"begin\(\s*[A-Z0-9_]+\s*,\s*"(\w+)"[^;]*;\s*call\.finished\(\s*requested_certificates::"#,
    )
    .unwrap();
    let begun_by_it = Regex::new(r#"begin\(\s*[A-Z0-9_]+\s*,\s*"(\w+)""#).unwrap();
    let mut requester_calls = BTreeSet::new();
    for (path, text) in sources() {
        let pattern = if path.ends_with("requested_certificates.rs") {
            &begun_by_it
        } else {
            &begun_for_it
        };
        for found in pattern.captures_iter(&text) {
            requester_calls.insert(found[1].to_string());
        }
    }
    assert!(
        requester_calls.contains("RequestCertificate"),
        "{requester_calls:?}"
    );
    for action in &certificates {
        let operation = action.split(':').nth(1).expect("prefix:Operation");
        let implied = IMPLIED_ACTIONS.iter().any(|(a, _)| a == action);
        assert!(
            implied || requester_calls.contains(operation),
            "{action} is in the optional policy but not called by the certificate requester"
        );
    }
}
