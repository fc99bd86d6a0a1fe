//! The store directory's `LOCK` file: one process at a time (an advisory `flock`, freed by
//! the kernel when the process dies, even by SIGKILL), and the owner's pid for the error
//! a second process prints. Beside it, `API`: the running gateway's HTTP API address, so
//! the CLI, which cannot open a held store, knows whom to ask instead.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use fs4::{FileExt, TryLockError};

use super::StoreError;

/// Held while the store is open.
#[derive(Debug)]
pub(super) struct LockFile {
    _file: File,
}

impl LockFile {
    /// Locks `dir/LOCK` and writes our pid into it.
    pub(super) fn acquire(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join("LOCK");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| StoreError::new(format!("open {}: {e}", path.display())))?;
        // Qualified: newer std has an inherent `File::try_lock` of another signature.
        let locked = match FileExt::try_lock(&file) {
            Ok(()) => true,
            Err(TryLockError::WouldBlock) => false,
            Err(TryLockError::Error(e)) => {
                return Err(StoreError::new(format!("lock {}: {e}", path.display())));
            }
        };
        if !locked {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let pid = pid.trim();
            let pid = if pid.is_empty() { "unknown" } else { pid };
            return Err(StoreError::new(format!(
                "the store {} is in use by a running gateway (pid {pid}); stop it, or ask it \
                 over its HTTP API (`--api URL` where the command has it, with the admin \
                 token in SMPPGATE_ADMIN_TOKEN)",
                dir.display(),
            )));
        }
        let written = file
            .set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| writeln!(file, "{}", std::process::id()))
            .and_then(|()| file.flush());
        written.map_err(|e| StoreError::new(format!("write {}: {e}", path.display())))?;
        Ok(Self { _file: file })
    }
}

/// Whether a running process holds the store in `dir` (its `LOCK` is locked). Takes the
/// lock for an instant when it is free; creates nothing.
#[must_use]
pub fn in_use(dir: &Path) -> bool {
    let Ok(file) = OpenOptions::new()
        .read(true)
        .write(true)
        .open(dir.join("LOCK"))
    else {
        return false;
    };
    match FileExt::try_lock(&file) {
        Ok(()) => {
            let _ = FileExt::unlock(&file);
            false
        }
        Err(TryLockError::WouldBlock) => true,
        Err(TryLockError::Error(_)) => false,
    }
}

/// The file in a store directory that names its gateway's HTTP API.
const API_FILE: &str = "API";

/// Records in `dir` that the gateway holding it answers its HTTP API at `url`, or (`None`)
/// that it has none (a file left by an earlier run is removed). Best effort: without the
/// file the CLI asks for `--api`. Written beside and renamed into place, so a reader sees
/// the whole address or none (never an empty file between the truncation and the write).
pub fn announce_api(dir: &Path, url: Option<&str>) {
    let path = dir.join(API_FILE);
    let result = match url {
        Some(url) => {
            let partial = dir.join(format!("{API_FILE}.partial"));
            std::fs::write(&partial, format!("{url}\n"))
                .and_then(|()| std::fs::rename(&partial, &path))
        }
        None => match std::fs::remove_file(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        },
    };
    if let Err(error) = result {
        tracing::warn!(path = %path.display(), %error, "the HTTP API's address is not recorded beside the store; the CLI will need --api");
    }
}

/// The HTTP API address the gateway holding `dir` recorded (ask [`in_use`] first: the
/// file of a gateway that was killed stays behind).
#[must_use]
pub fn announced_api(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(API_FILE)).ok()?;
    let url = text.trim();
    (url.starts_with("http://") || url.starts_with("https://")).then(|| url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_address_is_recorded_whole_and_withdrawn() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(announced_api(dir.path()), None);
        announce_api(dir.path(), Some("http://127.0.0.1:8080"));
        assert_eq!(
            announced_api(dir.path()).as_deref(),
            Some("http://127.0.0.1:8080")
        );
        // A second start replaces the address; nothing is left beside it.
        announce_api(dir.path(), Some("http://127.0.0.1:9090"));
        assert_eq!(
            announced_api(dir.path()).as_deref(),
            Some("http://127.0.0.1:9090")
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, [API_FILE]);
        announce_api(dir.path(), None);
        assert_eq!(announced_api(dir.path()), None);
        // Withdrawing what is not there is no error.
        announce_api(dir.path(), None);
    }
}
