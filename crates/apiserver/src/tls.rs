//! Serving certificates: loaded from `--tls-cert-file`/`--tls-private-key-file`,
//! or, as upstream does when none is given, a self-signed pair generated once
//! into `--cert-dir` (`apiserver.crt` holding the serving certificate followed
//! by its CA, `apiserver.key`) and reused on later starts.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::ServerError;

/// Paths of the certificate actually served.
#[derive(Debug, Clone)]
pub struct ServingCert {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// The CA a client should trust (the generated CA, or the given cert).
    pub ca_file: PathBuf,
}

/// Returns the serving certificate, generating a self-signed one if needed.
pub fn ensure_serving_cert(
    cert_file: Option<&Path>,
    key_file: Option<&Path>,
    cert_dir: &Path,
    hosts: &[String],
) -> Result<ServingCert, ServerError> {
    if let (Some(c), Some(k)) = (cert_file, key_file) {
        return Ok(ServingCert {
            cert_file: c.to_path_buf(),
            key_file: k.to_path_buf(),
            ca_file: c.to_path_buf(),
        });
    }
    let cert = cert_dir.join("apiserver.crt");
    let key = cert_dir.join("apiserver.key");
    let ca = cert_dir.join("apiserver-ca.crt");
    if cert.exists() && key.exists() && ca.exists() {
        return Ok(ServingCert {
            cert_file: cert,
            key_file: key,
            ca_file: ca,
        });
    }
    std::fs::create_dir_all(cert_dir)
        .map_err(|e| ServerError::Tls(format!("{}: {e}", cert_dir.display())))?;
    let tls_err = |e: rcgen::Error| ServerError::Tls(format!("generating certificate: {e}"));

    let ca_key = KeyPair::generate().map_err(tls_err)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(tls_err)?;
    let now = chrono::Utc::now().timestamp();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, format!("localhost-ca@{now}"));
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(tls_err)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate().map_err(tls_err)?;
    let mut leaf = CertificateParams::new(Vec::<String>::new()).map_err(tls_err)?;
    leaf.distinguished_name
        .push(DnType::CommonName, format!("localhost@{now}"));
    for h in hosts {
        let san = match h.parse::<std::net::IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(h.clone().try_into().map_err(tls_err)?),
        };
        if !leaf.subject_alt_names.contains(&san) {
            leaf.subject_alt_names.push(san);
        }
    }
    leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    leaf.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyEncipherment,
    ];
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(tls_err)?;

    let write = |p: &Path, s: &str, mode: u32| -> Result<(), ServerError> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(p, s).map_err(|e| ServerError::Tls(format!("{}: {e}", p.display())))?;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
            .map_err(|e| ServerError::Tls(format!("{}: {e}", p.display())))
    };
    write(&ca, &ca_cert.pem(), 0o644)?;
    write(
        &cert,
        &format!("{}{}", leaf_cert.pem(), ca_cert.pem()),
        0o644,
    )?;
    write(&key, &leaf_key.serialize_pem(), 0o600)?;
    Ok(ServingCert {
        cert_file: cert,
        key_file: key,
        ca_file: ca,
    })
}

/// A rustls server config speaking h2 and http/1.1 (kubectl prefers h2).
pub fn server_config(sc: &ServingCert) -> Result<Arc<rustls::ServerConfig>, ServerError> {
    let certs: Vec<CertificateDer<'static>> = {
        let data = std::fs::read(&sc.cert_file)
            .map_err(|e| ServerError::Tls(format!("{}: {e}", sc.cert_file.display())))?;
        rustls_pemfile::certs(&mut data.as_slice())
            .collect::<Result<_, _>>()
            .map_err(|e| ServerError::Tls(format!("{}: {e}", sc.cert_file.display())))?
    };
    let key: PrivateKeyDer<'static> = {
        let data = std::fs::read(&sc.key_file)
            .map_err(|e| ServerError::Tls(format!("{}: {e}", sc.key_file.display())))?;
        rustls_pemfile::private_key(&mut data.as_slice())
            .map_err(|e| ServerError::Tls(format!("{}: {e}", sc.key_file.display())))?
            .ok_or_else(|| ServerError::Tls(format!("{}: no private key", sc.key_file.display())))?
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServerError::Tls(e.to_string()))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}
