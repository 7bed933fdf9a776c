//! The store a sync writes into, run on its own thread so that fetching pages from Cognito
//! never waits for SQLite, and SQLite never blocks the async runtime.

use std::collections::HashSet;

use tokio::sync::{mpsc, oneshot};

use crate::c1z::C1zWriter;
use crate::connector::resource_type::Partition;
use crate::pb::v2::{Entitlement, Grant, Resource, ResourceId, ResourceType};

/// What the sync engine needs from a store. The `.c1z` writer is one; tests use others.
pub trait SyncStore: Send + 'static {
    type Error: std::error::Error + Send + Sync + 'static;

    fn put_resource_types(&mut self, items: &[ResourceType]) -> Result<(), Self::Error>;
    fn put_resources(&mut self, items: &[Resource]) -> Result<(), Self::Error>;
    fn put_entitlements(&mut self, items: &[Entitlement]) -> Result<(), Self::Error>;
    fn put_grants(&mut self, items: &[Grant]) -> Result<(), Self::Error>;
    /// Records where one listing stands, after the rows stored before it (see
    /// [`Checkpoint`]). A store that cannot be resumed keeps nothing.
    fn put_progress(&mut self, _checkpoint: &Checkpoint) -> Result<(), Self::Error> {
        Ok(())
    }

    /// Removes what a listing that started over had stored and did not find again (deleted in
    /// Cognito meanwhile): the stored resources of a type and parent that `listed` claims and
    /// whose ids `found` lacks, with their entitlements and every grant on or of them.
    fn remove_unfound(
        &mut self,
        resource_type_id: &str,
        parent: Option<&ResourceId>,
        listed: &dyn Fn(&Resource) -> bool,
        found: &HashSet<String>,
    ) -> Result<(), Self::Error>;

    /// Removes the grants one resource's grants listing stored (on it, or held by it) before
    /// the listing starts over: the next pass stores what is true then.
    fn remove_grants_of(&mut self, resource: &ResourceId) -> Result<(), Self::Error>;

    /// Stored resources of a type (and of that parent: none stands for resources without one)
    /// with a row id above `after`, in row id order.
    fn resources_after(
        &mut self,
        resource_type_id: &str,
        parent: Option<&ResourceId>,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Resource)>, Self::Error>;
}

/// A store failure, boxed so the engine need not be generic over it.
pub type StoreError = Box<dyn std::error::Error + Send + Sync>;

/// Where one listing of a sync stands: where it resumes (none once done) and how many items
/// it has stored. The store takes it after the rows before it, so it never claims more.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub listing: String,
    /// Where the listing resumes; none once it is done.
    pub cursor: Option<String>,
    pub items: u64,
    /// The calls that stored them (what a resumed sync does not spend again).
    pub calls: u64,
}

enum Command {
    Progress(Checkpoint),
    ResourceTypes(Vec<ResourceType>),
    Resources(Vec<Resource>),
    Entitlements(Vec<Entitlement>),
    Grants(Vec<Grant>),
    RemoveUnfound {
        resource_type_id: String,
        parent: Option<ResourceId>,
        partition: Partition,
        found: HashSet<String>,
    },
    RemoveGrantsOf(ResourceId, Option<Checkpoint>),
    ResourcesAfter {
        resource_type_id: String,
        parent: Option<ResourceId>,
        after: i64,
        limit: usize,
        reply: oneshot::Sender<Vec<(i64, Resource)>>,
    },
}

/// Pages queued for the store at most; beyond this, fetching waits (bounded memory).
const QUEUE_DEPTH: usize = 16;

/// The async side of the store thread. Clone it to write from several tasks.
#[derive(Clone)]
pub struct StoreHandle {
    tx: mpsc::Sender<Command>,
}

/// The store thread; joining it returns the store, or the first error it hit.
pub struct StoreThread<S: SyncStore> {
    handle: std::thread::JoinHandle<Result<S, S::Error>>,
}

/// The store stopped taking commands (it failed; `StoreThread::join` says why).
#[derive(Debug, thiserror::Error)]
#[error("the output store stopped")]
pub struct StoreClosed;

/// Starts the store thread.
pub fn spawn<S: SyncStore>(mut store: S) -> (StoreHandle, StoreThread<S>) {
    let (tx, mut rx) = mpsc::channel(QUEUE_DEPTH);
    let handle = std::thread::spawn(move || {
        while let Some(command) = rx.blocking_recv() {
            match command {
                Command::ResourceTypes(items) => store.put_resource_types(&items)?,
                Command::Resources(items) => store.put_resources(&items)?,
                Command::Entitlements(items) => store.put_entitlements(&items)?,
                Command::Grants(items) => store.put_grants(&items)?,
                Command::Progress(checkpoint) => store.put_progress(&checkpoint)?,
                Command::RemoveUnfound {
                    resource_type_id,
                    parent,
                    partition,
                    found,
                } => store.remove_unfound(
                    &resource_type_id,
                    parent.as_ref(),
                    &|stored| partition.holds(stored),
                    &found,
                )?,
                // The listing's checkpoint is reset in the same transaction as the removal, so
                // a run killed now never resumes past grants that are gone.
                Command::RemoveGrantsOf(resource, restart) => {
                    store.remove_grants_of(&resource)?;
                    if let Some(restart) = restart {
                        store.put_progress(&restart)?;
                    }
                }
                Command::ResourcesAfter {
                    resource_type_id,
                    parent,
                    after,
                    limit,
                    reply,
                } => {
                    let page =
                        store.resources_after(&resource_type_id, parent.as_ref(), after, limit)?;
                    let _ = reply.send(page);
                }
            }
        }
        Ok(store)
    });
    (StoreHandle { tx }, StoreThread { handle })
}

impl StoreHandle {
    async fn send(&self, command: Command) -> Result<(), StoreClosed> {
        self.tx.send(command).await.map_err(|_| StoreClosed)
    }

    pub async fn resource_types(&self, items: Vec<ResourceType>) -> Result<(), StoreClosed> {
        self.send(Command::ResourceTypes(items)).await
    }

    pub async fn resources(&self, items: Vec<Resource>) -> Result<(), StoreClosed> {
        self.send(Command::Resources(items)).await
    }

    pub async fn entitlements(&self, items: Vec<Entitlement>) -> Result<(), StoreClosed> {
        self.send(Command::Entitlements(items)).await
    }

    pub async fn grants(&self, items: Vec<Grant>) -> Result<(), StoreClosed> {
        self.send(Command::Grants(items)).await
    }

    pub async fn progress(&self, checkpoint: Checkpoint) -> Result<(), StoreClosed> {
        self.send(Command::Progress(checkpoint)).await
    }

    /// See [`SyncStore::remove_unfound`]; `partition` says which stored resources the listing
    /// returns.
    pub async fn remove_unfound(
        &self,
        resource_type_id: String,
        parent: Option<ResourceId>,
        partition: Partition,
        found: HashSet<String>,
    ) -> Result<(), StoreClosed> {
        self.send(Command::RemoveUnfound {
            resource_type_id,
            parent,
            partition,
            found,
        })
        .await
    }

    /// See [`SyncStore::remove_grants_of`]; `restart` is the listing's checkpoint from its first
    /// page (none for a listing that keeps none), recorded with the removal.
    pub async fn remove_grants_of(
        &self,
        resource: ResourceId,
        restart: Option<Checkpoint>,
    ) -> Result<(), StoreClosed> {
        self.send(Command::RemoveGrantsOf(resource, restart)).await
    }

    pub async fn resources_after(
        &self,
        resource_type_id: &str,
        parent: Option<&ResourceId>,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Resource)>, StoreClosed> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::ResourcesAfter {
            resource_type_id: resource_type_id.to_string(),
            parent: parent.cloned(),
            after,
            limit,
            reply,
        })
        .await?;
        answer.await.map_err(|_| StoreClosed)
    }
}

impl<S: SyncStore> StoreThread<S> {
    /// Waits for the thread to drain its queue (every handle must be dropped first).
    pub async fn join(self) -> Result<S, StoreError> {
        let handle = self.handle;
        let joined = tokio::task::spawn_blocking(move || handle.join())
            .await
            .map_err(|e| -> StoreError { format!("store thread lost: {e}").into() })?;
        match joined {
            Ok(result) => result.map_err(|e| Box::new(e) as StoreError),
            Err(_) => Err("the store thread panicked".into()),
        }
    }
}

/// The `.c1z` writer is the store of the one-shot sync.
impl SyncStore for C1zWriter {
    type Error = crate::c1z::C1zError;

    fn put_resource_types(&mut self, items: &[ResourceType]) -> Result<(), crate::c1z::C1zError> {
        C1zWriter::put_resource_types(self, items)
    }

    fn put_resources(&mut self, items: &[Resource]) -> Result<(), crate::c1z::C1zError> {
        C1zWriter::put_resources(self, items)
    }

    fn put_entitlements(&mut self, items: &[Entitlement]) -> Result<(), crate::c1z::C1zError> {
        C1zWriter::put_entitlements(self, items)
    }

    fn put_grants(&mut self, items: &[Grant]) -> Result<(), crate::c1z::C1zError> {
        C1zWriter::put_grants(self, items)
    }

    fn put_progress(&mut self, checkpoint: &Checkpoint) -> Result<(), crate::c1z::C1zError> {
        C1zWriter::put_progress(
            self,
            &crate::c1z::ProgressRow {
                listing: checkpoint.listing.clone(),
                cursor: checkpoint.cursor.clone(),
                done: checkpoint.cursor.is_none(),
                items: checkpoint.items,
                calls: checkpoint.calls,
            },
        )
    }

    fn remove_unfound(
        &mut self,
        resource_type_id: &str,
        parent: Option<&ResourceId>,
        listed: &dyn Fn(&Resource) -> bool,
        found: &HashSet<String>,
    ) -> Result<(), crate::c1z::C1zError> {
        C1zWriter::remove_unfound(self, resource_type_id, parent, listed, found).map(drop)
    }

    fn remove_grants_of(&mut self, resource: &ResourceId) -> Result<(), crate::c1z::C1zError> {
        C1zWriter::remove_grants_of(self, resource)
    }

    fn resources_after(
        &mut self,
        resource_type_id: &str,
        parent: Option<&ResourceId>,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Resource)>, crate::c1z::C1zError> {
        C1zWriter::resources_after(self, resource_type_id, parent, after, limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::model::resource_ref;

    #[derive(Default)]
    struct MemoryStore {
        resources: Vec<Resource>,
        grants: usize,
        fail_on_grants: bool,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("disk full")]
    struct DiskFull;

    impl SyncStore for MemoryStore {
        type Error = DiskFull;
        fn put_resource_types(&mut self, _: &[ResourceType]) -> Result<(), DiskFull> {
            Ok(())
        }
        fn put_resources(&mut self, items: &[Resource]) -> Result<(), DiskFull> {
            self.resources.extend_from_slice(items);
            Ok(())
        }
        fn put_entitlements(&mut self, _: &[Entitlement]) -> Result<(), DiskFull> {
            Ok(())
        }
        fn put_grants(&mut self, items: &[Grant]) -> Result<(), DiskFull> {
            if self.fail_on_grants {
                return Err(DiskFull);
            }
            self.grants += items.len();
            Ok(())
        }
        fn remove_unfound(
            &mut self,
            type_id: &str,
            parent: Option<&ResourceId>,
            listed: &dyn Fn(&Resource) -> bool,
            found: &HashSet<String>,
        ) -> Result<(), DiskFull> {
            self.resources.retain(|r| {
                let id = r.id.as_ref().expect("stored with an id");
                id.resource_type != type_id
                    || r.parent_resource_id.as_ref() != parent
                    || !listed(r)
                    || found.contains(&id.resource)
            });
            Ok(())
        }
        fn remove_grants_of(&mut self, _: &ResourceId) -> Result<(), DiskFull> {
            Ok(())
        }
        fn resources_after(
            &mut self,
            type_id: &str,
            parent: Option<&ResourceId>,
            after: i64,
            limit: usize,
        ) -> Result<Vec<(i64, Resource)>, DiskFull> {
            Ok(self
                .resources
                .iter()
                .enumerate()
                .map(|(i, r)| (i as i64 + 1, r.clone()))
                .filter(|(row, r)| {
                    *row > after
                        && r.id.as_ref().is_some_and(|id| id.resource_type == type_id)
                        && r.parent_resource_id.as_ref() == parent
                })
                .take(limit)
                .collect())
        }
    }

    #[tokio::test]
    async fn writes_are_applied_in_order_and_read_back_by_type() {
        let (handle, thread) = spawn(MemoryStore::default());
        handle
            .resources(vec![resource_ref("user", "a"), resource_ref("group", "g")])
            .await
            .unwrap();
        handle
            .resources(vec![resource_ref("user", "b")])
            .await
            .unwrap();
        let users = handle.resources_after("user", None, 0, 10).await.unwrap();
        assert_eq!(
            users.iter().map(|(row, _)| *row).collect::<Vec<_>>(),
            vec![1, 3]
        );
        assert_eq!(
            handle
                .resources_after("user", None, 1, 10)
                .await
                .unwrap()
                .len(),
            1
        );
        handle.grants(vec![Grant::default(); 3]).await.unwrap();
        drop(handle);
        let store = thread.join().await.unwrap();
        assert_eq!(store.grants, 3);
    }

    #[tokio::test]
    async fn a_failing_store_stops_taking_commands_and_reports_why() {
        let store = MemoryStore {
            fail_on_grants: true,
            ..MemoryStore::default()
        };
        let (handle, thread) = spawn(store);
        handle.grants(vec![Grant::default()]).await.unwrap();
        // The thread has stopped: later commands are refused instead of silently dropped.
        let mut refused = false;
        for _ in 0..100 {
            if handle.resources_after("user", None, 0, 1).await.is_err() {
                refused = true;
                break;
            }
        }
        assert!(refused);
        drop(handle);
        let err = thread.join().await.err().expect("the error comes back");
        assert_eq!(err.to_string(), "disk full");
    }
}
