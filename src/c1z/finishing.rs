//! What a sync being finished needs to be resumed, kept beside its working database until the
//! finished file is in place.
//!
//! Finishing takes the sync's resume key and progress out of the working database, so that the
//! compressed file holds only what Baton reads, and compressing a large sync takes a while. A
//! kill in between would leave a complete database that no run could recognise as its own (its
//! key gone), and the whole sync would be spent again. So the two are first written to a
//! companion file, `<database>-finishing`; a run that resumes the database puts them back, and
//! the companion goes once the file is in place. A sweep removes it with its database.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::progress::ProgressRow;
use crate::workfiles;

/// The resume key and progress of a sync being finished.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Finishing {
    /// The resume key, hex (it is bytes).
    key: String,
    pub progress: Vec<ProgressRow>,
}

impl Finishing {
    pub fn new(key: &[u8], progress: Vec<ProgressRow>) -> Self {
        Self {
            key: hex::encode(key),
            progress,
        }
    }

    pub fn is_for(&self, key: &[u8]) -> bool {
        self.key == hex::encode(key)
    }

    /// Writes the companion of the working database `db` and flushes it to disk (with its
    /// directory entry) before the database loses what it records.
    pub fn write(&self, db: &Path) -> io::Result<()> {
        let path = companion(db);
        let mut file = File::create(&path)?;
        file.write_all(&serde_json::to_vec(self).map_err(io::Error::other)?)?;
        file.sync_all()?;
        workfiles::flush_dir(&workfiles::parent_dir(&path));
        Ok(())
    }

    /// The companion of `db`, if there is one that reads back whole. A companion cut short by
    /// a kill while it was written does not parse; its database still holds its progress then.
    pub fn read(db: &Path) -> Option<Self> {
        let bytes = fs::read(companion(db)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Removes the companion of `db` once the database no longer needs it.
    pub fn remove(db: &Path) {
        let path = companion(db);
        match fs::remove_file(&path) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => {
                tracing::warn!(path = %path.display(), error = %err, "could not remove a finished sync's resume record");
            }
            _ => {}
        }
    }
}

fn companion(db: &Path) -> PathBuf {
    let mut path = db.as_os_str().to_os_string();
    path.push(workfiles::FINISHING_SUFFIX);
    PathBuf::from(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_companion_reads_back_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join(".sync.c1z.abc.db.tmp");
        assert!(Finishing::read(&db).is_none());
        let row = ProgressRow {
            listing: "resources p user ".into(),
            cursor: None,
            done: true,
            items: 7,
            calls: 2,
        };
        Finishing::new(b"key", vec![row.clone()])
            .write(&db)
            .unwrap();
        let read = Finishing::read(&db).unwrap();
        assert!(read.is_for(b"key") && !read.is_for(b"other"));
        assert_eq!(read.progress, vec![row]);

        // Cut short by a kill: not a record.
        let whole = fs::read(companion(&db)).unwrap();
        fs::write(companion(&db), &whole[..whole.len() - 3]).unwrap();
        assert!(Finishing::read(&db).is_none());

        Finishing::remove(&db);
        assert!(!companion(&db).exists());
        Finishing::remove(&db);
    }
}
