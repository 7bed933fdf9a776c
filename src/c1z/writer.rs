//! Writing one full sync into a new `.c1z`.
//!
//! The sync is built in a SQLite database that is only ever a scratch file: it lives next to
//! the destination (a large pool must not fill `/tmp`, and the final rename must not cross
//! filesystems), it is written with journaling and fsync off, and it is thrown away if
//! anything goes wrong. Only `finish` touches the destination, and only by renaming a fully
//! written and fsynced file over it, so an existing `.c1z` survives a failed or interrupted sync
//! intact.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use prost::Message;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use tempfile::TempPath;

use super::envelope::{MAGIC_V1, MAGIC_V3, read_up_to};
use super::error::C1zError;
use super::finishing::Finishing;
use super::progress::{PROGRESS_DDL, ProgressRow, read_progress};
use super::rows::{self, Invalid};
use super::schema::{self, DDL};
use super::time;
use crate::ksuid;
use crate::pb::v2::{Entitlement, Grant, Resource, ResourceId, ResourceType};
use crate::workfiles::{self, Held};
use tokio_util::sync::CancellationToken;

/// Rows written per transaction: each commit writes the dirty pages out (without fsync), so
/// bigger transactions rewrite hot index pages less often. Memory is bounded by the page cache
/// either way (SQLite spills dirty pages to the file when it is full).
const ROWS_PER_TRANSACTION: usize = 10_000;
/// The longest a transaction stays open: what a sync has stored (and the progress it recorded
/// with it) is committed at least this often, so a killed sync loses at most this much.
const COMMIT_EVERY: std::time::Duration = std::time::Duration::from_secs(2);
/// zstd level: the library's default, a good ratio at well over 100 MB/s.
const ZSTD_LEVEL: i32 = 3;
/// SQLite page cache while rows are written, in KiB. Each grant updates the table and one
/// unique index (the lookup indexes are built at the end); keeping the index's upper levels
/// cached is what keeps insertion fast once the file outgrows the cache.
const CACHE_KIB: i64 = 16 * 1024;
/// Page cache while the deferred indexes are built, in KiB. SQLite's sorter keeps about as much
/// again in memory before it spills runs to temporary files (in `$SQLITE_TMPDIR`, `$TMPDIR` or
/// `/var/tmp`), so this halves the build's peak memory for a few percent of its time.
const INDEXING_CACHE_KIB: i64 = 4 * 1024;
/// The final sync token. Readers only mine it for timing statistics; the SDK accepts it.
const FINAL_SYNC_TOKEN: &str = r#"{"version":1}"#;

const INSERT_RESOURCE_TYPE: &str = "INSERT INTO v1_resource_types \
    (external_id, data, sync_id, discovered_at) VALUES (?1, ?2, ?3, ?4) \
    ON CONFLICT (external_id, sync_id) DO UPDATE SET data = excluded.data";
const INSERT_RESOURCE: &str = "INSERT INTO v1_resources \
    (resource_type_id, external_id, parent_resource_type_id, parent_resource_id, data, sync_id, \
    discovered_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
    ON CONFLICT (external_id, sync_id) DO UPDATE SET data = excluded.data";
const INSERT_ENTITLEMENT: &str = "INSERT INTO v1_entitlements \
    (resource_type_id, resource_id, external_id, data, sync_id, discovered_at) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
    ON CONFLICT (external_id, sync_id) DO UPDATE SET data = excluded.data";
/// On a second put of the same grant the expansion is replaced, and it needs expanding again
/// only if it appeared or changed (the SDK's rule).
const INSERT_GRANT: &str = "INSERT INTO v1_grants \
    (resource_type_id, resource_id, entitlement_id, principal_resource_type_id, \
    principal_resource_id, external_id, expansion, needs_expansion, data, sync_id, discovered_at) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
    ON CONFLICT (external_id, sync_id) DO UPDATE SET \
    data = excluded.data, \
    expansion = excluded.expansion, \
    needs_expansion = CASE \
        WHEN excluded.expansion IS NULL OR excluded.expansion = X'' THEN 0 \
        WHEN v1_grants.expansion IS NULL THEN 1 \
        WHEN v1_grants.expansion != excluded.expansion THEN 1 \
        ELSE v1_grants.needs_expansion END";

/// The kind of sync run a file records, as the SDK names them in `v1_sync_runs.sync_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SyncType {
    Full,
    Partial,
}

impl SyncType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Partial => "partial",
        }
    }
}

/// The result of [`C1zWriter::finish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenFile {
    pub path: PathBuf,
    /// Size of the `.c1z` file.
    pub bytes: u64,
    /// Size of the SQLite database inside it.
    pub db_bytes: u64,
    pub sync_id: String,
}

/// A full sync being written; it becomes the destination file on [`finish`](Self::finish).
///
/// Dropping it unfinished (or after an error) removes every file it created and leaves the
/// destination as it was.
pub struct C1zWriter {
    // Field order matters for Drop: the connection closes before its file is removed.
    conn: Option<Connection>,
    db_file: Option<TempPath>,
    /// Marks the working database as in use, so no other run sweeps it away.
    _db_held: Held,
    dest: PathBuf,
    dir: PathBuf,
    sync_id: String,
    /// Whether a transaction is open, how many rows it holds, and since when.
    in_tx: bool,
    pending: usize,
    opened_at: std::time::Instant,
    /// A write failed: what was stored is incomplete, so the sync must not be finished.
    failed: bool,
    /// Set, the working database is kept when the writer is dropped unfinished (a sync
    /// interrupted on purpose, which a later run resumes); otherwise it is removed.
    keep_unfinished: Option<Arc<AtomicBool>>,
    /// Its resume record is beside the database: the sync is complete, and a finish that fails
    /// from here on (a full disk, an interrupt) keeps it for the next run to finish.
    finished_aside: bool,
    /// Reused encoding buffer.
    buf: Vec<u8>,
}

impl C1zWriter {
    /// Starts a new full sync that will become the file `dest` on `finish`. The working SQLite
    /// database lives in a temporary file in dest's directory (so a huge pool does not fill
    /// /tmp, and the final rename is on one filesystem); nothing at `dest` is touched until
    /// finish.
    ///
    /// Fails at once, before any work is done, if dest's directory does not exist or cannot be
    /// written, if dest is a directory or a special file (a FIFO, a device), or if dest is an
    /// existing file that is not a `.c1z`. A symbolic link means its target: the link stays.
    pub fn create(dest: &Path) -> Result<Self, C1zError> {
        Self::create_run(dest, SyncType::Full)
    }

    /// Starts a new partial sync (a targeted sync of some resources) that will become the file
    /// `dest`, as [`create`](Self::create) does a full one. Its parent is empty: the file is
    /// new, so it holds no full sync to be the parent.
    pub fn create_partial(dest: &Path) -> Result<Self, C1zError> {
        Self::create_run(dest, SyncType::Partial)
    }

    fn create_run(dest: &Path, sync_type: SyncType) -> Result<Self, C1zError> {
        let (dest, dir) = Self::checked_destination(dest)?;
        // What an earlier sync to the same destination left when it was killed. A partial sync
        // leaves them: among them may be a killed full sync that the next full run resumes
        // (which sweeps the rest).
        if sync_type == SyncType::Full {
            workfiles::sweep_beside(&dest);
        }
        Self::start_new(dest, dir, sync_type)
    }

    /// Starts a full sync to `dest`, or picks up the one an earlier run left unfinished beside
    /// it: a working database of a full sync, held by no other process, whose resume key (a
    /// session value the caller chose, naming what is synced) is `key`. `None` as the progress
    /// means a new sync; the working files of other syncs to `dest` are swept as always. With
    /// `fresh`, nothing is picked up.
    pub fn create_or_resume(
        dest: &Path,
        key: &[u8],
        fresh: bool,
    ) -> Result<(Self, Option<Vec<ProgressRow>>), C1zError> {
        let (dest, dir) = Self::checked_destination(dest)?;
        if !fresh && let Some((writer, progress)) = Self::find_unfinished(&dest, &dir, key) {
            // The rest the killed run left (a file it was compressing, say) goes; the database
            // resumed is held by now, and left alone.
            workfiles::sweep_beside(&dest);
            return Ok((writer, Some(progress)));
        }
        workfiles::sweep_beside(&dest);
        let mut writer = Self::start_new(dest, dir, SyncType::Full)?;
        writer.put_session_value(RESUME_KEY, key)?;
        writer.commit()?;
        Ok((writer, None))
    }

    /// `dest` as a file a sync may replace, and its directory, which must exist.
    fn checked_destination(dest: &Path) -> Result<(PathBuf, PathBuf), C1zError> {
        if dest.file_name().is_none() {
            return Err(C1zError::IsDirectory {
                path: dest.to_path_buf(),
            });
        }
        let dest = replaceable(dest)?;
        let dir = workfiles::parent_dir(&dest);
        if !dir.is_dir() {
            return Err(C1zError::NoDirectory { path: dest, dir });
        }
        Ok((dest, dir))
    }

    fn start_new(dest: PathBuf, dir: PathBuf, sync_type: SyncType) -> Result<Self, C1zError> {
        let (db_file, db_held) = workfiles::create_beside(&dest, WORKING_SUFFIX)
            .map(|(file, held)| (file.into_temp_path(), held))
            .map_err(|source| C1zError::Io {
                path: dest.clone(),
                action: "cannot create a temporary file in its directory",
                source,
            })?;
        let conn = open_working(&dest, &db_file)?;
        let sync_id = ksuid::new();
        conn.execute_batch(&format!("BEGIN;{DDL}{PROGRESS_DDL}"))
            .and_then(|()| {
                conn.execute(
                    "INSERT INTO v1_sync_runs \
                     (sync_id, started_at, sync_token, sync_type, parent_sync_id, \
                     linked_sync_id, grants_backfilled) \
                     VALUES (?1, ?2, '', ?3, '', '', 1)",
                    params![sync_id, time::now(), sync_type.as_str()],
                )
            })
            .and_then(|_| conn.execute_batch("COMMIT"))
            .map_err(sql_error(&dest, "creating the tables"))?;
        Ok(Self::over(conn, db_file, db_held, dest, dir, sync_id))
    }

    fn over(
        conn: Connection,
        db_file: TempPath,
        db_held: Held,
        dest: PathBuf,
        dir: PathBuf,
        sync_id: String,
    ) -> Self {
        Self {
            conn: Some(conn),
            db_file: Some(db_file),
            _db_held: db_held,
            dest,
            dir,
            sync_id,
            in_tx: false,
            pending: 0,
            opened_at: std::time::Instant::now(),
            failed: false,
            keep_unfinished: None,
            finished_aside: false,
            buf: Vec::with_capacity(4096),
        }
    }

    /// Keeps the working database, for a later run to resume, if the writer is dropped
    /// unfinished once `keep` is set (and no write failed).
    pub fn keep_unfinished_when(&mut self, keep: Arc<AtomicBool>) {
        self.keep_unfinished = Some(keep);
    }

    /// The unfinished full sync to `dest` whose resume key is `key`, if an earlier run left one
    /// and no process holds it; its progress. Anything unreadable is left for the sweep.
    fn find_unfinished(dest: &Path, dir: &Path, key: &[u8]) -> Option<(Self, Vec<ProgressRow>)> {
        let file_name = dest.file_name()?.to_string_lossy().into_owned();
        let candidates = fs::read_dir(dir).ok()?.flatten().filter(|entry| {
            entry.file_name().to_str().is_some_and(|name| {
                name.starts_with(&format!(".{file_name}.")) && name.ends_with(WORKING_SUFFIX)
            })
        });
        for entry in candidates {
            let path = entry.path();
            let Ok(held) = workfiles::hold(&path) else {
                continue;
            };
            match Self::reopen(dest, dir, &path, held, key) {
                Ok(Some(found)) => return Some(found),
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(path = %path.display(), error = %err, "an unfinished sync cannot be resumed; starting over");
                }
            }
        }
        None
    }

    /// The working database at `path` as a writer again, if it is an unfinished full sync with
    /// resume key `key`: one killed while it ran, or while it was being finished (then what
    /// finishing took out is put back, and the sync is as it was before).
    fn reopen(
        dest: &Path,
        dir: &Path,
        path: &Path,
        held: Held,
        key: &[u8],
    ) -> Result<Option<(Self, Vec<ProgressRow>)>, C1zError> {
        let finishing = Finishing::read(path);
        if finishing.as_ref().is_some_and(|record| !record.is_for(key)) {
            return Ok(None);
        }
        let conn = open_working(dest, path)?;
        let sql_err = sql_error(dest, "reading an unfinished sync");
        let sync_id: Option<String> = match &finishing {
            Some(_) => conn
                .query_row(
                    "SELECT sync_id FROM v1_sync_runs WHERE sync_type = 'full'",
                    [],
                    |row| row.get(0),
                )
                .optional(),
            None => conn
                .query_row(
                    "SELECT r.sync_id FROM v1_sync_runs r JOIN v1_connector_sessions s \
                     ON s.sync_id = r.sync_id AND s.key = ?1 \
                     WHERE r.sync_type = 'full' AND s.value = ?2",
                    params![RESUME_KEY, key],
                    |row| row.get(0),
                )
                .optional(),
        }
        .map_err(&sql_err)?;
        let Some(sync_id) = sync_id else {
            return Ok(None);
        };
        // Unfinished again: not ended, and without the indexes finishing builds.
        let drops: String = schema::deferred_index_names()
            .map(|name| format!("DROP INDEX IF EXISTS {name};"))
            .collect();
        conn.execute_batch(&format!("{drops}{PROGRESS_DDL}"))
            .and_then(|()| {
                conn.execute(
                    "UPDATE v1_sync_runs SET ended_at = NULL WHERE sync_id = ?1",
                    params![sync_id],
                )
            })
            .map_err(&sql_err)?;
        let db_file = TempPath::try_from_path(path).map_err(|source| C1zError::Io {
            path: dest.to_path_buf(),
            action: "cannot take over an unfinished sync's working database",
            source,
        })?;
        let mut writer = Self::over(
            conn,
            db_file,
            held,
            dest.to_path_buf(),
            dir.to_path_buf(),
            sync_id,
        );
        if let Some(record) = finishing {
            writer.put_session_value(RESUME_KEY, key)?;
            for row in &record.progress {
                writer.put_progress(row)?;
            }
            writer.commit()?;
            Finishing::remove(path);
        }
        let conn = writer.conn.as_ref().ok_or_else(|| C1zError::Failed {
            path: dest.to_path_buf(),
        })?;
        let progress = read_progress(conn).map_err(&sql_err)?;
        Ok(Some((writer, progress)))
    }

    /// Records where one listing of the sync stands, in the transaction of the rows stored
    /// before it: `cursor` where it resumes, or none once it is done, the items it stored and
    /// the calls that took.
    pub fn put_progress(&mut self, progress: &ProgressRow) -> Result<(), C1zError> {
        self.ensure_usable()?;
        self.write_rows("recording the sync's progress", |w, conn, _| {
            w.begin(conn)?;
            conn.prepare_cached(
                "INSERT INTO baton_cognito_progress (listing, cursor, done, items, calls) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (listing) DO UPDATE SET \
                 cursor = excluded.cursor, done = excluded.done, items = excluded.items, \
                 calls = excluded.calls",
            )?
            .execute(params![
                progress.listing,
                progress.cursor,
                i64::from(progress.done),
                i64::try_from(progress.items).unwrap_or(i64::MAX),
                i64::try_from(progress.calls).unwrap_or(i64::MAX)
            ])?;
            w.row_written(conn)
        })
    }

    /// The id of the sync being written (a KSUID).
    pub fn sync_id(&self) -> &str {
        &self.sync_id
    }

    /// Stores `value` under `key` in the sync's connector-session table, where a file can carry
    /// this connector's own state beside the Baton records (Baton readers ignore it).
    pub fn put_session_value(&mut self, key: &str, value: &[u8]) -> Result<(), C1zError> {
        self.write_rows("storing a session value", |w, conn, _| {
            conn.execute(
                "INSERT INTO v1_connector_sessions (sync_id, key, value) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (sync_id, key) DO UPDATE SET value = excluded.value",
                params![w.sync_id, key, value],
            )?;
            Ok(())
        })
    }

    pub fn put_resource_types(&mut self, items: &[ResourceType]) -> Result<(), C1zError> {
        let keys = self.validate(items, rows::resource_type_key)?;
        self.write_rows("storing resource types", |w, conn, now| {
            let mut stmt = conn.prepare_cached(INSERT_RESOURCE_TYPE)?;
            for (item, external_id) in items.iter().zip(&keys) {
                w.encode(conn, item)?;
                stmt.execute(params![external_id, &*w.buf, w.sync_id, now])?;
                w.row_written(conn)?;
            }
            Ok(())
        })
    }

    pub fn put_resources(&mut self, items: &[Resource]) -> Result<(), C1zError> {
        let keys = self.validate(items, rows::resource_keys)?;
        self.write_rows("storing resources", |w, conn, now| {
            let mut stmt = conn.prepare_cached(INSERT_RESOURCE)?;
            for (item, k) in items.iter().zip(&keys) {
                w.encode(conn, item)?;
                stmt.execute(params![
                    k.resource_type_id,
                    k.external_id,
                    k.parent.map(|p| p.resource_type.as_str()),
                    k.parent.map(|p| p.resource.as_str()),
                    &*w.buf,
                    w.sync_id,
                    now
                ])?;
                w.row_written(conn)?;
            }
            Ok(())
        })
    }

    pub fn put_entitlements(&mut self, items: &[Entitlement]) -> Result<(), C1zError> {
        let keys = self.validate(items, rows::entitlement_keys)?;
        self.write_rows("storing entitlements", |w, conn, now| {
            let mut stmt = conn.prepare_cached(INSERT_ENTITLEMENT)?;
            for (item, k) in items.iter().zip(&keys) {
                w.encode(conn, item)?;
                stmt.execute(params![
                    k.resource.resource_type,
                    k.resource.resource,
                    k.external_id,
                    &*w.buf,
                    w.sync_id,
                    now
                ])?;
                w.row_written(conn)?;
            }
            Ok(())
        })
    }

    /// Stores grants. A `GrantExpandable` annotation is moved out of the stored grant into the
    /// `expansion` column with `needs_expansion` set, as the SDK stores it (and as
    /// the reader puts it back).
    pub fn put_grants(&mut self, items: &[Grant]) -> Result<(), C1zError> {
        let keys = self.validate(items, rows::grant_keys)?;
        self.write_rows("storing grants", |w, conn, now| {
            let mut stmt = conn.prepare_cached(INSERT_GRANT)?;
            for (item, k) in items.iter().zip(&keys) {
                let (stored, expansion) = rows::split_expansion(item);
                w.encode(conn, stored.as_ref())?;
                stmt.execute(params![
                    k.resource.resource_type,
                    k.resource.resource,
                    k.entitlement_id,
                    k.principal.resource_type,
                    k.principal.resource,
                    k.external_id,
                    expansion,
                    i64::from(expansion.is_some()),
                    &*w.buf,
                    w.sync_id,
                    now
                ])?;
                w.row_written(conn)?;
            }
            Ok(())
        })
    }

    /// Removes the stored resources of a type and parent that `listed` claims and whose ids
    /// `found` lacks (a listing that started over did not find them again: they were deleted
    /// meanwhile), with their entitlements and every grant on or of them. How many went.
    pub fn remove_unfound(
        &mut self,
        resource_type_id: &str,
        parent: Option<&ResourceId>,
        listed: &dyn Fn(&Resource) -> bool,
        found: &HashSet<String>,
    ) -> Result<usize, C1zError> {
        let mut gone = Vec::new();
        let mut after = 0;
        loop {
            let batch = self.resources_after(resource_type_id, parent, after, 1_000)?;
            let Some((last, _)) = batch.last() else {
                break;
            };
            after = *last;
            gone.extend(batch.into_iter().filter_map(|(rowid, resource)| {
                let id = resource.id.as_ref()?;
                (listed(&resource) && !found.contains(&id.resource)).then(|| (rowid, id.clone()))
            }));
        }
        if gone.is_empty() {
            return Ok(0);
        }
        self.write_rows(
            "removing records a restarted listing did not find again",
            |w, conn, _| {
                w.begin(conn)?;
                conn.execute_batch(
                "CREATE TEMP TABLE IF NOT EXISTS gone (resource_type_id TEXT, resource_id TEXT);
                 DELETE FROM temp.gone;",
            )?;
                let mut remember = conn.prepare_cached("INSERT INTO temp.gone VALUES (?1, ?2)")?;
                let mut remove = conn.prepare_cached("DELETE FROM v1_resources WHERE id = ?1")?;
                for (rowid, id) in &gone {
                    remember.execute(params![id.resource_type, id.resource])?;
                    remove.execute(params![rowid])?;
                }
                conn.execute_batch(
                    "DELETE FROM v1_entitlements WHERE (resource_type_id, resource_id) IN \
                     (SELECT resource_type_id, resource_id FROM temp.gone);
                 DELETE FROM v1_grants WHERE (resource_type_id, resource_id) IN \
                     (SELECT resource_type_id, resource_id FROM temp.gone) \
                     OR (principal_resource_type_id, principal_resource_id) IN \
                     (SELECT resource_type_id, resource_id FROM temp.gone);
                 DELETE FROM temp.gone;",
                )
            },
        )?;
        tracing::info!(
            resource_type = resource_type_id,
            removed = gone.len(),
            "records a restarted listing did not find again are removed"
        );
        Ok(gone.len())
    }

    /// Removes the grants on `resource`, and those it holds, that this sync stored.
    pub fn remove_grants_of(&mut self, resource: &ResourceId) -> Result<(), C1zError> {
        self.write_rows(
            "removing the grants of a restarted listing",
            |w, conn, _| {
                w.begin(conn)?;
                conn.execute(
                    "DELETE FROM v1_grants WHERE sync_id = ?1 AND ( \
                 (resource_type_id = ?2 AND resource_id = ?3) \
                 OR (principal_resource_type_id = ?2 AND principal_resource_id = ?3))",
                    params![w.sync_id, resource.resource_type, resource.resource],
                )?;
                Ok(())
            },
        )
    }

    /// Stored resources of one type and parent (`None`: without one) with rowid > after, in
    /// rowid order, at most `limit` (the sync engine pages through what it stored instead of
    /// keeping the pool in memory, and each pool through its own resources).
    pub fn resources_after(
        &mut self,
        resource_type_id: &str,
        parent: Option<&ResourceId>,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Resource)>, C1zError> {
        self.ensure_usable()?;
        self.commit()?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let dest = &self.dest;
        let conn = self
            .conn
            .as_ref()
            .ok_or_else(|| C1zError::Failed { path: dest.clone() })?;
        let sql_err = |source| C1zError::Sqlite {
            path: dest.clone(),
            action: "reading stored resources",
            source,
        };
        let mut stmt = conn
            .prepare_cached(
                "SELECT id, data FROM v1_resources \
                 WHERE resource_type_id = ?1 AND sync_id = ?2 AND id > ?3 \
                 AND parent_resource_type_id IS ?5 AND parent_resource_id IS ?6 \
                 ORDER BY id LIMIT ?4",
            )
            .map_err(sql_err)?;
        let mut rows = stmt
            .query(params![
                resource_type_id,
                self.sync_id,
                after,
                limit,
                parent.map(|p| p.resource_type.as_str()),
                parent.map(|p| p.resource.as_str()),
            ])
            .map_err(sql_err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(sql_err)? {
            let rowid: i64 = row.get(0).map_err(sql_err)?;
            let data: Vec<u8> = row.get(1).map_err(sql_err)?;
            let resource =
                Resource::decode(data.as_slice()).map_err(|source| C1zError::Decode {
                    path: dest.clone(),
                    table: schema::RESOURCES,
                    rowid,
                    message: "c1.connector.v2.Resource",
                    source,
                })?;
            out.push((rowid, resource));
        }
        Ok(out)
    }

    /// Ends the sync (ended_at, sync_token `{"version":1}`, supports_diff 1), closes the DB,
    /// writes `C1ZF\0` + one zstd frame (content size recorded) to a temp file next to dest,
    /// fsyncs it, renames it over dest, fsyncs the directory, removes the working DB.
    pub fn finish(self) -> Result<WrittenFile, C1zError> {
        self.finish_unless(&CancellationToken::new())
    }

    /// [`finish`](Self::finish), abandoned (leaving dest untouched) if `cancelled` becomes true
    /// before the finished file is moved into place: compressing a large sync takes a while, and
    /// an interrupt during it must not still replace the file.
    pub fn finish_unless(mut self, cancelled: &CancellationToken) -> Result<WrittenFile, C1zError> {
        self.ensure_usable()?;
        self.commit()?;
        let dest = self.dest.clone();
        let sql_err = |action| {
            let path = dest.clone();
            move |source| C1zError::Sqlite {
                path,
                action,
                source,
            }
        };
        let conn = self
            .conn
            .take()
            .ok_or_else(|| C1zError::Failed { path: dest.clone() })?;
        conn.execute_batch(&format!(
            "PRAGMA cache_size = -{INDEXING_CACHE_KIB}; PRAGMA shrink_memory; {}",
            schema::DEFERRED_INDEXES
        ))
        .map_err(sql_err("indexing the grants"))?;
        conn.execute(
            "UPDATE v1_sync_runs SET ended_at = ?1, sync_token = ?2, supports_diff = 1 \
             WHERE sync_id = ?3 AND ended_at IS NULL",
            params![time::now(), FINAL_SYNC_TOKEN, self.sync_id],
        )
        .map_err(sql_err("ending the sync"))?;
        // What only a resumed run needs goes, kept beside the database until the file is in
        // place; the log is folded into the database, so that once closed the file's bytes are
        // the complete database.
        let resume_key: Option<Vec<u8>> = conn
            .query_row(
                "SELECT value FROM v1_connector_sessions WHERE sync_id = ?1 AND key = ?2",
                params![self.sync_id, RESUME_KEY],
                |row| row.get(0),
            )
            .optional()
            .map_err(sql_err("reading the sync's progress"))?;
        if let (Some(key), Some(db)) = (resume_key, self.db_file.as_deref()) {
            let progress = read_progress(&conn).map_err(sql_err("reading the sync's progress"))?;
            Finishing::new(&key, progress)
                .write(db)
                .map_err(|source| C1zError::Io {
                    path: dest.clone(),
                    action: "cannot record the finished sync beside its working database",
                    source,
                })?;
            self.finished_aside = true;
        }
        conn.execute_batch(&format!(
            "DROP TABLE IF EXISTS baton_cognito_progress;
             DELETE FROM v1_connector_sessions WHERE key = '{RESUME_KEY}';
             PRAGMA journal_mode = DELETE;"
        ))
        .map_err(sql_err("closing the sync's log"))?;
        conn.close()
            .map_err(|(_, source)| source)
            .map_err(sql_err("closing the working database"))?;

        // Someone may have put something at dest while the sync ran.
        replaceable(&dest)?;
        let db_path = self
            .db_file
            .as_deref()
            .ok_or_else(|| C1zError::Failed { path: dest.clone() })?;
        let io_err = |action| {
            let path = dest.clone();
            move |source| C1zError::Io {
                path,
                action,
                source,
            }
        };
        let db = File::open(db_path).map_err(io_err("cannot reopen the working database"))?;
        let db_bytes = db
            .metadata()
            .map_err(io_err("cannot read the working database"))?
            .len();

        let (mut out, _out_held) = workfiles::create_beside(&dest, ".tmp")
            .map_err(io_err("cannot create a temporary file in its directory"))?;
        let db = Cancellable {
            inner: db,
            cancelled,
        };
        match compress(db, db_bytes, out.as_file_mut()) {
            Err(e) if cancelled.is_cancelled() => {
                drop(e);
                return Err(C1zError::Cancelled { path: dest });
            }
            result => result.map_err(io_err("cannot write the file"))?,
        }
        out.as_file()
            .sync_all()
            .map_err(io_err("cannot flush the file to disk"))?;
        let bytes = out
            .as_file()
            .metadata()
            .map_err(io_err("cannot read the written file"))?
            .len();
        // Readers of the old file can read the new one: its permissions, or the usual 0644
        // (temporary files start owner-only).
        let permissions = match fs::metadata(&dest) {
            Ok(existing) => existing.permissions(),
            Err(_) => default_permissions(out.as_file())
                .map_err(io_err("cannot read the written file"))?,
        };
        out.as_file()
            .set_permissions(permissions)
            .map_err(io_err("cannot set the file's permissions"))?;
        if cancelled.is_cancelled() {
            return Err(C1zError::Cancelled { path: dest });
        }
        out.persist(&dest)
            .map_err(|e| e.error)
            .map_err(io_err("cannot move the finished file into place"))?;
        workfiles::flush_dir(&self.dir);

        // The database goes before its resume record: a kill between them leaves a record with
        // no database (swept), never a finished sync that a later run would publish again.
        if let Some(db_file) = self.db_file.take() {
            let path = db_file.to_path_buf();
            if let Err(e) = db_file.close() {
                // The sync is safely written; a leftover scratch file is not worth failing for.
                tracing::warn!(path = %path.display(), error = %e, "could not remove the working database");
            }
            Finishing::remove(&path);
        }
        Ok(WrittenFile {
            path: dest,
            bytes,
            db_bytes,
            sync_id: std::mem::take(&mut self.sync_id),
        })
    }

    fn ensure_usable(&self) -> Result<(), C1zError> {
        if self.failed || self.conn.is_none() {
            return Err(C1zError::Failed {
                path: self.dest.clone(),
            });
        }
        Ok(())
    }

    /// Checks every item before writing any, so that a bad object fails the call cleanly.
    fn validate<'a, T, K>(
        &self,
        items: &'a [T],
        keys: impl Fn(&'a T) -> Result<K, Invalid>,
    ) -> Result<Vec<K>, C1zError> {
        self.ensure_usable()?;
        items
            .iter()
            .map(|item| {
                keys(item).map_err(|Invalid { kind, detail }| C1zError::InvalidObject {
                    path: self.dest.clone(),
                    kind,
                    detail,
                })
            })
            .collect()
    }

    /// Runs `write` with the connection, marking the writer failed if it fails.
    fn write_rows(
        &mut self,
        action: &'static str,
        write: impl FnOnce(&mut RowState<'_>, &Connection, &str) -> rusqlite::Result<()>,
    ) -> Result<(), C1zError> {
        let Some(conn) = self.conn.as_ref() else {
            return Err(C1zError::Failed {
                path: self.dest.clone(),
            });
        };
        let now = time::now();
        let mut state = RowState {
            buf: &mut self.buf,
            sync_id: &self.sync_id,
            in_tx: &mut self.in_tx,
            pending: &mut self.pending,
            opened_at: &mut self.opened_at,
        };
        let result = write(&mut state, conn, &now);
        result.map_err(|source| {
            self.failed = true;
            C1zError::Sqlite {
                path: self.dest.clone(),
                action,
                source,
            }
        })
    }

    /// Commits the open transaction, if any.
    fn commit(&mut self) -> Result<(), C1zError> {
        if !self.in_tx {
            return Ok(());
        }
        let Some(conn) = self.conn.as_ref() else {
            return Ok(());
        };
        conn.execute_batch("COMMIT").map_err(|source| {
            self.failed = true;
            C1zError::Sqlite {
                path: self.dest.clone(),
                action: "committing",
                source,
            }
        })?;
        self.in_tx = false;
        self.pending = 0;
        Ok(())
    }
}

impl Drop for C1zWriter {
    /// An unfinished sync's working database goes, unless it is to be resumed: then what was
    /// stored is committed and the file stays for the next run. A writer dropped while it was
    /// being finished has closed its database already, and recorded beside it what resuming
    /// needs.
    fn drop(&mut self) {
        let keep = !self.failed
            && (self.finished_aside
                || self
                    .keep_unfinished
                    .as_ref()
                    .is_some_and(|keep| keep.load(Ordering::SeqCst)));
        let Some(db_file) = self.db_file.take() else {
            return;
        };
        let closed = match self.conn.is_some() {
            true => self.commit().is_ok() && self.conn.take().is_some_and(|c| c.close().is_ok()),
            false => true,
        };
        if keep && closed {
            if let Ok(path) = db_file.keep() {
                tracing::info!(path = %path.display(), "the unfinished sync is kept: the next run to the same file resumes it");
            }
            return;
        }
        drop(self.conn.take());
        Finishing::remove(&db_file);
    }
}

/// A working database's name ends so: `.<dest name>.<random>.db.tmp` (swept, or resumed).
const WORKING_SUFFIX: &str = ".db.tmp";
/// The session value that names what an unfinished sync syncs, for a later run to resume it.
const RESUME_KEY: &str = "baton-cognito.resume";

fn sql_error(dest: &Path, action: &'static str) -> impl Fn(rusqlite::Error) -> C1zError {
    let path = dest.to_path_buf();
    move |source| C1zError::Sqlite {
        path: path.clone(),
        action,
        source,
    }
}

/// Opens a working database for writing. Write-ahead logging, so that a process killed at any
/// moment leaves the database as of its last commit, which a later run can resume; no fsync
/// (a working file is worth nothing once the machine itself fails). Checkpoints of the log
/// into the database every 64 MiB keep reads of what was stored quick. The database holds
/// one process's sync: locked exclusively, the log index kept in memory.
fn open_working(dest: &Path, path: &Path) -> Result<Connection, C1zError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql_error(dest, "opening the working database"))?;
    conn.execute_batch(&format!(
        "PRAGMA locking_mode = EXCLUSIVE;
         PRAGMA journal_mode = WAL;
         PRAGMA synchronous = OFF;
         PRAGMA wal_autocheckpoint = 16384;
         PRAGMA cache_size = -{CACHE_KIB};"
    ))
    .map_err(sql_error(dest, "configuring the working database"))?;
    Ok(conn)
}

/// The parts of the writer a batch of inserts uses, borrowed apart from the connection.
struct RowState<'a> {
    buf: &'a mut Vec<u8>,
    sync_id: &'a str,
    in_tx: &'a mut bool,
    pending: &'a mut usize,
    opened_at: &'a mut std::time::Instant,
}

impl RowState<'_> {
    /// Encodes a message into the reused buffer, opening a transaction first if none is open.
    fn encode(&mut self, conn: &Connection, message: &impl Message) -> rusqlite::Result<()> {
        self.begin(conn)?;
        self.buf.clear();
        message
            .encode(self.buf)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
    }

    /// Opens a transaction if none is open.
    fn begin(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        if !*self.in_tx {
            conn.execute_batch("BEGIN")?;
            *self.in_tx = true;
            *self.opened_at = std::time::Instant::now();
        }
        Ok(())
    }

    /// Counts a written row and commits every [`ROWS_PER_TRANSACTION`], or once the
    /// transaction is [`COMMIT_EVERY`] old.
    fn row_written(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        *self.pending += 1;
        if *self.pending >= ROWS_PER_TRANSACTION || self.opened_at.elapsed() >= COMMIT_EVERY {
            conn.execute_batch("COMMIT")?;
            *self.in_tx = false;
            *self.pending = 0;
        }
        Ok(())
    }
}

/// Where a file replacing `dest` goes (`dest`, or the target of a link), if `dest` may be
/// replaced: absent, empty, or already a `.c1z` (either format). Any other file is somebody's
/// data, and a directory or a special file cannot be replaced by a file.
fn replaceable(dest: &Path) -> Result<PathBuf, C1zError> {
    let target = workfiles::destination(dest).map_err(|source| match source {
        workfiles::DestinationError::Directory => C1zError::IsDirectory {
            path: dest.to_path_buf(),
        },
        source => C1zError::Unreplaceable {
            path: dest.to_path_buf(),
            source,
        },
    })?;
    let len = match fs::metadata(&target) {
        Ok(meta) => meta.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(target),
        Err(source) => {
            return Err(C1zError::Io {
                path: target,
                action: "cannot inspect the existing file",
                source,
            });
        }
    };
    if len == 0 {
        return Ok(target);
    }
    let mut head = [0u8; 5];
    match File::open(&target).and_then(|f| read_up_to(f, &mut head)) {
        Ok(5) if &head == MAGIC_V1 || &head == MAGIC_V3 => Ok(target),
        Ok(_) => Err(C1zError::WouldClobber { path: target }),
        Err(source) => Err(C1zError::Io {
            path: target,
            action: "cannot read the existing file",
            source,
        }),
    }
}

/// A reader that fails once `cancelled` is set, to stop a long copy part-way.
struct Cancellable<'a, R> {
    inner: R,
    cancelled: &'a CancellationToken,
}

impl<R: io::Read> io::Read for Cancellable<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.cancelled.is_cancelled() {
            return Err(io::Error::other("interrupted"));
        }
        self.inner.read(buf)
    }
}

/// Permissions for a new file: readable by all, writable by the owner (where modes exist).
fn default_permissions(file: &File) -> io::Result<fs::Permissions> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = file;
        Ok(fs::Permissions::from_mode(0o644))
    }
    #[cfg(not(unix))]
    {
        file.metadata().map(|m| m.permissions())
    }
}

/// Writes the v1 envelope: the magic, then the database as one zstd frame that records its
/// decompressed size (so readers can refuse an oversized file before decompressing it) and a
/// checksum. Streams: memory use does not depend on the database size.
fn compress(db: impl io::Read, db_bytes: u64, out: &mut File) -> io::Result<()> {
    out.write_all(MAGIC_V1)?;
    let mut encoder = zstd::stream::write::Encoder::new(&mut *out, ZSTD_LEVEL)?;
    encoder.include_contentsize(true)?;
    encoder.include_checksum(true)?;
    encoder.set_pledged_src_size(Some(db_bytes))?;
    let copied = io::copy(
        &mut BufReader::with_capacity(1 << 20, db).take(db_bytes),
        &mut encoder,
    )?;
    if copied != db_bytes {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the working database changed size while it was compressed",
        ));
    }
    encoder.finish()?.flush()
}
