//! One change at a time per thing changed.
//!
//! Cognito's membership calls are idempotent, so two identical grants racing each other would
//! both see "not a member", both add, and both report a change. A platform (or 50 clients) sending
//! the same grant twice should instead hear once "added" and then "already a member", so
//! a grant or revoke holds the lock of its membership from its check to its change. Locks are
//! striped: memory stays fixed, and unrelated memberships rarely wait on each other.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash};

use tokio::sync::{Mutex, MutexGuard};

const STRIPES: usize = 256;

pub struct ChangeLocks {
    stripes: Box<[Mutex<()>]>,
    hasher: RandomState,
}

impl Default for ChangeLocks {
    fn default() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            hasher: RandomState::new(),
        }
    }
}

impl ChangeLocks {
    /// Waits until no other change to `key` is running, and holds it off until the guard drops.
    pub async fn lock(&self, key: impl Hash) -> MutexGuard<'_, ()> {
        let stripe = self.hasher.hash_one(key) as usize % self.stripes.len();
        self.stripes[stripe].lock().await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn changes_to_one_key_never_overlap() {
        let locks = Arc::new(ChangeLocks::default());
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (locks, inside, most) = (locks.clone(), inside.clone(), most.clone());
                tokio::spawn(async move {
                    let _turn = locks.lock(("admins", "ann")).await;
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 1);
    }
}
