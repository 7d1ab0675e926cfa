//! `linux.maskedPaths` and `linux.readonlyPaths`, after pivot_root. Both
//! work on descriptors with the new mount API, so they do not need /proc in
//! the new root.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use crate::{options, resolve, sys, RootfsError};

/// Masks every path of `paths` once (a path listed twice is one mount, as
/// with runc): /dev/null bound over files; over directories an empty
/// read-only tmpfs, one for all of them (the first is mounted, the others
/// are binds of it: one superblock, as runc's).
pub(crate) fn mask_all(root: BorrowedFd, paths: &[String]) -> Result<(), RootfsError> {
    if paths.is_empty() {
        return Ok(());
    }
    let null = open_null(root);
    let mut shared_tmpfs: Option<OwnedFd> = None;
    for (i, p) in paths.iter().enumerate() {
        // Paths compare by component: "/a/" and "/a//" are "/a".
        let path = Path::new(p);
        if paths[..i].iter().any(|q| Path::new(q) == path) {
            continue;
        }
        mask(root, path, null.as_ref(), &mut shared_tmpfs)?;
    }
    Ok(())
}

fn mask(
    root: BorrowedFd,
    path: &Path,
    null: Option<&OwnedFd>,
    shared_tmpfs: &mut Option<OwnedFd>,
) -> Result<(), RootfsError> {
    let err = |source: io::Error| RootfsError::Mask {
        path: path.to_owned(),
        source,
    };
    let fd = match resolve::open(root, path, false, false) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        Err(e) => return Err(err(e)),
    };
    let st = sys::fstat(fd.as_fd()).map_err(err)?;
    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        return match shared_tmpfs {
            Some(tmpfs) => sys::bind_fds(tmpfs.as_fd(), fd.as_fd(), false).map_err(err),
            None => {
                *shared_tmpfs = Some(sys::empty_readonly_tmpfs(fd.as_fd()).map_err(err)?);
                Ok(())
            }
        };
    }
    let null = null.ok_or_else(|| err(io::Error::from_raw_os_error(libc::ENODEV)))?;
    sys::bind_fds(null.as_fd(), fd.as_fd(), false).map_err(err)
}

/// Makes one path read-only: bind it onto itself, then set the read-only attribute on the
/// new mount (mount_setattr keeps its nosuid/nodev/noexec/atime flags).
pub(crate) fn make_readonly(root: BorrowedFd, path: &Path) -> Result<(), RootfsError> {
    let err = |source: io::Error| RootfsError::Readonly {
        path: path.to_owned(),
        source,
    };
    let fd = match resolve::open(root, path, false, false) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        Err(e) => return Err(err(e)),
    };
    sys::bind_fds(fd.as_fd(), fd.as_fd(), true).map_err(err)?;
    let top = resolve::open(root, path, false, false).map_err(err)?;
    sys::mount_setattr(top.as_fd(), options::MOUNT_ATTR_RDONLY).map_err(err)
}

/// The container's /dev/null, checked to be the null device, as the source of masks.
fn open_null(root: BorrowedFd) -> Option<OwnedFd> {
    let fd = resolve::open(root, Path::new("/dev/null"), false, true).ok()?;
    let st = sys::fstat(fd.as_fd()).ok()?;
    (st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == libc::makedev(1, 3)).then_some(fd)
}
