//! Service mode: the connector as a long-running worker that polls the governance platform
//! (`c1.connectorapi.baton.v1.BatonService`) for tasks, runs them and reports back.

pub mod error;
pub mod health;
pub mod identity;
pub mod outcome;
pub mod platform;
pub mod platform_tls;
pub mod sync_task;
pub mod system;
pub mod tasks;
pub mod token;
pub mod worker;
