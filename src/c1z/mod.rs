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

mod envelope;
mod error;
mod finishing;
mod merge;
mod progress;
mod reader;
mod rows;
mod schema;
mod time;
mod writer;

pub use envelope::{MAGIC_V1, MAGIC_V3};
pub use error::C1zError;
pub use merge::Paired;
pub use progress::ProgressRow;
pub use reader::{C1zReader, GrantFilter, Stats, SyncRun, merge_grants, merge_resources};
pub use writer::{C1zWriter, WrittenFile};
