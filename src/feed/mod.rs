//! The change feed: snapshots of the pool taken with the sync engine, the changes between two
//! of them, and the state that makes each run deliver only what changed since the last one.
//! Snapshots are files, never loaded whole: the diff walks two of them side by side.
//! `export` and `watch` (modes) decide when to take them and where they go; `lines` is how
//! `export` writes records, `events` and `sink` how `watch` sends changes, as CloudEvents;
//! `journal`, `baton` and `event_feed` serve them as Baton events.

pub mod baton;
pub mod diff;
pub mod event_feed;
pub mod events;
pub mod journal;
pub mod lines;
pub mod record;
pub mod sink;
pub mod snapshot;
pub mod state;

pub use diff::{Change, FeedChange, diff};
pub use record::{GroupRecord, UserRecord};
pub use state::{FeedError, FeedMeta, FeedState, Previous, Taken};
