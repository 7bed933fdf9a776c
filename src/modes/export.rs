//! `export`: the pool's user records as JSON lines in Cognito's own shape, for log and security
//! pipelines. With `--since-last-run`, only users created or changed since the last export
//! with the same state file, and a deletion marker for each user deleted since; the state only
//! advances once every line is written. With several pools, their lines follow each other in
//! the order the pools were named (each line names its pool), and each pool keeps a state of
//! its own (see [`pool_state`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{PoolSettings, RunError, Shutdown, pool_connectors, pool_state};
use crate::c1z::C1zReader;
use crate::changes::{self, FeedMeta, FeedState, Previous, Taken};
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

/// One pool's part of an export: its snapshot, and with `--since-last-run` its state and the
/// snapshot that state held.
struct PoolPart {
    meta: FeedMeta,
    taken: Taken,
    since: Option<(FeedState, Option<Previous>)>,
}

pub async fn run(settings: &PoolSettings, export: &ExportSettings) -> Result<(), RunError> {
    // Both files are checked before the sync, not after it.
    let output = export.output.as_deref().map(output_file).transpose()?;
    let shutdown = Shutdown::listen()?;
    let connectors = pool_connectors(settings).await;
    // Every pool's state is checked before any sync.
    let mut states = Vec::with_capacity(connectors.len());
    for connector in &connectors {
        // Export lines do not name the pool's ARN: no DescribeUserPool beyond the sync's own.
        let meta = FeedMeta::local(connector);
        // The state path is checked even when this run does not use it, as it always was.
        let path = pool_state(&export.state, &meta.pool_id, connectors.len());
        let state = FeedState::new(&path)?;
        let since = if export.since_last_run {
            let previous = state.last(&meta)?;
            Some((state, previous))
        } else {
            None
        };
        states.push((meta, since));
    }
    // A plain export's snapshots are thrown away with this directory.
    let scratch = tempfile::tempdir()
        .map_err(|e| RunError::Failed(format!("cannot make a temporary directory: {e}")))?;
    let mut parts: Vec<PoolPart> = Vec::with_capacity(connectors.len());
    for (connector, (meta, since)) in connectors.into_iter().zip(states) {
        let (stop, cancelled) = (shutdown.requested_owned(), shutdown.token().clone());
        let taken = match &since {
            Some((state, _)) => state.take(connector, &meta, stop, cancelled).await,
            None => {
                let dest = scratch.path().join(format!("{}.c1z", meta.pool_id));
                changes::state::take_into(&dest, connector, &meta, stop, cancelled).await
            }
        };
        match taken {
            Ok(taken) => parts.push(PoolPart { meta, taken, since }),
            Err(err) => {
                discard(parts, export.since_last_run);
                return Err(err.into());
            }
        }
    }
    let (with_groups, several) = (export.with_groups, parts.len() > 1);
    let (written, parts) = tokio::task::spawn_blocking(move || {
        let written = write_output(output.as_deref(), |out| {
            let mut lines = 0;
            for part in &parts {
                lines += write_pool(out, part, with_groups, several)?;
            }
            Ok(lines)
        });
        (written, parts)
    })
    .await
    .map_err(|e| RunError::Failed(format!("export failed: {e}")))?;
    let lines = match written {
        Ok(lines) => lines,
        Err(err) => {
            discard(parts, export.since_last_run);
            return Err(err);
        }
    };
    // Every line is written: each pool's state advances. Should one fail, the snapshots of
    // the pools after it are thrown away (those states stay where they were).
    let mut parts = parts.into_iter();
    while let Some(part) = parts.next() {
        if let Some((state, _)) = part.since
            && let Err(err) = state.advance(part.taken)
        {
            discard(parts.collect(), export.since_last_run);
            return Err(err.into());
        }
    }
    tracing::info!(
        lines,
        since_last_run = export.since_last_run,
        "export finished"
    );
    Ok(())
}

/// One pool's lines: every user, or what changed since its state's snapshot.
fn write_pool(
    out: &mut dyn Write,
    part: &PoolPart,
    with_groups: bool,
    several: bool,
) -> Result<usize, RunError> {
    let before = match &part.since {
        Some((_, Some(previous))) => Some((previous.open()?, previous.sync_id.as_str())),
        _ => None,
    };
    let after = C1zReader::open(part.taken.file())?;
    let mut lines = Lines::new(out, &after, with_groups);
    if several {
        lines = lines.naming_pool(&part.meta.pool_id);
    }
    Ok(match &before {
        Some((before, base)) => lines.changed(&part.meta.pool_id, base, before),
        None => lines.all(),
    }?)
}

/// Throws away the snapshots of a failed export (with `--since-last-run` they lie beside the
/// states; without, the scratch directory goes anyway).
fn discard(parts: Vec<PoolPart>, since_last_run: bool) {
    if since_last_run {
        parts.into_iter().for_each(|part| part.taken.discard());
    }
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
