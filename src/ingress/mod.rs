//! Ingresses → Application Load Balancers: the pure half (collect and build).
//!
//! - `class`: which Ingresses are ours (legacy annotation, IngressClass, default class,
//!   IngressClassParams with its namespace selector);
//! - `group`: IngressGroups — identity, finalizers, members in `group.order` order, leaving and
//!   held members, protected deletions;
//! - `paths`, `rules`: the priority order of paths, each listener's rules with conditions
//!   (regex included), transforms and backends;
//! - `listen`: listen ports, the SSL redirect port, inbound sources, listener attributes;
//! - `actions`, `backends`, `auth`: `actions.*`/`conditions.*`/`transforms.*`, target groups,
//!   authentication and JWT validation;
//! - `certificates`, `mtls`, `addons`, `settings`: certificates (ACM discovery), mutual TLS,
//!   WAF/Shield/capacity, group-wide settings;
//! - `contribution`, `optimize`, `build`: one member's share, upstream's rule optimizer, the
//!   group's stack.
//!
//! The loop that runs it is `controller::ingress`; the dry run is `dry_run::ingress`. Not here:
//! the frontend NLB and controller-created ACM certificates.

pub mod actions;
pub mod addons;
pub mod auth;
mod backends;
pub mod build;
pub mod certificate_requests;
pub mod certificates;
pub mod class;
mod contribution;
pub mod frontend;
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
