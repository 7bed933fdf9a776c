//! `serve`: the gRPC connector on a TCP address.
//!
//! Who may talk to it is decided here, before the socket is bound: loopback needs nothing;
//! any other address needs TLS, or `--insecure` to serve plaintext on purpose. A bearer token and
//! mutual TLS narrow it further. On SIGINT or SIGTERM the server stops accepting calls and gives
//! the ones in flight until the shutdown deadline.

use std::net::SocketAddr;
use std::time::Duration;

use super::{PoolSettings, RunError, Shutdown, fleet};
use crate::event_journal::event_feed::EventFeedSettings;
use crate::secret::Secret;
use crate::server::listen_tls::TlsFiles;
use crate::server::{InFlight, ServeOptions};

/// What `serve` was asked for, as parsed from flags and environment.
#[derive(Debug)]
pub struct ServeSettings {
    pub listen: SocketAddr,
    pub provisioning: bool,
    pub tls: Option<TlsFiles>,
    /// Plaintext on a non-loopback address was asked for explicitly.
    pub insecure: bool,
    pub auth_token: Option<Secret>,
    /// How long in-flight calls get to finish once a shutdown is requested.
    pub shutdown_timeout: Duration,
    pub event_feed: EventFeedSettings,
}

impl ServeSettings {
    /// The server options, once the settings are known to be safe to serve with.
    fn options(&self) -> Result<ServeOptions, RunError> {
        if self.tls.is_none() && !self.listen.ip().is_loopback() {
            if !self.insecure {
                return Err(RunError::Usage(format!(
                    "--listen {}: not a loopback address, and calls would travel in plaintext; \
                     give --tls-cert and --tls-key (and --tls-client-ca for mutual TLS), or pass \
                     --insecure to serve plaintext anyway",
                    self.listen
                )));
            }
            tracing::warn!(
                listen = %self.listen,
                "serving plaintext gRPC on a non-loopback address (--insecure): anyone who can reach it can read and change the pool{}",
                if self.auth_token.is_some() {
                    ", and the bearer token crosses the network unencrypted"
                } else {
                    ""
                }
            );
        }
        if self.auth_token.as_ref().is_some_and(Secret::is_empty) {
            return Err(RunError::Usage(
                "--auth-token: empty; give the token clients must send, or leave the flag out"
                    .to_string(),
            ));
        }
        let tls = self
            .tls
            .as_ref()
            .map(TlsFiles::server_config)
            .transpose()
            .map_err(|err| RunError::Usage(err.to_string()))?;
        Ok(ServeOptions {
            provisioning: self.provisioning,
            tls,
            auth_token: self.auth_token.clone(),
            in_flight: InFlight::default(),
            event_feed: self.event_feed.clone(),
        })
    }
}

pub async fn run(settings: &PoolSettings, serve: &ServeSettings) -> Result<(), RunError> {
    let options = serve.options()?;
    let shutdown = Shutdown::listen()?;
    let listener = tokio::net::TcpListener::bind(serve.listen)
        .await
        .map_err(|source| RunError::Listen {
            addr: serve.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| RunError::Listen {
        addr: serve.listen,
        source,
    })?;
    let fleet = fleet(settings).await?;
    tracing::info!(
        %addr,
        pool_id = %fleet.pool_ids(),
        region = %fleet.regions(),
        provisioning = serve.provisioning,
        tls = options.tls.is_some(),
        mutual_tls = serve.tls.as_ref().is_some_and(|tls| tls.client_ca.is_some()),
        bearer_token = serve.auth_token.is_some(),
        "serving c1.connector.v2"
    );
    // The bound address on stdout, for whoever started the server with port 0.
    println!("listening on {addr}");
    let in_flight = options.in_flight.clone();
    let server = crate::server::serve(listener, fleet, options, shutdown.requested_owned());
    tokio::pin!(server);
    let deadline = async {
        shutdown.requested().await;
        tracing::info!(
            in_flight = in_flight.count(),
            deadline_s = serve.shutdown_timeout.as_secs_f64(),
            "no new calls accepted; waiting for the calls in flight"
        );
        tokio::time::sleep(serve.shutdown_timeout).await;
    };
    tokio::select! {
        served = &mut server => served?,
        () = deadline => {
            return Err(RunError::Failed(format!(
                "{} call(s) were still running {}s after the shutdown request and were cut off",
                in_flight.count(),
                serve.shutdown_timeout.as_secs()
            )));
        }
    }
    tracing::info!("server stopped");
    Ok(())
}
