//! `serve`: the gRPC connector on a TCP address.

use std::net::SocketAddr;

use super::{RunError, Shutdown, connector};
use crate::config::PoolSettings;

pub async fn run(
    settings: &PoolSettings,
    listen: SocketAddr,
    provisioning: bool,
) -> Result<(), RunError> {
    let shutdown = Shutdown::listen()?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| RunError::Listen {
            addr: listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| RunError::Listen {
        addr: listen,
        source,
    })?;
    let connector = connector(settings).await;
    tracing::info!(%addr, pool_id = %settings.pool.id, region = %settings.region, provisioning, "serving c1.connector.v2");
    // The bound address on stdout, for whoever started the server with port 0.
    println!("listening on {addr}");
    crate::server::serve(
        listener,
        connector,
        settings.region.clone(),
        provisioning,
        async move { shutdown.requested().await },
    )
    .await?;
    tracing::info!("server stopped");
    Ok(())
}
