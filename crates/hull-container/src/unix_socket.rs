//! Unix stream sockets by path, for `start.sock` and `--console-socket`.
//! `sun_path` holds 107 bytes; containerd's state paths can be longer, so a
//! long path is reached through an O_PATH fd of its directory
//! (`/proc/self/fd/N/name`).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::error::{Error, Result};

fn socket(min_fd: i32) -> Result<OwnedFd> {
    // SAFETY: socket() returns a new fd or -1.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(Error::sys("socket", std::io::Error::last_os_error()));
    }
    // SAFETY: just created, owned by nobody else.
    crate::fds::move_above(unsafe { OwnedFd::from_raw_fd(fd) }, min_fd)
}

/// Calls `f` with a sockaddr for `path`, going through the directory's fd
/// when the path is too long.
fn with_addr<T>(
    path: &Path,
    f: impl FnOnce(&libc::sockaddr_un, libc::socklen_t) -> Result<T>,
) -> Result<T> {
    let short;
    let _dir_guard;
    let bytes = if path.as_os_str().len() < 100 {
        path.as_os_str().as_bytes()
    } else {
        let dir = path
            .parent()
            .ok_or_else(|| Error::Other(format!("{}: no parent directory", path.display())))?;
        let name = path.file_name().unwrap_or_default();
        let d = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags_path()
            .open(dir)
            .map_err(|e| Error::io(dir, e))?;
        short = format!("/proc/self/fd/{}/{}", d.as_raw_fd(), name.to_string_lossy());
        _dir_guard = d;
        short.as_bytes()
    };
    // SAFETY: sockaddr_un is plain data; all-zero is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    if bytes.len() >= addr.sun_path.len() {
        return Err(Error::Other(format!(
            "{}: socket path too long",
            path.display()
        )));
    }
    for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    let len = (std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1) as libc::socklen_t;
    f(&addr, len)
}

trait PathFlag {
    fn custom_flags_path(&mut self) -> &mut Self;
}
impl PathFlag for std::fs::OpenOptions {
    fn custom_flags_path(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
    }
}

pub fn listen(path: &Path, min_fd: i32) -> Result<OwnedFd> {
    let fd = socket(min_fd)?;
    with_addr(path, |addr, len| {
        // SAFETY: bind/listen with a valid sockaddr_un of the given length.
        unsafe {
            if libc::bind(
                fd.as_raw_fd(),
                (addr as *const libc::sockaddr_un).cast(),
                len,
            ) != 0
            {
                return Err(Error::io(path, std::io::Error::last_os_error()));
            }
            if libc::listen(fd.as_raw_fd(), 1) != 0 {
                return Err(Error::io(path, std::io::Error::last_os_error()));
            }
        }
        Ok(())
    })?;
    Ok(fd)
}

pub fn connect(path: &Path, min_fd: i32) -> Result<OwnedFd> {
    let fd = socket(min_fd)?;
    with_addr(path, |addr, len| {
        // SAFETY: connect with a valid sockaddr_un of the given length.
        if unsafe {
            libc::connect(
                fd.as_raw_fd(),
                (addr as *const libc::sockaddr_un).cast(),
                len,
            )
        } != 0
        {
            return Err(Error::io(path, std::io::Error::last_os_error()));
        }
        Ok(())
    })?;
    Ok(fd)
}
