//! The error type of the container lifecycle. Messages follow runc's wording
//! where clients match on it (containerd treats "does not exist",
//! "container not running" and "no such process" as not-found).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("container does not exist")]
    NotExist { id: String },
    #[error("container with given ID already exists")]
    Exists { id: String },
    #[error("invalid container ID format: {id:?}: {why}")]
    InvalidId { id: String, why: &'static str },
    #[error("cannot {op} container {id}: container is {status}")]
    WrongState {
        op: &'static str,
        id: String,
        status: &'static str,
    },
    #[error("container not running")]
    NotRunning { id: String },
    #[error("{path}: {}", errno_text(source))]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what}: {}", errno_text(source))]
    Sys {
        what: String,
        source: std::io::Error,
    },
    #[error("config.json: {0}")]
    Config(String),
    #[error("cgroups: {0}")]
    Cgroup(#[from] hull_cgroups::CgroupError),
    #[error("rootfs: {0}")]
    Rootfs(#[from] hull_rootfs::RootfsError),
    #[error("seccomp: {0}")]
    Seccomp(#[from] hull_seccomp::SeccompError),
    #[error("{hook} hook {path}: {why}")]
    Hook {
        hook: &'static str,
        path: PathBuf,
        why: String,
    },
    #[error("container init: {0}")]
    Init(String),
    #[error("{0}")]
    Other(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// An OS error as runc words it ("no such file or directory"): clients and
/// people grep for these, and Rust's "(os error 2)" suffix helps neither.
pub fn errno_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = match text.rfind(" (os error ") {
        Some(i) => &text[..i],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub fn sys(what: impl Into<String>, source: impl Into<std::io::Error>) -> Self {
        Error::Sys {
            what: what.into(),
            source: source.into(),
        }
    }
}

/// Turns a nix errno into `Error::Sys` with a description of the call.
pub trait SysContext<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> SysContext<T> for std::result::Result<T, nix::Error> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::sys(what(), std::io::Error::from(e)))
    }
}

impl<T> SysContext<T> for std::io::Result<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::sys(what(), e))
    }
}
