//! `--compact-syncs`: several syncs (a full sync and the partial syncs taken after it, say, by
//! `--sync-resources`) folded into one new `.c1z`, as the Baton SDK's compactor does: the first
//! is the base and each later one is laid over it, so that where two hold the same record the
//! later one's stands. The result is a full sync if any of them is, else a partial one, written
//! to `<output dir>/compacted-<sync id>.c1z`. Offline: no call to Cognito.

use std::io::Write;
use std::path::PathBuf;

use crate::c1z::{C1zError, C1zReader, C1zWriter, GrantFilter};
use crate::modes::RunError;
use crate::workfiles;

/// Records written per batch.
const BATCH: usize = 1_000;

/// The syncs to fold, in order (`--compact-file-paths` with `--compact-sync-ids`), and where
/// the result goes (`--compact-output-path`, a directory).
#[derive(Debug)]
pub struct CompactRequest {
    pub output_dir: PathBuf,
    pub syncs: Vec<(PathBuf, String)>,
}

pub fn run(request: &CompactRequest) -> Result<(), RunError> {
    if !request.output_dir.is_dir() {
        return Err(RunError::Usage(format!(
            "--compact-output-path: {} is not an existing directory",
            request.output_dir.display()
        )));
    }
    let readers = request
        .syncs
        .iter()
        .map(|(path, sync_id)| C1zReader::open_sync(path, sync_id))
        .collect::<Result<Vec<_>, _>>()?;
    let full = readers.iter().any(|r| r.sync_run().sync_type == "full");
    // Written under a name of its own first; named after its sync once finished.
    let first = &readers[0].sync_run().sync_id;
    let staging = request.output_dir.join(format!(
        "compacted-{first}.{}.staging.c1z",
        std::process::id()
    ));
    let mut writer = if full {
        C1zWriter::create(&staging)?
    } else {
        C1zWriter::create_partial(&staging)?
    };
    for reader in &readers {
        lay_over(&mut writer, reader)?;
    }
    let written = writer.finish()?;
    let dest = request
        .output_dir
        .join(format!("compacted-{}.c1z", written.sync_id));
    workfiles::rename_durably(&written.path, &dest).map_err(|source| {
        RunError::File(C1zError::Io {
            path: dest.clone(),
            action: "cannot name the compacted file",
            source,
        })
    })?;
    tracing::info!(file = %dest.display(), sync_id = %written.sync_id, syncs = readers.len(), "compacted syncs");
    writeln!(
        std::io::stdout().lock(),
        "Compacted {} syncs into {} (sync {}, {})",
        readers.len(),
        dest.display(),
        written.sync_id,
        if full { "full" } else { "partial" }
    )?;
    Ok(())
}

/// Writes every record of `reader`'s sync over what `writer` holds (one record per id: the
/// later sync's stands).
fn lay_over(writer: &mut C1zWriter, reader: &C1zReader) -> Result<(), C1zError> {
    writer.put_resource_types(&reader.resource_types()?)?;
    let mut batch = Vec::with_capacity(BATCH);
    reader.resources(None, |resource| {
        batch.push(resource);
        flush_when_full(&mut batch, |items| writer.put_resources(items))
    })?;
    writer.put_resources(&batch)?;
    let mut batch = Vec::with_capacity(BATCH);
    reader.entitlements(None, |entitlement| {
        batch.push(entitlement);
        flush_when_full(&mut batch, |items| writer.put_entitlements(items))
    })?;
    writer.put_entitlements(&batch)?;
    let mut batch = Vec::with_capacity(BATCH);
    reader.grants(&GrantFilter::default(), |grant| {
        batch.push(grant);
        flush_when_full(&mut batch, |items| writer.put_grants(items))
    })?;
    writer.put_grants(&batch)
}

/// Writes out `batch` once it holds [`BATCH`] records.
fn flush_when_full<T>(
    batch: &mut Vec<T>,
    put: impl FnOnce(&[T]) -> Result<(), C1zError>,
) -> Result<(), C1zError> {
    if batch.len() >= BATCH {
        put(batch)?;
        batch.clear();
    }
    Ok(())
}
