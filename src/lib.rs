//! A Kubernetes controller for AWS Application and Network Load Balancers, compatible with
//! kubernetes-sigs/aws-load-balancer-controller (same annotations, CRDs, tags and finalizers).
//!
//! The loops (`controller`, `registration`) watch and report; each stack's run is the one
//! `pipeline` (observe → discover → certificates → build → plan → apply), laid out in
//! `docs/architecture.md`. This crate holds the controller only; its test ground (the
//! Kubernetes API emulator, the moto harness, end-to-end tests) lives under `e2e/`.

#![forbid(unsafe_code)]

pub mod annotations;
pub mod apply;
pub mod aws_clients;
pub mod cli;
pub mod cloud;
pub mod config;
pub mod controller;
pub mod crd;
pub mod deploy;
pub mod discover;
pub mod dry_run;
pub mod facts;
#[cfg(test)]
mod golden;
pub mod ingress;
pub mod leader_election;
pub mod lifecycle;
pub mod manifests;
pub mod metrics;
pub mod model;
pub mod naming;
pub mod networking;
pub mod observe;
pub mod pipeline;
pub mod plan;
pub mod probes;
#[cfg(test)]
mod purity_tests;
pub mod registration;
#[cfg(test)]
mod reliability_tests;
pub mod service;
pub mod subnets;
pub mod target_rules;
pub mod targets;
pub mod vpc;
pub mod watched;
pub mod webhook;
