//! The certificates a stack asks the controller to request (`create-acm-cert`, gate
//! `EnableCertificateManagement`), planned in two places as upstream orders them: requests
//! (and validation records) before anything else — the build waits for them — and deletions of
//! certificates no longer wanted last, after the listeners stopped using them. A certificate
//! still pending validation five minutes after it was requested is deleted and requested anew
//! (upstream's rule). Pure: the time is given.

use super::Change;
use crate::cloud::ObservedCertificate;
use crate::model::{CertificateSpec, Stack};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

/// How long a certificate may stay pending before it is requested anew.
pub const PENDING_LIMIT: Duration = Duration::from_secs(5 * 60);

/// The resource id a certificate of the stack carries in its tags.
pub fn certificate_resource_id(certificate: &ObservedCertificate) -> Option<&str> {
    crate::model::identity::ingress_resource_id(&certificate.tags)
}

/// Requests, re-requests and validation-record writes that take AWS towards `wanted`.
pub fn plan_certificate_requests(
    wanted: &BTreeMap<String, CertificateSpec>,
    observed: &[ObservedCertificate],
    now: SystemTime,
) -> Vec<Change> {
    let mut changes = Vec::new();
    for (id, spec) in wanted {
        let found: Vec<&ObservedCertificate> = observed
            .iter()
            .filter(|c| certificate_resource_id(c) == Some(id.as_str()))
            .collect();
        let usable = found.iter().find(|c| matches!(c.status.as_str(), "ISSUED"));
        let pending = found
            .iter()
            .find(|c| c.status == "PENDING_VALIDATION" && !overdue(c, now));
        match (usable, pending) {
            (Some(_), _) => {}
            (None, Some(certificate)) => {
                if !certificate.validation_records.is_empty() {
                    changes.push(Change::WriteValidationRecords {
                        arn: certificate.arn.clone(),
                        records: certificate.validation_records.clone(),
                    });
                }
            }
            (None, None) => {
                // Failed, timed out or overdue ones go; a fresh request replaces them.
                for stale in &found {
                    changes.push(Change::DeleteCertificate {
                        arn: stale.arn.clone(),
                        domain: stale.domain_name.clone(),
                    });
                }
                changes.push(Change::RequestCertificate {
                    resource_id: id.clone(),
                    domain: spec.domain_name.clone(),
                });
            }
        }
    }
    changes
}

fn overdue(certificate: &ObservedCertificate, now: SystemTime) -> bool {
    certificate
        .requested_at
        .and_then(|at| now.duration_since(at).ok())
        .is_some_and(|age| age > PENDING_LIMIT)
}

/// Deletions of the stack's certificates no longer wanted; of several for one wanted id, an
/// issued one is kept.
pub(super) fn plan_certificate_deletions(
    desired: &Stack,
    observed: &[ObservedCertificate],
) -> Vec<Change> {
    let mut by_preference: Vec<&ObservedCertificate> = observed.iter().collect();
    by_preference.sort_by_key(|c| c.status != "ISSUED");
    let mut kept: Vec<&str> = Vec::new();
    let mut changes = Vec::new();
    for certificate in by_preference {
        let wanted = certificate_resource_id(certificate)
            .filter(|id| desired.certificates.contains_key(*id));
        match wanted {
            Some(id) if !kept.contains(&id) => kept.push(id),
            _ => changes.push(Change::DeleteCertificate {
                arn: certificate.arn.clone(),
                domain: certificate.domain_name.clone(),
            }),
        }
    }
    changes
}
