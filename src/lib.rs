//! baton-cognito: an AWS Cognito user pool as a ConductorOne Baton connector.
//!
//! The layout, top to bottom. A module imports only modules below it, never one that imports
//! it back (`scripts/import-circles` checks this in CI):
//!
//! - `cli`: raw flags per mode, validated into each mode's settings; picks the mode; exit codes.
//! - `modes`: one file per thing the binary does (one-shot sync, `serve`, service mode, export,
//!   watch, the event feed, inspect commands, one-shot provisioning).
//! - `service`: service mode: log-in, the platform's task loop, one handler per task type.
//! - `server`: the `c1.connector.v2` gRPC services, thin adapters over `connector` and
//!   `event_journal`.
//! - `cloud_events` and `event_journal`, side by side (neither imports the other): changes as
//!   CloudEvents for `watch` and records as JSON lines for `export`; the Baton event feeds that
//!   `EventService` serves (the change journal, and sign-ins read from Cognito).
//! - `changes`: snapshots of the pool compared record by record, in Cognito's own shape, and the
//!   state kept between runs.
//! - `sync`: the sync engine, a pipeline of listings streaming into a store, and its plan (user
//!   slices, the membership side, how many listings at once).
//! - `fleet`: every pool the process holds as one connector: routes each request to the pool
//!   its ids name, and adds the `user_pool` resource type when there are several.
//! - `connector`: Cognito in Baton's terms: users and groups, each one file behind one trait
//!   (`ResourceSyncer`), the group's `member` entitlement carrying the memberships.
//! - `cognito`: the only code that talks to AWS: its settings, pacing, retries, errors, and the
//!   checks an answer must pass.
//! - `c1z`: the `.c1z` file format, knowing nothing of Cognito.
//! - Leaves used throughout: `credentials` (passwords and their encryption), `pb` (the protocol
//!   messages), `secret`, `sealed`, `pem`, `http`, `ksuid`, `logging` (over `telemetry`, the
//!   OpenTelemetry export), `text`, `workfiles`.
//!
//! The count is by file too: inside a module, a parent file (`mod.rs`) uses its children and no
//! child imports its parent's own items back.
//!
//! Start reading at `connector/resource_type.rs` (the questions every resource type answers),
//! then `connector/users.rs` and `connector/groups.rs` (what a Cognito user and group are in
//! Baton); then `sync` for how a whole pool is read.

// The service worker's future (a task, its sync, each listing and Cognito call in their spans)
// nests deeper than the compiler's default layout limit.
#![recursion_limit = "256"]

pub mod c1z;
pub mod changes;
pub mod cli;
pub mod cloud_events;
pub mod cognito;
pub mod connector;
pub mod credentials;
pub mod event_journal;
pub mod fleet;
pub mod http;
pub mod ksuid;
pub mod logging;
pub mod modes;
pub mod pb;
pub mod pem;
pub mod sealed;
pub mod secret;
pub mod server;
pub mod service;
pub mod sync;
pub mod telemetry;
#[cfg(test)]
mod testing;
pub mod text;
pub mod workfiles;
