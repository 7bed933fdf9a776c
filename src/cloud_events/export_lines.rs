//! User records as `export` writes them: JSON lines in Cognito's own shape, optionally with the
//! user's groups, read from a snapshot one record at a time.

use std::collections::BTreeSet;
use std::io::Write;

use serde_json::{Value, json};

use crate::c1z::{C1zError, C1zReader};
use crate::changes::cognito_shape::UserRecord;
use crate::changes::diff::{Change, diff};
use crate::changes::snapshot;

#[derive(Debug, thiserror::Error)]
pub enum LinesError {
    #[error(transparent)]
    File(#[from] C1zError),
    #[error(transparent)]
    Write(#[from] std::io::Error),
}

/// Writes user records as JSON lines, read from the snapshot `after` one at a time.
pub struct Lines<'a> {
    out: &'a mut dyn Write,
    after: &'a C1zReader,
    with_groups: bool,
    /// The pool each line names (`"UserPoolId"`), when the export covers several.
    pool: Option<&'a str>,
    written: usize,
}

impl<'a> Lines<'a> {
    pub fn new(out: &'a mut dyn Write, after: &'a C1zReader, with_groups: bool) -> Self {
        Lines {
            out,
            after,
            with_groups,
            pool: None,
            written: 0,
        }
    }

    /// Each line names `pool` as its `"UserPoolId"` (an export of several pools).
    pub fn naming_pool(self, pool: &'a str) -> Self {
        Lines {
            pool: Some(pool),
            ..self
        }
    }

    /// Every user, with its groups if asked. Returns the number of lines.
    pub fn all(mut self) -> Result<usize, LinesError> {
        snapshot::each_user(self.after, |user| self.user(&user))?;
        Ok(self.written)
    }

    /// Users created or changed since the snapshot `before` (whose sync id is `base`), also
    /// when only their groups changed if groups are part of the record, in username order; then
    /// a deletion marker for each user deleted. Only the names wait for their turn; the records
    /// are read as they are written.
    pub fn changed(
        mut self,
        pool: &str,
        base: &str,
        before: &C1zReader,
    ) -> Result<usize, LinesError> {
        let mut touched = BTreeSet::new();
        let mut deleted = Vec::new();
        let with_groups = self.with_groups;
        diff(pool, base, before, self.after, |change| {
            match change.change {
                Change::UserCreated(user)
                | Change::UserUpdated { user, .. }
                | Change::UserEnabled(user)
                | Change::UserDisabled(user) => {
                    touched.insert(user.username);
                }
                Change::MemberAdded { username, .. } | Change::MemberRemoved { username, .. }
                    if with_groups =>
                {
                    touched.insert(username);
                }
                Change::UserDeleted { username } => deleted.push(username),
                _ => {}
            }
            Ok::<_, LinesError>(())
        })?;
        for name in touched {
            // A user whose membership was removed may be gone too: the marker says so.
            if let Some(user) = snapshot::user(self.after, &name)? {
                self.user(&user)?;
            }
        }
        for name in deleted {
            self.line(&json!({"Username": name, "Deleted": true}))?;
        }
        Ok(self.written)
    }

    fn user(&mut self, user: &UserRecord) -> Result<(), LinesError> {
        let mut value = serde_json::to_value(user).unwrap_or(Value::Null);
        if let (true, Value::Object(map)) = (self.with_groups, &mut value) {
            let groups = snapshot::groups_of(self.after, &user.username)?;
            map.insert("Groups".to_string(), json!(groups));
        }
        self.line(&value)
    }

    fn line(&mut self, value: &Value) -> Result<(), LinesError> {
        if let (Some(pool), Value::Object(map)) = (self.pool, value) {
            let mut named = map.clone();
            named.insert("UserPoolId".to_string(), json!(pool));
            writeln!(self.out, "{}", Value::Object(named))?;
        } else {
            writeln!(self.out, "{value}")?;
        }
        self.written += 1;
        Ok(())
    }
}
