//! Where a killed sync stood, for the run that resumes it: per listing, the checkpoint the store
//! kept with the rows (see `store::Checkpoint`).
//!
//! The listings that call Cognito checkpoint themselves: each partition of a type's resources
//! (`resources <pool> <type> <partition>`), the partitions a type was listed in (`plan <pool>
//! <type>`, so a resumed type is listed in the same slices), and each resource's memberships
//! (`grants <pool> <type> <id>`). Entitlements cost no call and are listed again; whatever is
//! stored twice is stored once (the store keeps one record per id).

use std::collections::HashMap;

use super::store::Checkpoint;
use crate::c1z::ProgressRow;
use crate::cognito::filter::UserFilter;
use crate::connector::{Cursor, Partition, ResourceKind};

/// Where one listing starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Start {
    /// From its first page.
    Fresh,
    /// Nowhere: it was done, with this many items in so many calls.
    Done { items: u64, calls: u64 },
    /// From this page, with this many items already stored in so many calls.
    From {
        cursor: Cursor,
        items: u64,
        calls: u64,
    },
}

impl Start {
    /// Items and calls already spent before this run.
    pub fn already(&self) -> (u64, u64) {
        match self {
            Start::Fresh => (0, 0),
            Start::Done { items, calls } | Start::From { items, calls, .. } => (*items, *calls),
        }
    }
}

/// The checkpoints of the sync being resumed (none for a new sync).
#[derive(Debug, Default)]
pub struct Resume {
    checkpoints: HashMap<String, Checkpoint>,
}

impl Resume {
    pub fn new(checkpoints: Vec<Checkpoint>) -> Self {
        Self {
            checkpoints: checkpoints
                .into_iter()
                .map(|c| (c.listing.clone(), c))
                .collect(),
        }
    }

    /// The progress a killed sync's working database holds, said in the log (what was done,
    /// what was under way, the calls that saves).
    pub fn of_unfinished(sync_id: &str, rows: Vec<ProgressRow>) -> Self {
        let resume = Self::new(
            rows.into_iter()
                .map(|row| Checkpoint {
                    listing: row.listing,
                    cursor: if row.done { None } else { row.cursor },
                    items: row.items,
                    calls: row.calls,
                })
                .collect(),
        );
        let (done, under_way, calls_saved) = resume.tally();
        tracing::info!(
            sync_id,
            listings_done = done,
            listings_under_way = under_way,
            calls_saved,
            "resuming the sync a killed run left unfinished"
        );
        resume
    }

    /// The listings done, those under way, and the calls the checkpoints saved.
    pub fn tally(&self) -> (usize, usize, u64) {
        let listings = self
            .checkpoints
            .values()
            .filter(|c| !c.listing.starts_with("plan "));
        listings.fold((0, 0, 0), |(done, under_way, calls), c| match c.cursor {
            None => (done + 1, under_way, calls + c.calls),
            Some(_) => (done, under_way + 1, calls + c.calls),
        })
    }

    /// Where the listing `key` starts. A cursor that does not read back starts it over.
    pub fn start(&self, key: &str) -> Start {
        let Some(checkpoint) = self.checkpoints.get(key) else {
            return Start::Fresh;
        };
        let (items, calls) = (checkpoint.items, checkpoint.calls);
        match &checkpoint.cursor {
            None => Start::Done { items, calls },
            Some(text) => match serde_json::from_str::<Cursor>(text) {
                Ok(cursor) => Start::From {
                    cursor,
                    items,
                    calls,
                },
                Err(_) => Start::Fresh,
            },
        }
    }

    /// The partitions a type was being listed in, if it was.
    pub fn partitions(&self, pool: &str, kind: ResourceKind) -> Option<Vec<Partition>> {
        let text = self
            .checkpoints
            .get(&plan_key(pool, kind))?
            .cursor
            .as_ref()?;
        let filters: Vec<String> = serde_json::from_str(text).ok()?;
        filters
            .iter()
            .map(|filter| {
                let user_filter = match filter.as_str() {
                    "" => None,
                    text => Some(text.parse::<UserFilter>().ok()?),
                };
                Some(Partition { user_filter })
            })
            .collect()
    }
}

/// The listing of one partition of a type's resources.
pub fn resources_key(pool: &str, kind: ResourceKind, partition: &Partition) -> String {
    let filter = partition
        .user_filter
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    format!("resources {pool} {} {filter}", kind.syncer().type_id())
}

/// The partitions a type is listed in.
pub fn plan_key(pool: &str, kind: ResourceKind) -> String {
    format!("plan {pool} {}", kind.syncer().type_id())
}

/// The checkpoint recording a type's partitions (its "cursor" is their filters).
pub fn plan_checkpoint(pool: &str, kind: ResourceKind, partitions: &[Partition]) -> Checkpoint {
    let filters: Vec<String> = partitions
        .iter()
        .map(|p| {
            p.user_filter
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
        })
        .collect();
    Checkpoint {
        listing: plan_key(pool, kind),
        cursor: Some(serde_json::to_string(&filters).unwrap_or_default()),
        items: 0,
        calls: 0,
    }
}

/// The listing of one resource's memberships.
pub fn grants_key(pool: &str, type_id: &str, resource_id: &str) -> String {
    format!("grants {pool} {type_id} {resource_id}")
}

/// The checkpoint of a listing that stored `items` in `calls` and resumes at `next` (none:
/// done).
pub fn checkpoint(key: &str, next: Option<&Cursor>, items: u64, calls: u64) -> Checkpoint {
    Checkpoint {
        listing: key.to_string(),
        cursor: next.map(|c| serde_json::to_string(c).unwrap_or_default()),
        items,
        calls,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resumed_listing_starts_where_its_checkpoint_says() {
        let next = Cursor {
            cognito_token: Some("tok".into()),
            skip: 3,
            limit: 60,
        };
        let slices = [
            Partition {
                user_filter: Some("sub ^= \"a\"".parse().unwrap()),
            },
            Partition { user_filter: None },
        ];
        let resume = Resume::new(vec![
            checkpoint("grants p group g", None, 5, 1),
            checkpoint("resources p user ", Some(&next), 120, 2),
            plan_checkpoint("p", ResourceKind::User, &slices),
            Checkpoint {
                listing: "odd".into(),
                cursor: Some("not json".into()),
                items: 1,
                calls: 1,
            },
        ]);
        assert_eq!(
            resume.start("grants p group g"),
            Start::Done { items: 5, calls: 1 }
        );
        assert_eq!(
            resume.start("resources p user "),
            Start::From {
                cursor: next,
                items: 120,
                calls: 2
            }
        );
        assert_eq!(resume.start("odd"), Start::Fresh);
        assert_eq!(resume.start("unknown"), Start::Fresh);
        assert_eq!(
            resume.partitions("p", ResourceKind::User).as_deref(),
            Some(&slices[..])
        );
        assert_eq!(resume.partitions("p", ResourceKind::Group), None);
        assert_eq!(resume.tally(), (1, 2, 4));
    }
}
