//! The state store: one directory per container under `--root`, holding
//! `state.json` (written atomically) and locked with `flock` while a command
//! works on it, so concurrent commands on one container serialise.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const STATE_FILE: &str = "state.json";
pub const START_SOCKET: &str = "start.sock";

/// What hull keeps about a container between commands.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub id: String,
    pub pid: i32,
    /// Start time of `pid` in clock ticks since boot: tells PID reuse apart.
    pub pid_start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339 creation time, as runc reports it.
    pub created: String,
    pub owner: String,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    /// False while `create` is still setting up: a `create` killed half-way
    /// leaves a record `delete --force` can clean up after (its init is
    /// killed, its cgroup removed).
    #[serde(default = "yes")]
    pub ready: bool,
    /// Set by `start` once the user program was executed.
    #[serde(default)]
    pub started: bool,
    /// Cgroup paths, as `hull-cgroups` needs them to find the cgroup again.
    #[serde(default)]
    pub cgroup: Option<hull_cgroups::CgroupPaths>,
    /// Whether the container has its own PID namespace (kill --all and
    /// delete can then kill init and let the kernel do the rest).
    #[serde(default)]
    pub own_pid_ns: bool,
    #[serde(default)]
    pub use_systemd: bool,
    /// Without a mount namespace of its own the container's mounts are made
    /// in the host's mount namespace, on a bind of the rootfs onto itself:
    /// the mount ID of the rootfs from before `create`, so that `delete`
    /// (and a failed `create`) detach that bind only if it is there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_rootfs_mount_id: Option<u64>,
    /// poststart hooks, run by `start`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub poststart: Vec<oci_spec::runtime::Hook>,
    /// poststop hooks, kept because `delete` may run after the bundle is gone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub poststop: Vec<oci_spec::runtime::Hook>,
}

fn yes() -> bool {
    true
}

/// The `--root` directory.
pub struct Store {
    root: PathBuf,
}

/// A container's directory, locked for as long as this value lives.
pub struct Locked {
    pub dir: PathBuf,
    _lock: File,
}

impl Store {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Store { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn container_dir(&self, id: &str) -> Result<PathBuf> {
        validate_id(id)?;
        Ok(self.root.join(id))
    }

    /// Creates the container's directory; fails if the ID is taken.
    pub fn create(&self, id: &str) -> Result<Locked> {
        let dir = self.container_dir(id)?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(&self.root)
            .map_err(|e| Error::io(&self.root, e))?;
        match std::fs::DirBuilder::new().mode(0o711).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::Exists { id: id.into() })
            }
            Err(e) => return Err(Error::io(&dir, e)),
        }
        lock_dir(dir)
    }

    /// Locks an existing container's directory.
    pub fn open(&self, id: &str) -> Result<Locked> {
        let dir = self.container_dir(id)?;
        match lock_dir(dir) {
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                Err(Error::NotExist { id: id.into() })
            }
            other => other,
        }
    }

    /// IDs of every container in the store, sorted.
    pub fn list(&self) -> Result<Vec<String>> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&self.root, e)),
        };
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        ids.sort();
        Ok(ids)
    }
}

fn lock_dir(dir: PathBuf) -> Result<Locked> {
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(&dir)
        .map_err(|e| Error::io(&dir, e))?;
    // SAFETY: flock on an fd we own; blocks until other commands on this
    // container finish.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(Error::io(&dir, std::io::Error::last_os_error()));
    }
    Ok(Locked { dir, _lock: lock })
}

impl Locked {
    /// The fd holding the lock; a forked child must close its copy, or it
    /// would keep the container locked until it execs.
    pub fn lock_fd(&self) -> std::os::fd::RawFd {
        self._lock.as_raw_fd()
    }

    pub fn read(&self) -> Result<Option<Record>> {
        let path = self.dir.join(STATE_FILE);
        match std::fs::read(&path) {
            Ok(data) => serde_json::from_slice(&data)
                .map(Some)
                .map_err(|e| Error::Other(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    /// Writes `state.json` through a temp file and a rename, so readers see
    /// the old or the new state, never half of one.
    pub fn write(&self, record: &Record) -> Result<()> {
        let tmp = self.dir.join(".state.json.tmp");
        let data = serde_json::to_vec(record).map_err(|e| Error::Other(e.to_string()))?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| Error::io(&tmp, e))?;
        f.write_all(&data).map_err(|e| Error::io(&tmp, e))?;
        let dst = self.dir.join(STATE_FILE);
        std::fs::rename(&tmp, &dst).map_err(|e| Error::io(dst, e))
    }

    pub fn remove(self) -> Result<()> {
        // The usual contents by name, then the directory: a third of the
        // system calls of a recursive removal (which lists and stats).
        for name in [STATE_FILE, START_SOCKET] {
            let _ = std::fs::remove_file(self.dir.join(name));
        }
        match std::fs::remove_dir(&self.dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(_) => {}
        }
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(&self.dir, e)),
        }
    }
}

/// Rejects IDs that could escape the store or confuse tools: runc allows
/// `[\w+-\.]+` and refuses `.` and `..`.
pub fn validate_id(id: &str) -> Result<()> {
    let bad = |why| Err(Error::InvalidId { id: id.into(), why });
    if id.is_empty() {
        return bad("empty");
    }
    if id == "." || id == ".." {
        return bad("reserved name");
    }
    if id.len() > 1024 {
        return bad("too long");
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-' | b'.'))
    {
        return bad("only letters, digits and _ + - . are allowed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate_id;

    #[test]
    fn ids_that_escape_the_store_are_rejected() {
        for id in ["", ".", "..", "../x", "a/b", "a b", "a\0b"] {
            assert!(validate_id(id).is_err(), "{id:?} accepted");
        }
        for id in ["abc", "a.b-c_d+e", "0123456789abcdef"] {
            assert!(validate_id(id).is_ok(), "{id:?} rejected");
        }
    }
}
