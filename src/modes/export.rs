//! `export`: the pool's user records as JSON lines in Cognito's own shape, for log and security
//! pipelines. With `--since-last-run`, only users created or changed since the last export
//! with the same state file, and a deletion marker for each user deleted since; the state only
//! advances once every line is written.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{PoolSettings, RunError, Shutdown, connector};
use crate::c1z::C1zReader;
use crate::changes::{self, FeedMeta, FeedState};
use crate::cloud_events::export_lines::{Lines, LinesError};
use crate::workfiles;

#[derive(Debug)]
pub struct ExportSettings {
    /// `None`: standard output.
    pub output: Option<PathBuf>,
    pub with_groups: bool,
    pub since_last_run: bool,
    pub state: PathBuf,
}

pub async fn run(settings: &PoolSettings, export: &ExportSettings) -> Result<(), RunError> {
    // Both files are checked before the sync, not after it.
    let output = export.output.as_deref().map(output_file).transpose()?;
    let state = FeedState::new(&export.state)?;
    let shutdown = Shutdown::listen()?;
    let connector = connector(settings, "export").await?;
    // Export lines do not name the pool's ARN: no DescribeUserPool beyond the sync's own.
    let meta = FeedMeta::local(&connector);
    let (stop, cancelled) = (shutdown.requested_owned(), shutdown.token().clone());
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
        let taken = changes::state::take_into(&dest, connector, &meta, stop, cancelled).await?;
        (None, taken)
    };
    let (with_groups, pool) = (export.with_groups, meta.pool_id.clone());
    let after = taken.file().to_path_buf();
    let written = tokio::task::spawn_blocking(move || {
        let before = match &previous {
            Some(previous) => Some((previous.open()?, previous.sync_id.as_str())),
            None => None,
        };
        let after = C1zReader::open(&after)?;
        write_output(output.as_deref(), |out| {
            let lines = Lines::new(out, &after, with_groups);
            Ok(match &before {
                Some((before, base)) => lines.changed(&pool, base, before),
                None => lines.all(),
            }?)
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

impl From<LinesError> for RunError {
    fn from(err: LinesError) -> Self {
        match err {
            LinesError::File(err) => RunError::File(err),
            LinesError::Write(err) => RunError::Output(err),
        }
    }
}

/// Where `--output` is written: a new path in an existing directory, or a regular file (a link
/// means its target). Refused as `-f` is: exit 1, before any call.
fn output_file(path: &Path) -> Result<PathBuf, RunError> {
    let refused =
        |reason: String| RunError::Failed(format!("--output {}: {reason}", path.display()));
    let file = workfiles::destination(path).map_err(|err| refused(format!("it {err}")))?;
    let dir = workfiles::parent_dir(&file);
    if !dir.is_dir() {
        return Err(refused(format!(
            "the directory {} does not exist",
            dir.display()
        )));
    }
    Ok(file)
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
    workfiles::sweep_beside(path);
    let (mut file, _held) = workfiles::create_beside(path, ".tmp").map_err(failed)?;
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
    workfiles::flush_dir(&workfiles::parent_dir(path));
    Ok(lines)
}
