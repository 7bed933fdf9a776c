//! PEM files named by a flag (the server's certificate, key and client CA, the platform's CA),
//! read one way: at most [`MAX_PEM_BYTES`], so that `/dev/zero` or a runaway pipe is an error and
//! not memory growing without end; certificate files are checked too: every block must be a
//! certificate, and there must be at least one.

use std::io::Read;
use std::path::Path;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// The largest PEM file read: a long certificate chain or CA bundle is a few hundred KiB (the
/// system's whole bundle is about 220 KiB).
pub const MAX_PEM_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum PemError {
    #[error("cannot read the file: {0}")]
    Read(#[source] std::io::Error),
    #[error("the file is larger than the {} MiB a PEM file may be", MAX_PEM_BYTES / (1024 * 1024))]
    TooLarge,
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

/// A PEM file's bytes, at most [`MAX_PEM_BYTES`]. Pipes (`<(...)`) are read like files.
pub fn read_bounded(path: &Path) -> Result<Vec<u8>, PemError> {
    let file = std::fs::File::open(path).map_err(PemError::Read)?;
    let mut bytes = Vec::new();
    file.take(MAX_PEM_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(PemError::Read)?;
    if bytes.len() as u64 > MAX_PEM_BYTES {
        return Err(PemError::TooLarge);
    }
    Ok(bytes)
}

pub fn read_certificates(path: &Path) -> Result<Certificates, PemError> {
    let pem = read_bounded(path)?;
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
