//! Device nodes (`linux.devices` and the default devices) and the /dev symlinks.
//! Every node and link is made relative to a parent directory descriptor resolved inside
//! the root, so a symlink in the image can not redirect the write onto the host.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};

use crate::resolve;
use crate::sys::{self, FdPath};
use crate::RootfsError;

/// A device to create.
pub(crate) struct Node<'a> {
    pub path: &'a Path,
    pub kind: libc::mode_t,
    pub major: u64,
    pub minor: u64,
    pub mode: libc::mode_t,
    pub uid: u32,
    pub gid: u32,
}

/// The devices config-linux.md "Default Devices" requires: (path, major, minor).
pub(crate) const DEFAULT_DEVICES: [(&str, u64, u64); 6] = [
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

/// The /dev symlinks of "Default filesystems": (link, target).
const DEV_SYMLINKS: [(&str, &CStr); 4] = [
    ("/dev/fd", c"/proc/self/fd"),
    ("/dev/stdin", c"/proc/self/fd/0"),
    ("/dev/stdout", c"/proc/self/fd/1"),
    ("/dev/stderr", c"/proc/self/fd/2"),
];

impl<'a> Node<'a> {
    pub(crate) fn from_spec(d: &'a LinuxDevice) -> Result<Self, RootfsError> {
        let invalid = |reason| RootfsError::InvalidDevice {
            path: d.path().clone(),
            reason,
        };
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => libc::S_IFCHR,
            LinuxDeviceType::B => libc::S_IFBLK,
            LinuxDeviceType::P => libc::S_IFIFO,
            LinuxDeviceType::A => return Err(invalid("type \"a\" is not a device type")),
        };
        if !d.path().is_absolute() {
            return Err(invalid("path is not absolute"));
        }
        let (major, minor) = (
            u64::try_from(d.major()).map_err(|_| invalid("negative major"))?,
            u64::try_from(d.minor()).map_err(|_| invalid("negative minor"))?,
        );
        Ok(Node {
            path: d.path(),
            kind,
            major,
            minor,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        })
    }
}

/// Creates one device node (or, in a user namespace, binds the host's node onto a file).
pub(crate) fn create(root: BorrowedFd, node: &Node, bind_host: bool) -> Result<(), RootfsError> {
    let err = |source: io::Error| RootfsError::Device {
        path: node.path.to_owned(),
        source,
    };
    let (dir, name) = resolve::parent_and_name(root, node.path).map_err(err)?;
    // Whatever the image has there (file, symlink, old node) is replaced; a directory is an error.
    match sys::unlinkat(dir.as_fd(), &name) {
        Err(e) if e.raw_os_error() != Some(libc::ENOENT) => return Err(err(e)),
        _ => {}
    }
    if bind_host {
        sys::mknodat(dir.as_fd(), &name, libc::S_IFREG | 0o644, 0).map_err(err)?;
        let c = sys::cstr(node.path).map_err(err)?;
        let fd = sys::openat2(
            dir.as_fd(),
            &name,
            libc::O_PATH | libc::O_NOFOLLOW,
            sys::RESOLVE_NO_SYMLINKS,
        )
        .map_err(err)?;
        let target = FdPath::new(fd.as_fd());
        return sys::mount(Some(&c), target.as_cstr(), None, libc::MS_BIND, None).map_err(err);
    }
    let dev = libc::makedev(node.major as u32, node.minor as u32);
    sys::mknodat(dir.as_fd(), &name, node.kind | node.mode, dev).map_err(err)?;
    // mknod applied the umask: set the exact mode, then the owner.
    sys::fchmodat(dir.as_fd(), &name, node.mode).map_err(err)?;
    sys::lchownat(dir.as_fd(), &name, node.uid, node.gid).map_err(err)
}

/// Creates a symlink; an existing entry is kept unless `replace`.
pub(crate) fn symlink(
    root: BorrowedFd,
    link: &Path,
    target: &CStr,
    replace: bool,
) -> Result<(), RootfsError> {
    let err = |source: io::Error| RootfsError::Symlink {
        path: link.to_owned(),
        source,
    };
    let (dir, name) = resolve::parent_and_name(root, link).map_err(err)?;
    if replace {
        match sys::unlinkat(dir.as_fd(), &name) {
            Err(e) if e.raw_os_error() != Some(libc::ENOENT) => return Err(err(e)),
            _ => {}
        }
    }
    match sys::symlinkat(target, dir.as_fd(), &name) {
        Err(e) if e.raw_os_error() != Some(libc::EEXIST) => Err(err(e)),
        _ => Ok(()),
    }
}

/// The /dev symlinks: fd, stdin/out/err, core (when the host has /proc/kcore), ptmx.
pub(crate) fn dev_symlinks(root: BorrowedFd) -> Result<(), RootfsError> {
    for (link, target) in DEV_SYMLINKS {
        symlink(root, Path::new(link), target, false)?;
    }
    if Path::new("/proc/kcore").exists() {
        symlink(root, Path::new("/dev/core"), c"/proc/kcore", false)?;
    }
    // /dev/ptmx must lead to the container's devpts instance.
    symlink(root, Path::new("/dev/ptmx"), c"pts/ptmx", true)
}
