//! PEM certificate files named by a flag (the server's certificate and client CA, the
//! platform's CA), read and checked one way: every block must be a certificate, and there must
//! be at least one.

use std::path::Path;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

#[derive(Debug, thiserror::Error)]
pub enum PemError {
    #[error("cannot read the file: {0}")]
    Read(#[source] std::io::Error),
    #[error("not a PEM certificate file: {0}")]
    Malformed(String),
    #[error("no PEM certificate (-----BEGIN CERTIFICATE-----) in the file")]
    Empty,
}

/// A file's bytes and the certificates in it.
pub struct Certificates {
    pub pem: Vec<u8>,
    pub parsed: Vec<CertificateDer<'static>>,
}

pub fn read_certificates(path: &Path) -> Result<Certificates, PemError> {
    let pem = std::fs::read(path).map_err(PemError::Read)?;
    let parsed = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| PemError::Malformed(err.to_string()))?;
    if parsed.is_empty() {
        return Err(PemError::Empty);
    }
    Ok(Certificates { pem, parsed })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_of_certificates_pass() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pem");
        assert!(matches!(read_certificates(&path), Err(PemError::Read(_))));
        std::fs::write(&path, "not pem at all").unwrap();
        assert!(matches!(read_certificates(&path), Err(PemError::Empty)));
        std::fs::write(
            &path,
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        assert!(matches!(
            read_certificates(&path),
            Err(PemError::Malformed(_))
        ));
    }
}
