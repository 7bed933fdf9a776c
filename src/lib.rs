//! baton-cognito: an AWS Cognito user pool as a ConductorOne Baton connector.

pub mod c1z;
pub mod cli;
pub mod cognito;
pub mod config;
pub mod connector;
pub mod credentials;
pub mod feed;
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
#[cfg(test)]
mod testing;
pub mod text;
pub mod workfiles;
