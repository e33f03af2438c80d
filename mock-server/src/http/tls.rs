//! TLS for browser clients: a self-signed certificate for localhost, 127.0.0.1 and ::1
//! generated at start (or a given PEM pair), and what a browser needs to trust it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_lc_rs::digest;
use base64::Engine;
use rcgen::PublicKeyData;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::{Error, ErrorKind};

/// What a client needs to trust the server's certificate.
#[derive(Clone, Debug)]
pub struct TlsInfo {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// Where the certificate is on disk.
    pub cert_path: PathBuf,
    /// Base64 SHA-256 of the certificate's SubjectPublicKeyInfo, for Chromium's
    /// `--ignore-certificate-errors-spki-list` (known for generated certificates only).
    pub spki_sha256: Option<String>,
}

fn tls_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Tls, message)
}

fn server_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(format!("TLS versions: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| tls_error(format!("TLS certificate: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Generates a certificate and writes it to `dir/cert.pem`.
pub(crate) fn self_signed(dir: &Path) -> Result<(Arc<rustls::ServerConfig>, TlsInfo), Error> {
    let names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let generated = rcgen::generate_simple_self_signed(names)
        .map_err(|e| tls_error(format!("cannot generate a certificate: {e}")))?;
    let cert_pem = generated.cert.pem();
    let spki = generated.signing_key.subject_public_key_info();
    let spki_sha256 =
        base64::engine::general_purpose::STANDARD.encode(digest::digest(&digest::SHA256, &spki));
    std::fs::create_dir_all(dir).map_err(|e| tls_error(format!("{}: {e}", dir.display())))?;
    let cert_path = dir.join("cert.pem");
    std::fs::write(&cert_path, &cert_pem)
        .map_err(|e| tls_error(format!("{}: {e}", cert_path.display())))?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        generated.signing_key.serialize_der(),
    ));
    let config = server_config(vec![generated.cert.der().clone()], key)?;
    Ok((
        config,
        TlsInfo {
            cert_pem,
            cert_path,
            spki_sha256: Some(spki_sha256),
        },
    ))
}

/// Loads a certificate chain and private key from PEM files.
pub(crate) fn from_files(
    cert: &Path,
    key: &Path,
) -> Result<(Arc<rustls::ServerConfig>, TlsInfo), Error> {
    let cert_pem =
        std::fs::read_to_string(cert).map_err(|e| tls_error(format!("{}: {e}", cert.display())))?;
    let certs = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error(format!("{}: {e}", cert.display())))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| tls_error(format!("{}: {e}", key.display())))?;
    let config = server_config(certs, key)?;
    Ok((
        config,
        TlsInfo {
            cert_pem,
            cert_path: cert.to_owned(),
            spki_sha256: None,
        },
    ))
}
