//! The `.c1z` file: a finished sync as Baton tools read it.
//!
//! Only the v1 envelope is written and read here: the magic `C1ZF\0`, then one zstd frame that
//! decompresses to a SQLite database with the Baton SDK's `v1_*` tables. Every Baton reader
//! (the SDK's `baton` CLI, ConductorOne's uploader) accepts it, old and new, whereas the v3
//! (Pebble) envelope is only understood by recent SDKs.
//!
//! The schema, the column contents and the sync-run bookkeeping follow the SDK's SQLite store
//! exactly (table and index names included), so that a file written here cannot be told apart
//! from one written by a Go connector by anything that reads it.

mod merge;
mod reader;
mod rows;
mod schema;
mod time;
mod writer;

use std::path::PathBuf;

pub use merge::Paired;
pub use reader::{C1zReader, GrantFilter, Stats, SyncRun, merge_grants, merge_resources};
pub use writer::{C1zWriter, WrittenFile};

/// The first bytes of a v1 file (SQLite inside zstd).
pub const MAGIC_V1: &[u8; 5] = b"C1ZF\0";
/// The first bytes of a v3 file (a Pebble checkpoint), which this crate does not read.
pub const MAGIC_V3: &[u8; 5] = b"C1Z3\0";

/// Everything that can go wrong writing or reading a `.c1z`; every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum C1zError {
    #[error("{path}: no such file")]
    NotFound { path: PathBuf },
    #[error("{path}: {action}: {source}")]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: the file is empty, so it is not a .c1z file")]
    Empty { path: PathBuf },
    #[error("{path}: not a .c1z file (it does not start with the C1ZF header)")]
    NotC1z { path: PathBuf },
    #[error(
        "{path}: this .c1z uses the v3 (Pebble) format, which is not supported; \
         write it with `--storage-engine sqlite` to get a v1 file"
    )]
    V3Unsupported { path: PathBuf },
    #[error("{path}: the compressed data is truncated or corrupt ({detail})")]
    Corrupt { path: PathBuf, detail: String },
    #[error("{path}: the database inside is larger than the {limit_mib} MiB this reader accepts")]
    TooLarge { path: PathBuf, limit_mib: u64 },
    #[error("{path}: the decompressed content is not a SQLite database")]
    NotSqlite { path: PathBuf },
    #[error("{path}: not a v1 .c1z database: missing table(s) {}", .tables.join(", "))]
    MissingTables {
        path: PathBuf,
        tables: Vec<&'static str>,
    },
    #[error("{path}: the file holds no finished sync")]
    NoFinishedSync { path: PathBuf },
    #[error("{path}: {table} row {rowid}: the stored data is not a valid {message}: {source}")]
    Decode {
        path: PathBuf,
        table: &'static str,
        rowid: i64,
        message: &'static str,
        #[source]
        source: prost::DecodeError,
    },
    #[error("{path}: SQLite failed while {action}: {source}")]
    Sqlite {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot write {path}: the directory {dir} does not exist")]
    NoDirectory { path: PathBuf, dir: PathBuf },
    #[error("cannot write {path}: it is a directory")]
    IsDirectory { path: PathBuf },
    #[error("cannot write {path}: it {source}")]
    Unreplaceable {
        path: PathBuf,
        source: crate::workfiles::DestinationError,
    },
    #[error(
        "refusing to replace {path}: it exists and is not a .c1z file; \
         remove it or choose another output file"
    )]
    WouldClobber { path: PathBuf },
    #[error("cannot store {kind} in {path}: {detail}")]
    InvalidObject {
        path: PathBuf,
        kind: &'static str,
        detail: String,
    },
    #[error("interrupted before {path} was replaced; it is unchanged")]
    Cancelled { path: PathBuf },
    #[error("{path}: an earlier write to this sync failed, so it cannot be finished")]
    Failed { path: PathBuf },
    /// A reader callback could not write what it was given (e.g. stdout closed).
    #[error("cannot write the output: {0}")]
    Output(#[source] std::io::Error),
    /// A reader callback asked to stop, with its own reason.
    #[error("{0}")]
    Callback(String),
}
