//! Chaos end to end: the controller binary against the emulator and moto behind the fault
//! proxy (throttling, 503s, answers lost after the write, latency), driven with kubectl, and
//! killed with SIGKILL at random moments while Services and Ingresses (two sharing a group) are
//! created and deleted. After the create rounds the faults stop and one more process converges:
//! every stack has exactly one load balancer, its target groups and at most one managed
//! security group, every Service's target group holds its pod, every object shows its hostname,
//! and nothing belongs to a stack that should not exist. After the delete rounds everything of
//! the cluster is gone from AWS, every finalizer is released, and the foreign load balancer
//! beside them is untouched.
//!
//! Bounded in CI (`CHAOS_ROUNDS`, default 3 create and 3 delete rounds; `CHAOS_SEED`, default
//! 7); longer on demand. The figures are in `docs/reliability.md`.

use crate::ingress_loop::ALB_CLASS;
use crate::waiting::eventually_within;
use aws_sdk_elasticloadbalancingv2::Client as Elbv2;
use e2e::cluster::TestCluster;
use e2e::fault_proxy::{FaultProxy, FaultRates};
use e2e::kubectl::Kubectl;
use e2e::moto::{create_vpc_with_subnets, registered_targets, MotoServer, REGION};
use e2e::process::{controller_binary, write_kubeconfig, ControllerEnvironment, ControllerProcess};
use e2e::samples::ip_nlb_service_with_pod;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const CLUSTER_TAG: &str = "elbv2.k8s.aws/cluster";
const SERVICES: [&str; 3] = ["svc-a", "svc-b", "svc-c"];
/// Ingress, its group (`None`: its own implicit group).
const INGRESSES: [(&str, Option<&str>); 3] = [
    ("ing-a", Some("shared")),
    ("ing-b", Some("shared")),
    ("ing-c", None),
];

/// The backend of every Ingress (ip targets): a Service with one ready pod.
const BACKEND: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\n\
spec:\n  ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP}]\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: default}\nspec:\n  containers: [{name: app, image: web}]\n---\n\
apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: web-abc\n  namespace: default\n  labels: {kubernetes.io/service-name: web}\n\
addressType: IPv4\nports:\n  - {name: http, port: 8080, protocol: TCP}\nendpoints:\n  - addresses: [\"10.71.0.99\"]\n    conditions: {ready: true}\n    targetRef: {kind: Pod, name: web}\n";

fn pod_ip(service: usize) -> String {
    format!("10.71.0.{}", 10 + service)
}

fn ingress(index: usize) -> String {
    let (name, group) = INGRESSES[index];
    let group = group
        .map(|g| format!("\n    alb.ingress.kubernetes.io/group.name: {g}"))
        .unwrap_or_default();
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  namespace: default\n  annotations:\n    alb.ingress.kubernetes.io/target-type: ip{group}\n\
spec:\n  ingressClassName: alb\n  rules:\n    - http:\n        paths:\n          - {{path: /{name}, pathType: Prefix, backend: {{service: {{name: web, port: {{number: 80}}}}}}}}\n"
    )
}

/// A small seeded generator (xorshift64), so a failing run can be repeated with its seed.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// Which objects should exist: Services and Ingresses by index.
#[derive(Debug, Default, Clone)]
struct Wanted {
    services: BTreeSet<usize>,
    ingresses: BTreeSet<usize>,
}

impl Wanted {
    /// The stack tags the wanted objects call for, and how many target groups each has.
    fn stacks(&self) -> BTreeMap<String, usize> {
        let mut stacks = BTreeMap::new();
        for &s in &self.services {
            stacks.insert(format!("default/{}", SERVICES[s]), 1);
        }
        for &i in &self.ingresses {
            let (name, group) = INGRESSES[i];
            let stack = group.map_or(format!("default/{name}"), str::to_string);
            // A target group per member and backend (its id names the Ingress, as upstream's).
            *stacks.entry(stack).or_default() += 1;
        }
        stacks
    }
}

/// The cluster's resources in moto: (id, stack tag) of load balancers, target groups and
/// security groups carrying the cluster tag.
#[derive(Debug, Default)]
struct Ours {
    load_balancers: Vec<(String, String)>,
    target_groups: Vec<(String, String)>,
    security_groups: Vec<(String, String)>,
}

fn stack_of<'a>(tags: impl Iterator<Item = (&'a str, &'a str)>) -> Option<String> {
    let tags: BTreeMap<&str, &str> = tags.collect();
    tags.get(CLUSTER_TAG)?;
    let stack = tags
        .get("service.k8s.aws/stack")
        .or_else(|| tags.get("ingress.k8s.aws/stack"))
        .copied()
        .unwrap_or_default();
    Some(stack.to_string())
}

async fn elbv2_stacks(elbv2: &Elbv2, arns: Vec<String>) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for chunk in arns.chunks(20) {
        let described = elbv2
            .describe_tags()
            .set_resource_arns(Some(chunk.to_vec()))
            .send()
            .await
            .expect("moto describes tags");
        for description in described.tag_descriptions() {
            let tags = description
                .tags()
                .iter()
                .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()));
            if let Some(stack) = stack_of(tags) {
                let arn = description.resource_arn().unwrap_or_default();
                found.push((arn.to_string(), stack));
            }
        }
    }
    found
}

async fn ours(aws: &aws_load_balancer_controller::aws_clients::AwsClients) -> Ours {
    let load_balancers = aws.elbv2.describe_load_balancers().send().await.unwrap();
    let load_balancers: Vec<String> = load_balancers
        .load_balancers()
        .iter()
        .filter_map(|lb| lb.load_balancer_arn().map(str::to_string))
        .collect();
    let target_groups = aws.elbv2.describe_target_groups().send().await.unwrap();
    let target_groups: Vec<String> = target_groups
        .target_groups()
        .iter()
        .filter_map(|tg| tg.target_group_arn().map(str::to_string))
        .collect();
    let groups = aws.ec2.describe_security_groups().send().await.unwrap();
    let security_groups = groups
        .security_groups()
        .iter()
        .filter_map(|group| {
            let tags = group
                .tags()
                .iter()
                .map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()));
            Some((group.group_id()?.to_string(), stack_of(tags)?))
        })
        .collect();
    Ours {
        load_balancers: elbv2_stacks(&aws.elbv2, load_balancers).await,
        target_groups: elbv2_stacks(&aws.elbv2, target_groups).await,
        security_groups,
    }
}

/// `None` while AWS does not hold exactly what `wanted` calls for (else the target groups of
/// each Service stack, to check their targets).
fn matches(ours: &Ours, wanted: &Wanted) -> Option<BTreeMap<String, Vec<String>>> {
    let stacks = wanted.stacks();
    let mut load_balancers: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, stack) in &ours.load_balancers {
        *load_balancers.entry(stack).or_default() += 1;
    }
    let expected: BTreeMap<&str, usize> = stacks.keys().map(|s| (s.as_str(), 1)).collect();
    if load_balancers != expected {
        return None;
    }
    let mut target_groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (arn, stack) in &ours.target_groups {
        target_groups
            .entry(stack.clone())
            .or_default()
            .push(arn.clone());
    }
    let counts: BTreeMap<String, usize> = target_groups
        .iter()
        .map(|(stack, arns)| (stack.clone(), arns.len()))
        .collect();
    if counts != stacks {
        return None;
    }
    // Managed security groups: at most one per live stack; the shared backend group has no
    // stack tag.
    let mut managed: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, stack) in ours.security_groups.iter().filter(|(_, s)| !s.is_empty()) {
        *managed.entry(stack).or_default() += 1;
    }
    if managed
        .iter()
        .any(|(stack, count)| *count > 1 || !stacks.contains_key(*stack))
    {
        return None;
    }
    Some(target_groups)
}

/// Waits (up to 3 min) for AWS to hold exactly what `wanted` calls for; the target groups of
/// each stack. On a timeout, says what AWS held.
async fn converged(
    aws: &aws_load_balancer_controller::aws_clients::AwsClients,
    wanted: &Wanted,
) -> BTreeMap<String, Vec<String>> {
    let started = std::time::Instant::now();
    loop {
        let held = ours(aws).await;
        if let Some(target_groups) = matches(&held, wanted) {
            return target_groups;
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "AWS never held exactly the stacks {:?}: {held:#?}",
            wanted.stacks()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn hostname(kubectl: &Kubectl, kind: &str, name: &str) -> String {
    kubectl
        .run(&[
            "get",
            kind,
            name,
            "-o",
            "jsonpath={.status.loadBalancer.ingress[0].hostname}",
        ])
        .await
        .stdout
        .trim()
        .to_string()
}

async fn exists(kubectl: &Kubectl, kind: &str, name: &str) -> bool {
    kubectl
        .run(&["get", kind, name, "--ignore-not-found", "-o", "name"])
        .await
        .stdout
        .contains(name)
}

/// Applies or deletes (without waiting) one random object, and records what is wanted.
async fn toggle_one(kubectl: &Kubectl, dice: &mut Dice, wanted: &mut Wanted, creating: bool) {
    let service = dice.roll(2) == 0;
    let index = dice.roll(3) as usize;
    let (present, name, kind) = if service {
        (wanted.services.contains(&index), SERVICES[index], "service")
    } else {
        (
            wanted.ingresses.contains(&index),
            INGRESSES[index].0,
            "ingress",
        )
    };
    if present == creating {
        return;
    }
    if creating {
        let manifest = if service {
            wanted.services.insert(index);
            ip_nlb_service_with_pod(name, &pod_ip(index))
        } else {
            wanted.ingresses.insert(index);
            ingress(index)
        };
        kubectl.apply(&manifest).await;
    } else {
        if service {
            wanted.services.remove(&index);
        } else {
            wanted.ingresses.remove(&index);
        }
        kubectl.ok(&["delete", kind, name, "--wait=false"]).await;
    }
}

struct Chaos<'a> {
    setup: ControllerEnvironment<'a>,
    kubectl: Kubectl,
    dice: Dice,
    wanted: Wanted,
    kills: usize,
}

impl Chaos<'_> {
    /// Starts a controller, makes one to three changes, waits a random moment (up to 4 s), and
    /// kills it with SIGKILL.
    async fn round(&mut self, creating: bool) {
        let mut process = ControllerProcess::start("chaos", &self.setup);
        for _ in 0..1 + self.dice.roll(3) {
            toggle_one(&self.kubectl, &mut self.dice, &mut self.wanted, creating).await;
        }
        let moment = Duration::from_millis(300 + self.dice.roll(3700));
        tokio::time::sleep(moment).await;
        process.child.kill().await.expect("SIGKILL the controller");
        self.kills += 1;
    }
}

#[tokio::test]
async fn killed_at_random_under_aws_faults_the_controller_converges_without_leaks_or_duplicates() {
    let moto = MotoServer::lease().await;
    let aws = moto.clients().await;
    let (vpc_id, subnets) = create_vpc_with_subnets(
        &aws.ec2,
        71,
        &["us-west-2a", "us-west-2b"],
        "kubernetes.io/role/internal-elb",
    )
    .await;
    // A load balancer nobody in the cluster owns.
    let foreign = aws
        .elbv2
        .create_load_balancer()
        .name("made-by-terraform")
        .r#type(aws_sdk_elasticloadbalancingv2::types::LoadBalancerTypeEnum::Network)
        .scheme(aws_sdk_elasticloadbalancingv2::types::LoadBalancerSchemeEnum::Internal)
        .set_subnets(Some(subnets.clone()))
        .send()
        .await
        .expect("moto creates the foreign load balancer");
    let foreign = foreign.load_balancers()[0]
        .load_balancer_arn()
        .unwrap_or_default()
        .to_string();
    let rates = FaultRates {
        throttled: 0.1,
        unavailable: 0.05,
        lost_answer: 0.05,
        max_latency: Duration::from_millis(50),
    };
    let seed = setting("CHAOS_SEED", 7);
    let proxy = FaultProxy::start(&moto.endpoint, rates, seed).await;
    let cluster = TestCluster::start().await;
    let directory = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = write_kubeconfig(directory.path(), &cluster.url());
    let binary = controller_binary()
        .expect("the controller binary: build every target first (e2e/run-tests does)");
    let kubectl = Kubectl::new(&cluster.url());
    kubectl.apply(ALB_CLASS).await;
    kubectl.apply(BACKEND).await;
    let mut chaos = Chaos {
        setup: ControllerEnvironment {
            binary: &binary,
            kubeconfig: &kubeconfig,
            aws_endpoint: &proxy.endpoint,
            region: REGION,
            vpc_id: &vpc_id,
            environment: vec![(
                "RUST_LOG",
                std::env::var("CHAOS_LOG").unwrap_or_else(|_| "error".into()),
            )],
            // A restarted process starts at once (the Lease handover has its own test).
            arguments: vec!["--enable-leader-election=false".to_string()],
        },
        kubectl: Kubectl::new(&cluster.url()),
        dice: Dice(seed.max(1)),
        wanted: Wanted::default(),
        kills: 0,
    };
    let rounds = setting("CHAOS_ROUNDS", 3);
    for _ in 0..rounds {
        chaos.round(true).await;
    }
    // Something to converge to, whatever the dice said.
    for index in [0, 2] {
        if chaos.wanted.services.insert(index) {
            kubectl
                .apply(&ip_nlb_service_with_pod(SERVICES[index], &pod_ip(index)))
                .await;
        }
    }
    if chaos.wanted.ingresses.insert(0) {
        kubectl.apply(&ingress(0)).await;
    }

    proxy.stop_faults();
    let faulty_creates = proxy.tally();
    let process = ControllerProcess::start("chaos", &chaos.setup);
    let wanted = chaos.wanted.clone();
    let target_groups = converged(&aws, &wanted).await;
    for &s in &wanted.services {
        let stack = format!("default/{}", SERVICES[s]);
        let arn = &target_groups[&stack][0];
        let expected = BTreeSet::from([format!("{}:8080", pod_ip(s))]);
        eventually_within("the pod registered", Duration::from_secs(60), || async {
            (registered_targets(&aws.elbv2, arn).await == expected).then_some(())
        })
        .await;
        eventually_within(
            "the Service's hostname",
            Duration::from_secs(60),
            || async {
                (!hostname(&kubectl, "service", SERVICES[s]).await.is_empty()).then_some(())
            },
        )
        .await;
    }
    for &i in &wanted.ingresses {
        eventually_within(
            "the Ingress's hostname",
            Duration::from_secs(60),
            || async {
                (!hostname(&kubectl, "ingress", INGRESSES[i].0)
                    .await
                    .is_empty())
                .then_some(())
            },
        )
        .await;
    }
    drop(process);
    let settled = proxy.tally();

    proxy.set_rates(rates);
    for _ in 0..rounds {
        chaos.round(false).await;
    }
    for s in std::mem::take(&mut chaos.wanted.services) {
        kubectl
            .ok(&["delete", "service", SERVICES[s], "--wait=false"])
            .await;
    }
    for i in std::mem::take(&mut chaos.wanted.ingresses) {
        kubectl
            .ok(&["delete", "ingress", INGRESSES[i].0, "--wait=false"])
            .await;
    }
    proxy.stop_faults();
    let faulty_deletes = proxy.tally();
    let _process = ControllerProcess::start("chaos", &chaos.setup);
    eventually_within(
        "every finalizer released",
        Duration::from_secs(180),
        || async {
            for name in SERVICES {
                if exists(&kubectl, "service", name).await {
                    return None;
                }
            }
            for (name, _) in INGRESSES {
                if exists(&kubectl, "ingress", name).await {
                    return None;
                }
            }
            Some(())
        },
    )
    .await;
    let left = ours(&aws).await;
    assert!(
        left.load_balancers.is_empty() && left.target_groups.is_empty(),
        "nothing of the cluster left: {left:?}"
    );
    assert!(
        left.security_groups
            .iter()
            .all(|(_, stack)| stack.is_empty()),
        "no managed security group left: {left:?}"
    );
    let described = aws
        .elbv2
        .describe_load_balancers()
        .load_balancer_arns(&foreign)
        .send()
        .await;
    assert!(described.is_ok(), "the foreign load balancer is untouched");
    let total = proxy.tally();
    let faulty_calls = faulty_creates.calls + faulty_deletes.calls - settled.calls;
    let faulted = faulty_deletes.faulted();
    eprintln!(
        "chaos: seed {seed}, {} kills; {} AWS calls in all, {faulty_calls} under faults, {faulted} faulted ({} throttled, {} 503, {} lost answers)",
        chaos.kills,
        total.calls,
        faulty_deletes.throttled,
        faulty_deletes.unavailable,
        faulty_deletes.lost_answer,
    );
    assert!(faulted > 0, "the proxy faulted calls: {total:?}");
}
