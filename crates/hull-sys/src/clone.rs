//! `clone3` used fork-style: the child continues on a copy of the caller's
//! stack, like `fork`, but can be created in new namespaces (including the
//! time namespace, which `clone` cannot express) and, on cgroup v2, directly
//! inside its cgroup (`CLONE_INTO_CGROUP`), so it never runs outside it.

use std::io;
use std::os::fd::RawFd;

/// Arguments of `clone3` that hull uses.
#[derive(Debug, Default, Clone, Copy)]
pub struct CloneArgs {
    /// `CLONE_NEW*` flags and the like.
    pub flags: u64,
    /// A cgroup v2 directory fd; adds `CLONE_INTO_CGROUP` when set.
    pub cgroup_fd: Option<RawFd>,
}

/// The kernel's `struct clone_args` (version 2, 88 bytes).
#[repr(C)]
#[derive(Default)]
struct RawCloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Clones the calling process fork-style. Returns 0 in the child and the
/// child's PID in the parent.
///
/// # Safety
/// The caller must be single-threaded: as with `fork`, only the calling
/// thread exists in the child, so locks held by other threads would never be
/// released there.
pub unsafe fn clone3_fork(args: CloneArgs) -> io::Result<libc::pid_t> {
    let mut raw = RawCloneArgs {
        flags: args.flags,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    if let Some(fd) = args.cgroup_fd {
        raw.flags |= CLONE_INTO_CGROUP;
        raw.cgroup = fd as u64;
    }
    // SAFETY: `raw` is a valid, fully initialised clone_args of the size we
    // pass; stack 0 makes the child share a copy of our stack like fork().
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &raw as *const RawCloneArgs,
            std::mem::size_of::<RawCloneArgs>(),
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ret as libc::pid_t)
}
