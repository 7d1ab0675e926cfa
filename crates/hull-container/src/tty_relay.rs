//! The terminal relay of a foreground `run -t` or `exec -t` without
//! `--console-socket`: hull receives the pty master itself and copies
//! between it and its own stdin/stdout, forwarding signals and window size,
//! until the container process exits.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::error::{Error, Result};

/// One end to give the init as its console socket, the other to receive
/// the master on.
pub fn socket_pair(min_fd: i32) -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: socketpair writes two new fds into the array.
    let r = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if r != 0 {
        return Err(Error::sys("socketpair", std::io::Error::last_os_error()));
    }
    // SAFETY: both fds are new and owned by nobody else.
    let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((
        crate::fds::move_above(a, min_fd)?,
        crate::fds::move_above(b, min_fd)?,
    ))
}

pub fn receive_master(sock: &OwnedFd) -> Result<OwnedFd> {
    use std::os::fd::AsFd;
    hull_sys::recv_fd(sock.as_fd())
        .map(|(fd, _)| fd)
        .map_err(|e| Error::sys("receive the pty master", e))
}

/// Puts stdin in raw mode while alive, if it is a terminal.
struct RawMode(Option<libc::termios>);

impl RawMode {
    fn enter() -> Self {
        // SAFETY: termios is plain data; tcgetattr fills it for fd 0.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::isatty(0) != 1 || libc::tcgetattr(0, &mut t) != 0 {
                return RawMode(None);
            }
            let saved = t;
            libc::cfmakeraw(&mut t);
            libc::tcsetattr(0, libc::TCSANOW, &t);
            RawMode(Some(saved))
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = self.0 {
            // SAFETY: restoring the attributes read in `enter`.
            unsafe { libc::tcsetattr(0, libc::TCSANOW, &t) };
        }
    }
}

fn copy_winsize(master: RawFd) {
    // SAFETY: winsize is plain data; the ioctls read/write it.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        if libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) == 0 {
            libc::ioctl(master, libc::TIOCSWINSZ, &ws);
        }
    }
}

fn read_fd(fd: RawFd, buf: &mut [u8]) -> isize {
    // SAFETY: reads into a buffer of the given length.
    unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) }
}

fn write_all(fd: RawFd, mut data: &[u8]) {
    while !data.is_empty() {
        // SAFETY: writes from a live buffer of the given length.
        let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if n <= 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        data = &data[n as usize..];
    }
}

/// Relays until `pid` exits; returns its exit status as a shell reports it.
pub fn relay_and_wait(pid: i32, master: OwnedFd, set: &libc::sigset_t) -> Result<i32> {
    // SAFETY: a signalfd for the signals we already block.
    let sfd = unsafe { libc::signalfd(-1, set, libc::SFD_CLOEXEC) };
    if sfd < 0 {
        return Err(Error::sys("signalfd", std::io::Error::last_os_error()));
    }
    // SAFETY: just created, owned by nobody else.
    let sfd = unsafe { OwnedFd::from_raw_fd(sfd) };
    let _raw = RawMode::enter();
    let m = master.as_raw_fd();
    copy_winsize(m);
    let mut stdin_open = true;
    let mut master_open = true;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let mut fds = [
            libc::pollfd {
                fd: sfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: if master_open { m } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: if stdin_open { 0 } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: poll over an array we own.
        if unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) } < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(Error::sys("poll", std::io::Error::last_os_error()));
        }
        if fds[1].revents != 0 {
            let n = read_fd(m, &mut buf);
            if n > 0 {
                write_all(1, &buf[..n as usize]);
            } else {
                master_open = false;
            }
        }
        if fds[2].revents != 0 {
            let n = read_fd(0, &mut buf);
            if n > 0 {
                write_all(m, &buf[..n as usize]);
            } else {
                stdin_open = false;
            }
        }
        if fds[0].revents != 0 {
            // SAFETY: signalfd_siginfo is plain data of the size we read.
            let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
            let n = read_fd(sfd.as_raw_fd(), unsafe {
                // SAFETY: viewing the struct as bytes for read().
                std::slice::from_raw_parts_mut(
                    (&mut info as *mut libc::signalfd_siginfo).cast::<u8>(),
                    std::mem::size_of::<libc::signalfd_siginfo>(),
                )
            });
            if n <= 0 {
                continue;
            }
            let sig = info.ssi_signo as i32;
            if sig == libc::SIGWINCH {
                copy_winsize(m);
            } else if sig != libc::SIGCHLD {
                // SAFETY: signalling our own child.
                unsafe { libc::kill(pid, sig) };
            }
        }
        let mut status = 0;
        // SAFETY: reaping our own child without blocking.
        if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid {
            // Drain what the program wrote last.
            while master_open {
                master_open = drain_once(m, &mut buf);
            }
            if libc::WIFEXITED(status) {
                return Ok(libc::WEXITSTATUS(status));
            }
            return Ok(128 + libc::WTERMSIG(status));
        }
    }
}

/// Copies what the master holds now to stdout; false when nothing is left.
fn drain_once(m: RawFd, buf: &mut [u8]) -> bool {
    let mut p = libc::pollfd {
        fd: m,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll on one fd we own, without waiting.
    if unsafe { libc::poll(&mut p, 1, 0) } <= 0 {
        return false;
    }
    let n = read_fd(m, buf);
    if n <= 0 {
        return false;
    }
    write_all(1, &buf[..n as usize]);
    true
}
