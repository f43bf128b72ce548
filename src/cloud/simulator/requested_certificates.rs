//! Certificates requested through the simulator (ACM) and the DNS records that validate them
//! (Route 53). An Amazon-issued certificate stays `PENDING_VALIDATION` until a test calls
//! [`Simulator::validate_certificates`], which issues those whose records are written; a private
//! one is issued at once. A certificate a listener uses cannot be deleted.

use super::*;
use std::time::{Duration, SystemTime};

#[derive(Debug, Clone)]
pub(super) struct StoredCertificate {
    pub(super) observed: ObservedCertificate,
}

impl State {
    pub(super) fn request_certificate(&mut self, request: &CertificateRequest) -> String {
        let arn = format!(
            "arn:aws:acm:us-west-2:123456789012:certificate/{}",
            self.next_id()
        );
        let names: Vec<String> = std::iter::once(request.domain_name.clone())
            .chain(request.subject_alternative_names.iter().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let private = request.certificate_authority_arn.is_some();
        let validation_records = if private {
            Vec::new()
        } else {
            names
                .iter()
                .map(|name| ValidationRecord {
                    name: format!("_validate.{}.", name.trim_start_matches("*.")),
                    record_type: "CNAME".into(),
                    value: format!("_{}.acm-validations.aws.", self.counter),
                })
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        };
        self.requested_certificates.insert(
            arn.clone(),
            StoredCertificate {
                observed: ObservedCertificate {
                    arn: arn.clone(),
                    tags: request.tags.clone(),
                    status: if private {
                        "ISSUED"
                    } else {
                        "PENDING_VALIDATION"
                    }
                    .into(),
                    domain_name: request.domain_name.clone(),
                    subject_alternative_names: names,
                    certificate_authority_arn: request.certificate_authority_arn.clone(),
                    requested_at: Some(SystemTime::now()),
                    validation_records,
                },
            },
        );
        arn
    }

    pub(super) fn delete_certificate(&mut self, arn: &str) -> CloudResult<()> {
        if !self.requested_certificates.contains_key(arn) {
            return error(
                ErrorKind::NotFound,
                "DeleteCertificate",
                format!("certificate {arn} not found"),
            );
        }
        if self
            .listeners
            .values()
            .any(|l| l.observed.certificates.iter().any(|c| c == arn))
        {
            return error(
                ErrorKind::InUse,
                "DeleteCertificate",
                format!("certificate {arn} is in use by a listener"),
            );
        }
        self.requested_certificates.remove(arn);
        Ok(())
    }

    pub(super) fn write_validation_records(
        &mut self,
        records: &[ValidationRecord],
    ) -> CloudResult<()> {
        for record in records {
            let name = record.name.trim_end_matches('.');
            let zone = self
                .hosted_zones
                .iter()
                .filter(|zone| name == zone.as_str() || name.ends_with(&format!(".{zone}")))
                .max_by_key(|zone| zone.len())
                .cloned();
            let Some(zone) = zone else {
                return error(
                    ErrorKind::NotFound,
                    "ChangeResourceRecordSets",
                    format!("no Route 53 hosted zone holds {name}"),
                );
            };
            self.dns_records
                .insert(record.name.clone(), (zone, record.value.clone()));
        }
        Ok(())
    }
}

impl Simulator {
    /// Adds a Route 53 hosted zone (`example.com`).
    pub fn add_hosted_zone(&self, name: &str) {
        self.lock().hosted_zones.push(name.to_string());
    }

    /// What ACM does in time: every pending certificate whose validation records are all
    /// written becomes `ISSUED`; returns how many did.
    pub fn validate_certificates(&self) -> usize {
        let mut state = self.lock();
        let written: BTreeSet<String> = state.dns_records.keys().cloned().collect();
        let mut issued = 0;
        for certificate in state.requested_certificates.values_mut() {
            let observed = &mut certificate.observed;
            if observed.status == "PENDING_VALIDATION"
                && observed
                    .validation_records
                    .iter()
                    .all(|r| written.contains(&r.name))
            {
                observed.status = "ISSUED".into();
                issued += 1;
            }
        }
        issued
    }

    /// Makes every requested certificate look `age` older.
    pub fn age_certificates(&self, age: Duration) {
        for certificate in self.lock().requested_certificates.values_mut() {
            certificate.observed.requested_at =
                certificate.observed.requested_at.map(|at| at - age);
        }
    }

    /// The requested certificates: (domain name, status).
    pub fn requested_certificates(&self) -> Vec<(String, String)> {
        self.lock()
            .requested_certificates
            .values()
            .map(|c| (c.observed.domain_name.clone(), c.observed.status.clone()))
            .collect()
    }
}
