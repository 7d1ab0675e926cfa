//! `tmpcopyup`: a tmpfs mounted over a directory starts with a copy of what
//! the directory held (podman `--read-only` asks for it on /tmp, /var/tmp,
//! /run). As runc does: directories, regular files, symlinks and device
//! nodes, each with its owner and mode (timestamps and xattrs are not kept).
//!
//! Everything goes through descriptors: the source is the directory under
//! the new mount, opened before the mount covers it; nothing is looked up
//! by path, so no symlink in the image can lead the copy elsewhere.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use crate::sys;

/// Bound on the depth of the copied tree (a directory loop can not occur
/// within one filesystem, but a bound keeps the recursion safe anyway).
const MAX_DEPTH: usize = 256;

/// Opens `name` in `dir` with `flags` (never following a final symlink).
fn open_at(dir: BorrowedFd, name: &CStr, flags: i32, mode: libc::mode_t) -> io::Result<OwnedFd> {
    // SAFETY: a valid directory fd and NUL-terminated name; returns a new fd or -1.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            mode,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: openat returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Opens the directory `fd` refers to (an `O_PATH` descriptor is fine) for
/// reading its entries.
pub(crate) fn open_for_listing(fd: BorrowedFd) -> io::Result<OwnedFd> {
    open_at(fd, c".", libc::O_RDONLY | libc::O_DIRECTORY, 0)
}

/// Copies the entries of directory `src` into directory `dst`.
pub(crate) fn copy_tree(src: OwnedFd, dst: BorrowedFd) -> io::Result<()> {
    copy_dir(src, dst, 0)
}

fn copy_dir(src: OwnedFd, dst: BorrowedFd, depth: usize) -> io::Result<()> {
    if depth > MAX_DEPTH {
        return Err(io::Error::from_raw_os_error(libc::ELOOP));
    }
    let mut dir = nix::dir::Dir::from_fd(src).map_err(io::Error::from)?;
    let src_fd = dir.as_raw_fd();
    // SAFETY: the fd stays open while `dir` lives, which outlives this borrow's uses.
    let src_dir = unsafe { BorrowedFd::borrow_raw(src_fd) };
    let mut names = Vec::new();
    for entry in dir.iter() {
        let entry = entry.map_err(io::Error::from)?;
        let name = entry.file_name();
        if name != c"." && name != c".." {
            names.push(name.to_owned());
        }
    }
    for name in names {
        copy_entry(src_dir, dst, &name, depth)?;
    }
    Ok(())
}

fn copy_entry(src: BorrowedFd, dst: BorrowedFd, name: &CString, depth: usize) -> io::Result<()> {
    let st = sys::fstatat_nofollow(src, name)?;
    let perm = st.st_mode & 0o7777;
    match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => {
            sys::mkdirat(dst, name, 0o700)?;
            let from = open_at(src, name, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
            let to = open_at(dst, name, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
            copy_dir(from, to.as_fd(), depth + 1)?;
        }
        libc::S_IFREG => {
            let from = open_at(src, name, libc::O_RDONLY, 0)?;
            let to = open_at(
                dst,
                name,
                libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL,
                0o600,
            )?;
            let mut from = std::fs::File::from(from);
            let mut to = std::fs::File::from(to);
            io::copy(&mut from, &mut to)?;
        }
        libc::S_IFLNK => {
            let target = sys::readlinkat(src, name)?;
            let target = CString::new(target.as_os_str().as_bytes())
                .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
            sys::symlinkat(&target, dst, name)?;
        }
        libc::S_IFCHR | libc::S_IFBLK | libc::S_IFIFO => {
            sys::mknodat(dst, name, st.st_mode & libc::S_IFMT | 0o600, st.st_rdev)?;
        }
        // Sockets belong to a process that bound them; runc skips them too.
        _ => return Ok(()),
    }
    sys::lchownat(dst, name, st.st_uid, st.st_gid)?;
    if st.st_mode & libc::S_IFMT != libc::S_IFLNK {
        // After the chown, which clears the set-id bits.
        sys::fchmodat(dst, name, perm)?;
    }
    Ok(())
}
