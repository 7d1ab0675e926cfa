//! `kill`: signal the init (or, with `--all`, every process of the cgroup).
//! The signal goes through a pidfd opened after checking the start time, so
//! a reused PID is never signalled.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::error::{Error, Result};
use crate::state_store::{Record, Store};
use crate::status::{self, Status};

/// Signals as runc takes them: any number (0 only checks that the
/// process is there; the kernel refuses what is out of range), or a name
/// in any case, with or without SIG.
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return Ok(n);
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
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

/// `kill ID [SIGNAL]`: the container is looked up before the signal is
/// parsed, so an unknown container is reported first, as runc does.
///
/// As runc 1.4: SIGKILL to a container without a PID namespace of its own
/// goes to every process of its cgroup (its init is not the namespace's
/// init, whose death would take the others along), also when the init is
/// already gone; `--all` signals every process for any signal. A stopped
/// container with nothing left to signal is "not running", which `--all`
/// ignores (containerd's shim calls `kill --all` on every task delete).
/// SIGKILL also thaws a paused container, or it would not act.
pub fn kill(store: &Store, id: &str, signal: &str, all: bool) -> Result<()> {
    let locked = store.open(id)?;
    let rec = locked
        .read()?
        .ok_or_else(|| Error::NotExist { id: id.into() })?;
    let signal = parse_signal(signal)?;
    let status = status::status_of(&rec);
    let not_running = || {
        if all {
            Ok(())
        } else {
            Err(Error::NotRunning { id: id.into() })
        }
    };
    let every = all || (signal == libc::SIGKILL && !rec.own_pid_ns);
    if let (true, Some(paths)) = (every, &rec.cgroup) {
        let mgr = hull_cgroups::Manager::from_paths(paths.clone());
        if status == Status::Stopped && mgr.pids().map_or(true, |p| p.is_empty()) {
            return not_running();
        }
        // Signal 0 sends nothing: the container is there, which is all
        // it asks. kill_all thaws a frozen cgroup for SIGKILL itself.
        if signal != 0 {
            mgr.kill_all(signal)?;
        }
        return Ok(());
    }
    if status == Status::Stopped {
        return not_running();
    }
    signal_init(&rec, signal)?;
    if signal == libc::SIGKILL && status == Status::Paused {
        if let Some(paths) = &rec.cgroup {
            hull_cgroups::Manager::from_paths(paths.clone()).thaw()?;
        }
    }
    Ok(())
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
        assert_eq!(parse_signal("0").ok(), Some(0));
        assert_eq!(parse_signal("usr1").ok(), Some(libc::SIGUSR1));
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("SIGSIGTERM").is_err());
    }
}
