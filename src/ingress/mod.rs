//! Ingresses → Application Load Balancers. What exists so far is the front of the pipeline:
//!
//! - `class`: which Ingresses are ours (legacy annotation, IngressClass, default class,
//!   IngressClassParams with its namespace selector);
//! - `group`: IngressGroups — identity, finalizers, members in `group.order` order, leaving and
//!   held members;
//! - `paths`: the priority order of the paths within one rule;
//! - `listen`: each member's `listen-ports`, the group's listeners, the SSL redirect port;
//! - `rules`: the rules of one listener, with conditions, backends and priorities.
//!
//! Not yet: the ALB model (target groups, actions, annotations beyond these), its deploy, the
//! controller loop, `plan` support.

pub mod actions;
pub mod addons;
pub mod auth;
mod backends;
pub mod build;
pub mod certificates;
pub mod class;
mod contribution;
pub mod group;
pub mod listen;
pub mod mtls;
mod optimize;
pub mod paths;
pub mod rules;
mod settings;

#[cfg(test)]
mod golden_tests;
#[cfg(test)]
mod pipeline_tests;
#[cfg(test)]
mod tests;
