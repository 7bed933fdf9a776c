//! What changed in the pool: snapshots of it taken with the sync engine, the changes between
//! two of them, and the state that makes each run deliver only what changed since the last one.
//! Snapshots are files, never loaded whole: the diff walks two of them side by side.
//!
//! Shared by the two features that deliver changes, `cloud_events` (`watch` and `export`) and
//! `event_journal` (Baton's `EventService`); they import this module, never each other, and it
//! imports neither. Here it imports only `sync`, `connector`, `c1z`, `pb` and the leaves. Files
//! lower in this list never import higher ones: `cognito_shape` (the records in Cognito's own
//! shape), `snapshot` (reading a snapshot), `diff`, `state`.

pub mod cognito_shape;
pub mod diff;
pub mod snapshot;
pub mod state;

pub use cognito_shape::{GroupRecord, UserRecord};
pub use diff::{Change, FeedChange, diff};
pub use state::{FeedError, FeedMeta, FeedState, Previous, Taken};
