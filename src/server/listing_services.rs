//! Thin adapters from the generated sync-side service traits to the [`Fleet`] of pools: decode
//! and check the request, call the fleet, encode the page token. No Cognito logic here.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::page_token::PageTokens;
use crate::connector::{held_page, metadata};
use crate::fleet::Fleet;
use crate::pb::v2::connector_service_server::ConnectorService;
use crate::pb::v2::entitlements_service_server::EntitlementsService;
use crate::pb::v2::grants_service_server::GrantsService;
use crate::pb::v2::resource_getter_service_server::ResourceGetterService;
use crate::pb::v2::resource_types_service_server::ResourceTypesService;
use crate::pb::v2::resources_service_server::ResourcesService;
use crate::pb::v2::*;

/// Serves the sync side of the connector protocol.
#[derive(Clone)]
pub struct SyncApi {
    fleet: Arc<Fleet>,
    tokens: PageTokens,
}

impl SyncApi {
    pub fn new(fleet: Arc<Fleet>) -> Self {
        let tokens = PageTokens::new(&fleet.pool_ids(), &fleet.user_filter_text());
        Self { fleet, tokens }
    }

    /// One page of a listing the connector holds whole (see [`held_page`]) and the token that
    /// resumes it.
    fn held_listing<T>(
        &self,
        listing: &str,
        token: &str,
        page_size: u32,
        items: Vec<T>,
    ) -> Result<(Vec<T>, String), Status> {
        let cursor = self.tokens.decode(listing, token, page_size)?;
        let page = held_page(items, &cursor, page_size);
        Ok((page.items, self.tokens.encode(listing, page.next.as_ref())))
    }
}

fn required<'a, T>(value: Option<&'a T>, field: &str) -> Result<&'a T, Status> {
    value.ok_or_else(|| Status::invalid_argument(format!("{field} is required")))
}

fn grants_listing(resource: &Resource) -> String {
    let id = resource.id.clone().unwrap_or_default();
    format!("grants/{}/{}", id.resource_type, id.resource)
}

#[tonic::async_trait]
impl ConnectorService for SyncApi {
    async fn get_metadata(
        &self,
        _: Request<ConnectorServiceGetMetadataRequest>,
    ) -> Result<Response<ConnectorServiceGetMetadataResponse>, Status> {
        Ok(Response::new(ConnectorServiceGetMetadataResponse {
            metadata: Some(metadata::metadata(&self.fleet.places())),
        }))
    }

    async fn validate(
        &self,
        _: Request<ConnectorServiceValidateRequest>,
    ) -> Result<Response<ConnectorServiceValidateResponse>, Status> {
        self.fleet.validate().await?;
        Ok(Response::new(ConnectorServiceValidateResponse {
            annotations: Vec::new(),
            sdk_version: metadata::SDK_VERSION.to_string(),
        }))
    }

    async fn cleanup(
        &self,
        _: Request<ConnectorServiceCleanupRequest>,
    ) -> Result<Response<ConnectorServiceCleanupResponse>, Status> {
        Ok(Response::new(ConnectorServiceCleanupResponse::default()))
    }
}

#[tonic::async_trait]
impl ResourceTypesService for SyncApi {
    async fn list_resource_types(
        &self,
        request: Request<ResourceTypesServiceListResourceTypesRequest>,
    ) -> Result<Response<ResourceTypesServiceListResourceTypesResponse>, Status> {
        let request = request.into_inner();
        let (list, next_page_token) = self.held_listing(
            "resource-types",
            &request.page_token,
            request.page_size,
            self.fleet.resource_types(),
        )?;
        Ok(Response::new(
            ResourceTypesServiceListResourceTypesResponse {
                list,
                next_page_token,
                ..Default::default()
            },
        ))
    }
}

#[tonic::async_trait]
impl ResourcesService for SyncApi {
    async fn list_resources(
        &self,
        request: Request<ResourcesServiceListResourcesRequest>,
    ) -> Result<Response<ResourcesServiceListResourcesResponse>, Status> {
        let request = request.into_inner();
        self.fleet.check_type(&request.resource_type_id)?;
        let parent = request.parent_resource_id.as_ref();
        // A child listing's token resumes only the listing of that parent.
        let listing = match parent {
            Some(parent) => format!(
                "resources/{}/{}/{}",
                request.resource_type_id, parent.resource_type, parent.resource
            ),
            None => format!("resources/{}", request.resource_type_id),
        };
        let cursor = self
            .tokens
            .decode(&listing, &request.page_token, request.page_size)?;
        let page = self
            .fleet
            .list_resources(&request.resource_type_id, parent, &cursor)
            .await?;
        Ok(Response::new(ResourcesServiceListResourcesResponse {
            list: page.items,
            next_page_token: self.tokens.encode(&listing, page.next.as_ref()),
            annotations: Vec::new(),
        }))
    }
}

#[tonic::async_trait]
impl ResourceGetterService for SyncApi {
    async fn get_resource(
        &self,
        request: Request<ResourceGetterServiceGetResourceRequest>,
    ) -> Result<Response<ResourceGetterServiceGetResourceResponse>, Status> {
        let request = request.into_inner();
        let id = required(request.resource_id.as_ref(), "resource_id")?;
        let resource = self.fleet.get_resource(id).await?;
        Ok(Response::new(ResourceGetterServiceGetResourceResponse {
            resource: Some(resource),
            annotations: Vec::new(),
        }))
    }
}

#[tonic::async_trait]
impl EntitlementsService for SyncApi {
    async fn list_entitlements(
        &self,
        request: Request<EntitlementsServiceListEntitlementsRequest>,
    ) -> Result<Response<EntitlementsServiceListEntitlementsResponse>, Status> {
        let request = request.into_inner();
        let resource = required(request.resource.as_ref(), "resource")?;
        let listing = format!("entitlements/{}", grants_listing(resource));
        let (list, next_page_token) = self.held_listing(
            &listing,
            &request.page_token,
            request.page_size,
            self.fleet.list_entitlements(resource)?,
        )?;
        Ok(Response::new(EntitlementsServiceListEntitlementsResponse {
            list,
            next_page_token,
            ..Default::default()
        }))
    }

    async fn list_static_entitlements(
        &self,
        request: Request<EntitlementsServiceListStaticEntitlementsRequest>,
    ) -> Result<Response<EntitlementsServiceListStaticEntitlementsResponse>, Status> {
        let request = request.into_inner();
        let (list, next_page_token) = self.held_listing(
            "static-entitlements",
            &request.page_token,
            request.page_size,
            self.fleet
                .list_static_entitlements(&request.resource_type_id)?,
        )?;
        Ok(Response::new(
            EntitlementsServiceListStaticEntitlementsResponse {
                list,
                next_page_token,
                ..Default::default()
            },
        ))
    }
}

#[tonic::async_trait]
impl GrantsService for SyncApi {
    async fn list_grants(
        &self,
        request: Request<GrantsServiceListGrantsRequest>,
    ) -> Result<Response<GrantsServiceListGrantsResponse>, Status> {
        let request = request.into_inner();
        let resource = required(request.resource.as_ref(), "resource")?;
        let listing = grants_listing(resource);
        let cursor = self
            .tokens
            .decode(&listing, &request.page_token, request.page_size)?;
        let page = self.fleet.list_grants(resource, &cursor).await?;
        Ok(Response::new(GrantsServiceListGrantsResponse {
            list: page.items,
            next_page_token: self.tokens.encode(&listing, page.next.as_ref()),
            annotations: Vec::new(),
        }))
    }
}
