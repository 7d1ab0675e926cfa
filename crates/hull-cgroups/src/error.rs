//! The one error type of this crate; every variant names what it was doing.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("statfs {path}: {source}")]
    Statfs { path: PathBuf, source: nix::Error },
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing {value:?} to {path}: {source}")]
    Write {
        path: PathBuf,
        value: String,
        source: std::io::Error,
    },
    #[error("creating cgroup {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("removing cgroup {path}: {source}")]
    Remove {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("parsing {path}: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("invalid {field} = {value}: {reason}")]
    Invalid {
        field: &'static str,
        value: String,
        reason: String,
    },
    /// `detail` says what was looked at and not found (a hierarchy, a file).
    #[error("{field} is set but the host has no {controller} cgroup controller: {detail}")]
    Unsupported {
        field: &'static str,
        controller: &'static str,
        detail: String,
    },
    #[error("cgroupsPath {0:?}: systemd \"slice:prefix:name\" paths are not supported yet")]
    Systemd(String),
    #[error("invalid cgroupsPath {0:?}: must not contain \"..\"")]
    BadPath(String),
    #[error("no cgroup hierarchy found (v1 controllers or cgroup2) under /sys/fs/cgroup")]
    NoHierarchy,
    #[error("sending signal {sig} to pid {pid}: {source}")]
    Signal {
        pid: i32,
        sig: i32,
        source: nix::Error,
    },
    #[error("{what} {path}: {source}")]
    Bpf {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("timed out waiting for {0}")]
    Timeout(String),
}
