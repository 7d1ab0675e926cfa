//! Raw syscall wrappers this crate needs that neither `nix` nor `hull-sys` offer.
//!
//! Every wrapper does one syscall and returns `std::io::Error` so callers add context.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `RESOLVE_*` flags of openat2(2).
pub(crate) const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub(crate) const RESOLVE_NO_SYMLINKS: u64 = 0x04;
pub(crate) const RESOLVE_IN_ROOT: u64 = 0x10;

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// Turns a path into a C string; an interior NUL is an invalid-input error.
pub(crate) fn cstr(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// openat2(2) with `O_CLOEXEC` always added.
pub(crate) fn openat2(
    dir: BorrowedFd,
    path: &CStr,
    flags: i32,
    resolve: u64,
) -> io::Result<OwnedFd> {
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve,
    };
    loop {
        // SAFETY: `path` is a valid NUL-terminated string and `how` a properly laid out
        // `struct open_how` that both outlive the call; the kernel only reads them.
        let r = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                path.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if r >= 0 {
            // SAFETY: the syscall returned a new file descriptor that nothing else owns.
            return Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) });
        }
        let e = io::Error::last_os_error();
        // openat2 may return EAGAIN when a concurrent rename races a `..` lookup.
        if e.raw_os_error() != Some(libc::EAGAIN) && e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

fn check(r: libc::c_int) -> io::Result<()> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// mount(2) with optional strings.
pub(crate) fn mount(
    src: Option<&CStr>,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: libc::c_ulong,
    data: Option<&CStr>,
) -> io::Result<()> {
    let p = |s: Option<&CStr>| s.map_or(std::ptr::null(), CStr::as_ptr);
    // SAFETY: every pointer is either null or a valid NUL-terminated string alive for the call.
    check(unsafe {
        libc::mount(
            p(src),
            target.as_ptr(),
            p(fstype),
            flags,
            p(data).cast::<libc::c_void>(),
        )
    })
}

/// The `/proc/self/fd/N` path of a descriptor, formatted without allocation.
pub(crate) struct FdPath {
    buf: [u8; 32],
}

impl FdPath {
    pub(crate) fn new(fd: BorrowedFd) -> Self {
        let mut buf = [0u8; 32];
        let prefix = b"/proc/self/fd/";
        buf[..prefix.len()].copy_from_slice(prefix);
        let mut digits = [0u8; 12];
        let mut n = fd.as_raw_fd() as u32;
        let mut len = 0;
        loop {
            digits[len] = b'0' + (n % 10) as u8;
            len += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for i in 0..len {
            buf[prefix.len() + i] = digits[len - 1 - i];
        }
        FdPath { buf }
    }

    pub(crate) fn as_cstr(&self) -> &CStr {
        // The buffer is zero-filled past the digits, so a NUL always ends it.
        CStr::from_bytes_until_nul(&self.buf).unwrap_or(c"/proc/self/fd/")
    }
}

pub(crate) fn mkdirat(dir: BorrowedFd, name: &CStr, mode: libc::mode_t) -> io::Result<()> {
    // SAFETY: valid fd and NUL-terminated name.
    check(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), mode) })
}

pub(crate) fn mknodat(
    dir: BorrowedFd,
    name: &CStr,
    mode: libc::mode_t,
    dev: libc::dev_t,
) -> io::Result<()> {
    // SAFETY: valid fd and NUL-terminated name.
    check(unsafe { libc::mknodat(dir.as_raw_fd(), name.as_ptr(), mode, dev) })
}

pub(crate) fn unlinkat(dir: BorrowedFd, name: &CStr) -> io::Result<()> {
    // SAFETY: valid fd and NUL-terminated name.
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) })
}

pub(crate) fn symlinkat(target: &CStr, dir: BorrowedFd, name: &CStr) -> io::Result<()> {
    // SAFETY: valid fd and NUL-terminated strings.
    check(unsafe { libc::symlinkat(target.as_ptr(), dir.as_raw_fd(), name.as_ptr()) })
}

/// fchownat(2) without following a final symlink.
pub(crate) fn lchownat(dir: BorrowedFd, name: &CStr, uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: valid fd and NUL-terminated name.
    check(unsafe {
        libc::fchownat(
            dir.as_raw_fd(),
            name.as_ptr(),
            uid,
            gid,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
}

pub(crate) fn fchmodat(dir: BorrowedFd, name: &CStr, mode: libc::mode_t) -> io::Result<()> {
    // SAFETY: valid fd and NUL-terminated name.
    check(unsafe { libc::fchmodat(dir.as_raw_fd(), name.as_ptr(), mode, 0) })
}

/// readlinkat(2); EINVAL means "not a symlink".
pub(crate) fn readlinkat(dir: BorrowedFd, name: &CStr) -> io::Result<std::path::PathBuf> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: the buffer is valid for `buf.len()` bytes; fd and name are valid.
    let n = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    let os: std::ffi::OsString = std::os::unix::ffi::OsStringExt::from_vec(buf);
    Ok(std::path::PathBuf::from(os))
}

/// fstat(2) of a descriptor (O_PATH descriptors work too).
pub(crate) fn fstat(fd: BorrowedFd) -> io::Result<libc::stat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is valid for writes of one `struct stat`.
    check(unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstat succeeded, so it filled the struct.
    Ok(unsafe { st.assume_init() })
}

/// fstatat(2) of `name` in `dir`, not following a final symlink.
pub(crate) fn fstatat_nofollow(dir: BorrowedFd, name: &CStr) -> io::Result<libc::stat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: a valid fd and NUL-terminated name; `st` is valid for writes of one `struct stat`.
    check(unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            st.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })?;
    // SAFETY: fstatat succeeded, so it filled the struct.
    Ok(unsafe { st.assume_init() })
}

/// fstatfs(2) magic number of the filesystem holding `fd`.
pub(crate) fn fs_magic(fd: BorrowedFd) -> io::Result<i64> {
    let mut st = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: `st` is valid for writes of one `struct statfs`.
    check(unsafe { libc::fstatfs(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstatfs succeeded, so it filled the struct.
    let f_type = unsafe { st.assume_init() }.f_type;
    // f_type is i64 with glibc, u64 with musl, narrower elsewhere; the
    // magic numbers all fit.
    #[allow(clippy::useless_conversion)]
    i64::try_from(f_type).map_err(|_| io::Error::from_raw_os_error(libc::EOVERFLOW))
}

/// statvfs's relatime and nosymfollow bits (linux/statfs.h), which the
/// libc crate names for glibc only.
const ST_RELATIME: libc::c_ulong = 0x1000;
const ST_NOSYMFOLLOW: libc::c_ulong = 0x2000;

/// Mount flags (`MS_*`) of the mount holding `fd`, from fstatvfs(3). With
/// none of noatime and relatime the mount is strictatime, which the kernel
/// does not report (it is the absence of the others), as runc reads it.
pub(crate) fn mount_flags(fd: BorrowedFd) -> io::Result<libc::c_ulong> {
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `st` is valid for writes of one `struct statvfs`.
    check(unsafe { libc::fstatvfs(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstatvfs succeeded, so it filled the struct.
    let f = unsafe { st.assume_init() }.f_flag;
    const MAP: [(libc::c_ulong, libc::c_ulong); 10] = [
        (libc::ST_RDONLY, libc::MS_RDONLY),
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_SYNCHRONOUS, libc::MS_SYNCHRONOUS),
        (libc::ST_MANDLOCK, libc::MS_MANDLOCK),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (ST_RELATIME, libc::MS_RELATIME),
        (ST_NOSYMFOLLOW, libc::MS_NOSYMFOLLOW),
    ];
    let flags = MAP
        .iter()
        .filter(|(st, _)| f & st != 0)
        .fold(0, |acc, (_, ms)| acc | ms);
    if flags & (libc::MS_NOATIME | libc::MS_RELATIME) == 0 {
        return Ok(flags | libc::MS_STRICTATIME);
    }
    Ok(flags)
}

pub(crate) fn pivot_root(new_root: &CStr, put_old: &CStr) -> io::Result<()> {
    // SAFETY: both are valid NUL-terminated strings.
    let r = unsafe { libc::syscall(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr()) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// mount_setattr(2) on the mount `fd` refers to, recursively.
pub(crate) fn mount_setattr_recursive(fd: BorrowedFd, set: u64, clear: u64) -> io::Result<()> {
    setattr(fd, set, clear, libc::AT_EMPTY_PATH | libc::AT_RECURSIVE)
}

fn setattr(fd: BorrowedFd, set: u64, clear: u64, flags: libc::c_int) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clear,
        propagation: 0,
        userns_fd: 0,
    };
    mount_setattr_raw(fd, &attr, flags)
}

fn mount_setattr_raw(fd: BorrowedFd, attr: &MountAttr, flags: libc::c_int) -> io::Result<()> {
    // SAFETY: the empty path and `attr` are valid for the call; the kernel only reads them.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

// The new mount API works on descriptors alone, so it needs no /proc in the new root.

const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;
const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;

fn new_fd(r: libc::c_long) -> io::Result<OwnedFd> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        // SAFETY: the syscall returned a new descriptor that nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(r as RawFd) })
    }
}

/// open_tree(2) with OPEN_TREE_CLONE: a detached copy of the mount (tree) at `fd`.
pub(crate) fn clone_tree(fd: BorrowedFd, recursive: bool) -> io::Result<OwnedFd> {
    let mut flags =
        OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: valid descriptor and an empty NUL-terminated path.
    new_fd(unsafe { libc::syscall(libc::SYS_open_tree, fd.as_raw_fd(), c"".as_ptr(), flags) })
}

/// open_tree(2) with OPEN_TREE_CLONE of a path: a detached copy of the
/// mount (tree) there.
pub(crate) fn clone_tree_at(path: &CStr, recursive: bool) -> io::Result<OwnedFd> {
    let mut flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: a NUL-terminated path resolved from the current directory.
    new_fd(unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, path.as_ptr(), flags) })
}

/// mount_setattr(2) of a propagation type (`MS_SLAVE`, ...) on the mount
/// `fd` refers to (and, `recursive`, the mounts under it).
pub(crate) fn set_propagation_of(
    fd: BorrowedFd,
    propagation: libc::c_ulong,
    recursive: bool,
) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: 0,
        attr_clr: 0,
        propagation,
        userns_fd: 0,
    };
    let mut flags = libc::AT_EMPTY_PATH;
    if recursive {
        flags |= libc::AT_RECURSIVE;
    }
    mount_setattr_raw(fd, &attr, flags)
}

/// `MOUNT_ATTR_IDMAP` of mount_setattr(2).
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

/// Id-maps the detached mount `fd` (and, `recursive`, its submounts) with
/// user namespace `userns`.
pub(crate) fn set_idmap(fd: BorrowedFd, userns: BorrowedFd, recursive: bool) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_raw_fd() as u64,
    };
    let mut flags = libc::AT_EMPTY_PATH;
    if recursive {
        flags |= libc::AT_RECURSIVE;
    }
    mount_setattr_raw(fd, &attr, flags)
}

/// move_mount(2) of the detached mount `from` onto the location `to` refers to.
pub(crate) fn attach(from: BorrowedFd, to: BorrowedFd) -> io::Result<()> {
    // SAFETY: valid descriptors and empty NUL-terminated paths.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            c"".as_ptr(),
            to.as_raw_fd(),
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Bind-mounts what `src` refers to onto what `dst` refers to, by descriptors only.
pub(crate) fn bind_fds(src: BorrowedFd, dst: BorrowedFd, recursive: bool) -> io::Result<()> {
    let tree = clone_tree(src, recursive)?;
    attach(tree.as_fd(), dst)
}

/// Mounts a fresh, empty, read-only tmpfs onto what `dst` refers to;
/// returns the descriptor of the new mount (a source for binds of it).
pub(crate) fn empty_readonly_tmpfs(dst: BorrowedFd) -> io::Result<OwnedFd> {
    // SAFETY: a NUL-terminated filesystem name.
    let fs = new_fd(unsafe { libc::syscall(libc::SYS_fsopen, c"tmpfs".as_ptr(), FSOPEN_CLOEXEC) })?;
    // SAFETY: FSCONFIG_CMD_CREATE takes no key or value (null pointers, aux 0).
    let r = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a valid filesystem context descriptor.
    let mnt = new_fd(unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            fs.as_raw_fd(),
            FSMOUNT_CLOEXEC,
            crate::options::MOUNT_ATTR_RDONLY as libc::c_uint,
        )
    })?;
    attach(mnt.as_fd(), dst)?;
    Ok(mnt)
}

/// mount_setattr(2) on the mount `fd` refers to (not its children).
pub(crate) fn mount_setattr(fd: BorrowedFd, set: u64) -> io::Result<()> {
    setattr(fd, set, 0, libc::AT_EMPTY_PATH)
}
