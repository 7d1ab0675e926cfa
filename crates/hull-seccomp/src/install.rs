//! Loading a compiled filter into the kernel.

use std::os::fd::{FromRawFd, OwnedFd};

use crate::{Compiled, SeccompError};

/// Installs `c` on the calling thread (all threads with TSYNC) by
/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, prog)`.
///
/// Does not set no_new_privs: without it the caller needs CAP_SYS_ADMIN.
/// Returns the user-notification listener when the filter has SCMP_ACT_NOTIFY.
/// Allocates nothing on success, so it may run in a forked child.
pub fn install(c: &Compiled) -> Result<Option<OwnedFd>, SeccompError> {
    let insns = c.program.instructions();
    let prog = libc::sock_fprog {
        // compile() keeps programs within BPF_MAXINSNS (4096), which fits in u16.
        len: insns.len() as libc::c_ushort,
        filter: insns.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points to `len` valid instructions that outlive the call;
    // the kernel copies the program and does not write through the pointer.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            c.flags,
            &prog as *const libc::sock_fprog,
        )
    };
    if rc < 0 {
        return Err(SeccompError::Install {
            flags: c.flags,
            source: std::io::Error::last_os_error(),
        });
    }
    if c.notify {
        // SAFETY: with NEW_LISTENER the kernel returns a new fd that nobody else owns.
        return Ok(Some(unsafe { OwnedFd::from_raw_fd(rc as libc::c_int) }));
    }
    if rc > 0 {
        return Err(SeccompError::Tsync { tid: rc });
    }
    Ok(None)
}
