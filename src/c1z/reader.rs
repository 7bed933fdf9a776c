//! Reading a v1 `.c1z`, ours or any other Baton connector's.
//!
//! Like the SDK, the reader works on a decompressed temporary copy of the database (SQLite
//! cannot read through zstd), removed when the reader is dropped. Everything it returns comes
//! from one sync, chosen as Baton readers choose it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use prost::Message;
use rusqlite::types::ValueRef;
use rusqlite::{
    Connection, ErrorCode, OpenFlags, OptionalExtension, Row, params, params_from_iter,
};
use serde::Serialize;

use super::envelope::{MAGIC_V1, MAGIC_V3, read_up_to};
use super::error::C1zError;
use super::merge::{Paired, merge_sorted};
use super::rows::{reattach_expansion, resource_external_id};
use super::schema::{ENTITLEMENTS, GRANTS, READ_TABLES, RESOURCE_TYPES, RESOURCES, SYNC_RUNS};
use crate::pb::v2::{Entitlement, Grant, Resource, ResourceType};

/// The largest database this reader decompresses, as the SDK's default (10 GiB).
const MAX_DECODED_BYTES: u64 = 10 * 1024 * 1024 * 1024;
/// The largest zstd window accepted (2^27 = 128 MiB, the SDK's default decoder memory cap).
const MAX_WINDOW_LOG: u32 = 27;

/// The sync a reader shows, with its times as stored (Go layout, local time, no zone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncRun {
    pub sync_id: String,
    pub sync_type: String,
    pub started_at: String,
    pub ended_at: Option<String>,
}

/// Counts of what one sync holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub sync: SyncRun,
    pub resource_types: u64,
    /// Resources per resource type id, including stored types that have none.
    pub resources_by_type: BTreeMap<String, u64>,
    pub entitlements: u64,
    pub grants: u64,
}

/// Which grants [`C1zReader::grants`] returns; the default is all of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantFilter {
    /// The grant's own id.
    pub grant_id: Option<String>,
    pub entitlement_id: Option<String>,
    /// (resource type, resource id) of the principal.
    pub principal: Option<(String, String)>,
}

/// An open `.c1z`, showing one finished sync.
pub struct C1zReader {
    // Field order matters for Drop: the connection closes before its directory is removed.
    conn: Connection,
    _scratch: tempfile::TempDir,
    path: PathBuf,
    sync: SyncRun,
    /// Whether `v1_grants` has the `expansion` column (files from older SDKs may not).
    grants_have_expansion: bool,
}

impl C1zReader {
    /// Opens any v1 `.c1z` and picks the sync the way Baton readers do: the latest finished
    /// `full` sync, else the latest finished sync of any type.
    pub fn open(path: &Path) -> Result<Self, C1zError> {
        Self::open_picking(path, None)
    }

    /// Opens a v1 `.c1z` on the finished sync `sync_id` (a file may hold several).
    pub fn open_sync(path: &Path, sync_id: &str) -> Result<Self, C1zError> {
        Self::open_picking(path, Some(sync_id))
    }

    fn open_picking(path: &Path, sync_id: Option<&str>) -> Result<Self, C1zError> {
        let path = path.to_path_buf();
        let io_err = |action| {
            let path = path.clone();
            move |source| C1zError::Io {
                path,
                action,
                source,
            }
        };
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(C1zError::NotFound { path });
            }
            Err(source) => return Err(io_err("cannot open")(source)),
        };
        let mut magic = [0u8; 5];
        match read_up_to(&mut file, &mut magic).map_err(io_err("cannot read"))? {
            0 => return Err(C1zError::Empty { path }),
            5 if &magic == MAGIC_V1 => {}
            5 if &magic == MAGIC_V3 => return Err(C1zError::V3Unsupported { path }),
            _ => return Err(C1zError::NotC1z { path }),
        }

        let scratch = tempfile::Builder::new()
            .prefix("baton-cognito-c1z.")
            .tempdir()
            .map_err(io_err(
                "cannot create a temporary directory to decompress into",
            ))?;
        let db_path = scratch.path().join("db");
        decompress(file, &db_path, &path)?;

        let sql_err = |action| {
            let path = path.clone();
            move |source| C1zError::Sqlite {
                path,
                action,
                source,
            }
        };
        // Read-write only so that SQLite may create its side files next to the copy; nothing
        // is ever written (query_only).
        let conn = Connection::open_with_flags(
            &db_path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sql_err("opening the database"))?;
        let tables = table_names(&conn).map_err(|e| match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase) => C1zError::NotSqlite { path: path.clone() },
            _ => sql_err("reading the schema")(e),
        })?;
        conn.execute_batch("PRAGMA query_only = ON;")
            .map_err(sql_err("opening the database"))?;
        let missing: Vec<&'static str> = READ_TABLES
            .into_iter()
            .filter(|t| !tables.iter().any(|have| have == t))
            .collect();
        if !missing.is_empty() {
            return Err(C1zError::MissingTables {
                path,
                tables: missing,
            });
        }
        let sync_columns = column_names(&conn, SYNC_RUNS).map_err(sql_err("reading the schema"))?;
        let grants_have_expansion = column_names(&conn, GRANTS)
            .map_err(sql_err("reading the schema"))?
            .iter()
            .any(|c| c == "expansion");
        // Files from SDKs before sync types had only full syncs (the SDK's migration adds the
        // column with the default 'full').
        let has_type = sync_columns.iter().any(|c| c == "sync_type");
        let sync = pick_sync(&conn, has_type, sync_id)
            .map_err(sql_err("reading the sync runs"))?
            .ok_or_else(|| match sync_id {
                Some(id) => C1zError::NoSuchSync {
                    path: path.clone(),
                    sync_id: id.to_string(),
                },
                None => C1zError::NoFinishedSync { path: path.clone() },
            })?;

        Ok(Self {
            conn,
            _scratch: scratch,
            path,
            sync,
            grants_have_expansion,
        })
    }

    /// The file this reader was opened on.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The sync everything is read from.
    pub fn sync_run(&self) -> &SyncRun {
        &self.sync
    }

    /// A value [`C1zWriter::put_session_value`](super::writer::C1zWriter::put_session_value) stored for
    /// the sync; `None` when there is none, also in files whose SDK had no session table.
    pub fn session_value(&self, key: &str) -> Result<Option<Vec<u8>>, C1zError> {
        let has_table = self
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'v1_connector_sessions'",
                [],
                |row| row.get::<_, i64>(0),
            )
            .map_err(|e| self.sql_err(e))?;
        if has_table == 0 {
            return Ok(None);
        }
        self.conn
            .query_row(
                "SELECT value FROM v1_connector_sessions WHERE sync_id = ?1 AND key = ?2",
                params![self.sync.sync_id, key],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.sql_err(e))
    }

    pub fn resource_types(&self) -> Result<Vec<ResourceType>, C1zError> {
        let mut out = Vec::new();
        self.each_row(
            "SELECT id, data FROM v1_resource_types WHERE sync_id = ?1 ORDER BY id",
            &[],
            Self::decode_row::<ResourceType>,
            |rt| {
                out.push(rt);
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// Streams the resources (of one type, or all), in the order they were stored.
    pub fn resources(
        &self,
        resource_type_id: Option<&str>,
        each: impl FnMut(Resource) -> Result<(), C1zError>,
    ) -> Result<(), C1zError> {
        let (sql, args): (&str, Vec<&str>) = match resource_type_id {
            Some(rt) => (
                "SELECT id, data FROM v1_resources WHERE sync_id = ?1 AND resource_type_id = ?2 \
                 ORDER BY id",
                vec![rt],
            ),
            None => (
                "SELECT id, data FROM v1_resources WHERE sync_id = ?1 ORDER BY id",
                vec![],
            ),
        };
        self.each_row(sql, &args, Self::decode_row::<Resource>, each)
    }

    /// One resource, looked up as Baton looks it up (by `<type>:<id>`).
    pub fn resource(
        &self,
        resource_type_id: &str,
        resource_id: &str,
    ) -> Result<Option<Resource>, C1zError> {
        let external_id = resource_external_id(resource_type_id, resource_id);
        let mut found = None;
        self.each_row(
            "SELECT id, data FROM v1_resources \
             WHERE sync_id = ?1 AND resource_type_id = ?2 AND external_id = ?3 LIMIT 1",
            &[resource_type_id, &external_id],
            Self::decode_row::<Resource>,
            |r| {
                found = Some(r);
                Ok(())
            },
        )?;
        Ok(found)
    }

    /// Streams the entitlements (of one resource, given as (type, id), or all).
    pub fn entitlements(
        &self,
        resource: Option<(&str, &str)>,
        each: impl FnMut(Entitlement) -> Result<(), C1zError>,
    ) -> Result<(), C1zError> {
        let (sql, args): (&str, Vec<&str>) = match resource {
            Some((rt, id)) => (
                "SELECT id, data FROM v1_entitlements \
                 WHERE sync_id = ?1 AND resource_type_id = ?2 AND resource_id = ?3 ORDER BY id",
                vec![rt, id],
            ),
            None => (
                "SELECT id, data FROM v1_entitlements WHERE sync_id = ?1 ORDER BY id",
                vec![],
            ),
        };
        self.each_row(sql, &args, Self::decode_row::<Entitlement>, each)
    }

    /// One entitlement by its id (`group:admins:member`).
    pub fn entitlement(&self, entitlement_id: &str) -> Result<Option<Entitlement>, C1zError> {
        let mut found = None;
        self.each_row(
            "SELECT id, data FROM v1_entitlements WHERE sync_id = ?1 AND external_id = ?2 LIMIT 1",
            &[entitlement_id],
            Self::decode_row::<Entitlement>,
            |e| {
                found = Some(e);
                Ok(())
            },
        )?;
        Ok(found)
    }

    /// One grant by its id (`group:admins:member:user:ann`).
    pub fn grant(&self, grant_id: &str) -> Result<Option<Grant>, C1zError> {
        let mut found = None;
        let filter = GrantFilter {
            grant_id: Some(grant_id.to_string()),
            ..GrantFilter::default()
        };
        self.grants(&filter, |g| {
            found = Some(g);
            Ok(())
        })?;
        Ok(found)
    }

    /// Streams the grants that match `filter`, each with its `GrantExpandable` annotation put
    /// back if it had one (the file keeps it in a separate column).
    pub fn grants(
        &self,
        filter: &GrantFilter,
        each: impl FnMut(Grant) -> Result<(), C1zError>,
    ) -> Result<(), C1zError> {
        let mut sql = format!(
            "SELECT {} FROM v1_grants WHERE sync_id = ?1",
            self.grant_columns()
        );
        let mut args: Vec<&str> = Vec::new();
        if let Some(grant_id) = &filter.grant_id {
            args.push(grant_id);
            sql.push_str(&format!(" AND external_id = ?{}", args.len() + 1));
        }
        if let Some(entitlement_id) = &filter.entitlement_id {
            args.push(entitlement_id);
            sql.push_str(&format!(" AND entitlement_id = ?{}", args.len() + 1));
        }
        if let Some((rt, id)) = &filter.principal {
            args.push(rt);
            sql.push_str(&format!(
                " AND principal_resource_type_id = ?{}",
                args.len() + 1
            ));
            args.push(id);
            sql.push_str(&format!(" AND principal_resource_id = ?{}", args.len() + 1));
        }
        sql.push_str(" ORDER BY id");
        self.each_row(&sql, &args, Self::decode_grant, each)
    }

    /// Streams the resources of one type in id order (`<type>:<id>`, compared byte by byte):
    /// the order in which [`merge_resources`] walks two files.
    pub fn resources_in_id_order<E: From<C1zError>>(
        &self,
        resource_type_id: &str,
        each: impl FnMut(Resource) -> Result<(), E>,
    ) -> Result<(), E> {
        self.each_row(
            RESOURCES_IN_ID_ORDER,
            &[resource_type_id],
            Self::decode_row::<Resource>,
            each,
        )
    }

    /// The grant columns every grant query reads: rowid, data, and the expansion kept apart
    /// (`NULL` in files from SDKs that had no such column).
    fn grant_columns(&self) -> &'static str {
        if self.grants_have_expansion {
            "id, data, expansion"
        } else {
            "id, data, NULL"
        }
    }

    /// How much the sync holds.
    pub fn stats(&self) -> Result<Stats, C1zError> {
        let count = |table: &str| -> Result<u64, C1zError> {
            self.conn
                .query_row(
                    &format!("SELECT count(*) FROM {table} WHERE sync_id = ?1"),
                    [&self.sync.sync_id],
                    |r| r.get::<_, i64>(0),
                )
                .map(|n| u64::try_from(n).unwrap_or(0))
                .map_err(|e| self.sql_err(e))
        };
        let mut resources_by_type = BTreeMap::new();
        for rt in self.resource_types()? {
            resources_by_type.insert(rt.id, 0);
        }
        let mut stmt = self
            .conn
            .prepare(
                "SELECT resource_type_id, count(*) FROM v1_resources WHERE sync_id = ?1 \
                 GROUP BY resource_type_id",
            )
            .map_err(|e| self.sql_err(e))?;
        let rows = stmt
            .query_map([&self.sync.sync_id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })
            .map_err(|e| self.sql_err(e))?;
        for row in rows {
            let (rt, n) = row.map_err(|e| self.sql_err(e))?;
            resources_by_type.insert(rt, u64::try_from(n).unwrap_or(0));
        }
        Ok(Stats {
            sync: self.sync.clone(),
            resource_types: count(RESOURCE_TYPES)?,
            resources_by_type,
            entitlements: count(ENTITLEMENTS)?,
            grants: count(GRANTS)?,
        })
    }

    /// Runs `sql` (whose first parameter is the sync id) and hands each row, decoded, to
    /// `each`.
    fn each_row<M, E: From<C1zError>>(
        &self,
        sql: &str,
        args: &[&str],
        decode: impl Fn(&Self, &Row<'_>) -> Result<M, C1zError>,
        mut each: impl FnMut(M) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.sql_err(e))?;
        let mut rows = self.query(&mut stmt, args)?;
        while let Some(row) = rows.next().map_err(|e| self.sql_err(e))? {
            each(decode(self, row)?)?;
        }
        Ok(())
    }

    /// Starts `stmt` with the sync id as its first parameter, then `args`.
    fn query<'s>(
        &self,
        stmt: &'s mut rusqlite::Statement<'_>,
        args: &[&str],
    ) -> Result<rusqlite::Rows<'s>, C1zError> {
        let params = std::iter::once(self.sync.sync_id.as_str()).chain(args.iter().copied());
        stmt.query(params_from_iter(params))
            .map_err(|e| self.sql_err(e))
    }

    /// The message of a row whose first two columns are the rowid and the encoded message.
    fn decode_row<M: Message + Default + Stored>(&self, row: &Row<'_>) -> Result<M, C1zError> {
        let rowid: i64 = row.get(0).map_err(|e| self.sql_err(e))?;
        match row.get_ref(1).map_err(|e| self.sql_err(e))? {
            ValueRef::Blob(data) => M::decode(data),
            ValueRef::Text(data) => M::decode(data),
            _ => M::decode(&[][..]),
        }
        .map_err(|source| self.decode_err(M::TABLE, rowid, M::NAME, source))
    }

    /// A grant row (see [`Self::grant_columns`]) with its `GrantExpandable` annotation put back
    /// if it had one.
    fn decode_grant(&self, row: &Row<'_>) -> Result<Grant, C1zError> {
        let mut grant: Grant = self.decode_row(row)?;
        if let ValueRef::Blob(expansion) = row.get_ref(2).map_err(|e| self.sql_err(e))? {
            let rowid: i64 = row.get(0).map_err(|e| self.sql_err(e))?;
            reattach_expansion(&mut grant, expansion).map_err(|source| {
                self.decode_err(GRANTS, rowid, "c1.connector.v2.GrantExpandable", source)
            })?;
        }
        Ok(grant)
    }

    fn sql_err(&self, source: rusqlite::Error) -> C1zError {
        C1zError::Sqlite {
            path: self.path.clone(),
            action: "reading",
            source,
        }
    }

    fn decode_err(
        &self,
        table: &'static str,
        rowid: i64,
        message: &'static str,
        source: prost::DecodeError,
    ) -> C1zError {
        C1zError::Decode {
            path: self.path.clone(),
            table,
            rowid,
            message,
            source,
        }
    }
}

/// A message stored in one table, named as decode errors name it.
trait Stored {
    const TABLE: &'static str;
    const NAME: &'static str;
}

macro_rules! stored {
    ($($message:ty => $table:expr, $name:literal;)*) => {
        $(impl Stored for $message {
            const TABLE: &'static str = $table;
            const NAME: &'static str = $name;
        })*
    };
}

stored! {
    ResourceType => RESOURCE_TYPES, "c1.connector.v2.ResourceType";
    Resource => RESOURCES, "c1.connector.v2.Resource";
    Entitlement => ENTITLEMENTS, "c1.connector.v2.Entitlement";
    Grant => GRANTS, "c1.connector.v2.Grant";
}

/// The resources of one type in id order. The `+` keeps SQLite off the type index, so it walks
/// the unique `(external_id, sync_id)` index in order instead of sorting the whole table.
const RESOURCES_IN_ID_ORDER: &str = "SELECT id, data, external_id FROM v1_resources \
     WHERE +sync_id = ?1 AND +resource_type_id = ?2 ORDER BY external_id";

/// Walks the resources of one type of two files together in id order (see [`Paired`]).
pub fn merge_resources<E: From<C1zError>>(
    before: &C1zReader,
    after: &C1zReader,
    resource_type_id: &str,
    each: impl FnMut(Paired<Resource>) -> Result<(), E>,
) -> Result<(), E> {
    merge_rows(
        [before, after],
        |_| RESOURCES_IN_ID_ORDER.to_string(),
        &[resource_type_id],
        (2, C1zReader::decode_row::<Resource>),
        each,
    )
}

/// Walks the grants of two files together in id order (see [`Paired`]).
pub fn merge_grants<E: From<C1zError>>(
    before: &C1zReader,
    after: &C1zReader,
    each: impl FnMut(Paired<Grant>) -> Result<(), E>,
) -> Result<(), E> {
    merge_rows(
        [before, after],
        |reader| {
            format!(
                "SELECT {}, external_id FROM v1_grants WHERE +sync_id = ?1 ORDER BY external_id",
                reader.grant_columns()
            )
        },
        &[],
        (3, C1zReader::decode_grant),
        each,
    )
}

/// How a row becomes a message.
type DecodeRow<M> = fn(&C1zReader, &Row<'_>) -> Result<M, C1zError>;

/// Runs the query `sql` gives for each file and merges the rows, decoded by `decode`, by the id
/// in column `id_column`.
fn merge_rows<M, E: From<C1zError>>(
    [before, after]: [&C1zReader; 2],
    sql: impl Fn(&C1zReader) -> String,
    args: &[&str],
    (id_column, decode): (usize, DecodeRow<M>),
    each: impl FnMut(Paired<M>) -> Result<(), E>,
) -> Result<(), E> {
    let mut older = before
        .conn
        .prepare(&sql(before))
        .map_err(|e| before.sql_err(e))?;
    let mut newer = after
        .conn
        .prepare(&sql(after))
        .map_err(|e| after.sql_err(e))?;
    let mut older_rows = before.query(&mut older, args)?;
    let mut newer_rows = after.query(&mut newer, args)?;
    let next =
        |reader: &C1zReader, rows: &mut rusqlite::Rows<'_>| -> Result<Option<(String, M)>, E> {
            let Some(row) = rows.next().map_err(|e| reader.sql_err(e))? else {
                return Ok(None);
            };
            let id: String = row.get(id_column).map_err(|e| reader.sql_err(e))?;
            Ok(Some((id, decode(reader, row)?)))
        };
    merge_sorted(
        || next(before, &mut older_rows),
        || next(after, &mut newer_rows),
        each,
    )
}

/// Decompresses the zstd stream after the magic into `db_path`, refusing anything that would
/// decompress to more than [`MAX_DECODED_BYTES`] (by its declared size if the frame has one,
/// else as it is decoded).
fn decompress(file: File, db_path: &Path, path: &Path) -> Result<(), C1zError> {
    let corrupt = |detail: String| C1zError::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    let too_large = || C1zError::TooLarge {
        path: path.to_path_buf(),
        limit_mib: MAX_DECODED_BYTES / (1024 * 1024),
    };
    let io_err = |action| {
        move |source| C1zError::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    };

    let mut input = BufReader::with_capacity(1 << 20, file);
    let head = input.fill_buf().map_err(io_err("cannot read"))?;
    if head.is_empty() {
        return Err(corrupt("there is no data after the header".into()));
    }
    if let Ok(Some(declared)) = zstd::zstd_safe::get_frame_content_size(head)
        && declared > MAX_DECODED_BYTES
    {
        return Err(too_large());
    }
    let mut decoder = zstd::stream::read::Decoder::with_buffer(input)
        .map_err(io_err("cannot start decompressing"))?;
    decoder
        .window_log_max(MAX_WINDOW_LOG)
        .map_err(io_err("cannot start decompressing"))?;

    let mut out = std::io::BufWriter::with_capacity(
        1 << 20,
        File::create(db_path).map_err(io_err("cannot create the decompressed copy"))?,
    );
    let mut buf = vec![0u8; 1 << 16];
    let mut total: u64 = 0;
    loop {
        let n = match decoder.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(corrupt(
                    "the file ends in the middle of the zstd stream".into(),
                ));
            }
            Err(e) => return Err(corrupt(format!("zstd: {e}"))),
        };
        total += n as u64;
        if total > MAX_DECODED_BYTES {
            return Err(too_large());
        }
        out.write_all(&buf[..n])
            .map_err(io_err("cannot write the decompressed copy"))?;
    }
    out.into_inner()
        .map_err(|e| e.into_error())
        .map_err(io_err("cannot write the decompressed copy"))?;
    Ok(())
}

fn table_names(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?;
    let names = stmt.query_map([], |r| r.get::<_, String>(0))?;
    names.collect()
}

fn column_names(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?;
    let names = stmt.query_map([], |r| r.get::<_, String>(0))?;
    names.collect()
}

/// The latest finished `full` sync, else the latest finished sync of any type; latest by
/// `ended_at`, then `sync_id`, both compared as text (as the SDK orders them).
/// The finished sync named `sync_id`, or (none named) the one Baton readers pick.
fn pick_sync(
    conn: &Connection,
    has_type: bool,
    sync_id: Option<&str>,
) -> rusqlite::Result<Option<SyncRun>> {
    let type_col = if has_type { "sync_type" } else { "'full'" };
    let query = |only_full: bool| -> rusqlite::Result<Option<SyncRun>> {
        let sql = format!(
            "SELECT sync_id, {type_col}, started_at, ended_at FROM v1_sync_runs \
             WHERE ended_at IS NOT NULL {} {} ORDER BY ended_at DESC, sync_id DESC LIMIT 1",
            if only_full {
                format!("AND {type_col} = 'full'")
            } else {
                String::new()
            },
            if sync_id.is_some() {
                "AND sync_id = ?1"
            } else {
                ""
            }
        );
        let mut stmt = conn.prepare(&sql)?;
        let mut rows = match sync_id {
            Some(id) => stmt.query([id])?,
            None => stmt.query([])?,
        };
        let Some(row) = rows.next()? else {
            return Ok(None);
        };
        Ok(Some(SyncRun {
            sync_id: text(row.get_ref(0)?),
            sync_type: text(row.get_ref(1)?),
            started_at: text(row.get_ref(2)?),
            ended_at: match row.get_ref(3)? {
                ValueRef::Null => None,
                v => Some(text(v)),
            },
        }))
    };
    match query(true)? {
        Some(run) => Ok(Some(run)),
        None => query(false),
    }
}

/// A column as text, whatever SQLite type it was stored with.
fn text(v: ValueRef<'_>) -> String {
    match v {
        ValueRef::Null => String::new(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Text(t) | ValueRef::Blob(t) => String::from_utf8_lossy(t).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cognito::records::{CognitoGroup, CognitoUser};
    use crate::connector::users;

    /// A file with users `names`, the group `team`, and `team` memberships of `members`.
    fn file(dir: &Path, name: &str, names: &[&str], members: &[&str]) -> PathBuf {
        let users: Vec<CognitoUser> = names
            .iter()
            .map(|name| CognitoUser {
                username: name.to_string(),
                ..CognitoUser::default()
            })
            .collect();
        let team = CognitoGroup {
            name: "team".into(),
            ..CognitoGroup::default()
        };
        let members: Vec<(&str, &str)> = members.iter().map(|user| ("team", *user)).collect();
        crate::testing::pool_file(&dir.join(name), &users, &[team], &members)
    }

    fn id_of(resource: &Resource) -> &str {
        resource
            .id
            .as_ref()
            .map(|id| id.resource.as_str())
            .unwrap_or_default()
    }

    #[test]
    fn two_files_are_walked_together_in_id_order() {
        let dir = tempfile::tempdir().expect("dir");
        // Stored out of order, so id order is not the order they were written in.
        let before = C1zReader::open(&file(dir.path(), "a.c1z", &["cy", "ann", "bob"], &["bob"]))
            .expect("open");
        let after = C1zReader::open(&file(dir.path(), "b.c1z", &["dee", "bob", "ann"], &["ann"]))
            .expect("open");
        let mut seen = Vec::new();
        merge_resources::<C1zError>(&before, &after, users::TYPE_ID, |pair| {
            seen.push(match pair {
                Paired::Before(r) => format!("-{}", id_of(&r)),
                Paired::After(r) => format!("+{}", id_of(&r)),
                Paired::Both { before, after } => format!("={}={}", id_of(&before), id_of(&after)),
            });
            Ok(())
        })
        .expect("merge");
        assert_eq!(seen, ["=ann=ann", "=bob=bob", "-cy", "+dee"]);

        let mut grants = Vec::new();
        merge_grants::<C1zError>(&before, &after, |pair| {
            grants.push(match pair {
                Paired::Before(g) => format!("-{}", g.id),
                Paired::After(g) => format!("+{}", g.id),
                Paired::Both { before, .. } => format!("={}", before.id),
            });
            Ok(())
        })
        .expect("merge");
        assert_eq!(
            grants,
            ["+group:team:member:user:ann", "-group:team:member:user:bob"]
        );

        let mut one_side = Vec::new();
        after
            .resources_in_id_order(users::TYPE_ID, |r| {
                one_side.push(id_of(&r).to_string());
                Ok::<_, C1zError>(())
            })
            .expect("read");
        assert_eq!(one_side, ["ann", "bob", "dee"]);
    }

    /// Walking in id order must follow the unique index, not sort a million rows.
    #[test]
    fn id_order_walks_an_index_without_sorting() {
        let dir = tempfile::tempdir().expect("dir");
        let reader = C1zReader::open(&file(dir.path(), "a.c1z", &["ann"], &["ann"])).expect("open");
        let grants = format!(
            "SELECT {}, external_id FROM v1_grants WHERE +sync_id = ?1 ORDER BY external_id",
            reader.grant_columns()
        );
        for (sql, index) in [
            (
                RESOURCES_IN_ID_ORDER.to_string(),
                "idx_resources_parent_resource_id_v1",
            ),
            (grants, "idx_grants_external_sync_v1"),
        ] {
            let mut stmt = reader
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .expect("plan");
            let plan: Vec<String> = stmt
                .query_map(
                    params_from_iter(["sync", "user"].into_iter().take(sql.matches('?').count())),
                    |row| row.get::<_, String>(3),
                )
                .expect("plan")
                .collect::<Result<_, _>>()
                .expect("plan");
            let plan = plan.join(" | ");
            assert!(plan.contains(index), "{sql}: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{sql}: {plan}");
        }
    }
}
