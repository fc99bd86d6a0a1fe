//! Optional TLS on either side (`tokio-rustls`, ring provider).
//!
//! Server: a certificate chain and a private key, both PEM files. Client: trust anchors
//! from a CA PEM file and/or the system store (off by default), and the name to check in
//! the server's certificate.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// Server-side TLS: where the certificate chain and key are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsServerConfig {
    /// PEM file with the certificate chain, leaf first.
    pub cert_pem: PathBuf,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1).
    pub key_pem: PathBuf,
}

/// Client-side TLS: which certificates to trust and which name to expect.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsClientConfig {
    /// PEM file with CA certificates to trust.
    pub ca_pem: Option<PathBuf>,
    /// Also trust the operating system's root store.
    pub system_roots: bool,
    /// Name to verify in the server certificate; `None` uses the host of the address
    /// connected to (an IP address is checked as an IP SAN).
    pub server_name: Option<String>,
}

/// What went wrong setting up TLS.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsSetupError {
    /// A PEM file could not be read or parsed.
    #[error("cannot read {what} from {path}: {message}")]
    Pem {
        /// "certificate chain", "private key" or "CA certificates".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The reason.
        message: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration refused: {0}")]
    Rustls(#[from] rustls::Error),
    /// No trust anchor at all (no CA file, system roots off or empty).
    #[error("TLS client has no trusted certificates (give a CA PEM or enable system roots)")]
    NoTrustAnchors,
    /// The server name is not a valid DNS name or IP address.
    #[error("invalid TLS server name {0:?}")]
    ServerName(String),
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn pem_error(
    what: &'static str,
    path: &std::path::Path,
    error: impl std::fmt::Display,
) -> TlsSetupError {
    TlsSetupError::Pem {
        what,
        path: path.to_owned(),
        message: error.to_string(),
    }
}

fn read_certs(
    what: &'static str,
    path: &std::path::Path,
) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error(what, path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(what, path, e))?;
    if certs.is_empty() {
        return Err(pem_error(what, path, "no CERTIFICATE block"));
    }
    Ok(certs)
}

impl TlsServerConfig {
    /// Loads the files and builds the acceptor.
    ///
    /// # Errors
    /// [`TlsSetupError`] naming the file or the rustls error.
    pub fn acceptor(&self) -> Result<TlsAcceptor, TlsSetupError> {
        let certs = read_certs("certificate chain", &self.cert_pem)?;
        let key = PrivateKeyDer::from_pem_file(&self.key_pem)
            .map_err(|e| pem_error("private key", &self.key_pem, e))?;
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(certs, key)?;
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

impl TlsClientConfig {
    /// Builds the connector.
    ///
    /// # Errors
    /// [`TlsSetupError`] naming the file, or when nothing is trusted.
    pub fn connector(&self) -> Result<TlsConnector, TlsSetupError> {
        let mut roots = rustls::RootCertStore::empty();
        if let Some(path) = &self.ca_pem {
            for cert in read_certs("CA certificates", path)? {
                roots.add(cert)?;
            }
        }
        if self.system_roots {
            // Unreadable system certificates are skipped, as browsers do.
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
        if roots.is_empty() {
            return Err(TlsSetupError::NoTrustAnchors);
        }
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(TlsConnector::from(Arc::new(config)))
    }

    /// The name to verify when connecting to `host`.
    ///
    /// # Errors
    /// [`TlsSetupError::ServerName`] when it is neither a DNS name nor an IP address.
    pub fn server_name(&self, host: &str) -> Result<ServerName<'static>, TlsSetupError> {
        let name = self.server_name.as_deref().unwrap_or(host);
        ServerName::try_from(name.to_owned())
            .map_err(|_| TlsSetupError::ServerName(name.to_owned()))
    }
}
