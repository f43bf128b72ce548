//! The end-to-end tier, one test binary (it links the AWS SDK once) with a module per area:
//! the Kubernetes API emulator as kube-rs and kubectl see it, its answers to bad input, and the
//! moto harness.

mod chaos;
mod controller_process;
mod deploy_moto;
mod emulator_http;
mod emulator_kube_rs;
mod emulator_kubectl;
mod helm_chart;
mod helm_webhooks;
mod ingress_addons;
mod ingress_certificates;
mod ingress_controller;
mod ingress_frontend;
mod ingress_loop;
mod ingress_simulated;
mod listener_rules;
mod moto_harness;
mod service_controller;
mod service_loop;
mod target_registration;
mod waiting;
mod webhooks;
