//! `kill`: signal the init (or, with `--all`, every process of the cgroup).
//! The signal goes through a pidfd opened after checking the start time, so
//! a reused PID is never signalled.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::error::{Error, Result};
use crate::state_store::{Record, Store};
use crate::status::{self, Status};

/// Signal names as runc accepts them (with or without SIG), and numbers.
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
        return Err(Error::Other(format!("invalid signal number {n}")));
    }
    let name = s.trim_start_matches("SIG").to_ascii_uppercase();
    let name = name.trim_start_matches("SIG");
    SIGNALS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
        .ok_or_else(|| Error::Other(format!("unknown signal {s:?}")))
}

const SIGNALS: &[(&str, i32)] = &[
    ("ABRT", libc::SIGABRT),
    ("ALRM", libc::SIGALRM),
    ("BUS", libc::SIGBUS),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("FPE", libc::SIGFPE),
    ("HUP", libc::SIGHUP),
    ("ILL", libc::SIGILL),
    ("INT", libc::SIGINT),
    ("IO", libc::SIGIO),
    ("IOT", libc::SIGIOT),
    ("KILL", libc::SIGKILL),
    ("PIPE", libc::SIGPIPE),
    ("POLL", libc::SIGPOLL),
    ("PROF", libc::SIGPROF),
    ("PWR", libc::SIGPWR),
    ("QUIT", libc::SIGQUIT),
    ("SEGV", libc::SIGSEGV),
    ("STKFLT", libc::SIGSTKFLT),
    ("STOP", libc::SIGSTOP),
    ("SYS", libc::SIGSYS),
    ("TERM", libc::SIGTERM),
    ("TRAP", libc::SIGTRAP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("USR1", libc::SIGUSR1),
    ("USR2", libc::SIGUSR2),
    ("VTALRM", libc::SIGVTALRM),
    ("WINCH", libc::SIGWINCH),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
];

pub fn kill(store: &Store, id: &str, signal: i32, all: bool) -> Result<()> {
    let locked = store.open(id)?;
    let rec = locked
        .read()?
        .ok_or_else(|| Error::NotExist { id: id.into() })?;
    if status::status_of(&rec) == Status::Stopped {
        // runc: `kill --all` of a stopped container has nothing to signal
        // and succeeds (containerd's shim calls it on every task delete).
        if all {
            return Ok(());
        }
        return Err(Error::NotRunning { id: id.into() });
    }
    if all {
        if let Some(paths) = &rec.cgroup {
            hull_cgroups::Manager::from_paths(paths.clone()).kill_all(signal)?;
            return Ok(());
        }
    }
    signal_init(&rec, signal)
}

/// A pidfd for the record's init, or None if that process is gone.
pub fn open_init(rec: &Record) -> Option<OwnedFd> {
    // SAFETY: pidfd_open returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, rec.pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: just returned by the kernel, owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    // The pidfd pins the process: if the start time still matches now, the
    // pidfd refers to our init and not to a process that reused its PID.
    (hull_sys::liveness(rec.pid, rec.pid_start_time) == hull_sys::ProcessLiveness::Alive)
        .then_some(fd)
}

pub fn signal_init(rec: &Record, signal: i32) -> Result<()> {
    let fd = open_init(rec).ok_or_else(|| Error::NotRunning { id: rec.id.clone() })?;
    // SAFETY: pidfd_send_signal with a pidfd we own and no siginfo.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ESRCH) {
            return Err(Error::NotRunning { id: rec.id.clone() });
        }
        return Err(Error::sys(format!("signal {signal} to pid {}", rec.pid), e));
    }
    Ok(())
}

/// Waits until the pidfd's process exits, up to `timeout_ms`.
pub fn wait_exit(fd: &OwnedFd, timeout_ms: i32) -> bool {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll on one pollfd we own.
    unsafe { libc::poll(&mut pfd, 1, timeout_ms) > 0 }
}

#[cfg(test)]
mod tests {
    use super::parse_signal;

    #[test]
    fn signals_parse_by_name_with_and_without_sig_and_by_number() {
        assert_eq!(parse_signal("TERM").ok(), Some(libc::SIGTERM));
        assert_eq!(parse_signal("SIGTERM").ok(), Some(libc::SIGTERM));
        assert_eq!(parse_signal("sigkill").ok(), Some(libc::SIGKILL));
        assert_eq!(parse_signal("9").ok(), Some(9));
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("0").is_err());
    }
}
