//! Walking two files side by side: the same table of an older and a newer sync, both read in
//! id order, so that each id comes up once with its row from either file or both. Only one row
//! of each file is held at a time, which is what lets the change feed compare two snapshots of
//! a million-user pool without loading either.

use std::cmp::Ordering;

/// An id's rows in the two files walked together.
#[derive(Clone, Debug, PartialEq)]
pub enum Paired<T> {
    /// Only the older file has it.
    Before(T),
    /// Only the newer file has it.
    After(T),
    Both {
        before: T,
        after: T,
    },
}

impl<T> Paired<T> {
    /// Each side through `read`; a side it makes nothing of counts as absent.
    pub fn filter_map<U>(self, read: impl Fn(T) -> Option<U>) -> Option<Paired<U>> {
        match self {
            Paired::Before(row) => read(row).map(Paired::Before),
            Paired::After(row) => read(row).map(Paired::After),
            Paired::Both { before, after } => match (read(before), read(after)) {
                (Some(before), Some(after)) => Some(Paired::Both { before, after }),
                (Some(before), None) => Some(Paired::Before(before)),
                (None, Some(after)) => Some(Paired::After(after)),
                (None, None) => None,
            },
        }
    }
}

/// Merges two streams of `(id, row)` that each come in ascending id order without repeats,
/// handing every id to `each` once, in ascending order.
pub(super) fn merge_sorted<T, E>(
    mut before: impl FnMut() -> Result<Option<(String, T)>, E>,
    mut after: impl FnMut() -> Result<Option<(String, T)>, E>,
    mut each: impl FnMut(Paired<T>) -> Result<(), E>,
) -> Result<(), E> {
    let mut older = before()?;
    let mut newer = after()?;
    loop {
        match (older.take(), newer.take()) {
            (None, None) => return Ok(()),
            (Some((_, row)), None) => {
                each(Paired::Before(row))?;
                older = before()?;
            }
            (None, Some((_, row))) => {
                each(Paired::After(row))?;
                newer = after()?;
            }
            (Some((old_id, old)), Some((new_id, new))) => match old_id.cmp(&new_id) {
                Ordering::Less => {
                    each(Paired::Before(old))?;
                    older = before()?;
                    newer = Some((new_id, new));
                }
                Ordering::Greater => {
                    each(Paired::After(new))?;
                    newer = after()?;
                    older = Some((old_id, old));
                }
                Ordering::Equal => {
                    each(Paired::Both {
                        before: old,
                        after: new,
                    })?;
                    older = before()?;
                    newer = after()?;
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    fn walk(before: &BTreeSet<String>, after: &BTreeSet<String>) -> Vec<Paired<String>> {
        let mut older = before
            .iter()
            .map(|id| Ok::<_, ()>(Some((id.clone(), id.clone()))));
        let mut newer = after.iter().map(|id| Ok(Some((id.clone(), id.clone()))));
        let mut seen = Vec::new();
        merge_sorted(
            || older.next().unwrap_or(Ok(None)),
            || newer.next().unwrap_or(Ok(None)),
            |pair| {
                seen.push(pair);
                Ok(())
            },
        )
        .expect("no errors");
        seen
    }

    proptest! {
        #![proptest_config(crate::testing::proptest_config())]

        /// Every id of either side comes up exactly once, in order, paired as the sets say.
        #[test]
        fn each_id_once_in_order(
            before in proptest::collection::btree_set("[a-c]{0,3}", 0..20),
            after in proptest::collection::btree_set("[a-c]{0,3}", 0..20),
        ) {
            let seen = walk(&before, &after);
            let ids: Vec<&String> = seen
                .iter()
                .map(|pair| match pair {
                    Paired::Before(id) | Paired::After(id) => id,
                    Paired::Both { before, after } => {
                        assert_eq!(before, after);
                        before
                    }
                })
                .collect();
            let union: Vec<&String> = before.union(&after).collect();
            prop_assert_eq!(ids, union);
            for pair in &seen {
                match pair {
                    Paired::Before(id) => prop_assert!(before.contains(id) && !after.contains(id)),
                    Paired::After(id) => prop_assert!(after.contains(id) && !before.contains(id)),
                    Paired::Both { before: id, .. } => {
                        prop_assert!(before.contains(id) && after.contains(id))
                    }
                }
            }
        }
    }

    #[test]
    fn a_side_read_as_nothing_is_absent() {
        let even = |n: i32| (n % 2 == 0).then_some(n);
        let both = |before, after| Paired::Both { before, after };
        assert_eq!(both(2, 4).filter_map(even), Some(both(2, 4)));
        assert_eq!(both(2, 3).filter_map(even), Some(Paired::Before(2)));
        assert_eq!(both(1, 4).filter_map(even), Some(Paired::After(4)));
        assert_eq!(both(1, 3).filter_map(even), None);
        assert_eq!(Paired::Before(1).filter_map(even), None);
        assert_eq!(Paired::After(6).filter_map(even), Some(Paired::After(6)));
    }

    #[test]
    fn an_error_stops_the_walk() {
        let mut calls = 0;
        let result = merge_sorted(
            || Ok(Some(("a".to_string(), 1))),
            || Err::<Option<(String, i32)>, &str>("broken"),
            |_| {
                calls += 1;
                Ok(())
            },
        );
        assert_eq!(result, Err("broken"));
        assert_eq!(calls, 0);
    }
}
