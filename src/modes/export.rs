//! `export`: the pool's user records as JSON lines in Cognito's own shape, for log and security
//! pipelines. With `--since-last-run`, only users created or changed since the last export
//! with the same state file, and a deletion marker for each user deleted since; the state only
//! advances once every line is written.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::{RunError, Shutdown, connector};
use crate::c1z::C1zReader;
use crate::config::PoolSettings;
use crate::feed::{self, Change, FeedMeta, FeedState, Previous, UserRecord, snapshot};

#[derive(Debug)]
pub struct ExportSettings {
    /// `None`: standard output.
    pub output: Option<PathBuf>,
    pub with_groups: bool,
    pub since_last_run: bool,
    pub state: PathBuf,
}

pub async fn run(settings: &PoolSettings, export: &ExportSettings) -> Result<(), RunError> {
    let shutdown = Shutdown::listen()?;
    let connector = connector(settings).await;
    let meta = FeedMeta::of(&connector).await?;
    let state = FeedState::new(&export.state);
    let (stop, cancelled) = (shutdown.requested_owned(), shutdown.shared_flag());
    // A plain export's snapshot is thrown away with this directory.
    let scratch = tempfile::tempdir()
        .map_err(|e| RunError::Failed(format!("cannot make a temporary directory: {e}")))?;
    let (previous, taken) = if export.since_last_run {
        let previous = state.last(&meta)?;
        (
            previous,
            state.take(connector, &meta, stop, cancelled).await?,
        )
    } else {
        let dest = scratch.path().join("export.c1z");
        let taken = feed::state::take_into(&dest, connector, &meta, stop, cancelled).await?;
        (None, taken)
    };
    let output = export.output.clone();
    let (with_groups, pool) = (export.with_groups, meta.pool_id.clone());
    let after = taken.file().to_path_buf();
    let written = tokio::task::spawn_blocking(move || {
        let after = C1zReader::open(&after)?;
        write_output(output.as_deref(), |out| {
            let lines = Lines {
                out,
                after: &after,
                with_groups,
                written: 0,
            };
            match &previous {
                Some(previous) => lines.changed(&pool, previous),
                None => lines.all(),
            }
        })
    })
    .await
    .map_err(|e| RunError::Failed(format!("export failed: {e}")))?;
    let lines = match written {
        Ok(lines) => lines,
        Err(err) => {
            if export.since_last_run {
                taken.discard();
            }
            return Err(err);
        }
    };
    if export.since_last_run {
        state.advance(taken)?;
    }
    tracing::info!(
        lines,
        since_last_run = export.since_last_run,
        "export finished"
    );
    Ok(())
}

/// Writes user records as JSON lines, read from the snapshot `after` one at a time.
struct Lines<'a> {
    out: &'a mut dyn Write,
    after: &'a C1zReader,
    with_groups: bool,
    written: usize,
}

impl Lines<'_> {
    /// Every user, with its groups if asked. Returns the number of lines.
    fn all(mut self) -> Result<usize, RunError> {
        snapshot::each_user(self.after, |user| self.user(&user))?;
        Ok(self.written)
    }

    /// Users created or changed since `previous` (also when only their groups changed, if
    /// groups are part of the record), in username order, then a deletion marker for each user
    /// deleted. Only the names wait for their turn; the records are read as they are written.
    fn changed(mut self, pool: &str, previous: &Previous) -> Result<usize, RunError> {
        let mut touched = BTreeSet::new();
        let mut deleted = Vec::new();
        let with_groups = self.with_groups;
        feed::diff(
            pool,
            &previous.sync_id,
            &previous.reader,
            self.after,
            |change| {
                match change.change {
                    Change::UserCreated(user)
                    | Change::UserUpdated { user, .. }
                    | Change::UserEnabled(user)
                    | Change::UserDisabled(user) => {
                        touched.insert(user.username);
                    }
                    Change::MemberAdded { username, .. }
                    | Change::MemberRemoved { username, .. }
                        if with_groups =>
                    {
                        touched.insert(username);
                    }
                    Change::UserDeleted { username } => deleted.push(username),
                    _ => {}
                }
                Ok::<_, RunError>(())
            },
        )?;
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

    fn user(&mut self, user: &UserRecord) -> Result<(), RunError> {
        let mut value = serde_json::to_value(user).unwrap_or(Value::Null);
        if let (true, Value::Object(map)) = (self.with_groups, &mut value) {
            let groups = snapshot::groups_of(self.after, &user.username)?;
            map.insert("Groups".to_string(), json!(groups));
        }
        self.line(&value)
    }

    fn line(&mut self, value: &Value) -> Result<(), RunError> {
        writeln!(self.out, "{value}")?;
        self.written += 1;
        Ok(())
    }
}

/// Runs `write` on standard output, or on a file that replaces `output` only once everything
/// `write` wrote is on disk (if it fails, `output` is left as it was).
fn write_output(
    output: Option<&Path>,
    write: impl FnOnce(&mut dyn Write) -> Result<usize, RunError>,
) -> Result<usize, RunError> {
    let Some(path) = output else {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        let lines = write(&mut out)?;
        out.flush()?;
        return Ok(lines);
    };
    let failed = |e: std::io::Error| {
        RunError::Failed(format!(
            "--output {}: cannot write the file: {e}",
            path.display()
        ))
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut file = tempfile::Builder::new()
        .prefix(".export.")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(failed)?;
    let lines = {
        let mut out = std::io::BufWriter::new(file.as_file_mut());
        let lines = write(&mut out).map_err(|err| match err {
            RunError::Output(e) => failed(e),
            other => other,
        })?;
        out.flush().map_err(failed)?;
        lines
    };
    file.as_file().sync_all().map_err(failed)?;
    file.persist(path).map_err(|e| failed(e.error))?;
    Ok(lines)
}
