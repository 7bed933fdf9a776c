//! The change feed: snapshots of the pool taken with the sync engine, the changes between two
//! of them, and the state that makes each run deliver only what changed since the last one.
//! Snapshots are files, never loaded whole: the diff walks two of them side by side.
//! `export` and `watch` (modes) decide when to take them and where they go; `lines` is how
//! `export` writes records, `events` and `sink` how `watch` sends changes, as CloudEvents;
//! `journal`, `baton` and `event_feed` serve them as Baton events.

pub mod baton;
pub mod cloud_events;
pub mod cognito_shape;
pub mod diff;
pub mod event_feed;
pub mod journal;
pub mod lines;
pub mod sink;
pub mod snapshot;
pub mod state;

pub use cognito_shape::{GroupRecord, UserRecord};
pub use diff::{Change, FeedChange, diff};
pub use state::{FeedError, FeedMeta, FeedState, Previous, Taken};
