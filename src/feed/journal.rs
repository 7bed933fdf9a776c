//! The Baton event feed's journal: every change ever observed in the pool, numbered in the
//! order it was observed, plus the snapshot the next change is computed from.
//!
//! It lives in a directory: `journal.db` (SQLite) and `snapshot-<sync id>.c1z`. A refresh
//! writes the new snapshot file first, then appends its events and points the journal at the
//! new snapshot in one transaction, then removes the old snapshot. A crash anywhere in between
//! leaves either the old state (and an orphan snapshot, removed on the next open) or the new
//! one, never events without their snapshot or the reverse. Sequence numbers are never reused
//! (SQLite AUTOINCREMENT), so a cursor naming one means the same position forever.
//!
//! The directory is held (`flock` on `journal.lock`) by one process at a time: two connectors
//! appending to one journal would each diff against a snapshot the other replaced.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, params};

use crate::workfiles::{self, Held};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS journal (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    observed_at INTEGER NOT NULL,
    event BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_time ON events (observed_at);
";

/// Keys of the `journal` table.
const ID: &str = "id";
const POOL: &str = "pool_id";
const FILTER: &str = "user_filter";
const SNAPSHOT: &str = "snapshot";
const SNAPSHOT_AT: &str = "snapshot_at";
const PRUNED_THROUGH: &str = "pruned_through";

const SNAPSHOT_PREFIX: &str = "snapshot-";
const SNAPSHOT_SUFFIX: &str = ".c1z";

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Db {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "{}: this event journal is of pool {found_pool} with user filter {found_filter:?}, not pool {pool} with filter {filter:?}; use another --event-feed-dir",
        path.display()
    )]
    OtherListing {
        path: PathBuf,
        pool: String,
        filter: String,
        found_pool: String,
        found_filter: String,
    },
}

/// The snapshot the next changes are computed from.
#[derive(Clone, Debug, PartialEq)]
pub struct Latest {
    pub sync_id: String,
    pub file: PathBuf,
    pub taken_at: SystemTime,
}

/// One journal entry: its position and the encoded Baton `Event`.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub seq: i64,
    pub event: Vec<u8>,
}

pub struct Journal {
    dir: PathBuf,
    db_path: PathBuf,
    db: Connection,
    id: String,
    _held: Held,
}

impl Journal {
    /// Opens (creating if needed) the journal in `dir` for one pool and user filter.
    pub fn open(dir: &Path, pool_id: &str, user_filter: &str) -> Result<Self, JournalError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| JournalError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let lock = dir.join("journal.lock");
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&lock)
            .map_err(io(&lock))?;
        let held = workfiles::hold(&lock).map_err(io(&lock))?;

        let db_path = dir.join("journal.db");
        let db = Connection::open(&db_path)
            .and_then(|db| {
                db.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")?;
                db.execute_batch(SCHEMA)?;
                Ok(db)
            })
            .map_err(db_error(&db_path))?;
        let mut journal = Self {
            dir: dir.to_path_buf(),
            db_path,
            db,
            id: String::new(),
            _held: held,
        };
        match journal.value(POOL)? {
            None => {
                let id = format!("{:032x}", rand::random::<u128>());
                journal.set_values(&[(ID, &id), (POOL, pool_id), (FILTER, user_filter)])?;
            }
            Some(found_pool) => {
                let found_filter = journal.value(FILTER)?.unwrap_or_default();
                if found_pool != pool_id || found_filter != user_filter {
                    return Err(JournalError::OtherListing {
                        path: dir.to_path_buf(),
                        pool: pool_id.to_string(),
                        filter: user_filter.to_string(),
                        found_pool,
                        found_filter,
                    });
                }
            }
        }
        journal.id = journal.value(ID)?.unwrap_or_default();
        journal.remove_orphans();
        Ok(journal)
    }

    /// This journal's identity: a cursor of another journal (say, of a directory that was
    /// deleted and recreated) names positions that mean nothing here.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where a new snapshot is written before it is recorded.
    pub fn next_snapshot_path(&self) -> PathBuf {
        self.dir
            .join(format!("{SNAPSHOT_PREFIX}next{SNAPSHOT_SUFFIX}"))
    }

    fn snapshot_path(&self, sync_id: &str) -> PathBuf {
        self.dir
            .join(format!("{SNAPSHOT_PREFIX}{sync_id}{SNAPSHOT_SUFFIX}"))
    }

    /// The snapshot changes are computed from, `None` before the first refresh.
    pub fn latest(&self) -> Result<Option<Latest>, JournalError> {
        let Some(sync_id) = self.value(SNAPSHOT)? else {
            return Ok(None);
        };
        let millis: u64 = self
            .value(SNAPSHOT_AT)?
            .and_then(|v| v.parse().ok())
            .unwrap_or_default();
        Ok(Some(Latest {
            file: self.snapshot_path(&sync_id),
            sync_id,
            taken_at: UNIX_EPOCH + Duration::from_millis(millis),
        }))
    }

    /// Makes the snapshot at `taken` (a file in this directory) the latest, appending the
    /// events observed against the previous one, all or nothing. Returns the last position.
    pub fn record(
        &mut self,
        taken: &Path,
        sync_id: &str,
        taken_at: SystemTime,
        events: &[Vec<u8>],
    ) -> Result<i64, JournalError> {
        let previous = self.latest()?;
        let file = self.snapshot_path(sync_id);
        std::fs::rename(taken, &file).map_err(|source| JournalError::Io {
            path: file.clone(),
            source,
        })?;
        let observed = millis(taken_at);
        let db_err = db_error(&self.db_path);
        let tx = self.db.transaction().map_err(&db_err)?;
        {
            let mut insert = tx
                .prepare("INSERT INTO events (observed_at, event) VALUES (?1, ?2)")
                .map_err(&db_err)?;
            for event in events {
                insert.execute(params![observed, event]).map_err(&db_err)?;
            }
        }
        put_value(&tx, SNAPSHOT, sync_id).map_err(&db_err)?;
        put_value(&tx, SNAPSHOT_AT, &observed.to_string()).map_err(&db_err)?;
        tx.commit().map_err(&db_err)?;
        if let Some(previous) = previous.filter(|p| p.file != file) {
            remove_logged(&previous.file);
        }
        self.last_seq()
    }

    /// The position of the newest entry ever appended (0 before the first).
    pub fn last_seq(&self) -> Result<i64, JournalError> {
        self.query_i64(
            "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)",
            [],
        )
    }

    /// Entries up to this position were pruned: a cursor before it would miss them.
    pub fn pruned_through(&self) -> Result<i64, JournalError> {
        Ok(self
            .value(PRUNED_THROUGH)?
            .and_then(|v| v.parse().ok())
            .unwrap_or_default())
    }

    /// The position just before the first entry observed at or after `at`.
    pub fn position_at(&self, at: SystemTime) -> Result<i64, JournalError> {
        let first = self.query_i64(
            "SELECT COALESCE(MIN(seq), 0) FROM events WHERE observed_at >= ?1",
            [millis(at)],
        )?;
        if first == 0 {
            self.last_seq()
        } else {
            Ok(first - 1)
        }
    }

    /// Up to `limit` entries after `after`, stopping early once `max_bytes` are reached (the
    /// first entry always comes); and whether more follow.
    pub fn page(
        &self,
        after: i64,
        limit: usize,
        max_bytes: usize,
    ) -> Result<(Vec<Entry>, bool), JournalError> {
        let db_err = db_error(&self.db_path);
        let mut statement = self
            .db
            .prepare_cached("SELECT seq, event FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2")
            .map_err(&db_err)?;
        let rows = statement
            .query_map(params![after, limit as i64 + 1], |row| {
                Ok(Entry {
                    seq: row.get(0)?,
                    event: row.get(1)?,
                })
            })
            .map_err(&db_err)?;
        let mut entries = Vec::new();
        let mut bytes = 0;
        for row in rows {
            let entry = row.map_err(&db_err)?;
            if entries.len() == limit
                || (!entries.is_empty() && bytes + entry.event.len() > max_bytes)
            {
                return Ok((entries, true));
            }
            bytes += entry.event.len();
            entries.push(entry);
        }
        Ok((entries, false))
    }

    /// Drops the entries observed before `before`.
    pub fn prune(&mut self, before: SystemTime) -> Result<usize, JournalError> {
        let cutoff = millis(before);
        let through = self.query_i64(
            "SELECT COALESCE(MAX(seq), 0) FROM events WHERE observed_at < ?1",
            [cutoff],
        )?;
        if through == 0 {
            return Ok(0);
        }
        let db_err = db_error(&self.db_path);
        let tx = self.db.transaction().map_err(&db_err)?;
        let removed = tx
            .execute("DELETE FROM events WHERE seq <= ?1", [through])
            .map_err(&db_err)?;
        put_value(&tx, PRUNED_THROUGH, &through.to_string()).map_err(&db_err)?;
        tx.commit().map_err(&db_err)?;
        Ok(removed)
    }

    fn query_i64(&self, sql: &str, args: impl rusqlite::Params) -> Result<i64, JournalError> {
        self.db
            .query_row(sql, args, |row| row.get(0))
            .map_err(db_error(&self.db_path))
    }

    fn value(&self, key: &str) -> Result<Option<String>, JournalError> {
        self.db
            .query_row("SELECT value FROM journal WHERE key = ?1", [key], |row| {
                row.get(0)
            })
            .optional()
            .map_err(db_error(&self.db_path))
    }

    fn set_values(&mut self, values: &[(&str, &str)]) -> Result<(), JournalError> {
        let db_err = db_error(&self.db_path);
        let tx = self.db.transaction().map_err(&db_err)?;
        for (key, value) in values {
            put_value(&tx, key, value).map_err(&db_err)?;
        }
        tx.commit().map_err(&db_err)
    }

    /// Snapshot files a crash left behind: written but never recorded, or recorded over but
    /// not yet removed.
    fn remove_orphans(&self) {
        let keep = match self.latest() {
            Ok(latest) => latest.map(|l| l.file),
            Err(_) => return,
        };
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let path = entry.path();
            if name.starts_with(SNAPSHOT_PREFIX)
                && name.ends_with(SNAPSHOT_SUFFIX)
                && Some(&path) != keep.as_ref()
            {
                remove_logged(&path);
            }
        }
    }
}

fn put_value(db: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    db.execute(
        "INSERT OR REPLACE INTO journal (key, value) VALUES (?1, ?2)",
        params![key, value],
    )
    .map(drop)
}

fn db_error(path: &Path) -> impl Fn(rusqlite::Error) -> JournalError + '_ {
    move |source| JournalError::Db {
        path: path.to_path_buf(),
        source,
    }
}

fn millis(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

fn remove_logged(path: &Path) {
    if let Err(err) = std::fs::remove_file(path) {
        tracing::warn!(file = %path.display(), error = %err, "could not remove an old snapshot");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot_file(journal: &Journal) -> PathBuf {
        let path = journal.next_snapshot_path();
        std::fs::write(&path, b"snapshot").unwrap();
        path
    }

    #[test]
    fn records_pages_and_prunes_without_reusing_positions() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(dir.path(), "pool", "").unwrap();
        assert_eq!(journal.latest().unwrap(), None);
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000);
        let first = snapshot_file(&journal);
        assert_eq!(journal.record(&first, "A", t0, &[]).unwrap(), 0);
        let latest = journal.latest().unwrap().unwrap();
        assert_eq!((latest.sync_id.as_str(), latest.taken_at), ("A", t0));
        assert!(latest.file.exists());

        let t1 = t0 + Duration::from_secs(60);
        let events: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 10]).collect();
        let second = snapshot_file(&journal);
        assert_eq!(journal.record(&second, "B", t1, &events).unwrap(), 5);
        assert!(!latest.file.exists(), "the old snapshot is removed");

        let (page, more) = journal.page(0, 2, usize::MAX).unwrap();
        assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
        assert!(more);
        let (page, more) = journal.page(3, 10, 25).unwrap();
        assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), [4, 5]);
        assert!(!more);
        let (page, more) = journal.page(0, 10, 15).unwrap();
        assert_eq!(page.len(), 1, "the byte budget stops the page");
        assert!(more);
        assert_eq!(journal.position_at(t1).unwrap(), 0);
        assert_eq!(journal.position_at(t1 + Duration::from_secs(1)).unwrap(), 5);

        assert_eq!(journal.prune(t1 + Duration::from_secs(1)).unwrap(), 5);
        assert_eq!(journal.pruned_through().unwrap(), 5);
        let third = snapshot_file(&journal);
        let t2 = t1 + Duration::from_secs(60);
        assert_eq!(journal.record(&third, "C", t2, &[vec![9]]).unwrap(), 6);
        let (page, _) = journal.page(0, 10, usize::MAX).unwrap();
        assert_eq!(
            page,
            vec![Entry {
                seq: 6,
                event: vec![9]
            }]
        );
    }

    #[test]
    fn reopening_keeps_the_identity_refuses_other_listings_and_removes_orphans() {
        let dir = tempfile::tempdir().unwrap();
        let id = {
            let mut journal = Journal::open(dir.path(), "pool", "email ^= \"a\"").unwrap();
            let file = snapshot_file(&journal);
            journal.record(&file, "A", SystemTime::now(), &[]).unwrap();
            snapshot_file(&journal);
            std::fs::write(dir.path().join("snapshot-OLD.c1z"), b"x").unwrap();
            journal.id().to_string()
        };
        let journal = Journal::open(dir.path(), "pool", "email ^= \"a\"").unwrap();
        assert_eq!(journal.id(), id);
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("snapshot-"))
            .collect();
        names.sort();
        assert_eq!(names, ["snapshot-A.c1z"]);
        drop(journal);
        assert!(matches!(
            Journal::open(dir.path(), "pool", ""),
            Err(JournalError::OtherListing { .. })
        ));
    }

    #[test]
    fn one_process_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Journal::open(dir.path(), "pool", "").unwrap();
        // flock is per open file description, so a second open in this process conflicts too.
        let err = Journal::open(dir.path(), "pool", "").err().unwrap();
        assert!(err.to_string().contains("held"), "{err}");
    }
}
