//! Working files a crash can leave behind, and how the next run tells them from live ones.
//!
//! A sync writes into temporary files (beside its destination, or a temporary directory in
//! service mode) and renames or removes them when it ends. A SIGKILL or power loss skips that.
//! So every working file is held: its owner keeps an advisory lock (`flock`) on it for as long
//! as it lives, and the kernel drops that lock when the process dies however it dies. Before
//! creating its own, a run sweeps the names that could be leftovers: whatever nobody holds is
//! stale and removed; what another live sync holds is left alone.

use std::fs::{self, File, TryLockError};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// An open handle on a working file or directory that keeps it marked as in use.
#[derive(Debug)]
pub struct Held(#[allow(dead_code)] File);

/// Marks `path` (a file or a directory this process just created) as in use. Fails with
/// `NotFound` if a sweep removed it before the lock was taken; the caller creates another.
pub fn hold(path: &Path) -> io::Result<Held> {
    let handle = File::open(path)?;
    handle.try_lock().map_err(|err| match err {
        TryLockError::WouldBlock => io::Error::new(
            io::ErrorKind::ResourceBusy,
            format!("{} is already held by another process", path.display()),
        ),
        TryLockError::Error(err) => err,
    })?;
    // A sweep that ran between creating and locking may have removed the name (and the handle
    // then points at an orphan): only the same file still at the path counts.
    let at_path = fs::symlink_metadata(path)?;
    let held = handle.metadata()?;
    if (at_path.dev(), at_path.ino()) != (held.dev(), held.ino()) {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{} was removed while being created", path.display()),
        ));
    }
    Ok(Held(handle))
}

/// Creates a working file or directory with `create` and holds it, trying again the rare time
/// a concurrent sweep removed it first.
pub fn create_held<T>(
    mut create: impl FnMut() -> io::Result<T>,
    path_of: impl Fn(&T) -> &Path,
) -> io::Result<(T, Held)> {
    let mut attempts = 0;
    loop {
        let created = create()?;
        match hold(path_of(&created)) {
            Ok(held) => return Ok((created, held)),
            Err(err) if err.kind() == io::ErrorKind::NotFound && attempts < 3 => attempts += 1,
            Err(err) => return Err(err),
        }
    }
}

/// Removes the entries of `dir` whose names `is_candidate` accepts and that no live process
/// holds; returns what it removed. Best effort: an entry that cannot be inspected or removed
/// is left, and logged.
pub fn sweep(dir: &Path, is_candidate: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_str().is_some_and(&is_candidate) {
            continue;
        }
        let path = entry.path();
        // A resume record goes with its database; alone, its database already went (a kill
        // between removing the two), and it is stale.
        if let Some(db) = name.to_str().and_then(|n| n.strip_suffix(FINISHING_SUFFIX)) {
            if !path.with_file_name(db).exists() && fs::remove_file(&path).is_ok() {
                removed.push(path);
            }
            continue;
        }
        match remove_if_stale(&path) {
            Ok(true) => {
                tracing::warn!(path = %path.display(), "removed a working file an interrupted run left behind");
                removed.push(path);
            }
            Ok(false) => {
                tracing::debug!(path = %path.display(), "working file in use by another run; left alone");
            }
            Err(err) => {
                tracing::warn!(path = %path.display(), error = %err, "cannot clean up a working file");
            }
        }
    }
    removed
}

fn remove_if_stale(path: &Path) -> io::Result<bool> {
    let handle = File::open(path)?;
    match handle.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Ok(false),
        Err(TryLockError::Error(err)) => return Err(err),
    }
    // Removed while locked, so no owner can be between creating and holding it unnoticed.
    if handle.metadata()?.is_dir() {
        fs::remove_dir_all(path)?;
    } else {
        fs::remove_file(path)?;
        // A working database's companions go with it.
        for suffix in ["-wal", FINISHING_SUFFIX] {
            let mut companion = path.as_os_str().to_os_string();
            companion.push(suffix);
            match fs::remove_file(&companion) {
                Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(err),
                _ => {}
            }
        }
    }
    Ok(true)
}

/// What a working database of a sync being finished has beside it until the finished file is
/// in place: what resuming it needs (`c1z::finishing`).
pub const FINISHING_SUFFIX: &str = "-finishing";

/// Why a path cannot be an output that a finished run renames into place.
#[derive(Debug, thiserror::Error)]
pub enum DestinationError {
    #[error("is a directory")]
    Directory,
    /// A FIFO, a device or a socket: replaced by a regular file it would be destroyed (as root,
    /// `-f /dev/null` would replace `/dev/null`), and written to it would not be an atomic file.
    #[error("is a {0}, not a regular file; name a regular file or a new path")]
    Special(&'static str),
    #[error("is a symbolic link to another link that leads nowhere")]
    DanglingLink,
    #[error("cannot be inspected: {0}")]
    Inspect(io::Error),
}

/// Where a run's output replaces `path`: `path` itself when it is new or a regular file; the file
/// a symbolic link points to when it is one, existing or not yet (the link stays, pointing at the
/// new file, and the working files go beside the target, on its filesystem). Anything but a
/// regular file is refused before any work starts.
pub fn destination(path: &Path) -> Result<PathBuf, DestinationError> {
    let link = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(path.to_path_buf()),
        Err(err) => return Err(DestinationError::Inspect(err)),
    };
    let target = if link.file_type().is_symlink() {
        match fs::canonicalize(path) {
            Ok(target) => target,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                return new_file_behind_link(path);
            }
            Err(err) => return Err(DestinationError::Inspect(err)),
        }
    } else {
        path.to_path_buf()
    };
    let kind = fs::metadata(&target)
        .map_err(DestinationError::Inspect)?
        .file_type();
    use std::os::unix::fs::FileTypeExt;
    match () {
        _ if kind.is_file() => Ok(target),
        _ if kind.is_dir() => Err(DestinationError::Directory),
        _ if kind.is_fifo() => Err(DestinationError::Special("named pipe (FIFO)")),
        _ if kind.is_char_device() => Err(DestinationError::Special("character device")),
        _ if kind.is_block_device() => Err(DestinationError::Special("block device")),
        _ if kind.is_socket() => Err(DestinationError::Special("socket")),
        _ => Err(DestinationError::Special("special file")),
    }
}

/// Where a link to a file not made yet points: the new file goes there. A link to a link that
/// leads nowhere is refused.
fn new_file_behind_link(link: &Path) -> Result<PathBuf, DestinationError> {
    let target = fs::read_link(link).map_err(DestinationError::Inspect)?;
    let target = parent_dir(link).join(target);
    match fs::symlink_metadata(&target) {
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(target),
        Ok(_) => Err(DestinationError::DanglingLink),
        Err(err) => Err(DestinationError::Inspect(err)),
    }
}

/// The directory `path` is in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Whether `name` is a working file of a run writing `file_name`:
/// `.<file_name>.<random>[...].tmp`, as [`create_beside`] names them.
fn is_working_file(file_name: &str, name: &str) -> bool {
    name.strip_prefix('.')
        .and_then(|rest| rest.strip_prefix(file_name))
        .is_some_and(|rest| {
            rest.starts_with('.')
                && (rest.ends_with(".tmp") || rest.ends_with(&format!(".tmp{FINISHING_SUFFIX}")))
        })
}

/// Whether `path` was last modified longer than `age` ago (unknown: no).
pub fn older_than(path: &Path, age: std::time::Duration) -> bool {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|at| at.elapsed().ok())
        .is_some_and(|elapsed| elapsed > age)
}

/// Removes the working files an earlier, killed run writing `dest` left beside it.
pub fn sweep_beside(dest: &Path) -> Vec<PathBuf> {
    let file_name = dest.file_name().unwrap_or_default().to_string_lossy();
    sweep(&parent_dir(dest), |name| is_working_file(&file_name, name))
}

/// A new held working file beside `dest`, `.<dest name>.<random><suffix>` (`suffix` ends in
/// `.tmp`), to be renamed over `dest` once complete or removed.
pub fn create_beside(dest: &Path, suffix: &str) -> io::Result<(NamedTempFile, Held)> {
    let file_name = dest.file_name().unwrap_or_default().to_string_lossy();
    let dir = parent_dir(dest);
    create_held(
        || {
            tempfile::Builder::new()
                .prefix(&format!(".{file_name}."))
                .suffix(suffix)
                .tempfile_in(&dir)
        },
        |file: &NamedTempFile| file.path(),
    )
}

/// Makes renames into `dir` durable. The renamed file is in place and complete by then, so a
/// filesystem that cannot flush directories only gets a warning.
pub fn flush_dir(dir: &Path) {
    if let Err(err) = File::open(dir).and_then(|d| d.sync_all()) {
        tracing::warn!(dir = %dir.display(), error = %err, "could not flush a directory to disk");
    }
}

/// Renames `from` to `to` and makes the rename durable.
pub fn rename_durably(from: &Path, to: &Path) -> io::Result<()> {
    fs::rename(from, to)?;
    flush_dir(&parent_dir(to));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// #17: `-f` naming a FIFO or a device exited 0 and replaced the node with a regular file.
    #[test]
    fn only_new_paths_regular_files_and_links_to_them_are_destinations() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new.c1z");
        assert_eq!(destination(&new).unwrap(), new);
        let regular = dir.path().join("regular.c1z");
        fs::write(&regular, b"x").unwrap();
        assert_eq!(destination(&regular).unwrap(), regular);
        let link = dir.path().join("link.c1z");
        std::os::unix::fs::symlink(&regular, &link).unwrap();
        assert_eq!(
            destination(&link).unwrap(),
            fs::canonicalize(&regular).unwrap()
        );
        let ahead = dir.path().join("ahead.c1z");
        std::os::unix::fs::symlink("syncs-to-come.c1z", &ahead).unwrap();
        let to_come = dir.path().join("syncs-to-come.c1z");
        assert_eq!(destination(&ahead).unwrap(), to_come);
        let chain = dir.path().join("chain.c1z");
        std::os::unix::fs::symlink(&ahead, &chain).unwrap();
        assert!(matches!(
            destination(&chain),
            Err(DestinationError::DanglingLink)
        ));
        assert!(matches!(
            destination(dir.path()),
            Err(DestinationError::Directory)
        ));
        let err = destination(Path::new("/dev/null")).unwrap_err();
        assert!(err.to_string().contains("character device"), "{err}");
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let err = destination(&fifo).unwrap_err();
        assert!(err.to_string().contains("FIFO"), "{err}");
        let to_fifo = dir.path().join("to-fifo");
        std::os::unix::fs::symlink(&fifo, &to_fifo).unwrap();
        assert!(matches!(
            destination(&to_fifo),
            Err(DestinationError::Special(_))
        ));
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_sweep_removes_unheld_candidates_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name);
        fs::write(path(".out.c1z.abc.tmp"), b"left by a crash").unwrap();
        fs::create_dir(path("run-dir-stale")).unwrap();
        fs::write(path("run-dir-stale/inner"), b"x").unwrap();
        fs::write(path(".out.c1z.live.tmp"), b"in use").unwrap();
        let _live = hold(&path(".out.c1z.live.tmp")).unwrap();
        fs::create_dir(path("run-dir-live")).unwrap();
        let _live_dir = hold(&path("run-dir-live")).unwrap();
        fs::write(path("out.c1z"), b"the destination").unwrap();

        let removed = sweep(dir.path(), |name| {
            name.starts_with(".out.c1z.") || name.starts_with("run-dir-")
        });
        assert_eq!(removed.len(), 2, "{removed:?}");
        assert_eq!(
            names(dir.path()),
            [".out.c1z.live.tmp", "out.c1z", "run-dir-live"]
        );
    }

    #[test]
    fn working_files_beside_a_destination_are_named_for_it_and_swept_when_unheld() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.c1z");
        let (live, _held) = create_beside(&dest, ".db.tmp").unwrap();
        let name = live
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            name.starts_with(".out.c1z.") && name.ends_with(".db.tmp"),
            "{name}"
        );
        let (stale, stale_held) = create_beside(&dest, ".tmp").unwrap();
        let stale = stale.into_temp_path().keep().unwrap();
        drop(stale_held);
        fs::write(
            dir.path().join(".other.c1z.x.tmp"),
            b"another destination's",
        )
        .unwrap();
        fs::write(&dest, b"the destination").unwrap();

        assert_eq!(sweep_beside(&dest), [stale]);
        assert!(live.path().exists());
        assert_eq!(names(dir.path()).len(), 3);
        assert_eq!(parent_dir(Path::new("bare.c1z")), Path::new("."));

        // A resume record stays while its database is there (held or not, the database's own
        // sweep decides for both), and goes once it is alone.
        let with_db = dir.path().join(format!("{name}{FINISHING_SUFFIX}"));
        let alone = dir
            .path()
            .join(format!(".out.c1z.gone.db.tmp{FINISHING_SUFFIX}"));
        fs::write(&with_db, b"{}").unwrap();
        fs::write(&alone, b"{}").unwrap();
        assert_eq!(sweep_beside(&dest), [alone]);
        assert!(with_db.exists());
    }

    #[test]
    fn a_held_file_is_released_when_its_holder_goes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("work.tmp");
        fs::write(&file, b"").unwrap();
        let held = hold(&file).unwrap();
        assert_eq!(
            hold(&file).unwrap_err().kind(),
            io::ErrorKind::ResourceBusy,
            "a second holder is refused"
        );
        drop(held);
        assert_eq!(sweep(dir.path(), |_| true), [file]);
    }

    #[test]
    fn holding_a_file_swept_away_meanwhile_fails_as_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("work.tmp");
        assert_eq!(hold(&file).unwrap_err().kind(), io::ErrorKind::NotFound);
        let mut created = 0;
        let (path, _held) = create_held(
            || {
                created += 1;
                let path = dir.path().join(format!("work-{created}.tmp"));
                fs::write(&path, b"")?;
                if created == 1 {
                    // A sweep wins the race for the first one.
                    fs::remove_file(&path)?;
                }
                Ok(path)
            },
            |path| path.as_path(),
        )
        .unwrap();
        assert_eq!(created, 2);
        assert!(path.ends_with("work-2.tmp"));
    }
}
