//! The webhook server's certificate, from one of two sources:
//!
//! - **files** (`--webhook-cert-dir`, `tls.crt`/`tls.key`): written by cert-manager or the user
//!   (the chart mounts the Secret); re-read whenever they change, so a rotation needs no restart;
//! - **managed** (`--webhook-tls-secret`): the controller keeps a self-signed CA (10 years) and a
//!   serving certificate (1 year, renewed 30 days before it ends) in that Secret, and publishes
//!   the CA in the `caBundle` of every webhook of the named webhook configurations. Replicas
//!   agree through the Secret: the first to write wins, the others adopt what it wrote.
//!
//! [`ServingCertificate`] is what the TLS server asks for the certificate on each handshake.

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;
use kube::api::{Patch, PatchParams, PostParams};
use kube::Api;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;

/// The CA's common name, as upstream's chart names it.
pub const CA_COMMON_NAME: &str = "aws-load-balancer-controller-ca";
const CA_DAYS: i64 = 3650;
const SERVING_DAYS: i64 = 365;
const RENEW_BEFORE_DAYS: i64 = 30;
const DAY: i64 = 86_400;
pub const SERVING_NOT_AFTER_ANNOTATION: &str = "elbv2.k8s.aws/webhook-serving-not-after";
pub const CA_NOT_AFTER_ANNOTATION: &str = "elbv2.k8s.aws/webhook-ca-not-after";
const CA_KEY: &str = "ca.key";

/// The certificate the TLS server presents; swapped in place on rotation.
#[derive(Debug, Default, Clone)]
pub struct ServingCertificate(Arc<RwLock<Option<Arc<CertifiedKey>>>>);

impl ServingCertificate {
    /// Replaces the certificate with `cert_pem` (the chain) and `key_pem`.
    pub fn load(&self, cert_pem: &[u8], key_pem: &[u8]) -> Result<(), String> {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("certificate: {e}"))?;
        if chain.is_empty() {
            return Err("certificate: no PEM certificate found".into());
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| format!("key: {e}"))?;
        let signing = aws_lc_rs::default_provider()
            .key_provider
            .load_private_key(key)
            .map_err(|e| format!("key: {e}"))?;
        let certified = Arc::new(CertifiedKey::new(chain, signing));
        match self.0.write() {
            Ok(mut current) => *current = Some(certified),
            Err(poisoned) => *poisoned.into_inner() = Some(certified),
        }
        Ok(())
    }

    pub fn is_loaded(&self) -> bool {
        self.current().is_some()
    }

    fn current(&self) -> Option<Arc<CertifiedKey>> {
        match self.0.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

impl ResolvesServerCert for ServingCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current()
    }
}

/// A certificate and its key in PEM, and when it ends (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PemMaterial {
    pub cert_pem: String,
    pub key_pem: String,
    pub not_after: i64,
}

fn timestamp(unix: i64) -> Result<time::OffsetDateTime, String> {
    time::OffsetDateTime::from_unix_timestamp(unix).map_err(|e| e.to_string())
}

fn ca_params(now: i64) -> Result<CertificateParams, String> {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, CA_COMMON_NAME);
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = timestamp(now - 60)?;
    params.not_after = timestamp(now + CA_DAYS * DAY)?;
    Ok(params)
}

/// A new self-signed CA valid from `now` (Unix seconds) for ten years.
pub fn new_authority(now: i64) -> Result<PemMaterial, String> {
    let key = KeyPair::generate().map_err(|e| e.to_string())?;
    let params = ca_params(now)?;
    let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
    Ok(PemMaterial {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        not_after: now + CA_DAYS * DAY,
    })
}

/// A serving certificate for `dns_names`, signed by `authority`, valid for a year from `now`.
pub fn new_serving(
    authority: &PemMaterial,
    dns_names: &[String],
    now: i64,
) -> Result<PemMaterial, String> {
    let authority_key = KeyPair::from_pem(&authority.key_pem).map_err(|e| e.to_string())?;
    // The issuer is named as the CA was (same name, same key): the chain verifies.
    let issuer = Issuer::new(ca_params(now)?, authority_key);
    let key = KeyPair::generate().map_err(|e| e.to_string())?;
    let mut params = CertificateParams::new(dns_names.to_vec()).map_err(|e| e.to_string())?;
    let mut name = DistinguishedName::new();
    name.push(
        DnType::CommonName,
        dns_names.first().cloned().unwrap_or_default(),
    );
    params.distinguished_name = name;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = timestamp(now - 60)?;
    params.not_after = timestamp(now + SERVING_DAYS * DAY)?;
    let cert = params.signed_by(&key, &issuer).map_err(|e| e.to_string())?;
    Ok(PemMaterial {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        not_after: now + SERVING_DAYS * DAY,
    })
}

/// The names the API server may reach the webhook Service by.
pub fn service_dns_names(service: &str, namespace: &str, dns_domain: &str) -> Vec<String> {
    vec![
        format!("{service}.{namespace}"),
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.{dns_domain}"),
    ]
}

/// The CA and the serving certificate kept in the managed Secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedMaterial {
    pub authority: PemMaterial,
    pub serving: PemMaterial,
}

impl ManagedMaterial {
    /// What the Secret holds, if it holds all of it.
    pub fn from_secret(secret: &Secret) -> Option<Self> {
        let data = secret.data.as_ref()?;
        let text = |key: &str| {
            data.get(key)
                .and_then(|bytes| String::from_utf8(bytes.0.clone()).ok())
                .filter(|text| !text.is_empty())
        };
        let annotations = secret.metadata.annotations.as_ref()?;
        let when = |key: &str| annotations.get(key).and_then(|v| v.parse::<i64>().ok());
        Some(Self {
            authority: PemMaterial {
                cert_pem: text("ca.crt")?,
                key_pem: text(CA_KEY)?,
                not_after: when(CA_NOT_AFTER_ANNOTATION)?,
            },
            serving: PemMaterial {
                cert_pem: text("tls.crt")?,
                key_pem: text("tls.key")?,
                not_after: when(SERVING_NOT_AFTER_ANNOTATION)?,
            },
        })
    }

    fn into_secret(self, namespace: &str, name: &str) -> Secret {
        let bytes = |text: &str| ByteString(text.as_bytes().to_vec());
        let mut secret = Secret {
            type_: Some("kubernetes.io/tls".into()),
            data: Some(BTreeMap::from([
                ("ca.crt".to_string(), bytes(&self.authority.cert_pem)),
                (CA_KEY.to_string(), bytes(&self.authority.key_pem)),
                ("tls.crt".to_string(), bytes(&self.serving.cert_pem)),
                ("tls.key".to_string(), bytes(&self.serving.key_pem)),
            ])),
            ..Secret::default()
        };
        secret.metadata.name = Some(name.to_string());
        secret.metadata.namespace = Some(namespace.to_string());
        secret.metadata.annotations = Some(BTreeMap::from([
            (
                CA_NOT_AFTER_ANNOTATION.to_string(),
                self.authority.not_after.to_string(),
            ),
            (
                SERVING_NOT_AFTER_ANNOTATION.to_string(),
                self.serving.not_after.to_string(),
            ),
        ]));
        secret
    }
}

/// What to do with the material found (none: nothing usable).
pub fn renewed(
    found: Option<&ManagedMaterial>,
    dns_names: &[String],
    now: i64,
) -> Result<Option<ManagedMaterial>, String> {
    let fresh = |material: &PemMaterial, days: i64| material.not_after - now > days * DAY;
    match found {
        Some(material) if fresh(&material.serving, RENEW_BEFORE_DAYS) => Ok(None),
        // The CA outlives a new serving certificate: only the serving one is renewed, and the
        // caBundle stays.
        Some(material) if fresh(&material.authority, SERVING_DAYS + RENEW_BEFORE_DAYS) => {
            Ok(Some(ManagedMaterial {
                authority: material.authority.clone(),
                serving: new_serving(&material.authority, dns_names, now)?,
            }))
        }
        _ => {
            let authority = new_authority(now)?;
            let serving = new_serving(&authority, dns_names, now)?;
            Ok(Some(ManagedMaterial { authority, serving }))
        }
    }
}

/// Where the managed certificate lives and whom it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedCertificate {
    pub namespace: String,
    pub secret_name: String,
    pub dns_names: Vec<String>,
    /// The Mutating- and ValidatingWebhookConfiguration whose webhooks get the CA.
    pub configuration_name: String,
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

impl ManagedCertificate {
    /// Reads the Secret, renews or creates what is missing (adopting another replica's write
    /// on a conflict), and returns the material in force.
    pub async fn ensure(&self, client: &kube::Client) -> Result<ManagedMaterial, String> {
        let secrets: Api<Secret> = Api::namespaced(client.clone(), &self.namespace);
        for _ in 0..3 {
            let existing = secrets
                .get_opt(&self.secret_name)
                .await
                .map_err(|e| format!("Secret {}/{}: {e}", self.namespace, self.secret_name))?;
            let found = existing.as_ref().and_then(ManagedMaterial::from_secret);
            let Some(material) = renewed(found.as_ref(), &self.dns_names, now_unix())? else {
                return found.ok_or_else(|| "unreachable: fresh material".to_string());
            };
            let mut secret = material
                .clone()
                .into_secret(&self.namespace, &self.secret_name);
            let written = match existing {
                Some(existing) => {
                    secret.metadata.resource_version = existing.metadata.resource_version;
                    secrets
                        .replace(&self.secret_name, &PostParams::default(), &secret)
                        .await
                }
                None => secrets.create(&PostParams::default(), &secret).await,
            };
            match written {
                Ok(_) => {
                    tracing::info!(secret = %self.secret_name, "webhook certificate written");
                    return Ok(material);
                }
                // Another replica wrote first: read what it wrote.
                Err(kube::Error::Api(status)) if status.code == 409 => continue,
                Err(error) => {
                    return Err(format!(
                        "Secret {}/{}: {error}",
                        self.namespace, self.secret_name
                    ))
                }
            }
        }
        Err(format!(
            "Secret {}/{}: kept changing while being written",
            self.namespace, self.secret_name
        ))
    }

    /// Sets `caBundle` on every webhook of both configurations that lacks it; a missing
    /// configuration is skipped (the chart may not install one of them).
    pub async fn publish_ca(&self, client: &kube::Client, ca_pem: &str) -> Result<usize, String> {
        let bundle = ByteString(ca_pem.as_bytes().to_vec());
        let name = &self.configuration_name;
        let mutating = patch_bundles(
            &Api::<MutatingWebhookConfiguration>::all(client.clone()),
            name,
            |configuration| {
                let hooks = configuration.webhooks.iter().flatten();
                hooks
                    .map(|w| (w.name.clone(), w.client_config.ca_bundle.clone()))
                    .collect()
            },
            &bundle,
        )
        .await?;
        let validating = patch_bundles(
            &Api::<ValidatingWebhookConfiguration>::all(client.clone()),
            name,
            |configuration| {
                let hooks = configuration.webhooks.iter().flatten();
                hooks
                    .map(|w| (w.name.clone(), w.client_config.ca_bundle.clone()))
                    .collect()
            },
            &bundle,
        )
        .await?;
        Ok(mutating + validating)
    }

    /// Keeps the certificate current: at once, then every `period` (a deleted Secret is
    /// rewritten, a rotation by another replica adopted, a wiped caBundle restored).
    pub async fn maintain(
        self,
        client: kube::Client,
        serving: ServingCertificate,
        period: Duration,
    ) {
        loop {
            match self.ensure(&client).await {
                Ok(material) => {
                    if let Err(error) = serving.load(
                        material.serving.cert_pem.as_bytes(),
                        material.serving.key_pem.as_bytes(),
                    ) {
                        tracing::error!(%error, "webhook certificate unusable");
                    }
                    match self.publish_ca(&client, &material.authority.cert_pem).await {
                        Ok(0) => {}
                        Ok(count) => tracing::info!(count, "webhook caBundle published"),
                        Err(error) => tracing::warn!(%error, "cannot publish the webhook caBundle"),
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot keep the webhook certificate"),
            }
            let wait = if serving.is_loaded() {
                period
            } else {
                Duration::from_secs(2)
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// A webhook's name and its current `caBundle`.
type WebhookBundle = (String, Option<ByteString>);

/// Sets `bundle` on every webhook of configuration `name` that lacks it (`bundles_of` lists
/// each webhook's name and current bundle); a missing configuration patches nothing.
async fn patch_bundles<K>(
    api: &Api<K>,
    name: &str,
    bundles_of: fn(&K) -> Vec<WebhookBundle>,
    bundle: &ByteString,
) -> Result<usize, String>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let Some(configuration) = api.get_opt(name).await.map_err(|e| e.to_string())? else {
        return Ok(0);
    };
    let mut operations = Vec::new();
    for (index, (webhook, current)) in bundles_of(&configuration).into_iter().enumerate() {
        if current.as_ref() == Some(bundle) {
            continue;
        }
        operations.push(serde_json::json!({"op": "test", "path": format!("/webhooks/{index}/name"), "value": webhook}));
        operations.push(serde_json::json!({"op": "add", "path": format!("/webhooks/{index}/clientConfig/caBundle"), "value": bundle}));
    }
    if operations.is_empty() {
        return Ok(0);
    }
    let count = operations.len() / 2;
    let patch: json_patch::Patch =
        serde_json::from_value(serde_json::Value::Array(operations)).map_err(|e| e.to_string())?;
    api.patch(name, &PatchParams::default(), &Patch::Json::<()>(patch))
        .await
        .map_err(|e| format!("webhook configuration {name}: {e}"))?;
    Ok(count)
}

/// Serves the certificate in `dir` (`cert_file`, `key_file`), re-reading it when either file
/// changes; waits for the files to appear.
pub async fn follow_files(
    dir: PathBuf,
    cert_file: String,
    key_file: String,
    serving: ServingCertificate,
) {
    let cert_path = dir.join(cert_file);
    let key_path = dir.join(key_file);
    let mut last_seen: Option<(SystemTime, SystemTime)> = None;
    loop {
        let modified = |path: &PathBuf| std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let stamp = modified(&cert_path).zip(modified(&key_path));
        if stamp.is_some() && stamp != last_seen {
            let read =
                std::fs::read(&cert_path).and_then(|cert| Ok((cert, std::fs::read(&key_path)?)));
            match read
                .map_err(|e| e.to_string())
                .and_then(|(cert, key)| serving.load(&cert, &key))
            {
                Ok(()) => {
                    tracing::info!(path = %cert_path.display(), "webhook certificate loaded");
                    last_seen = stamp;
                }
                Err(error) => {
                    tracing::warn!(%error, path = %cert_path.display(), "webhook certificate not usable yet")
                }
            }
        } else if stamp.is_none() && !serving.is_loaded() {
            tracing::warn!(path = %cert_path.display(), "waiting for the webhook certificate files");
        }
        tokio::time::sleep(Duration::from_secs(if serving.is_loaded() {
            10
        } else {
            2
        }))
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn names() -> Vec<String> {
        service_dns_names(
            "aws-load-balancer-webhook-service",
            "kube-system",
            "cluster.local",
        )
    }

    #[test]
    fn generated_material_loads_and_renews_only_what_ends() {
        let first = renewed(None, &names(), NOW).unwrap().expect("created");
        ServingCertificate::default()
            .load(
                first.serving.cert_pem.as_bytes(),
                first.serving.key_pem.as_bytes(),
            )
            .expect("a usable serving certificate");
        assert_eq!(
            renewed(Some(&first), &names(), NOW + 300 * DAY).unwrap(),
            None,
            "still fresh"
        );
        let serving_only = renewed(Some(&first), &names(), NOW + 340 * DAY)
            .unwrap()
            .expect("renewed");
        assert_eq!(
            serving_only.authority, first.authority,
            "the CA (and caBundle) stays"
        );
        assert_ne!(serving_only.serving, first.serving);
        let late = PemMaterial {
            not_after: NOW + 100 * DAY,
            ..first.authority.clone()
        };
        let aging = ManagedMaterial {
            authority: late,
            serving: first.serving.clone(),
        };
        let everything = renewed(Some(&aging), &names(), NOW + 340 * DAY)
            .unwrap()
            .expect("renewed");
        assert_ne!(
            everything.authority.cert_pem, first.authority.cert_pem,
            "a CA about to end is replaced"
        );
    }

    #[test]
    fn the_secret_round_trips_and_partial_secrets_are_not_used() {
        let material = renewed(None, &names(), NOW).unwrap().unwrap();
        let secret = material.clone().into_secret("kube-system", "tls");
        assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/tls"));
        assert_eq!(ManagedMaterial::from_secret(&secret), Some(material));
        let mut partial = secret.clone();
        partial.data.as_mut().unwrap().remove("ca.key");
        assert_eq!(ManagedMaterial::from_secret(&partial), None);
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        let error = ServingCertificate::default()
            .load(b"nope", b"nope")
            .unwrap_err();
        assert!(error.contains("certificate"), "{error}");
    }
}
