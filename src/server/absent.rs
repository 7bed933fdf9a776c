//! Services for features this connector does not offer (yet), answering exactly as the Baton
//! SDK's server does when a connector lacks the feature, so callers behave the same.

use std::pin::Pin;

use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use crate::pb::v2::account_manager_service_server::AccountManagerService;
use crate::pb::v2::asset_service_server::AssetService;
use crate::pb::v2::credential_manager_service_server::CredentialManagerService;
use crate::pb::v2::grant_manager_service_server::GrantManagerService;
use crate::pb::v2::resource_deleter_service_server::ResourceDeleterService;
use crate::pb::v2::resource_manager_service_server::ResourceManagerService;
use crate::pb::v2::tickets_service_server::TicketsService;
use crate::pb::v2::*;

/// Answers for every service whose feature is absent.
#[derive(Clone, Copy, Default)]
pub struct Absent;

fn provisioning_disabled<T>() -> Result<T, Status> {
    Err(Status::failed_precondition("provisioning is not enabled"))
}

/// The SDK returns a plain Go error here, which gRPC sends as UNKNOWN.
fn ticketing_disabled<T>() -> Result<T, Status> {
    Err(Status::unknown("ticketing is not enabled"))
}

#[tonic::async_trait]
impl GrantManagerService for Absent {
    async fn grant(
        &self,
        _: Request<GrantManagerServiceGrantRequest>,
    ) -> Result<Response<GrantManagerServiceGrantResponse>, Status> {
        provisioning_disabled()
    }

    async fn revoke(
        &self,
        _: Request<GrantManagerServiceRevokeRequest>,
    ) -> Result<Response<GrantManagerServiceRevokeResponse>, Status> {
        provisioning_disabled()
    }
}

#[tonic::async_trait]
impl ResourceManagerService for Absent {
    async fn create_resource(
        &self,
        _: Request<CreateResourceRequest>,
    ) -> Result<Response<CreateResourceResponse>, Status> {
        provisioning_disabled()
    }

    async fn delete_resource(
        &self,
        _: Request<DeleteResourceRequest>,
    ) -> Result<Response<DeleteResourceResponse>, Status> {
        provisioning_disabled()
    }
}

#[tonic::async_trait]
impl ResourceDeleterService for Absent {
    async fn delete_resource_v2(
        &self,
        _: Request<DeleteResourceV2Request>,
    ) -> Result<Response<DeleteResourceV2Response>, Status> {
        provisioning_disabled()
    }
}

#[tonic::async_trait]
impl AccountManagerService for Absent {
    async fn create_account(
        &self,
        _: Request<CreateAccountRequest>,
    ) -> Result<Response<CreateAccountResponse>, Status> {
        provisioning_disabled()
    }
}

#[tonic::async_trait]
impl CredentialManagerService for Absent {
    async fn rotate_credential(
        &self,
        _: Request<RotateCredentialRequest>,
    ) -> Result<Response<RotateCredentialResponse>, Status> {
        provisioning_disabled()
    }

    async fn issue_credential(
        &self,
        _: Request<IssueCredentialRequest>,
    ) -> Result<Response<IssueCredentialResponse>, Status> {
        provisioning_disabled()
    }
}

#[tonic::async_trait]
impl TicketsService for Absent {
    async fn create_ticket(
        &self,
        _: Request<TicketsServiceCreateTicketRequest>,
    ) -> Result<Response<TicketsServiceCreateTicketResponse>, Status> {
        ticketing_disabled()
    }

    async fn get_ticket(
        &self,
        _: Request<TicketsServiceGetTicketRequest>,
    ) -> Result<Response<TicketsServiceGetTicketResponse>, Status> {
        ticketing_disabled()
    }

    async fn list_ticket_schemas(
        &self,
        _: Request<TicketsServiceListTicketSchemasRequest>,
    ) -> Result<Response<TicketsServiceListTicketSchemasResponse>, Status> {
        ticketing_disabled()
    }

    async fn get_ticket_schema(
        &self,
        _: Request<TicketsServiceGetTicketSchemaRequest>,
    ) -> Result<Response<TicketsServiceGetTicketSchemaResponse>, Status> {
        ticketing_disabled()
    }

    async fn bulk_create_tickets(
        &self,
        _: Request<TicketsServiceBulkCreateTicketsRequest>,
    ) -> Result<Response<TicketsServiceBulkCreateTicketsResponse>, Status> {
        ticketing_disabled()
    }

    async fn bulk_get_tickets(
        &self,
        _: Request<TicketsServiceBulkGetTicketsRequest>,
    ) -> Result<Response<TicketsServiceBulkGetTicketsResponse>, Status> {
        ticketing_disabled()
    }
}

type AssetStream = Pin<Box<dyn Stream<Item = Result<AssetServiceGetAssetResponse, Status>> + Send>>;

#[tonic::async_trait]
impl AssetService for Absent {
    type GetAssetStream = AssetStream;

    /// No assets: an empty stream, as the SDK answers.
    async fn get_asset(
        &self,
        _: Request<AssetServiceGetAssetRequest>,
    ) -> Result<Response<Self::GetAssetStream>, Status> {
        Ok(Response::new(Box::pin(tokio_stream::empty())))
    }
}
