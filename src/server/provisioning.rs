//! Thin adapters for the provisioning services and actions, registered in place of the absent
//! ones when provisioning is enabled (`--provisioning`).

use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::connector::Change;
use crate::connector::actions::ActionOutcome;
use crate::fleet::Fleet;
use crate::pb::pack;
use crate::pb::v2::account_manager_service_server::AccountManagerService;
use crate::pb::v2::action_service_server::ActionService;
use crate::pb::v2::credential_manager_service_server::CredentialManagerService;
use crate::pb::v2::grant_manager_service_server::GrantManagerService;
use crate::pb::v2::resource_deleter_service_server::ResourceDeleterService;
use crate::pb::v2::resource_manager_service_server::ResourceManagerService;
use crate::pb::v2::*;

/// Serves provisioning: grants, revokes, account creation and deletion.
#[derive(Clone)]
pub struct ProvisioningApi {
    fleet: Arc<Fleet>,
}

impl ProvisioningApi {
    pub fn new(fleet: Arc<Fleet>) -> Self {
        Self { fleet }
    }

    async fn delete(&self, id: Option<&ResourceId>) -> Result<Vec<prost_types::Any>, Status> {
        Ok(match self.fleet.delete_resource(id).await? {
            Change::Made => Vec::new(),
            Change::AlreadySo => vec![pack(&ResourceDoesNotExist {})],
        })
    }
}

#[tonic::async_trait]
impl GrantManagerService for ProvisioningApi {
    async fn grant(
        &self,
        request: Request<GrantManagerServiceGrantRequest>,
    ) -> Result<Response<GrantManagerServiceGrantResponse>, Status> {
        let request = request.into_inner();
        let (grant, change) = self
            .fleet
            .grant(request.entitlement.as_ref(), request.principal.as_ref())
            .await?;
        let annotations = match change {
            Change::Made => Vec::new(),
            Change::AlreadySo => vec![pack(&GrantAlreadyExists {})],
        };
        Ok(Response::new(GrantManagerServiceGrantResponse {
            annotations,
            grants: vec![grant],
        }))
    }

    async fn revoke(
        &self,
        request: Request<GrantManagerServiceRevokeRequest>,
    ) -> Result<Response<GrantManagerServiceRevokeResponse>, Status> {
        let request = request.into_inner();
        let grant = request
            .grant
            .ok_or_else(|| Status::invalid_argument("grant is required"))?;
        let annotations = match self.fleet.revoke(&grant).await? {
            Change::Made => Vec::new(),
            Change::AlreadySo => vec![pack(&GrantAlreadyRevoked {})],
        };
        Ok(Response::new(GrantManagerServiceRevokeResponse {
            annotations,
        }))
    }
}

#[tonic::async_trait]
impl AccountManagerService for ProvisioningApi {
    async fn create_account(
        &self,
        request: Request<CreateAccountRequest>,
    ) -> Result<Response<CreateAccountResponse>, Status> {
        let response = self.fleet.create_account(request.get_ref()).await?;
        Ok(Response::new(response))
    }
}

#[tonic::async_trait]
impl ResourceManagerService for ProvisioningApi {
    async fn create_resource(
        &self,
        _: Request<CreateResourceRequest>,
    ) -> Result<Response<CreateResourceResponse>, Status> {
        Err(Status::unimplemented(
            "resources are not created generically here; use CreateAccount for users",
        ))
    }

    async fn delete_resource(
        &self,
        request: Request<DeleteResourceRequest>,
    ) -> Result<Response<DeleteResourceResponse>, Status> {
        let annotations = self.delete(request.get_ref().resource_id.as_ref()).await?;
        Ok(Response::new(DeleteResourceResponse { annotations }))
    }
}

#[tonic::async_trait]
impl ResourceDeleterService for ProvisioningApi {
    async fn delete_resource_v2(
        &self,
        request: Request<DeleteResourceV2Request>,
    ) -> Result<Response<DeleteResourceV2Response>, Status> {
        let annotations = self.delete(request.get_ref().resource_id.as_ref()).await?;
        Ok(Response::new(DeleteResourceV2Response { annotations }))
    }
}

#[tonic::async_trait]
impl CredentialManagerService for ProvisioningApi {
    async fn rotate_credential(
        &self,
        _: Request<RotateCredentialRequest>,
    ) -> Result<Response<RotateCredentialResponse>, Status> {
        Err(Status::unimplemented(
            "credential rotation is not supported",
        ))
    }

    async fn issue_credential(
        &self,
        _: Request<IssueCredentialRequest>,
    ) -> Result<Response<IssueCredentialResponse>, Status> {
        Err(Status::unimplemented(
            "issuing credentials is not supported",
        ))
    }
}

/// Serves the account-lifecycle actions. Schemas are always listed; invoking one changes a
/// user, so it needs provisioning enabled like every other change.
#[derive(Clone)]
pub struct ActionsApi {
    fleet: Arc<Fleet>,
    provisioning: bool,
}

impl ActionsApi {
    pub fn new(fleet: Arc<Fleet>, provisioning: bool) -> Self {
        Self {
            fleet,
            provisioning,
        }
    }
}

fn status_response(outcome: ActionOutcome) -> GetActionStatusResponse {
    GetActionStatusResponse {
        name: outcome.name,
        id: outcome.id,
        status: outcome.status as i32,
        annotations: Vec::new(),
        response: Some(outcome.response),
    }
}

#[tonic::async_trait]
impl ActionService for ActionsApi {
    async fn invoke_action(
        &self,
        request: Request<InvokeActionRequest>,
    ) -> Result<Response<InvokeActionResponse>, Status> {
        if !self.provisioning {
            return Err(Status::failed_precondition("provisioning is not enabled"));
        }
        let request = request.into_inner();
        let outcome = self
            .fleet
            .invoke_action(
                &request.name,
                &request.resource_type_id,
                request.args.as_ref(),
            )
            .await?;
        Ok(Response::new(InvokeActionResponse {
            id: outcome.id,
            status: outcome.status as i32,
            annotations: Vec::new(),
            response: Some(outcome.response),
            name: outcome.name,
        }))
    }

    async fn get_action_status(
        &self,
        request: Request<GetActionStatusRequest>,
    ) -> Result<Response<GetActionStatusResponse>, Status> {
        let outcome = self.fleet.action_status(&request.get_ref().id)?;
        Ok(Response::new(status_response(outcome)))
    }

    async fn get_action_schema(
        &self,
        request: Request<GetActionSchemaRequest>,
    ) -> Result<Response<GetActionSchemaResponse>, Status> {
        let schema = self.fleet.action_schema(&request.get_ref().name)?;
        Ok(Response::new(GetActionSchemaResponse {
            schema: Some(schema),
            annotations: Vec::new(),
        }))
    }

    async fn list_action_schemas(
        &self,
        request: Request<ListActionSchemasRequest>,
    ) -> Result<Response<ListActionSchemasResponse>, Status> {
        Ok(Response::new(ListActionSchemasResponse {
            schemas: self
                .fleet
                .action_schemas(&request.get_ref().resource_type_id),
            annotations: Vec::new(),
        }))
    }
}
