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

/// How long a connection waits for the other's write to finish (both are this process's).
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

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

/// Appends one refresh's events, inside its transaction (see [`Recorder::record`]).
pub struct Appender<'t> {
    insert: rusqlite::Statement<'t>,
    observed_at: i64,
    db_path: &'t Path,
}

impl Appender<'_> {
    /// Appends an encoded Baton `Event`, at the next position.
    pub fn append(&mut self, event: &[u8]) -> Result<(), JournalError> {
        self.insert
            .execute(params![self.observed_at, event])
            .map(drop)
            .map_err(db_error(self.db_path))
    }
}

/// One connection to a journal's database, and where its snapshots are.
struct Store {
    dir: PathBuf,
    path: PathBuf,
    conn: Connection,
}

impl Store {
    fn open(dir: &Path) -> Result<Store, JournalError> {
        let path = dir.join("journal.db");
        let conn = Connection::open(&path)
            .and_then(|conn| {
                conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")?;
                conn.busy_timeout(BUSY_TIMEOUT)?;
                conn.execute_batch(SCHEMA)?;
                Ok(conn)
            })
            .map_err(db_error(&path))?;
        Ok(Store {
            dir: dir.to_path_buf(),
            path,
            conn,
        })
    }

    fn snapshot_path(&self, sync_id: &str) -> PathBuf {
        self.dir
            .join(format!("{SNAPSHOT_PREFIX}{sync_id}{SNAPSHOT_SUFFIX}"))
    }

    fn latest(&self) -> Result<Option<Latest>, JournalError> {
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

    fn query_i64(&self, sql: &str, args: impl rusqlite::Params) -> Result<i64, JournalError> {
        self.conn
            .query_row(sql, args, |row| row.get(0))
            .map_err(db_error(&self.path))
    }

    fn value(&self, key: &str) -> Result<Option<String>, JournalError> {
        self.conn
            .query_row("SELECT value FROM journal WHERE key = ?1", [key], |row| {
                row.get(0)
            })
            .optional()
            .map_err(db_error(&self.path))
    }
}

pub struct Journal {
    store: Store,
    id: String,
    _held: Held,
}

/// Records refreshes on a connection of its own: a refresh that appends a million-user diff
/// holds its write transaction for seconds, and readers of the journal (on the journal's own
/// connection; SQLite's write-ahead log lets them read meanwhile) should not wait for it. Only
/// one refresh records at a time.
pub struct Recorder {
    store: Store,
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

        let mut journal = Self {
            store: Store::open(dir)?,
            id: String::new(),
            _held: held,
        };
        match journal.store.value(POOL)? {
            None => {
                let id = format!("{:032x}", rand::random::<u128>());
                journal.set_values(&[(ID, &id), (POOL, pool_id), (FILTER, user_filter)])?;
            }
            Some(found_pool) => {
                let found_filter = journal.store.value(FILTER)?.unwrap_or_default();
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
        journal.id = journal.store.value(ID)?.unwrap_or_default();
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
        self.store
            .dir
            .join(format!("{SNAPSHOT_PREFIX}next{SNAPSHOT_SUFFIX}"))
    }

    /// The snapshot changes are computed from, `None` before the first refresh.
    pub fn latest(&self) -> Result<Option<Latest>, JournalError> {
        self.store.latest()
    }

    /// What records refreshes into this journal (see [`Recorder`]).
    pub fn recorder(&self) -> Result<Recorder, JournalError> {
        Ok(Recorder {
            store: Store::open(&self.store.dir)?,
        })
    }

    /// The position of the newest entry ever appended (0 before the first).
    pub fn last_seq(&self) -> Result<i64, JournalError> {
        self.store.query_i64(
            "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)",
            [],
        )
    }

    /// Entries up to this position were pruned: a cursor before it would miss them.
    pub fn pruned_through(&self) -> Result<i64, JournalError> {
        Ok(self
            .store
            .value(PRUNED_THROUGH)?
            .and_then(|v| v.parse().ok())
            .unwrap_or_default())
    }

    /// The position just before the first entry observed at or after `at`.
    pub fn position_at(&self, at: SystemTime) -> Result<i64, JournalError> {
        let first = self.store.query_i64(
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
        let db_err = db_error(&self.store.path);
        let mut statement = self
            .store
            .conn
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
        let through = self.store.query_i64(
            "SELECT COALESCE(MAX(seq), 0) FROM events WHERE observed_at < ?1",
            [cutoff],
        )?;
        if through == 0 {
            return Ok(0);
        }
        let db_err = db_error(&self.store.path);
        let tx = self.store.conn.transaction().map_err(&db_err)?;
        let removed = tx
            .execute("DELETE FROM events WHERE seq <= ?1", [through])
            .map_err(&db_err)?;
        put_value(&tx, PRUNED_THROUGH, &through.to_string()).map_err(&db_err)?;
        tx.commit().map_err(&db_err)?;
        Ok(removed)
    }

    fn set_values(&mut self, values: &[(&str, &str)]) -> Result<(), JournalError> {
        let db_err = db_error(&self.store.path);
        let tx = self.store.conn.transaction().map_err(&db_err)?;
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
        let Ok(entries) = std::fs::read_dir(&self.store.dir) else {
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

impl Recorder {
    /// Makes the snapshot at `taken` (a file in this directory) the latest, with the events
    /// `events` appends (those observed against the previous snapshot), all or nothing: if
    /// `events` fails, nothing is recorded and the snapshot file stays where it is. The events
    /// go to disk as they are appended, not held in memory.
    pub fn record<E: From<JournalError>>(
        &mut self,
        taken: &Path,
        sync_id: &str,
        taken_at: SystemTime,
        events: impl FnOnce(&mut Appender<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let previous = self.store.latest()?;
        let file = self.store.snapshot_path(sync_id);
        let db_err = db_error(&self.store.path);
        let tx = self.store.conn.transaction().map_err(&db_err)?;
        {
            let mut appender = Appender {
                insert: tx
                    .prepare("INSERT INTO events (observed_at, event) VALUES (?1, ?2)")
                    .map_err(&db_err)?,
                observed_at: millis(taken_at),
                db_path: &self.store.path,
            };
            events(&mut appender)?;
        }
        // Durable before the commit: a journal must never name a snapshot that is not there.
        workfiles::rename_durably(taken, &file).map_err(|source| JournalError::Io {
            path: file.clone(),
            source,
        })?;
        put_value(&tx, SNAPSHOT, sync_id).map_err(&db_err)?;
        put_value(&tx, SNAPSHOT_AT, &millis(taken_at).to_string()).map_err(&db_err)?;
        tx.commit().map_err(&db_err)?;
        if let Some(previous) = previous.filter(|p| p.file != file) {
            remove_logged(&previous.file);
        }
        Ok(())
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

/// Milliseconds since the epoch, as the journal and the sign-in cursors keep times (0 before
/// it, the largest `i64` past what one holds).
pub fn millis(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
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

    fn record(
        journal: &mut Journal,
        file: &Path,
        sync_id: &str,
        at: SystemTime,
        events: &[Vec<u8>],
    ) -> i64 {
        journal
            .recorder()
            .unwrap()
            .record(file, sync_id, at, |appender| {
                events.iter().try_for_each(|event| appender.append(event))
            })
            .unwrap();
        journal.last_seq().unwrap()
    }

    #[test]
    fn records_pages_and_prunes_without_reusing_positions() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(dir.path(), "pool", "").unwrap();
        assert_eq!(journal.latest().unwrap(), None);
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000);
        let first = snapshot_file(&journal);
        assert_eq!(record(&mut journal, &first, "A", t0, &[]), 0);
        let latest = journal.latest().unwrap().unwrap();
        assert_eq!((latest.sync_id.as_str(), latest.taken_at), ("A", t0));
        assert!(latest.file.exists());

        let t1 = t0 + Duration::from_secs(60);
        let events: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 10]).collect();
        let second = snapshot_file(&journal);
        assert_eq!(record(&mut journal, &second, "B", t1, &events), 5);
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
        assert_eq!(record(&mut journal, &third, "C", t2, &[vec![9]]), 6);
        let (page, _) = journal.page(0, 10, usize::MAX).unwrap();
        assert_eq!(
            page,
            vec![Entry {
                seq: 6,
                event: vec![9]
            }]
        );
    }

    /// A journal in `dir` with snapshot "A" and one event, and the next snapshot's file.
    fn one_refresh_then_another(dir: &Path) -> (Journal, PathBuf) {
        let mut journal = Journal::open(dir, "pool", "").unwrap();
        let first = snapshot_file(&journal);
        record(&mut journal, &first, "A", SystemTime::now(), &[vec![1]]);
        let second = snapshot_file(&journal);
        (journal, second)
    }

    #[test]
    fn a_failed_refresh_records_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (journal, second) = one_refresh_then_another(dir.path());
        let mut recorder = journal.recorder().unwrap();
        let failed = recorder.record(&second, "B", SystemTime::now(), |appender| {
            appender.append(&[2])?;
            appender.append(&[3])?;
            Err(JournalError::Io {
                path: second.clone(),
                source: std::io::Error::other("the diff failed"),
            })
        });
        assert!(failed.is_err());
        assert_eq!(journal.latest().unwrap().unwrap().sync_id, "A");
        assert_eq!(journal.last_seq().unwrap(), 1);
        assert!(second.exists(), "the new snapshot stays unrecorded");
        let (page, _) = journal.page(0, 10, usize::MAX).unwrap();
        assert_eq!(page.len(), 1);
    }

    #[test]
    fn readers_go_on_while_a_refresh_records() {
        let dir = tempfile::tempdir().unwrap();
        let (journal, second) = one_refresh_then_another(dir.path());
        let mut recorder = journal.recorder().unwrap();
        recorder
            .record(&second, "B", SystemTime::now(), |appender| {
                appender.append(&[2])?;
                // Mid-recording, the journal still reads as it was, without waiting.
                assert_eq!(journal.last_seq()?, 1);
                assert_eq!(journal.page(0, 10, usize::MAX)?.0.len(), 1);
                assert_eq!(journal.latest()?.map(|l| l.sync_id).as_deref(), Some("A"));
                Ok::<_, JournalError>(())
            })
            .unwrap();
        assert_eq!(journal.last_seq().unwrap(), 2);
        assert_eq!(journal.latest().unwrap().unwrap().sync_id, "B");
    }

    #[test]
    fn reopening_keeps_the_identity_refuses_other_listings_and_removes_orphans() {
        let dir = tempfile::tempdir().unwrap();
        let id = {
            let mut journal = Journal::open(dir.path(), "pool", "email ^= \"a\"").unwrap();
            let file = snapshot_file(&journal);
            record(&mut journal, &file, "A", SystemTime::now(), &[]);
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
