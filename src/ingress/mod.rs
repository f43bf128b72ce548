//! Ingresses → Application Load Balancers. What exists so far is the front of the pipeline:
//!
//! - `class`: which Ingresses are ours (legacy annotation, IngressClass, default class,
//!   IngressClassParams with its namespace selector);
//! - `group`: IngressGroups — identity, finalizers, members in `group.order` order, leaving and
//!   held members;
//! - `paths`: the priority order of the paths within one rule.
//!
//! Not yet: the ALB model (listeners, rules, target groups, annotations), its deploy, the
//! controller loop, `plan` support.

pub mod class;
pub mod group;
pub mod paths;

#[cfg(test)]
mod tests;
