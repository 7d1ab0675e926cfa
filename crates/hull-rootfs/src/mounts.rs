//! One `mounts` entry: destination checks, bind mounts (with the remount step for flags),
//! filesystem mounts with their fallbacks, and propagation changes.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use oci_spec::runtime::Mount;

use crate::options::MountOptions;
use crate::resolve::{self, Kind};
use crate::sys::{self, FdPath};
use crate::{cgroup, RootfsError};

const PROC_SUPER_MAGIC: i64 = 0x9fa0;

/// Files under /proc that may be mounted over (what lxcfs-style setups need), as runc allows.
const PROC_ALLOWED: &[&str] = &[
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
    "/proc/sys/kernel/random/boot_id",
];

/// State shared by the mounts of one `prepare` call.
pub(crate) struct Ctx<'a> {
    /// `O_PATH` descriptor of the rootfs (after it was bind-mounted onto itself).
    pub root: OwnedFd,
    pub bundle: &'a Path,
    pub in_user_namespace: bool,
    pub in_cgroup_namespace: bool,
    /// /proc/self/mountinfo, read on first need only.
    pub mountinfo: Option<String>,
}

/// Lexically cleans an absolute destination: `.` dropped, `..` clamped at `/`.
pub(crate) fn clean(dest: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in dest.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

pub(crate) fn mount_err(fstype: &str, dest: &Path, source: io::Error) -> RootfsError {
    RootfsError::Mount {
        fstype: fstype.to_owned(),
        dest: dest.to_owned(),
        source,
    }
}

fn cstring(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// Resolves (creating if missing) a destination, refusing symlinks under /proc and /sys and
/// procfs files outside the allowed list.
pub(crate) fn destination(
    root: BorrowedFd,
    dest: &Path,
    kind: Kind,
    fstype: &str,
) -> Result<OwnedFd, RootfsError> {
    let sensitive = dest.starts_with("/proc") || dest.starts_with("/sys");
    let fd = resolve::create(root, dest, kind, sensitive).map_err(|e| {
        if sensitive && e.raw_os_error() == Some(libc::ELOOP) {
            RootfsError::UnsafeDestination {
                dest: dest.to_owned(),
                reason: "a symlink in a /proc or /sys path",
            }
        } else {
            RootfsError::Resolve {
                path: dest.to_owned(),
                source: e,
            }
        }
    })?;
    if dest != Path::new("/proc") || fstype != "proc" {
        let magic = sys::fs_magic(fd.as_fd()).map_err(|e| RootfsError::Resolve {
            path: dest.to_owned(),
            source: e,
        })?;
        if magic == PROC_SUPER_MAGIC && !PROC_ALLOWED.iter().any(|p| Path::new(p) == dest) {
            return Err(RootfsError::UnsafeDestination {
                dest: dest.to_owned(),
                reason: "it is inside procfs",
            });
        }
    }
    Ok(fd)
}

/// Re-resolves a destination after something was mounted on it, to reach the new mount.
pub(crate) fn reopen(root: BorrowedFd, dest: &Path) -> Result<OwnedFd, RootfsError> {
    resolve::open(root, dest, false, false).map_err(|e| RootfsError::Resolve {
        path: dest.to_owned(),
        source: e,
    })
}

/// Remounts the bind mount at `fd` with `flags`. A flag locked by a less privileged mount
/// namespace (EPERM) is kept by adding the flags the mount already has.
pub(crate) fn remount_bind(fd: BorrowedFd, flags: libc::c_ulong) -> io::Result<()> {
    let target = FdPath::new(fd);
    let base = libc::MS_REMOUNT | libc::MS_BIND;
    match sys::mount(None, target.as_cstr(), None, base | flags, None) {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
            let locked = sys::mount_flags(fd)?;
            sys::mount(None, target.as_cstr(), None, base | flags | locked, None)
        }
        r => r,
    }
}

/// Flags that need the remount step of a bind mount (everything except bind/rec/remount).
fn remount_flags(flags: libc::c_ulong) -> libc::c_ulong {
    flags & !(libc::MS_BIND | libc::MS_REC | libc::MS_REMOUNT)
}

/// Bind-mounts host path `src` onto `dest` inside the root, then applies flags.
pub(crate) fn bind(
    root: BorrowedFd,
    src: &Path,
    dest: &Path,
    flags: libc::c_ulong,
    fstype: &str,
) -> Result<OwnedFd, RootfsError> {
    let meta = std::fs::metadata(src).map_err(|e| RootfsError::Source {
        path: src.to_owned(),
        source: e,
    })?;
    let kind = if meta.is_dir() { Kind::Dir } else { Kind::File };
    let dst = destination(root, dest, kind, fstype)?;
    let csrc = sys::cstr(src).map_err(|e| mount_err(fstype, dest, e))?;
    let target = FdPath::new(dst.as_fd());
    sys::mount(
        Some(&csrc),
        target.as_cstr(),
        None,
        libc::MS_BIND | (flags & libc::MS_REC),
        None,
    )
    .map_err(|e| mount_err(fstype, dest, e))?;
    let top = reopen(root, dest)?;
    let extra = remount_flags(flags);
    if extra != 0 {
        remount_bind(top.as_fd(), extra).map_err(|e| mount_err(fstype, dest, e))?;
    }
    Ok(top)
}

/// Applies recursive attributes (mount_setattr) and then propagation changes (one mount(2)
/// each) to the mount at `fd`.
fn finish_entry(fd: BorrowedFd, opts: &MountOptions, dest: &Path) -> Result<(), RootfsError> {
    if opts.has_recursive() {
        sys::mount_setattr_recursive(fd, opts.rec_set, opts.rec_clear).map_err(|e| {
            RootfsError::Attributes {
                dest: dest.to_owned(),
                source: e,
            }
        })?;
    }
    propagate(fd, &opts.propagation, dest)
}

/// Applies propagation changes, one mount(2) each.
fn propagate(fd: BorrowedFd, props: &[libc::c_ulong], dest: &Path) -> Result<(), RootfsError> {
    let target = FdPath::new(fd);
    for &p in props {
        sys::mount(None, target.as_cstr(), None, p, None).map_err(|e| {
            RootfsError::Propagation {
                dest: dest.to_owned(),
                source: e,
            }
        })?;
    }
    Ok(())
}

/// Resolves a bind source: relative paths are relative to the bundle.
fn bind_source(m: &Mount, bundle: &Path, dest: &Path) -> Result<PathBuf, RootfsError> {
    let src = m.source().as_ref().ok_or(RootfsError::InvalidMount {
        dest: dest.to_owned(),
        reason: "bind mount without a source",
    })?;
    Ok(if src.is_absolute() {
        src.clone()
    } else {
        bundle.join(src)
    })
}

/// Makes relative `lowerdir`/`upperdir`/`workdir` paths of overlay data relative to the bundle.
fn overlay_data(data: &str, bundle: &Path) -> String {
    let mut out = String::with_capacity(data.len());
    for (i, opt) in data.split(',').enumerate() {
        if i > 0 {
            out.push(',');
        }
        let Some((key, value)) = opt.split_once('=') else {
            out.push_str(opt);
            continue;
        };
        if !matches!(key, "lowerdir" | "upperdir" | "workdir") {
            out.push_str(opt);
            continue;
        }
        out.push_str(key);
        out.push('=');
        for (j, dir) in value.split(':').enumerate() {
            if j > 0 {
                out.push(':');
            }
            if dir.starts_with('/') || dir.is_empty() {
                out.push_str(dir);
            } else {
                out.push_str(&bundle.join(dir).to_string_lossy());
            }
        }
    }
    out
}

/// Performs one `mounts` entry.
pub(crate) fn mount_entry(ctx: &mut Ctx, m: &Mount) -> Result<(), RootfsError> {
    let dest = clean(m.destination());
    let fstype = m.typ().as_deref().unwrap_or("");
    let opts = MountOptions::parse(m.options().as_deref().unwrap_or(&[])).map_err(|u| {
        RootfsError::UnsupportedOption {
            option: u.0,
            dest: dest.clone(),
        }
    })?;
    let root = ctx.root.as_fd();
    if fstype == "bind" || opts.is_bind() {
        let src = bind_source(m, ctx.bundle, &dest)?;
        let fd = bind(root, &src, &dest, opts.flags | libc::MS_BIND, "bind")?;
        return finish_entry(fd.as_fd(), &opts, &dest);
    }
    match fstype {
        "cgroup" | "cgroup2" => {
            cgroup::mount(ctx, m, &dest, &opts)?;
            let top = reopen(ctx.root.as_fd(), &dest)?;
            return finish_entry(top.as_fd(), &opts, &dest);
        }
        "" => {
            return Err(RootfsError::InvalidMount {
                dest,
                reason: "no type and no bind option",
            })
        }
        _ => {}
    }
    let data = if fstype == "overlay" {
        overlay_data(&opts.data, ctx.bundle)
    } else {
        opts.data.clone()
    };
    let dst = destination(root, &dest, Kind::Dir, fstype)?;
    let source = m
        .source()
        .as_ref()
        .map_or_else(|| fstype.to_owned(), |s| s.to_string_lossy().into_owned());
    let r = mount_fs(&dst, &source, fstype, opts.flags, &data);
    match r {
        Ok(()) => {}
        // Without a network namespace of its own a user namespace may not mount sysfs, and
        // without an IPC namespace not mqueue: bind the host's instead, as runc does.
        Err(e)
            if ctx.in_user_namespace
                && e.raw_os_error() == Some(libc::EPERM)
                && matches!(fstype, "sysfs" | "mqueue") =>
        {
            let host = if fstype == "sysfs" {
                "/sys"
            } else {
                "/dev/mqueue"
            };
            drop(dst);
            let fd = bind(
                root,
                Path::new(host),
                &dest,
                libc::MS_BIND | libc::MS_REC | opts.flags,
                fstype,
            )?;
            return finish_entry(fd.as_fd(), &opts, &dest);
        }
        Err(e) => return Err(mount_err(fstype, &dest, e)),
    }
    let top = reopen(root, &dest)?;
    finish_entry(top.as_fd(), &opts, &dest)
}

/// mount(2) of a filesystem onto a resolved descriptor.
pub(crate) fn mount_fs(
    dst: &OwnedFd,
    source: &str,
    fstype: &str,
    flags: libc::c_ulong,
    data: &str,
) -> io::Result<()> {
    let csrc = cstring(source)?;
    let ctype = cstring(fstype)?;
    let cdata = if data.is_empty() {
        None
    } else {
        Some(cstring(data)?)
    };
    let target = FdPath::new(dst.as_fd());
    sys::mount(
        Some(&csrc),
        target.as_cstr(),
        Some(&ctype),
        flags,
        cdata.as_deref(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_clamps_parent_dirs() {
        assert_eq!(clean(Path::new("/../../etc/./x")), Path::new("/etc/x"));
        assert_eq!(clean(Path::new("proc/../sys")), Path::new("/sys"));
        assert_eq!(clean(Path::new("/")), Path::new("/"));
    }

    #[test]
    fn overlay_relative_dirs() {
        let d = overlay_data(
            "lowerdir=l1:/abs,upperdir=u,workdir=/w,index=off",
            Path::new("/b"),
        );
        assert_eq!(d, "lowerdir=/b/l1:/abs,upperdir=/b/u,workdir=/w,index=off");
    }
}
