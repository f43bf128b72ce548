//! The HTTPS server of the webhooks: TLS 1.2+ with the rotating [`ServingCertificate`],
//! HTTP/1.1, one POST route per webhook path; each AdmissionReview is answered from the caches
//! (the TargetGroupBinding mutator alone asks AWS, for the target group it must describe).
//! A request it cannot read is answered `allowed: false` with the reason, never a panic.

use super::caches::WebhookCaches;
use super::certificates::ServingCertificate;
use super::ingresses::{judge_ingress, IngressVerdict};
use super::*;
use crate::cloud::ports::LoadBalancing;
use crate::crd::ingress_class_params::IngressClassParams;
use crate::crd::target_group_binding::TargetGroupBinding;
use crate::ingress::class::ClassContext;
use crate::metrics::metrics;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::Router;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use kube::core::DynamicObject;
use kube::Resource;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_rustls::rustls::{self, ServerConfig};

/// Answers admission requests.
pub struct Admission<C> {
    pub caches: WebhookCaches,
    pub settings: WebhookSettings,
    pub cloud: C,
}

type Review = AdmissionReview<DynamicObject>;

fn parse<T>(body: &[u8]) -> Result<AdmissionRequest<T>, String>
where
    T: Resource + serde::de::DeserializeOwned,
{
    let review: AdmissionReview<T> =
        serde_json::from_slice(body).map_err(|e| format!("not an AdmissionReview: {e}"))?;
    review
        .try_into()
        .map_err(|_| "the AdmissionReview holds no request".to_string())
}

fn patched(
    response: AdmissionResponse,
    patch: Option<json_patch::Patch>,
    webhook: &str,
) -> AdmissionResponse {
    let Some(patch) = patch else {
        return response;
    };
    match response.clone().with_patch(patch) {
        Ok(response) => response,
        Err(error) => {
            metrics()
                .webhook_mutation_failure_total
                .with_label_values(&[webhook, "patch"])
                .inc();
            response.deny(format!("{webhook}: cannot encode the patch: {error}"))
        }
    }
}

fn refused(response: AdmissionResponse, webhook: &str, problems: &[String]) -> AdmissionResponse {
    if problems.is_empty() {
        return response;
    }
    metrics()
        .webhook_validation_failure_total
        .with_label_values(&[webhook, "invalid"])
        .inc();
    response.deny(problems.join("; "))
}

impl<C: LoadBalancing> Admission<C> {
    fn pod(&self, request: &AdmissionRequest<Pod>) -> AdmissionResponse {
        let response = AdmissionResponse::from(request);
        let Some(pod) = request.object.as_ref() else {
            return response;
        };
        if !self.settings.inject_readiness_gates || request.operation != Operation::Create {
            return response;
        }
        let namespace = request
            .namespace
            .clone()
            .or_else(|| pod.metadata.namespace.clone())
            .unwrap_or_default();
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        let gates = pods::readiness_gates_for(
            &labels,
            &self.caches.bindings_in(&namespace),
            &self.caches.services_in(&namespace),
        );
        patched(
            response,
            pods::readiness_gate_patch(pod, &gates),
            "mpod.elbv2.k8s.aws",
        )
    }

    fn service(&self, request: &AdmissionRequest<Service>) -> AdmissionResponse {
        let response = AdmissionResponse::from(request);
        let Some(service) = request.object.as_ref() else {
            return response;
        };
        let old = match request.operation {
            Operation::Create => None,
            Operation::Update => request.old_object.as_ref(),
            _ => return response,
        };
        if request.operation == Operation::Update && old.is_none() {
            return response;
        }
        let patch =
            services::load_balancer_class_patch(service, old, &self.settings.load_balancer_class);
        patched(response, patch, "mservice.elbv2.k8s.aws")
    }

    async fn binding_defaults(
        &self,
        request: &AdmissionRequest<TargetGroupBinding>,
    ) -> AdmissionResponse {
        const WEBHOOK: &str = "mtargetgroupbinding.elbv2.k8s.aws";
        let response = AdmissionResponse::from(request);
        let Some(binding) = request.object.as_ref() else {
            return response;
        };
        if request.operation != Operation::Create || !bindings::needs_target_group(&binding.spec) {
            return response;
        }
        let spec = &binding.spec;
        let arn = spec.target_group_arn.clone().filter(|arn| !arn.is_empty());
        let name = spec
            .target_group_name
            .clone()
            .filter(|name| !name.is_empty());
        let found = match (arn, name) {
            (Some(arn), _) => self
                .cloud
                .describe_target_groups(std::slice::from_ref(&arn))
                .await
                .map(|groups| groups.first().map(bindings::BoundTargetGroup::from))
                .map_err(|e| format!("spec.targetGroupARN: cannot describe {arn}: {e}")),
            (None, Some(name)) => self
                .cloud
                .find_target_group_by_name(&name)
                .await
                .map(|group| group.as_ref().map(bindings::BoundTargetGroup::from))
                .map_err(|e| format!("spec.targetGroupName: cannot look up {name}: {e}")),
            (None, None) => {
                return refused(
                    response,
                    WEBHOOK,
                    &["spec.targetGroupARN or spec.targetGroupName is required".into()],
                )
            }
        };
        let target_group = match found {
            Ok(Some(group)) => group,
            Ok(None) => {
                return refused(
                    response,
                    WEBHOOK,
                    &["spec.targetGroupARN/targetGroupName: no such target group".into()],
                )
            }
            Err(problem) => {
                metrics()
                    .webhook_mutation_failure_total
                    .with_label_values(&[WEBHOOK, "aws"])
                    .inc();
                return response.deny(problem);
            }
        };
        match bindings::defaulted_spec(spec, &target_group) {
            Ok(defaulted) => {
                let original = serde_json::to_value(binding).unwrap_or_default();
                let mut mutated = original.clone();
                mutated["spec"] = serde_json::to_value(&defaulted).unwrap_or_default();
                patched(
                    response,
                    Some(json_patch::diff(&original, &mutated)),
                    WEBHOOK,
                )
            }
            Err(problem) => refused(response, WEBHOOK, &[problem]),
        }
    }

    fn binding_validation(
        &self,
        request: &AdmissionRequest<TargetGroupBinding>,
    ) -> AdmissionResponse {
        let response = AdmissionResponse::from(request);
        let Some(binding) = request.object.as_ref() else {
            return response;
        };
        let others: Vec<TargetGroupBinding> = self
            .caches
            .bindings
            .state()
            .iter()
            .map(|b| b.as_ref().clone())
            .collect();
        let old = (request.operation == Operation::Update)
            .then_some(request.old_object.as_ref())
            .flatten();
        let problems = bindings::binding_problems(binding, old, &others);
        refused(response, "vtargetgroupbinding.elbv2.k8s.aws", &problems)
    }

    fn params_validation(
        &self,
        request: &AdmissionRequest<IngressClassParams>,
    ) -> AdmissionResponse {
        let response = AdmissionResponse::from(request);
        match request.object.as_ref() {
            Some(params) => refused(
                response,
                "vingressclassparams.elbv2.k8s.aws",
                &params::params_problems(&params.spec),
            ),
            None => response,
        }
    }

    fn ingress_validation(&self, request: &AdmissionRequest<Ingress>) -> AdmissionResponse {
        let response = AdmissionResponse::from(request);
        let Some(ingress) = request.object.as_ref() else {
            return response;
        };
        let mut ingress = ingress.clone();
        if ingress.metadata.namespace.is_none() {
            ingress.metadata.namespace = request.namespace.clone();
        }
        let classes: Vec<_> = self
            .caches
            .classes
            .state()
            .iter()
            .map(|c| c.as_ref().clone())
            .collect();
        let params: Vec<_> = self
            .caches
            .params
            .state()
            .iter()
            .map(|p| p.as_ref().clone())
            .collect();
        let namespace_labels = self.caches.namespace_labels();
        let context = ClassContext {
            ingress_class_flag: &self.settings.ingress_class,
            classes: &classes,
            params: &params,
            namespace_labels: &namespace_labels,
        };
        let old = (request.operation == Operation::Update)
            .then_some(request.old_object.as_ref())
            .flatten();
        match judge_ingress(&ingress, old, &context) {
            IngressVerdict::Admit => response,
            IngressVerdict::AdmitWithWarning(warning) => {
                let mut response = response;
                response.warnings = Some(vec![warning]);
                response
            }
            IngressVerdict::Refuse(problem) => {
                refused(response, "vingress.elbv2.k8s.aws", &[problem])
            }
        }
    }

    /// Answers one AdmissionReview sent to `path`.
    pub async fn review(&self, path: &str, body: &[u8]) -> Review {
        let response = match path {
            POD_MUTATOR_PATH => parse(body).map(|r| self.pod(&r)),
            SERVICE_MUTATOR_PATH => parse(body).map(|r| self.service(&r)),
            BINDING_MUTATOR_PATH => match parse(body) {
                Ok(request) => Ok(self.binding_defaults(&request).await),
                Err(problem) => Err(problem),
            },
            BINDING_VALIDATOR_PATH => parse(body).map(|r| self.binding_validation(&r)),
            PARAMS_VALIDATOR_PATH => parse(body).map(|r| self.params_validation(&r)),
            INGRESS_VALIDATOR_PATH => parse(body).map(|r| self.ingress_validation(&r)),
            other => Err(format!("no webhook at {other}")),
        };
        response
            .unwrap_or_else(AdmissionResponse::invalid)
            .into_review()
    }
}

async fn answer<C: LoadBalancing>(
    State((admission, path)): State<(Arc<Admission<C>>, &'static str)>,
    body: Bytes,
) -> ([(&'static str, &'static str); 1], Vec<u8>) {
    let started = Instant::now();
    let review = admission.review(path, &body).await;
    metrics()
        .webhook_requests_total
        .with_label_values(&[path, "200"])
        .inc();
    metrics()
        .webhook_latency_seconds
        .with_label_values(&[path])
        .observe(started.elapsed().as_secs_f64());
    ([("content-type", "application/json")], encoded(&review))
}

/// The review as the API server reads it: the patch as base64 text (kube-core's type holds it
/// as bytes, which serde would write as a list of numbers).
pub fn encoded(review: &Review) -> Vec<u8> {
    use base64::Engine;
    let mut value = serde_json::to_value(review).unwrap_or_default();
    if let Some(patch) = value.pointer_mut("/response/patch") {
        if let Some(bytes) = patch.as_array() {
            let bytes: Vec<u8> = bytes
                .iter()
                .filter_map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect();
            *patch = base64::engine::general_purpose::STANDARD
                .encode(bytes)
                .into();
        }
    }
    serde_json::to_vec(&value).unwrap_or_default()
}

/// Every webhook path, answered by `admission`.
pub fn router<C: LoadBalancing + Send + Sync + 'static>(admission: Arc<Admission<C>>) -> Router {
    let paths = [
        POD_MUTATOR_PATH,
        SERVICE_MUTATOR_PATH,
        BINDING_MUTATOR_PATH,
        BINDING_VALIDATOR_PATH,
        PARAMS_VALIDATOR_PATH,
        INGRESS_VALIDATOR_PATH,
    ];
    paths.into_iter().fold(Router::new(), |router, path| {
        router.route(
            path,
            post(answer::<C>).with_state((admission.clone(), path)),
        )
    })
}

/// TLS settings: 1.2 and 1.3 with the provider's (ECDHE, AES-GCM, ChaCha20) suites, HTTP/1.1.
pub fn tls_config(certificate: ServingCertificate) -> Result<ServerConfig, String> {
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let mut config = ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(certificate));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Binds `address` and serves `router` over TLS until the process ends; returns the bound
/// address once listening.
pub async fn serve(
    address: SocketAddr,
    certificate: ServingCertificate,
    router: Router,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), String> {
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls_config(certificate)?));
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| format!("cannot listen on {address}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _peer)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let acceptor = acceptor.clone();
            let router = router.clone();
            tokio::spawn(async move {
                let handshake =
                    tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream));
                let Ok(Ok(tls)) = handshake.await else {
                    return;
                };
                let service = hyper_util::service::TowerToHyperService::new(router);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    Ok((bound, task))
}
