//! The admission webhooks, served over HTTPS by every replica (leader or not): the pod
//! readiness-gate mutator, the Service class mutator, the TargetGroupBinding mutator and
//! validator, and the Ingress and IngressClassParams validators, at upstream's paths.
//!
//! - `pods`, `services`, `bindings`, `ingresses`, `params`: the pure decisions;
//! - `caches`: the watches they read (no Kubernetes API call per admission);
//! - `server`: TLS, routing, AdmissionReview in and out;
//! - `certificates`: the serving certificate from files (cert-manager, Helm) or generated,
//!   rotated and published in the webhook configurations' `caBundle` by the controller itself.
//!
//! Not here: the webhook configurations themselves (the Helm chart installs them).

pub mod bindings;
pub mod caches;
pub mod certificates;
pub mod ingresses;
pub mod params;
pub mod pods;
pub mod server;
#[cfg(test)]
mod server_tests;
pub mod services;

pub const POD_MUTATOR_PATH: &str = "/mutate-v1-pod";
pub const SERVICE_MUTATOR_PATH: &str = "/mutate-v1-service";
pub const BINDING_MUTATOR_PATH: &str = "/mutate-elbv2-k8s-aws-v1beta1-targetgroupbinding";
pub const BINDING_VALIDATOR_PATH: &str = "/validate-elbv2-k8s-aws-v1beta1-targetgroupbinding";
pub const PARAMS_VALIDATOR_PATH: &str = "/validate-elbv2-k8s-aws-v1beta1-ingressclassparams";
pub const INGRESS_VALIDATOR_PATH: &str = "/validate-networking-v1-ingress";

/// What the webhooks decide with, from flags.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookSettings {
    /// `--enable-pod-readiness-gate-inject`: off, the pod mutator admits pods unchanged.
    pub inject_readiness_gates: bool,
    /// `--load-balancer-class`, given to new LoadBalancer Services.
    pub load_balancer_class: String,
    /// `--ingress-class`, for telling our Ingresses from others.
    pub ingress_class: String,
}
