//! Support for the end-to-end tier: a moto server per test binary ([`moto`]), kubectl run as a
//! real client against the Kubernetes API emulator ([`kubectl`]), and an emulator with a kube
//! client pointed at it ([`cluster`]), the controller binary as a process ([`process`]), a
//! fault-injecting proxy to put in front of moto ([`fault_proxy`]), and benchmark workloads
//! ([`workload`]).
//!
//! Nothing here installs anything: the test command (`e2e/run-tests`) prepares the virtualenv
//! with the pinned moto, and kubectl is the machine's own.

#![forbid(unsafe_code)]

pub mod cluster;
pub mod fault_proxy;
pub mod kubectl;
pub mod moto;
pub mod process;
pub mod samples;
pub mod workload;
