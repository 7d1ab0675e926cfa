//! `run`: create and start; in the foreground, forward signals to the
//! container, wait for it, delete it, and exit with its status.

use crate::create::{self, CreateOptions};
use crate::error::{Error, Result};
use crate::state_store::Store;
use crate::status::Status;

pub struct RunOptions {
    pub create: CreateOptions,
    pub detach: bool,
    pub keep: bool,
}

/// Signals forwarded to the container, plus SIGCHLD for its exit.
const FORWARDED: &[i32] = &[
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
    libc::SIGCONT,
    libc::SIGTSTP,
];

pub(crate) fn blocked_set() -> libc::sigset_t {
    // SAFETY: building a signal set in a local variable.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        for &s in FORWARDED {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// Returns the exit status hull should exit with.
pub fn run(store: &Store, opts: &RunOptions) -> Result<i32> {
    let set = blocked_set();
    if !opts.detach {
        // Block before the container exists so no signal is lost; the init
        // unblocks everything before exec.
        // SAFETY: changing our own signal mask.
        unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    }
    let mut create_opts = opts.create.clone();
    create_opts.relay_tty = !opts.detach && create_opts.console_socket.is_none();
    create_opts.start_now = true;
    let created = create::create(store, &create_opts)?;
    let tty_receiver = created.tty_receiver;
    let mut rec = created.record;
    let locked = created.locked;
    let started = match &created.channel {
        Some(chan) => crate::start::start_over_channel(chan, &locked, &mut rec),
        None => crate::start::start_locked(&locked, &mut rec),
    };
    drop(created.channel);
    if let Err(e) = started {
        let _ = crate::delete::destroy(locked, &rec, Status::Created);
        return Err(e);
    }
    if opts.detach {
        return Ok(0);
    }
    // Let `state`, `kill` and friends in while the container runs.
    drop(locked);
    let code = match tty_receiver {
        Some(rx) => {
            let master = crate::tty_relay::receive_master(&rx)?;
            crate::tty_relay::relay_and_wait(rec.pid, master, &set)?
        }
        None => wait_forwarding(rec.pid, &set)?,
    };
    if !opts.keep {
        crate::delete::delete(store, &rec.id, true)?;
    }
    Ok(code)
}

pub(crate) fn wait_forwarding(pid: i32, set: &libc::sigset_t) -> Result<i32> {
    loop {
        // SAFETY: siginfo_t is plain data; sigwaitinfo fills it.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waiting on a valid signal set.
        let sig = unsafe { libc::sigwaitinfo(set, &mut info) };
        if sig < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(Error::sys("sigwaitinfo", e));
        }
        if sig != libc::SIGCHLD {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(pid, sig) };
            continue;
        }
        let mut status = 0;
        // SAFETY: reaping our own child without blocking.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            if libc::WIFEXITED(status) {
                return Ok(libc::WEXITSTATUS(status));
            }
            if libc::WIFSIGNALED(status) {
                return Ok(128 + libc::WTERMSIG(status));
            }
        }
    }
}
