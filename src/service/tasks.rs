//! Running one platform task. Provisioning and action tasks go through the same gRPC adapters
//! the `serve` mode exposes, called in-process, so a task answers exactly what the same request
//! over gRPC would; the response is packed as `Any` into FinishTask as the Baton SDK does.

use std::future::Future;
use std::sync::Arc;

use prost_types::Any;
use tonic::{Response, Status};

use super::outcome::Outcome;
use super::platform::PlatformClient;
use super::sync_task::{self, Cancel, SyncContext, SyncOptions};
use crate::fleet::Fleet;
use crate::pb::baton::task::TaskType;
use crate::pb::baton::{BatonServiceHelloRequest, Task};
use crate::pb::pack;
use crate::pb::v2::account_manager_service_server::AccountManagerService;
use crate::pb::v2::action_service_server::ActionService;
use crate::pb::v2::event_service_server::EventService;
use crate::pb::v2::grant_manager_service_server::GrantManagerService;
use crate::pb::v2::resource_manager_service_server::ResourceManagerService;
use crate::pb::v2::*;
use crate::server::{Absent, ActionsApi, EventsApi, ProvisioningApi};

/// Connector responses that carry annotations, which FinishTask repeats beside the response.
trait Annotated: prost::Name {
    fn annotations(&self) -> Vec<Any>;
}

macro_rules! annotated {
    ($($response:ty),* $(,)?) => {
        $(impl Annotated for $response {
            fn annotations(&self) -> Vec<Any> {
                self.annotations.clone()
            }
        })*
    };
}

annotated!(
    GrantManagerServiceGrantResponse,
    GrantManagerServiceRevokeResponse,
    CreateAccountResponse,
    DeleteResourceResponse,
    ListActionSchemasResponse,
    GetActionSchemaResponse,
    InvokeActionResponse,
    GetActionStatusResponse,
    ListEventFeedsResponse,
    ListEventsResponse,
);

/// Calls one connector RPC and turns its answer into the task's outcome. Provisioning errors
/// are never retried by the platform: the same request would fail the same way.
async fn answer<R: Annotated>(call: impl Future<Output = Result<Response<R>, Status>>) -> Outcome {
    match call.await {
        Ok(response) => {
            let response = response.into_inner();
            Outcome::Success {
                annotations: response.annotations(),
                response: Some(pack(&response)),
            }
        }
        Err(status) => Outcome::Failed {
            status,
            non_retryable: true,
        },
    }
}

/// The provisioning services a task can call: [`ProvisioningApi`] with `--provisioning`,
/// [`Absent`] without (which refuses as the gRPC server does).
pub trait Provisioner:
    GrantManagerService + AccountManagerService + ResourceManagerService
{
}

impl<T: GrantManagerService + AccountManagerService + ResourceManagerService> Provisioner for T {}

/// The provisioner `--provisioning` selects.
pub fn provisioner(fleet: &Arc<Fleet>, provisioning: bool) -> Arc<dyn Provisioner> {
    if provisioning {
        Arc::new(ProvisioningApi::new(fleet.clone()))
    } else {
        Arc::new(Absent)
    }
}

/// Everything a task may need.
pub struct TaskRunner {
    pub fleet: Arc<Fleet>,
    pub platform: Arc<PlatformClient>,
    pub actions: ActionsApi,
    pub provisioner: Arc<dyn Provisioner>,
    pub events: EventsApi,
    /// The Hello every `hello` task repeats.
    pub hello: BatonServiceHelloRequest,
    pub syncs: SyncOptions,
}

/// A name for a task type, for logs and the "unsupported" error.
pub fn type_name(task_type: Option<&TaskType>) -> &'static str {
    match task_type {
        None => "unset",
        Some(TaskType::None(_)) => "none",
        Some(TaskType::Hello(_)) => "hello",
        Some(TaskType::SyncFull(_)) => "sync_full",
        Some(TaskType::Grant(_)) => "grant",
        Some(TaskType::Revoke(_)) => "revoke",
        Some(TaskType::CreateAccount(_)) => "create_account",
        Some(TaskType::CreateResource(_)) => "create_resource",
        Some(TaskType::DeleteResource(_)) => "delete_resource",
        Some(TaskType::RotateCredentials(_)) => "rotate_credentials",
        Some(TaskType::EventFeed(_)) => "event_feed",
        Some(TaskType::CreateTicketTask(_)) => "create_ticket_task",
        Some(TaskType::ListTicketSchemas(_)) => "list_ticket_schemas",
        Some(TaskType::GetTicket(_)) => "get_ticket",
        Some(TaskType::BulkCreateTickets(_)) => "bulk_create_tickets",
        Some(TaskType::BulkGetTickets(_)) => "bulk_get_tickets",
        Some(TaskType::ActionListSchemas(_)) => "action_list_schemas",
        Some(TaskType::ActionGetSchema(_)) => "action_get_schema",
        Some(TaskType::ActionInvoke(_)) => "action_invoke",
        Some(TaskType::ActionStatus(_)) => "action_status",
        Some(TaskType::CreateSyncDiff(_)) => "create_sync_diff",
        Some(TaskType::CompactSyncs(_)) => "compact_syncs",
        Some(TaskType::ListEventFeeds(_)) => "list_event_feeds",
        Some(TaskType::ListEvents(_)) => "list_events",
        Some(TaskType::IssueCredential(_)) => "issue_credential",
    }
}

impl TaskRunner {
    /// Runs the task to its outcome. `cancel` is watched by the tasks that can be stopped
    /// midway (syncs); the rest are short and run to the end.
    #[tracing::instrument(name = "task", skip_all, fields(
        task_id = %task.id,
        task_type = type_name(task.task_type.as_ref()),
    ))]
    pub async fn run(&self, task: Task, cancel: Cancel) -> Outcome {
        let Some(task_type) = task.task_type else {
            return unsupported("unset");
        };
        match task_type {
            TaskType::SyncFull(sync) => {
                let context = SyncContext {
                    fleet: self.fleet.clone(),
                    platform: self.platform.clone(),
                    options: &self.syncs,
                };
                sync_task::run(&context, &task.id, sync, cancel).await
            }
            TaskType::Hello(_) => {
                let mut hello = self.hello.clone();
                hello.task_id = task.id.clone();
                if let Err(err) = self.platform.hello(hello).await {
                    tracing::warn!(task_id = %task.id, error = %err, "hello task: Hello failed");
                }
                Outcome::Unreported
            }
            TaskType::Grant(grant) => {
                let request = tonic::Request::new(GrantManagerServiceGrantRequest {
                    entitlement: grant.entitlement,
                    principal: grant.principal,
                    annotations: grant.annotations,
                });
                answer(self.provisioner.grant(request)).await
            }
            TaskType::Revoke(revoke) => {
                let request = tonic::Request::new(GrantManagerServiceRevokeRequest {
                    grant: revoke.grant,
                    annotations: revoke.annotations,
                });
                answer(self.provisioner.revoke(request)).await
            }
            TaskType::CreateAccount(create) => {
                let request = tonic::Request::new(CreateAccountRequest {
                    account_info: create.account_info,
                    credential_options: create.credential_options,
                    encryption_configs: create.encryption_configs,
                    resource_type_id: create.resource_type_id,
                });
                answer(self.provisioner.create_account(request)).await
            }
            TaskType::DeleteResource(delete) => {
                let request = tonic::Request::new(DeleteResourceRequest {
                    resource_id: delete.resource_id,
                    parent_resource_id: delete.parent_resource_id,
                });
                answer(self.provisioner.delete_resource(request)).await
            }
            TaskType::ActionListSchemas(list) => {
                answer(self.actions.list_action_schemas(tonic::Request::new(
                    ListActionSchemasRequest {
                        annotations: list.annotations,
                        resource_type_id: list.resource_type_id,
                    },
                )))
                .await
            }
            TaskType::ActionGetSchema(get) => {
                answer(self.actions.get_action_schema(tonic::Request::new(
                    GetActionSchemaRequest {
                        name: get.name,
                        annotations: get.annotations,
                    },
                )))
                .await
            }
            TaskType::ActionInvoke(invoke) => {
                answer(
                    self.actions
                        .invoke_action(tonic::Request::new(InvokeActionRequest {
                            name: invoke.name,
                            args: invoke.args,
                            annotations: invoke.annotations,
                            resource_type_id: invoke.resource_type_id,
                            inline_wait: None,
                        })),
                )
                .await
            }
            TaskType::ActionStatus(status) => {
                // The name is deprecated in the request but still part of the task; pass it on.
                #[allow(deprecated)]
                let request = GetActionStatusRequest {
                    name: status.name,
                    id: status.id,
                    annotations: status.annotations,
                };
                answer(self.actions.get_action_status(tonic::Request::new(request))).await
            }
            TaskType::ListEventFeeds(list) => {
                answer(
                    self.events
                        .list_event_feeds(tonic::Request::new(ListEventFeedsRequest {
                            annotations: list.annotations,
                        })),
                )
                .await
            }
            TaskType::ListEvents(list) => {
                answer(
                    self.events
                        .list_events(tonic::Request::new(ListEventsRequest {
                            cursor: list.cursor,
                            start_at: list.start_at,
                            page_size: list.page_size,
                            annotations: list.annotations,
                            event_feed_id: list.event_feed_id,
                        })),
                )
                .await
            }
            other => unsupported(type_name(Some(&other))),
        }
    }
}

fn unsupported(type_name: &str) -> Outcome {
    Outcome::Failed {
        status: Status::unimplemented(format!("unsupported task type: {type_name}")),
        non_retryable: true,
    }
}
