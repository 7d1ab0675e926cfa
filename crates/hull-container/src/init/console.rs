//! The container's terminal: a pty from the container's own devpts, the
//! master sent to `--console-socket` with SCM_RIGHTS (as runc does), the
//! slave bound on /dev/console and made the controlling terminal on 0, 1, 2.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use crate::error::{Error, Result};

/// Opens a new pty pair in the container; returns (master, slave path).
fn open_pty() -> Result<(OwnedFd, std::path::PathBuf)> {
    // SAFETY: posix_openpt returns a new fd or -1.
    let master = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    if master < 0 {
        return Err(Error::sys(
            "open /dev/ptmx",
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: the fd was just created and is ours.
    let master = unsafe { OwnedFd::from_raw_fd(master) };
    // SAFETY: unlockpt on the master we own.
    if unsafe { libc::unlockpt(master.as_raw_fd()) } != 0 {
        return Err(Error::sys("unlockpt", std::io::Error::last_os_error()));
    }
    let mut buf = [0u8; 128];
    // SAFETY: ptsname_r writes at most buf.len() bytes.
    if unsafe { libc::ptsname_r(master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) } != 0 {
        return Err(Error::sys("ptsname", std::io::Error::last_os_error()));
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..len]).into_owned();
    Ok((master, name.into()))
}

/// Sets up the terminal and sends the master over `socket`.
pub fn setup(socket: &OwnedFd, size: Option<(u16, u16)>) -> Result<()> {
    let (master, slave_path) = open_pty()?;
    if let Some((h, w)) = size {
        let ws = libc::winsize {
            ws_row: h,
            ws_col: w,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads the winsize we pass.
        unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    }
    hull_rootfs::mount_console(&slave_path)?;
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags_noctty()
        .open(&slave_path)
        .map_err(|e| Error::io(&slave_path, e))?;
    hull_sys::send_fd(
        socket.as_fd(),
        slave_path.as_os_str().as_encoded_bytes(),
        master.as_raw_fd(),
    )
    .map_err(|e| Error::sys("send pty master to console socket", e))?;
    drop(master);
    // SAFETY: setsid and the ioctl act on ourselves and a tty fd we own;
    // dup2 onto 0..2 replaces our stdio with the slave.
    unsafe {
        libc::setsid();
        if libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) != 0 {
            return Err(Error::sys(
                "make the pty the controlling terminal",
                std::io::Error::last_os_error(),
            ));
        }
        for fd in 0..3 {
            if libc::dup2(slave.as_raw_fd(), fd) < 0 {
                return Err(Error::sys("dup2 pty", std::io::Error::last_os_error()));
            }
        }
    }
    Ok(())
}

trait NoCtty {
    fn custom_flags_noctty(&mut self) -> &mut Self;
}

impl NoCtty for std::fs::OpenOptions {
    fn custom_flags_noctty(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
    }
}
