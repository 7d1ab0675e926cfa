//! The error type of this crate: every variant names the path, option or value involved.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    /// The caller's step before the cgroup mounts ([`crate::prepare_with`]).
    #[error(transparent)]
    BeforeCgroups(Box<dyn std::error::Error + Send + Sync>),
    #[error("mount {fstype} onto {dest}: {source}")]
    Mount {
        fstype: String,
        dest: PathBuf,
        source: io::Error,
    },
    #[error("mount bind onto {dest}: {reason}: {source}")]
    LockedFlags {
        dest: PathBuf,
        reason: &'static str,
        source: io::Error,
    },
    #[error("set propagation of {dest}: {source}")]
    Propagation { dest: PathBuf, source: io::Error },
    #[error("set recursive mount attributes of {dest}: {source}")]
    Attributes { dest: PathBuf, source: io::Error },
    #[error("tmpcopyup: copy {dest} into its tmpfs: {source}")]
    CopyUp { dest: PathBuf, source: io::Error },
    #[error("resolve {path} inside the rootfs: {source}")]
    Resolve { path: PathBuf, source: io::Error },
    #[error("mount source {path}: {source}")]
    Source { path: PathBuf, source: io::Error },
    #[error("id-mapped mount of {source_path} onto {dest}: {source}")]
    IdMap {
        source_path: PathBuf,
        dest: PathBuf,
        source: io::Error,
    },
    #[error("mount {dest}: {reason}")]
    InvalidMount { dest: PathBuf, reason: &'static str },
    #[error("mount {dest}: filesystem {fstype:?} must be mounted on ordinary directory")]
    NotADirectory { fstype: String, dest: PathBuf },
    #[error("unknown rootfsPropagation {0:?}")]
    UnknownRootfsPropagation(String),
    #[error("refusing to mount onto {dest}: {reason}")]
    UnsafeDestination { dest: PathBuf, reason: &'static str },
    #[error("create device {path}: {source}")]
    Device { path: PathBuf, source: io::Error },
    #[error("invalid device {path}: {reason}")]
    InvalidDevice { path: PathBuf, reason: &'static str },
    #[error("create symlink {path}: {source}")]
    Symlink { path: PathBuf, source: io::Error },
    #[error("mask {path}: {source}")]
    Mask { path: PathBuf, source: io::Error },
    #[error("make {path} read-only: {source}")]
    Readonly { path: PathBuf, source: io::Error },
    #[error("{step}: {source}")]
    Pivot {
        step: &'static str,
        source: io::Error,
    },
    #[error("read {path}: {source}")]
    Read {
        path: &'static str,
        source: io::Error,
    },
    #[error("find the mount of {path}: {source}")]
    MountId { path: PathBuf, source: io::Error },
    #[error("unmount the container's rootfs {path} from the host: {source}")]
    Unmount { path: PathBuf, source: io::Error },
    #[error("bind console {path} onto /dev/console: {source}")]
    Console { path: PathBuf, source: io::Error },
}
