//! TLS to the platform: the system's trusted roots, plus the CAs of an optional PEM file for
//! private deployments and tests. The token client (rustls) and the gRPC channel (tonic) are
//! built from the same certificates.

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use tonic::transport::{Certificate, ClientTlsConfig};

use super::error::ServiceError;
use crate::pem;

#[derive(Clone)]
pub struct PlatformTls {
    extra_ca_pem: Option<Vec<u8>>,
    roots: Arc<RootCertStore>,
}

impl PlatformTls {
    /// Loads the system roots and the extra CA file; a file that cannot be read or holds no
    /// certificate is an error, not silently ignored.
    pub fn load(ca_file: Option<&Path>) -> Result<Self, ServiceError> {
        let mut roots = RootCertStore::empty();
        let system = rustls_native_certs::load_native_certs();
        let (added, _) = roots.add_parsable_certificates(system.certs);
        tracing::debug!(
            system_roots = added,
            load_errors = system.errors.len(),
            "trusted roots"
        );
        let extra_ca_pem = match ca_file {
            None => None,
            Some(path) => {
                let fail = |reason: String| ServiceError::CaFile {
                    path: path.to_path_buf(),
                    reason,
                };
                let pem::Certificates { pem, parsed } =
                    pem::read_certificates(path).map_err(|e| fail(e.to_string()))?;
                for cert in parsed {
                    roots
                        .add(cert)
                        .map_err(|e| fail(format!("a certificate is unusable: {e}")))?;
                }
                Some(pem)
            }
        };
        if roots.is_empty() {
            return Err(ServiceError::NoTrustedRoots);
        }
        Ok(Self {
            extra_ca_pem,
            roots: Arc::new(roots),
        })
    }

    /// For the HTTPS token client.
    pub fn rustls_config(&self) -> rustls::ClientConfig {
        rustls::ClientConfig::builder()
            .with_root_certificates(self.roots.clone())
            .with_no_client_auth()
    }

    /// For the gRPC channel.
    pub fn tonic_config(&self) -> ClientTlsConfig {
        let config = ClientTlsConfig::new().with_native_roots();
        match &self.extra_ca_pem {
            Some(pem) => config.ca_certificate(Certificate::from_pem(pem)),
            None => config,
        }
    }
}
