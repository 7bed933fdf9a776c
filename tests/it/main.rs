//! The integration tests, as one binary: the connector binary as a real process, the Cognito
//! emulator and the platform double over real sockets. One binary links the crate once, and the
//! tests share one emulator (`support::Emulator::shared`); each module is one area.

mod support;

mod bad_input;
mod c1z_format;
mod crash;
mod credentials;
mod deploy_files;
mod event_feed;
mod failures;
mod faults;
mod feed;
mod grpc_connector;
mod hostile_cognito;
mod last_login;
mod load;
mod many_pools;
mod platform_double;
mod provisioning;
mod resume;
mod sdk_flags;
mod secrets;
mod server_security;
mod service_mode;
mod sign_in_feed;
mod sync_file;
mod telemetry;
mod terminal;
