//! File descriptor housekeeping: hull's own fds live above the ones the
//! container keeps (stdio and `--preserve-fds`), so they never collide.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::error::{Error, Result};

/// Re-numbers `fd` to the lowest free number >= `min` (close-on-exec).
pub fn move_above(fd: OwnedFd, min: i32) -> Result<OwnedFd> {
    if fd.as_raw_fd() >= min {
        return Ok(fd);
    }
    // SAFETY: F_DUPFD_CLOEXEC on an fd we own returns a new fd or -1.
    let new = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, min) };
    if new < 0 {
        return Err(Error::sys(
            "fcntl(F_DUPFD_CLOEXEC)",
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: `new` was just created by fcntl and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// Marks every fd from `first` up close-on-exec, so the user program gets
/// only stdio and the preserved fds (CVE-2024-21626: no host fd leaks in).
pub fn cloexec_from(first: u32) -> Result<()> {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only changes fd flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r == 0 {
        return Ok(());
    }
    // A seccomp profile older than close_range (runtime-tools' is) turns it
    // into EPERM or ENOSYS: mark the fds one by one instead.
    let dir = std::fs::read_dir("/proc/self/fd")
        .map_err(|e| Error::sys("close_range and /proc/self/fd", e))?;
    let fds: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd >= first as i32)
        .collect();
    for fd in fds {
        // SAFETY: setting FD_CLOEXEC on a possibly-closed fd fails harmlessly.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(())
}

/// Clears close-on-exec on fds 3..3+n so `--preserve-fds` reach the program.
pub fn keep_preserved(n: u32) -> Result<()> {
    for fd in 3..3 + n as i32 {
        // SAFETY: F_SETFD on a possibly-closed fd just fails with EBADF.
        unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    }
    Ok(())
}
