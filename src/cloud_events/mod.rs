//! Changes and records delivered outside Baton, as JSON in Cognito's own shape: `event` makes
//! each change a CloudEvent 1.0 and `sink` delivers them for `watch` (an HTTP endpoint, or
//! standard output as JSON lines); `export_lines` writes user records as JSON lines for
//! `export`. `modes` decides when to take snapshots and where they go.
//!
//! It imports `changes` (snapshots, the diff and the state) and the leaves (`c1z`, `http`,
//! `text`), never `event_journal`. `sink` imports `event`; `export_lines` neither.

pub mod event;
pub mod export_lines;
pub mod sink;
