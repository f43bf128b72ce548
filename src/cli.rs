//! The command line: argument parsing and the `plan` command, returning what to print and the
//! exit code instead of printing, so the whole command is testable without a process.
//!
//! Exit codes: 0 success, 1 when some object has problems (the others are still planned),
//! 2 when the command cannot run at all (unreadable file, malformed manifest or facts, bad flag).

use crate::config::{ControllerConfig, FeatureGates};
use crate::dry_run::{dry_run, render_problems, render_table};
use crate::facts::CloudFacts;
use crate::manifests::read_manifests;
use crate::model::{Scheme, TargetType};
use clap::{Parser, Subcommand, ValueEnum};

/// The command line with `run` implied when it starts with a flag: upstream's image takes its flags
/// alone (`--cluster-name=…`), so manifests written for it work with ours unchanged.
pub fn with_implied_run(mut line: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let implied = line
        .get(1)
        .and_then(|first| first.to_str())
        .is_some_and(|first| first.starts_with("--") && !matches!(first, "--help" | "--version"));
    if implied {
        line.insert(1, "run".into());
    }
    line
}

/// What a command wants printed, and how the process should exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    pub stdout: String,
    pub stderr: String,
    pub exit_code: u8,
}

impl CommandOutput {
    fn failure(message: String) -> Self {
        Self {
            stdout: String::new(),
            stderr: format!("error: {message}\n"),
            exit_code: 2,
        }
    }
}

const EXAMPLE_SERVICES: &str = include_str!("../examples/services.yaml");
const EXAMPLE_INGRESSES: &str = include_str!("../examples/ingresses.yaml");
const EXAMPLE_FACTS: &str = include_str!("../examples/aws-facts.json");

/// Kubernetes controller for AWS Application and Network Load Balancers.
#[derive(Parser)]
#[command(name = "aws-load-balancer-controller", version, about)]
pub struct Arguments {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Show the load balancers the controller would build for some manifests, offline.
    ///
    /// Without -f, plans the embedded examples (examples/services.yaml and examples/ingresses.yaml
    /// with examples/aws-facts.json).
    Plan(Box<PlanArguments>),
    /// Run the controller against the cluster (in-cluster config or KUBECONFIG) and AWS.
    Run(Box<run::RunArguments>),
    /// Print the controller's CustomResourceDefinitions (YAML, for `kubectl apply -f -`).
    Crds,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Output {
    Table,
    Json,
}

/// The controller's own flags, shared by `plan` and `run` (upstream's names and defaults).
#[derive(clap::Args)]
pub struct ControllerFlags {
    #[arg(long)]
    cluster_name: Option<String>,
    /// The cluster's VPC; `plan` defaults to the only VPC the facts' subnets are in.
    #[arg(long = "aws-vpc-id", alias = "vpc-id")]
    vpc_id: Option<String>,
    #[arg(long, value_parser = ["internal", "internet-facing"], default_value = "internal")]
    default_load_balancer_scheme: String,
    #[arg(long, value_parser = ["instance", "ip"], default_value = "instance")]
    default_target_type: String,
    #[arg(long, default_value = "ELBSecurityPolicy-2016-08")]
    default_ssl_policy: String,
    #[arg(long, default_value = "service.k8s.aws/nlb")]
    load_balancer_class: String,
    /// Tags for every resource, `k=v,k2=v2`.
    #[arg(long, default_value = "")]
    default_tags: String,
    /// Tags (`k=v,k2=v2`) a security group on a target's interface must carry, besides the
    /// cluster tag, to receive the rules when the interface has several.
    #[arg(long, default_value = "")]
    service_target_eni_security_group_tags: String,
    /// The account's quota of inbound rules per security group: a managed security group that
    /// needs more is spread over extra groups, up to the load balancer's five.
    #[arg(long, default_value = "60", value_parser = clap::value_parser!(u16).range(1..))]
    max_rules_per_security_group: u16,
    /// Tag keys managed outside the controller, comma-separated.
    #[arg(long, default_value = "")]
    external_managed_tags: String,
    /// `Name=true,Other=false` for EnableTCPUDPListener, SubnetsClusterTagCheck,
    /// NLBHealthCheckAdvancedConfig, ListenerRulesTagging, EnableIPTargetType, NLBSecurityGroup,
    /// LBCapacityReservation, EnhancedDefaultBehavior, IngressPlanAnnotation,
    /// EnableCertificateManagement.
    #[arg(long, default_value = "")]
    feature_gates: String,
    #[arg(long, default_value = "true", action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    enable_backend_security_group: bool,
    /// Use this security group (`sg-…`) as the shared backend group instead of creating one.
    #[arg(long)]
    backend_security_group: Option<String>,
    /// The default of the `manage-backend-security-group-rules` annotations (needs the backend
    /// security group).
    #[arg(long, default_value = "false", action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    enable_manage_backend_security_group_rules: bool,
    /// Target security groups admit every port from the load balancer, not only the traffic
    /// and health-check ports.
    #[arg(long, default_value = "false", action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    disable_restricted_sg_rules: bool,
    /// A rule forwarding to a Service that does not exist answers 503 (false: the Ingress is held).
    #[arg(long, default_value = "true", action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    tolerate_non_existent_backend_service: bool,
    /// A `use-annotation` backend without its `actions.*` annotation answers 503 (false: held).
    #[arg(long, default_value = "true", action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    tolerate_non_existent_backend_action: bool,
    /// Associate the WAFv2 web ACLs Ingresses name (`wafv2-acl-arn`, `wafv2-acl-name`).
    #[arg(long, default_value = "true", action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    enable_wafv2: bool,
    /// Associate the WAF Classic web ACLs Ingresses name (`waf-acl-id`).
    #[arg(long, default_value = "true", action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    enable_waf: bool,
    /// Manage Shield Advanced protections (`shield-advanced-protection`).
    #[arg(long, default_value = "true", action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    enable_shield: bool,
    /// Certificate discovery takes only certificates of these private CAs (comma-separated ARNs).
    #[arg(long, default_value = "")]
    allowed_certificate_authority_arns: String,
    /// The private CA of certificates `create-acm-cert` requests (gate EnableCertificateManagement).
    #[arg(long, default_value = "")]
    default_pca_arn: String,
}

#[derive(clap::Args)]
pub struct PlanArguments {
    /// Manifest files (multi-document YAML or JSON); `-` reads standard input.
    #[arg(short = 'f', long = "filename")]
    files: Vec<String>,
    /// AWS facts (repeatable, merged): output of `aws ec2 describe-subnets`, and optionally
    /// describe-security-groups, describe-route-tables, describe-availability-zones, and for a
    /// plan of changes `aws elbv2` describe-load-balancers, -target-groups, -listeners, -tags.
    #[arg(long)]
    facts: Vec<String>,
    #[command(flatten)]
    controller: ControllerFlags,
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    output: Output,
}

fn read_source(
    path: &str,
    stdin: &mut dyn FnMut() -> Result<String, String>,
) -> Result<String, String> {
    if path == "-" {
        return stdin();
    }
    std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))
}

fn feature_gates(text: &str) -> Result<FeatureGates, String> {
    let mut gates = FeatureGates::default();
    for (name, value) in crate::annotations::parse_string_map(text)? {
        let enabled = crate::annotations::parse_boolean(&value)
            .ok_or_else(|| format!("--feature-gates: {name}={value:?} is not a boolean"))?;
        let gate = match name.as_str() {
            "EnableTCPUDPListener" => &mut gates.tcp_udp_listener,
            "SubnetsClusterTagCheck" => &mut gates.subnets_cluster_tag_check,
            "NLBHealthCheckAdvancedConfig" => &mut gates.nlb_health_check_advanced_config,
            "ListenerRulesTagging" => &mut gates.listener_rules_tagging,
            "EnableIPTargetType" => &mut gates.ip_target_type,
            "NLBSecurityGroup" => &mut gates.nlb_security_group,
            "LBCapacityReservation" => &mut gates.lb_capacity_reservation,
            "EnhancedDefaultBehavior" => &mut gates.enhanced_default_behavior,
            "IngressPlanAnnotation" => &mut gates.ingress_plan_annotation,
            "EnableCertificateManagement" => &mut gates.certificate_management,
            other => return Err(format!("--feature-gates: unknown gate {other}")),
        };
        *gate = enabled;
    }
    Ok(gates)
}

/// The controller configuration `flags` describe, for the given cluster and VPC.
fn controller_config(
    flags: &ControllerFlags,
    cluster_name: &str,
    vpc_id: &str,
) -> Result<ControllerConfig, String> {
    let mut config = ControllerConfig::new(cluster_name, vpc_id);
    config.default_scheme =
        Scheme::parse(&flags.default_load_balancer_scheme).unwrap_or(Scheme::Internal);
    config.default_target_type = if flags.default_target_type == "ip" {
        TargetType::Ip
    } else {
        TargetType::Instance
    };
    config.default_ssl_policy = flags.default_ssl_policy.clone();
    config.load_balancer_class = flags.load_balancer_class.clone();
    config.default_tags = crate::annotations::parse_string_map(&flags.default_tags)
        .map_err(|e| format!("--default-tags: {e}"))?;
    config.service_target_eni_security_group_tags =
        crate::annotations::parse_string_map(&flags.service_target_eni_security_group_tags)
            .map_err(|e| format!("--service-target-eni-security-group-tags: {e}"))?;
    config.external_managed_tags =
        crate::annotations::parse_string_list(&flags.external_managed_tags)
            .into_iter()
            .collect();
    config.feature_gates = feature_gates(&flags.feature_gates)?;
    config.rules_per_security_group = usize::from(flags.max_rules_per_security_group);
    config.enable_backend_security_group = flags.enable_backend_security_group;
    config.backend_security_group = flags.backend_security_group.clone();
    config.manage_backend_security_group_rules = flags.enable_manage_backend_security_group_rules;
    config.disable_restricted_sg_rules = flags.disable_restricted_sg_rules;
    config.tolerate_missing_backend_service = flags.tolerate_non_existent_backend_service;
    config.tolerate_missing_backend_action = flags.tolerate_non_existent_backend_action;
    config.enable_wafv2 = flags.enable_wafv2;
    config.enable_waf = flags.enable_waf;
    config.enable_shield = flags.enable_shield;
    config.allowed_certificate_authorities =
        crate::annotations::parse_string_list(&flags.allowed_certificate_authority_arns)
            .into_iter()
            .collect();
    config.default_pca_arn = Some(flags.default_pca_arn.clone()).filter(|arn| !arn.is_empty());
    config.validate().map_err(|problems| problems.join("; "))?;
    Ok(config)
}

/// The configuration of a `plan` run: the embedded examples default to cluster `prod`, and the VPC
/// to the only one the facts hold.
fn plan_config(
    arguments: &PlanArguments,
    facts: &CloudFacts,
    embedded: bool,
) -> Result<ControllerConfig, String> {
    let flags = &arguments.controller;
    let cluster_name = match (&flags.cluster_name, embedded) {
        (Some(name), _) => name.clone(),
        (None, true) => "prod".to_string(),
        (None, false) => return Err("--cluster-name is required".to_string()),
    };
    let vpcs: std::collections::BTreeSet<&str> =
        facts.subnets.iter().map(|s| s.vpc_id.as_str()).collect();
    let vpc_id = match (&flags.vpc_id, vpcs.iter().next()) {
        (Some(vpc), _) => vpc.clone(),
        (None, Some(only)) if vpcs.len() == 1 => only.to_string(),
        (None, _) => {
            return Err(
                "--aws-vpc-id is required when the facts do not hold exactly one VPC's subnets"
                    .to_string(),
            )
        }
    };
    controller_config(flags, &cluster_name, &vpc_id)
}

fn plan(
    arguments: &PlanArguments,
    stdin: &mut dyn FnMut() -> Result<String, String>,
) -> Result<CommandOutput, String> {
    let embedded = arguments.files.is_empty();
    let mut objects = Vec::new();
    if embedded {
        objects = read_manifests("examples/services.yaml", EXAMPLE_SERVICES)
            .map_err(|e| e.to_string())?;
        objects.extend(
            read_manifests("examples/ingresses.yaml", EXAMPLE_INGRESSES)
                .map_err(|e| e.to_string())?,
        );
    }
    for file in &arguments.files {
        let text = read_source(file, stdin)?;
        objects.extend(read_manifests(file, &text).map_err(|e| e.to_string())?);
    }
    let mut facts_text = String::new();
    for path in &arguments.facts {
        facts_text.push_str("\n---\n");
        facts_text.push_str(&read_source(path, stdin)?);
    }
    if arguments.facts.is_empty() && embedded {
        facts_text = EXAMPLE_FACTS.to_string();
    }
    let facts = CloudFacts::from_documents(&facts_text)?;
    let config = plan_config(arguments, &facts, embedded)?;
    let report = dry_run(&objects, &config, &facts);
    let stdout = match arguments.output {
        Output::Table => render_table(&report),
        Output::Json => serde_json::to_string_pretty(&report).map_err(|e| e.to_string())? + "\n",
    };
    Ok(CommandOutput {
        stdout,
        stderr: render_problems(&report),
        exit_code: if report.problems.is_empty() { 0 } else { 1 },
    })
}

/// Runs a parsed command line. `stdin` is read only when a file argument is `-`.
pub fn execute(
    arguments: &Arguments,
    stdin: &mut dyn FnMut() -> Result<String, String>,
) -> CommandOutput {
    let outcome = match &arguments.command {
        Command::Plan(plan_arguments) => plan(plan_arguments, stdin),
        Command::Run(_) => Err("run is executed by the binary's runtime, not here".to_string()),
        Command::Crds => crate::crd::all_crds_yaml().map(|stdout| CommandOutput {
            stdout,
            stderr: String::new(),
            exit_code: 0,
        }),
    };
    outcome.unwrap_or_else(CommandOutput::failure)
}

pub mod run;

#[cfg(test)]
mod tests;
