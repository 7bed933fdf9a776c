//! TLS for the gRPC server: a certificate and key, and optionally a client CA that makes every
//! client present a certificate it signed (mutual TLS). The files are read and checked before
//! the server binds, so a wrong path or a file of the wrong kind is a usage error naming the
//! flag, not a handshake failure clients discover later.

use std::path::{Path, PathBuf};

use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

use crate::pem::{self, PemError};

/// The PEM files given on the command line.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{flag} {}: {source}", path.display())]
    Pem {
        flag: &'static str,
        path: PathBuf,
        source: PemError,
    },
    #[error("--tls-key {}: no PEM private key (PKCS#8, PKCS#1 or SEC1) in the file", path.display())]
    NoKey { path: PathBuf },
    #[error("--tls-cert and --tls-key do not make a usable server identity: {0}")]
    Identity(tonic::transport::Error),
}

impl TlsFiles {
    /// Reads and checks the files, and builds the server's TLS configuration from them.
    pub fn server_config(&self) -> Result<ServerTlsConfig, TlsError> {
        let cert = read_certificates("--tls-cert", &self.cert)?;
        let key = read("--tls-key", &self.key)?;
        if PrivateKeyDer::from_pem_slice(&key).is_err() {
            return Err(TlsError::NoKey {
                path: self.key.clone(),
            });
        }
        let mut config = ServerTlsConfig::new().identity(Identity::from_pem(cert, key));
        if let Some(path) = &self.client_ca {
            let ca = read_certificates("--tls-client-ca", path)?;
            config = config.client_ca_root(Certificate::from_pem(ca));
        }
        // Building a server with it is what checks that the key belongs to the certificate.
        Server::builder()
            .tls_config(config.clone())
            .map_err(TlsError::Identity)?;
        Ok(config)
    }
}

fn read(flag: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    pem::read_bounded(path).map_err(|source| TlsError::Pem {
        flag,
        path: path.to_path_buf(),
        source,
    })
}

/// The file's bytes, once it is known to hold certificates only.
fn read_certificates(flag: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    pem::read_certificates(path)
        .map(|certificates| certificates.pem)
        .map_err(|source| TlsError::Pem {
            flag,
            path: path.to_path_buf(),
            source,
        })
}
