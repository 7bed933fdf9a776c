//! Service mode: the connector as a long-running worker that polls the governance platform
//! (`c1.connectorapi.baton.v1.BatonService`) for tasks, runs them and reports back.

pub mod identity;
