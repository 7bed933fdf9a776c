//! The one error type of the `.c1z` reader and writer.

use std::path::PathBuf;

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
    #[error("{path}: the file holds no finished sync {sync_id}")]
    NoSuchSync { path: PathBuf, sync_id: String },
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
