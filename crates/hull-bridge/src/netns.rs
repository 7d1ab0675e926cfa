//! Entering a network namespace for the duration of a scope.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use nix::sched::{setns, CloneFlags};

#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("network namespace {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("setns into {path}: {errno}")]
    Enter {
        path: PathBuf,
        errno: nix::errno::Errno,
    },
}

impl NetnsError {
    pub fn is_missing(&self) -> bool {
        matches!(self, NetnsError::Open { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

pub fn open(path: &Path) -> Result<File, NetnsError> {
    File::open(path).map_err(|source| NetnsError::Open {
        path: path.to_path_buf(),
        source,
    })
}

/// While alive, the calling thread is in the target network namespace; on
/// drop it returns to the namespace it came from. The plugin is
/// single-threaded, so nothing else observes the switch.
pub struct NetnsGuard {
    origin: File,
}

impl NetnsGuard {
    pub fn enter(target: &File, path: &Path) -> Result<NetnsGuard, NetnsError> {
        let origin = open(Path::new("/proc/thread-self/ns/net"))?;
        setns(target, CloneFlags::CLONE_NEWNET).map_err(|errno| NetnsError::Enter {
            path: path.to_path_buf(),
            errno,
        })?;
        Ok(NetnsGuard { origin })
    }
}

impl Drop for NetnsGuard {
    fn drop(&mut self) {
        if let Err(e) = setns(&self.origin, CloneFlags::CLONE_NEWNET) {
            eprintln!("hull-bridge: cannot return to the original network namespace: {e}");
        }
    }
}
