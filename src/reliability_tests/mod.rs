//! Reliability tests: Services and Ingress groups created, edited, re-grouped and deleted while
//! the simulated AWS fails calls (throttling, 5xx, answers lost after the write took effect, tag
//! lookups that lag behind creates), and the process crashing after any call. Each scenario
//! ends with the faults stopped and the stacks reconciled until they settle; then the
//! invariants are checked: AWS holds what the inputs want, nothing leaked, nothing duplicated,
//! nothing foreign touched, no deletion protection bypassed.
//!
//! The world runs the loops' own pipeline (`run_service`, `remove_service_stack`, `run_group`)
//! with what the loops remember kept in memory — and dropped on a crash.

mod crashes;
mod fuzzed_bindings;
mod fuzzed_input;
mod random_faults;
mod registration_faults;

use crate::cloud::ports::*;
use crate::cloud::simulator::{FaultTally, Simulator};
use crate::cloud::{LoadBalancerInput, TargetGroupInput};
use crate::config::ControllerConfig;
use crate::facts::CloudFacts;
use crate::ingress::class::ClassContext;
use crate::ingress::group::{load_group, GroupId};
use crate::ingress::input::MemberContribution;
use crate::model::{
    HealthCheck, IpAddressType, LoadBalancerType, Protocol, Scheme, SubnetMapping, Tags, TargetType,
};
use crate::observe::CLUSTER_TAG;
use crate::pipeline::ingress::{run_group, GroupOutcome, GroupRun};
use crate::pipeline::service::{remove_service_stack, run_service, ServiceOutcome};
use crate::pipeline::{NoCluster, Online};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

const CLUSTER: &str = "prod";
const VPC: &str = "vpc-0example";
const NAMESPACE: &str = "shop";

fn facts() -> CloudFacts {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/aws-facts.json");
    CloudFacts::from_documents(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The shapes a `type: LoadBalancer` Service of the scenarios takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ServiceShape {
    /// Instance targets, two ports, internet-facing.
    Instance,
    /// Ip targets, one port, internal.
    Ip,
    /// Instance targets with deletion protection on.
    Protected,
}

pub(super) fn load_balancer_service(name: &str, shape: ServiceShape) -> Service {
    let mut annotations = serde_json::Map::new();
    let mut annotate = |key: &str, value: &str| {
        annotations.insert(
            format!("service.beta.kubernetes.io/aws-load-balancer-{key}"),
            json!(value),
        );
    };
    annotate("type", "external");
    let mut ports = vec![
        json!({"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080, "protocol": "TCP"}),
    ];
    match shape {
        ServiceShape::Instance | ServiceShape::Protected => {
            annotate("nlb-target-type", "instance");
            annotate("scheme", "internet-facing");
            ports.push(json!({"name": "https", "port": 443, "targetPort": 8443, "nodePort": 30443, "protocol": "TCP"}));
        }
        ServiceShape::Ip => {
            annotate("nlb-target-type", "ip");
            annotate("scheme", "internal");
        }
    }
    if shape == ServiceShape::Protected {
        annotate("attributes", "deletion_protection.enabled=true");
    }
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": NAMESPACE, "uid": format!("uid-{name}"), "annotations": annotations},
        "spec": {"type": "LoadBalancer", "ports": ports}
    }))
    .unwrap()
}

/// An Ingress of group `group` (the scenarios' groups are explicit) routing `paths` to `app`.
pub(super) fn grouped_ingress(name: &str, group: &str, paths: &[&str]) -> Ingress {
    let paths: Vec<serde_json::Value> = paths
        .iter()
        .map(|p| json!({"path": p, "pathType": "Prefix", "backend": {"service": {"name": "app", "port": {"number": 80}}}}))
        .collect();
    serde_json::from_value(json!({
        "metadata": {"namespace": NAMESPACE, "name": name, "annotations": {
            "alb.ingress.kubernetes.io/group.name": group,
        }},
        "spec": {"ingressClassName": "alb", "rules": [{"http": {"paths": paths}}]}
    }))
    .unwrap()
}

/// The class `alb`, ours.
fn alb_class() -> IngressClass {
    serde_json::from_value(
        json!({"metadata": {"name": "alb"}, "spec": {"controller": "ingress.k8s.aws/alb"}}),
    )
    .unwrap()
}

/// The members' backend `app` (NodePort 30080).
fn backend_services() -> Vec<Service> {
    vec![serde_json::from_value(json!({
        "metadata": {"namespace": NAMESPACE, "name": "app", "uid": "00000000-0000-4000-8000-000000000001"},
        "spec": {"type": "NodePort", "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}]}
    }))
    .unwrap()]
}

/// The cluster as the scenarios see it, the simulated account, and what the loops remember.
pub(super) struct World {
    pub(super) cloud: Simulator,
    config: ControllerConfig,
    classes: Vec<IngressClass>,
    /// The `type: LoadBalancer` Services, by name.
    services: BTreeMap<String, Service>,
    ingresses: BTreeMap<String, Ingress>,
    /// Every Service and group the scenario ever had: gone ones are reconciled too (their
    /// stacks must go).
    seen_services: BTreeSet<String>,
    seen_groups: BTreeSet<String>,
    /// Per group, what each member contributed to the stack last deployed (the loop's memory).
    previous: BTreeMap<String, BTreeMap<String, MemberContribution>>,
    /// Services deleted while their load balancer had deletion protection on: it must stay.
    protected_when_deleted: BTreeSet<String>,
    /// The foreign resources seeded at the start, with their tags.
    foreign: BTreeMap<String, Tags>,
}

impl World {
    pub(super) async fn new() -> Self {
        let facts = facts();
        let cloud = Simulator::with_subnets(facts.subnets.clone());
        let mut world = Self {
            cloud,
            config: ControllerConfig::new(CLUSTER, VPC),
            classes: vec![alb_class()],
            services: BTreeMap::new(),
            ingresses: BTreeMap::new(),
            seen_services: BTreeSet::new(),
            seen_groups: BTreeSet::new(),
            previous: BTreeMap::new(),
            protected_when_deleted: BTreeSet::new(),
            foreign: BTreeMap::new(),
        };
        world.seed_foreign_resources(&facts).await;
        world
    }

    /// A load balancer and a target group of another cluster, and an untagged target group,
    /// made before the scenario: no step may change or delete them.
    async fn seed_foreign_resources(&mut self, facts: &CloudFacts) {
        let other_cluster = Tags::from([
            (CLUSTER_TAG.to_string(), "other".to_string()),
            (
                "service.k8s.aws/stack".to_string(),
                format!("{NAMESPACE}/web"),
            ),
        ]);
        let subnet_mappings: Vec<SubnetMapping> = facts
            .subnets
            .iter()
            .filter(|s| s.vpc_id == VPC)
            .take(2)
            .map(|s| SubnetMapping {
                subnet_id: s.subnet_id.clone(),
                allocation_id: None,
                private_ipv4_address: None,
                ipv6_address: None,
                source_nat_ipv6_prefix: None,
            })
            .collect();
        let load_balancer = self
            .cloud
            .create_load_balancer(&LoadBalancerInput {
                name: "other-cluster-web".into(),
                load_balancer_type: LoadBalancerType::Network,
                scheme: Scheme::InternetFacing,
                ip_address_type: IpAddressType::Ipv4,
                subnet_mappings,
                ipv6_source_nat: None,
                security_groups: Vec::new(),
                address_pools: Default::default(),
                tags: other_cluster.clone(),
            })
            .await
            .unwrap();
        self.foreign
            .insert(load_balancer.arn, other_cluster.clone());
        for (name, tags) in [
            ("other-cluster-tg", other_cluster),
            ("hand-made", Tags::new()),
        ] {
            let group = self
                .cloud
                .create_target_group(&TargetGroupInput {
                    name: name.into(),
                    target_type: TargetType::Instance,
                    protocol: Protocol::Tcp,
                    protocol_version: None,
                    target_control_port: None,
                    port: 30080,
                    ip_address_type: "ipv4".into(),
                    vpc_id: VPC.into(),
                    health_check: HealthCheck::nlb_default(),
                    tags: tags.clone(),
                })
                .await
                .unwrap();
            self.foreign.insert(group.arn, tags);
        }
    }

    pub(super) fn put_service(&mut self, name: &str, shape: ServiceShape) {
        self.seen_services.insert(name.to_string());
        self.protected_when_deleted.remove(name);
        self.services
            .insert(name.to_string(), load_balancer_service(name, shape));
    }

    /// Deletes the Service; a load balancer of it that has deletion protection on right now
    /// must outlive it.
    pub(super) fn delete_service(&mut self, name: &str) {
        if self.services.remove(name).is_some() {
            let protected = self
                .cloud
                .load_balancer_attributes_by_name(&self.load_balancer_name_of_service(name))
                .is_some_and(|attributes| {
                    attributes
                        .get("deletion_protection.enabled")
                        .map(String::as_str)
                        == Some("true")
                });
            if protected {
                self.protected_when_deleted.insert(name.to_string());
            }
        }
    }

    pub(super) fn put_ingress(&mut self, name: &str, group: &str, paths: &[&str]) {
        self.seen_groups.insert(group.to_string());
        self.ingresses
            .insert(name.to_string(), grouped_ingress(name, group, paths));
    }

    /// The group Ingress `name` is in now, if it exists.
    pub(super) fn group_of(&self, name: &str) -> Option<String> {
        self.ingresses
            .get(name)?
            .metadata
            .annotations
            .as_ref()?
            .get("alb.ingress.kubernetes.io/group.name")
            .cloned()
    }

    pub(super) fn delete_ingress(&mut self, name: &str) {
        self.ingresses.remove(name);
    }

    /// How many target groups of Service `name` AWS holds.
    pub(super) fn target_groups_of_service(&self, name: &str) -> usize {
        let prefix = format!("k8s-{NAMESPACE}-{name}-");
        self.cloud
            .target_group_names()
            .iter()
            .filter(|group| group.starts_with(&prefix))
            .count()
    }

    /// The process restarts: what the loops remembered is gone.
    pub(super) fn restart(&mut self) {
        self.previous.clear();
    }

    fn load_balancer_name_of_service(&self, name: &str) -> String {
        // The Service's stack carries its load balancer's name in the tags of what exists.
        let stack = format!("{NAMESPACE}/{name}");
        let tags = self.cloud.load_balancer_tags();
        tags.iter()
            .find(|(_, t)| {
                t.get(CLUSTER_TAG).map(String::as_str) == Some(CLUSTER)
                    && t.get("service.k8s.aws/stack") == Some(&stack)
            })
            .map(|(name, _)| name.clone())
            .unwrap_or_default()
    }

    /// One reconcile of Service `name` (its removal when it is gone); `Err` when any step failed.
    pub(super) async fn reconcile_service(&mut self, name: &str) -> Result<(), String> {
        let aws = Online {
            cloud: &self.cloud,
            config: &self.config,
        };
        match self.services.get(name) {
            Some(service) => match run_service(&aws, &NoCluster, service, None).await {
                Ok(ServiceOutcome::Built(run)) => {
                    run.deployed.map(|_| ()).map_err(|e| e.to_string())
                }
                Ok(ServiceOutcome::Invalid(problems)) => Err(format!("invalid: {problems:?}")),
                Err(error) => Err(error.to_string()),
            },
            None => {
                let id = format!("{NAMESPACE}/{name}");
                match remove_service_stack(&aws, &NoCluster, &id).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(error)) => Err(error.to_string()),
                    Err(error) => Err(error.to_string()),
                }
            }
        }
    }

    /// One reconcile of group `name`, as the loop does it; `Err` when any step failed.
    pub(super) async fn reconcile_group(&mut self, name: &str) -> Result<(), String> {
        let id = GroupId::Explicit(name.to_string());
        let namespaces = BTreeMap::new();
        let context = ClassContext {
            ingress_class_flag: "alb",
            classes: &self.classes,
            params: &[],
            namespace_labels: &namespaces,
        };
        let group =
            load_group(&id, self.ingresses.values(), &context).map_err(|e| e.to_string())?;
        let services = backend_services();
        let oidc_clients = Default::default();
        let empty = BTreeMap::new();
        let run = GroupRun {
            id: &id,
            group: &group,
            services: &services,
            oidc_clients: &oidc_clients,
            previous: self.previous.get(name).unwrap_or(&empty),
        };
        let aws = Online {
            cloud: &self.cloud,
            config: &self.config,
        };
        let outcome = run_group(&aws, &NoCluster, &run, std::time::SystemTime::now())
            .await
            .map_err(|e| e.to_string())?;
        let run = match outcome {
            GroupOutcome::Built(run) => run,
            GroupOutcome::Unbuildable(problem) => return Err(problem),
        };
        run.deployed.map_err(|e| e.to_string())?;
        self.previous
            .insert(name.to_string(), run.built.contributions);
        Ok(())
    }

    /// One reconcile of every stack the scenario ever had; the failures, by stack.
    pub(super) async fn reconcile_all(&mut self) -> Vec<String> {
        let mut failures = Vec::new();
        for name in self.seen_services.clone() {
            if let Err(error) = self.reconcile_service(&name).await {
                failures.push(format!("Service {name}: {error}"));
            }
        }
        for name in self.seen_groups.clone() {
            if let Err(error) = self.reconcile_group(&name).await {
                failures.push(format!("group {name}: {error}"));
            }
        }
        failures
    }

    /// Stops the faults, then reconciles everything until a round fails nothing (at most
    /// `rounds` rounds), then once more: that round must write nothing. Returns what the
    /// faults did and the rounds it took to settle.
    pub(super) async fn settle(&mut self, rounds: usize) -> (FaultTally, usize) {
        let tally = self.cloud.stop_faults();
        let mut taken = 0;
        loop {
            taken += 1;
            let failures = self.reconcile_all().await;
            if failures.is_empty() {
                break;
            }
            let expected_refusals = failures.iter().all(|f| self.is_refused_protected_delete(f));
            if expected_refusals {
                break;
            }
            assert!(
                taken < rounds,
                "not settled after {rounds} rounds: {failures:?}"
            );
        }
        self.cloud.calls.clear();
        self.reconcile_all().await;
        let writes: Vec<&str> = self
            .cloud
            .calls
            .writes()
            .into_iter()
            .filter(|w| *w != "DeleteLoadBalancer" || self.protected_when_deleted.is_empty())
            .collect();
        assert!(writes.is_empty(), "settled, yet a round writes {writes:?}");
        (tally, taken)
    }

    /// A failure that is the point: removing a deleted Service whose load balancer is
    /// protected, or replacing a protected load balancer (refused before any write).
    fn is_refused_protected_delete(&self, failure: &str) -> bool {
        failure.contains("has deletion protection on")
            || self
                .protected_when_deleted
                .iter()
                .any(|name| failure.starts_with(&format!("Service {name}:")))
    }

    /// The invariants of a settled world.
    pub(super) async fn check_invariants(&self) {
        let ours = Tags::from([(CLUSTER_TAG.to_string(), CLUSTER.to_string())]);
        let tagged = self.cloud.find_tagged(&ours).await.unwrap();
        let groups = self.cloud.find_security_groups(VPC, &ours).await.unwrap();
        // Every resource of ours belongs to a stack that should exist, once per resource id.
        let mut wanted_stacks: BTreeSet<(String, String)> = self
            .services
            .keys()
            .chain(&self.protected_when_deleted)
            .map(|name| {
                (
                    "service.k8s.aws/stack".to_string(),
                    format!("{NAMESPACE}/{name}"),
                )
            })
            .collect();
        let live_groups: BTreeSet<String> = self
            .ingresses
            .values()
            .filter_map(|i| {
                i.metadata
                    .annotations
                    .as_ref()?
                    .get("alb.ingress.kubernetes.io/group.name")
                    .cloned()
            })
            .collect();
        wanted_stacks.extend(
            live_groups
                .iter()
                .map(|g| ("ingress.k8s.aws/stack".to_string(), g.clone())),
        );
        let mut seen: BTreeMap<(String, String, String, String), usize> = BTreeMap::new();
        let resources = tagged
            .iter()
            .map(|r| (r.arn.clone(), format!("{:?}", r.kind), r.tags.clone()))
            .chain(
                groups
                    .iter()
                    .map(|g| (g.id.clone(), "SecurityGroup".to_string(), g.tags.clone())),
            );
        for (id, kind, tags) in resources {
            let stack = ["service.k8s.aws/stack", "ingress.k8s.aws/stack"]
                .iter()
                .find_map(|key| tags.get(*key).map(|v| (key.to_string(), v.clone())));
            let Some(stack) = stack else {
                // The shared backend security group carries no stack tag.
                assert_eq!(
                    tags.get("elbv2.k8s.aws/resource").map(String::as_str),
                    Some("backend-sg"),
                    "a resource of ours outside any stack: {id} {tags:?}"
                );
                *seen
                    .entry(("backend".into(), String::new(), kind, String::new()))
                    .or_default() += 1;
                continue;
            };
            assert!(
                wanted_stacks.contains(&stack),
                "leaked: {kind} {id} of {stack:?} (wanted: {wanted_stacks:?})"
            );
            let resource = tags
                .get("ingress.k8s.aws/resource")
                .or_else(|| tags.get("service.k8s.aws/resource"))
                .cloned()
                .unwrap_or_default();
            *seen.entry((stack.0, stack.1, kind, resource)).or_default() += 1;
        }
        let duplicates: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
        assert!(duplicates.is_empty(), "duplicated: {duplicates:?}");
        // Every stack that should exist has its load balancer.
        for stack in &wanted_stacks {
            let load_balancers = seen
                .keys()
                .filter(|(key, value, kind, _)| {
                    (key, value) == (&stack.0, &stack.1) && kind == "LoadBalancer"
                })
                .count();
            assert_eq!(load_balancers, 1, "the load balancer of {stack:?}");
        }
        // Foreign resources are as they were.
        for (arn, tags) in &self.foreign {
            let found = self
                .cloud
                .describe_tags(std::slice::from_ref(arn))
                .await
                .unwrap();
            assert_eq!(found.get(arn), Some(tags), "foreign {arn} changed");
        }
        // Protected load balancers of deleted Services are still protected.
        for name in &self.protected_when_deleted {
            let attributes = self
                .cloud
                .load_balancer_attributes_by_name(&self.load_balancer_name_of_service(name))
                .unwrap_or_default();
            assert_eq!(
                attributes
                    .get("deletion_protection.enabled")
                    .map(String::as_str),
                Some("true"),
                "the protection of {name}'s load balancer"
            );
        }
    }
}
