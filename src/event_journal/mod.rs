//! The Baton event journal: the pool's changes as `c1.connector.v2` events, served by
//! `EventService` (`ListEventFeeds`, `ListEvents`) and the one-shot event reader. `journal` keeps
//! every change ever observed, numbered, with the snapshot the next one is computed from;
//! `baton_events` makes a change a Baton event; `event_feed` reads the journal from a cursor and
//! refreshes it with a new snapshot when it is stale, and hands requests for the second feed,
//! of sign-ins, to `sign_ins`, which reads them from Cognito (or the log the pool exports) as
//! they are asked for; `pool_feeds` holds the feeds of every pool the process holds.
//!
//! It imports `changes` (snapshots, the diff and the state), `connector`, `c1z`, `pb` and the
//! leaves (`sealed`, `workfiles`), never `cloud_events`. Files lower in this list never import
//! higher ones: `journal`, `baton_events`, `request`, `sign_ins`, `event_feed`, `pool_feeds`.

pub mod baton_events;
pub mod event_feed;
pub mod journal;
pub mod pool_feeds;
pub mod request;
pub mod sign_ins;
