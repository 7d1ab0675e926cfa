//! hull-seccomp: compiles OCI `linux.seccomp` profiles to classic BPF and installs them.
//!
//! See `docs/seccomp.md` for the semantics and why this is not libseccomp.

mod action;
mod arch;
mod bpf;
mod compile;
mod containers;
mod default_profile;
mod install;
mod syscall_table;

pub use arch::native as native_arch;
pub use bpf::BPF_MAXINSNS;
pub use compile::{compile, Compiled, Program};
pub use containers::{from_containers_profile, ContainersProfileError};
pub use default_profile::default_profile;
pub use install::install;

/// Errors of compiling and installing a filter.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("seccomp: SCMP_ACT_NOTIFY cannot be the defaultAction")]
    NotifyDefault,
    #[error("seccomp: {what}: errnoRet {value} is out of range")]
    ErrnoRet { what: String, value: u32 },
    #[error("seccomp: {what}: errnoRet is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not {action}")]
    ErrnoRetWithoutErrno { what: String, action: String },
    #[error("seccomp: {what}: argument index {index} is out of range (0..=5)")]
    ArgIndex { what: String, index: usize },
    #[error("seccomp: {what}: {count} argument conditions, at most 6")]
    TooManyArgs { what: String, count: usize },
    #[error("seccomp: unknown filter flag {0}")]
    UnknownFlag(String),
    #[error("seccomp: program has {len} instructions, the kernel accepts at most 4096")]
    TooLarge { len: usize },
    #[error("seccomp: internal compiler error: {0}")]
    Internal(String),
    #[error("seccomp: seccomp(SECCOMP_SET_MODE_FILTER, {flags:#x}): {source}")]
    Install {
        flags: libc::c_ulong,
        source: std::io::Error,
    },
    #[error("seccomp: TSYNC failed: thread {tid} cannot be synchronised")]
    Tsync { tid: libc::c_long },
}

#[cfg(test)]
mod tests;
