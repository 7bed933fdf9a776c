//! The gRPC server: every `c1.connector.v2` service, `grpc.health.v1` and reflection, on one
//! listener. The adapters here are thin; what the connector does lives in `connector`.

mod absent;
mod event_service;
mod gate;
pub mod listen_tls;
mod listing_services;
pub mod page_token;
mod provisioning;
mod status;

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Server, ServerTlsConfig};

use crate::event_journal::event_feed::EventFeedSettings;
use crate::event_journal::pool_feeds::EventFeeds;
use crate::fleet::Fleet;
use crate::pb::FILE_DESCRIPTOR_SET;
use crate::secret::Secret;

/// The package of every service this server implements.
const CONNECTOR_PACKAGE: &str = "c1.connector.v2";
use crate::pb::v2::account_manager_service_server::AccountManagerServiceServer;
use crate::pb::v2::action_service_server::ActionServiceServer;
use crate::pb::v2::asset_service_server::AssetServiceServer;
use crate::pb::v2::connector_service_server::ConnectorServiceServer;
use crate::pb::v2::credential_manager_service_server::CredentialManagerServiceServer;
use crate::pb::v2::entitlements_service_server::EntitlementsServiceServer;
use crate::pb::v2::event_service_server::EventServiceServer;
use crate::pb::v2::grant_manager_service_server::GrantManagerServiceServer;
use crate::pb::v2::grants_service_server::GrantsServiceServer;
use crate::pb::v2::resource_deleter_service_server::ResourceDeleterServiceServer;
use crate::pb::v2::resource_getter_service_server::ResourceGetterServiceServer;
use crate::pb::v2::resource_manager_service_server::ResourceManagerServiceServer;
use crate::pb::v2::resource_types_service_server::ResourceTypesServiceServer;
use crate::pb::v2::resources_service_server::ResourcesServiceServer;
use crate::pb::v2::tickets_service_server::TicketsServiceServer;
pub use absent::Absent;
pub use event_service::EventsApi;
use gate::GateLayer;
pub use gate::InFlight;
pub use listing_services::SyncApi;
pub use provisioning::{ActionsApi, ProvisioningApi};
pub use status::rpc_status;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("gRPC server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("reflection service could not be built: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
}

/// How the server admits and serves calls.
#[derive(Debug)]
pub struct ServeOptions {
    /// Without it, the provisioning services refuse every call, as Baton's do.
    pub provisioning: bool,
    /// TLS, and with a client CA mutual TLS; plaintext without.
    pub tls: Option<ServerTlsConfig>,
    /// The bearer token every call but health checks must carry.
    pub auth_token: Option<Secret>,
    /// Counts the calls being answered, for whoever waits for them on shutdown.
    pub in_flight: InFlight,
    /// Where the event feed keeps its journal, and how often it takes a snapshot.
    pub event_feed: EventFeedSettings,
}

/// Serves the connector on `listener` until `shutdown` completes, then stops accepting calls and
/// waits for the ones in flight (the caller bounds that wait).
pub async fn serve(
    listener: TcpListener,
    fleet: Arc<Fleet>,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let provisioning = options.provisioning;
    let actions = ActionsApi::new(fleet.clone(), provisioning);
    let provisioner = ProvisioningApi::new(fleet.clone());
    let events = EventsApi::new(EventFeeds::new(fleet.in_own_names(), options.event_feed));
    let sync = SyncApi::new(fleet);
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<ConnectorServiceServer<SyncApi>>()
        .await;
    // The descriptor set also holds the service-mode API this binary calls as a client; only
    // the connector services it serves are advertised.
    let reflection = crate::pb::descriptors()
        .services()
        .filter(|service| service.package_name() == CONNECTOR_PACKAGE)
        .fold(
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET),
            |builder, service| builder.with_service_name(service.full_name()),
        )
        .build_v1()?;

    let mut server = Server::builder();
    if let Some(tls) = options.tls {
        server = server.tls_config(tls)?;
    }
    let router = server
        .layer(GateLayer::new(options.auth_token, options.in_flight))
        .add_service(health_service)
        .add_service(reflection)
        .add_service(ConnectorServiceServer::new(sync.clone()))
        .add_service(ResourceTypesServiceServer::new(sync.clone()))
        .add_service(ResourcesServiceServer::new(sync.clone()))
        .add_service(ResourceGetterServiceServer::new(sync.clone()))
        .add_service(EntitlementsServiceServer::new(sync.clone()))
        .add_service(GrantsServiceServer::new(sync))
        .add_service(ActionServiceServer::new(actions))
        .add_service(AssetServiceServer::new(Absent))
        .add_service(EventServiceServer::new(events))
        .add_service(TicketsServiceServer::new(Absent));
    let router = if provisioning {
        router
            .add_service(GrantManagerServiceServer::new(provisioner.clone()))
            .add_service(ResourceManagerServiceServer::new(provisioner.clone()))
            .add_service(ResourceDeleterServiceServer::new(provisioner.clone()))
            .add_service(AccountManagerServiceServer::new(provisioner.clone()))
            .add_service(CredentialManagerServiceServer::new(provisioner))
    } else {
        router
            .add_service(GrantManagerServiceServer::new(Absent))
            .add_service(ResourceManagerServiceServer::new(Absent))
            .add_service(ResourceDeleterServiceServer::new(Absent))
            .add_service(AccountManagerServiceServer::new(Absent))
            .add_service(CredentialManagerServiceServer::new(Absent))
    };
    router
        .serve_with_incoming_shutdown(incoming(listener), shutdown)
        .await?;
    Ok(())
}

/// The connections accepted on `listener`, each with TCP_NODELAY. Without it a small answer
/// written in parts (headers, body, trailers) waits for the peer's delayed ACK: about 40 ms a
/// call on Linux, which the SDK conformance suite measured as most of a syncer's time.
fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
}

#[cfg(test)]
mod tests {
    use tokio_stream::StreamExt;

    use super::*;

    #[tokio::test]
    async fn accepted_connections_do_not_wait_for_delayed_acks() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut accepted = incoming(listener);
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let stream = accepted.next().await.unwrap().unwrap();
        assert!(stream.nodelay().unwrap());
    }
}
