//! `export`: the pool's user records as JSON lines in Cognito's own shape, for log and security
//! pipelines. With `--since-last-run`, only users created or changed since the last export
//! with the same state file, and a deletion marker for each user deleted since; the state only
//! advances once every line is written.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;

use serde_json::{Value, json};

use super::{RunError, Shutdown, connector};
use crate::config::PoolSettings;
use crate::feed::{self, Change, FeedMeta, FeedState, Snapshot};

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
    let (lines, taken) = if export.since_last_run {
        let last = state.last(&meta)?;
        let taken = state.take(connector, &meta, stop, cancelled).await?;
        let lines = match &last {
            Some((before, base)) => changed_lines(
                &feed::diff(&meta.pool_id, base, before, &taken.snapshot),
                &taken.snapshot,
                export.with_groups,
            ),
            None => all_lines(&taken.snapshot, export.with_groups),
        };
        (lines, Some(taken))
    } else {
        let scratch = tempfile::tempdir()
            .map_err(|e| RunError::Failed(format!("cannot make a temporary directory: {e}")))?;
        let taken = feed::state::take_into(
            &scratch.path().join("export.c1z"),
            connector,
            &meta,
            stop,
            cancelled,
        )
        .await?;
        (all_lines(&taken.snapshot, export.with_groups), None)
    };
    if let Err(err) = write_lines(export.output.as_deref(), &lines) {
        if let Some(taken) = taken {
            taken.discard();
        }
        return Err(err);
    }
    if let Some(taken) = taken {
        state.advance(taken)?;
    }
    tracing::info!(
        lines = lines.len(),
        since_last_run = export.since_last_run,
        "export finished"
    );
    Ok(())
}

/// Every user, with its groups if asked.
fn all_lines(snapshot: &Snapshot, with_groups: bool) -> Vec<String> {
    user_lines(
        snapshot,
        snapshot.users.keys().map(String::as_str),
        with_groups,
    )
}

/// The lines of these users (those still in `snapshot`), with their groups if asked.
fn user_lines<'a>(
    snapshot: &Snapshot,
    names: impl IntoIterator<Item = &'a str>,
    with_groups: bool,
) -> Vec<String> {
    let groups = snapshot.groups_by_user();
    names
        .into_iter()
        .filter_map(|name| snapshot.users.get(name))
        .map(|user| {
            let mut value = serde_json::to_value(user).unwrap_or(Value::Null);
            if let (true, Value::Object(map)) = (with_groups, &mut value) {
                let of_user = groups
                    .get(user.username.as_str())
                    .cloned()
                    .unwrap_or_default();
                map.insert("Groups".to_string(), json!(of_user));
            }
            value.to_string()
        })
        .collect()
}

/// Users created or changed (their groups too, when they are part of the record), then a
/// deletion marker for each user deleted.
fn changed_lines(changes: &[feed::FeedChange], after: &Snapshot, with_groups: bool) -> Vec<String> {
    let mut touched = BTreeSet::new();
    let mut deleted = BTreeSet::new();
    for change in &changes.iter().map(|c| &c.change).collect::<Vec<_>>() {
        match change {
            Change::UserCreated(user)
            | Change::UserUpdated { user, .. }
            | Change::UserEnabled(user)
            | Change::UserDisabled(user) => {
                touched.insert(user.username.as_str());
            }
            Change::MemberAdded { username, .. } | Change::MemberRemoved { username, .. }
                if with_groups =>
            {
                touched.insert(username.as_str());
            }
            Change::UserDeleted { username } => {
                deleted.insert(username.as_str());
            }
            _ => {}
        }
    }
    let mut lines = user_lines(after, touched, with_groups);
    lines.extend(
        deleted
            .into_iter()
            .map(|name| json!({"Username": name, "Deleted": true}).to_string()),
    );
    lines
}

/// The lines to standard output, or to a file replaced only once all of them are on disk.
fn write_lines(output: Option<&std::path::Path>, lines: &[String]) -> Result<(), RunError> {
    let Some(path) = output else {
        let mut out = std::io::stdout().lock();
        for line in lines {
            writeln!(out, "{line}")?;
        }
        out.flush()?;
        return Ok(());
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
    {
        let mut out = std::io::BufWriter::new(file.as_file_mut());
        for line in lines {
            writeln!(out, "{line}").map_err(failed)?;
        }
        out.flush().map_err(failed)?;
    }
    file.as_file().sync_all().map_err(failed)?;
    file.persist(path).map_err(|e| failed(e.error))?;
    Ok(())
}
