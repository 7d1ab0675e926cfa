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
use crate::{cgroup, copy_up, RootfsError};

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
    /// The rootfs's host path: a destination spelled with it is taken as
    /// inside the rootfs already, as runc does.
    pub rootfs: &'a Path,
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

/// A `mounts[].destination` as a path inside the rootfs: cleaned, and, when
/// it is spelled as a host path under the rootfs (runc's tests do this),
/// with that prefix taken off.
pub(crate) fn container_dest(rootfs: &Path, dest: &Path) -> PathBuf {
    let dest = clean(dest);
    match dest.strip_prefix(rootfs) {
        Ok(rest) if rootfs != Path::new("/") => Path::new("/").join(rest),
        _ => dest,
    }
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
    destination_reporting(root, dest, kind, fstype).map(|(fd, _)| fd)
}

/// [`destination`], also telling whether it was there before (`true`) or
/// was made now.
pub(crate) fn destination_reporting(
    root: BorrowedFd,
    dest: &Path,
    kind: Kind,
    fstype: &str,
) -> Result<(OwnedFd, bool), RootfsError> {
    let sensitive = dest.starts_with("/proc") || dest.starts_with("/sys");
    let (fd, existed) = resolve::create_reporting(root, dest, kind, sensitive).map_err(|e| {
        if sensitive && e.raw_os_error() == Some(libc::ELOOP) {
            not_a_directory(root, dest, fstype).unwrap_or(RootfsError::UnsafeDestination {
                dest: dest.to_owned(),
                reason: "a symlink in a /proc or /sys path",
            })
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
    Ok((fd, existed))
}

/// runc's error for a proc or sysfs mount whose destination exists and is
/// not a directory (a symlink, CVE-2019-19921): `None` when that is not the
/// case. Only called once the mount failed, to say why.
fn not_a_directory(root: BorrowedFd, dest: &Path, fstype: &str) -> Option<RootfsError> {
    if !matches!(fstype, "proc" | "sysfs") {
        return None;
    }
    let fd = resolve::open(root, dest, true, false).ok()?;
    let st = sys::fstat(fd.as_fd()).ok()?;
    (st.st_mode & libc::S_IFMT != libc::S_IFDIR).then(|| RootfsError::NotADirectory {
        fstype: fstype.to_owned(),
        dest: dest.to_owned(),
    })
}

/// Re-resolves a destination after something was mounted on it, to reach the new mount.
pub(crate) fn reopen(root: BorrowedFd, dest: &Path) -> Result<OwnedFd, RootfsError> {
    resolve::open(root, dest, false, false).map_err(|e| RootfsError::Resolve {
        path: dest.to_owned(),
        source: e,
    })
}

/// The flags a less privileged mount namespace can not change on a mount
/// it inherited (the kernel's MNT_LOCK_*): the atime flags count as one.
const LOCKABLE: libc::c_ulong =
    libc::MS_RDONLY | libc::MS_NODEV | libc::MS_NOEXEC | libc::MS_NOSUID | ATIME_FLAGS;
const ATIME_FLAGS: libc::c_ulong =
    libc::MS_NOATIME | libc::MS_RELATIME | libc::MS_STRICTATIME | libc::MS_NODIRATIME;

/// Applies a bind mount's options to the new mount at `fd`, as runc does:
/// when any flag is set or cleared, a bind remount with exactly the flags
/// set (what is not asked for is cleared; atime is kept unless one is
/// asked for). In a user namespace that fails (EPERM) if it would clear a
/// flag the source mount has locked: then, unless the config asked for
/// that flag off or for another atime mode (an error), the remount is
/// tried again with the source's lockable flags added.
pub(crate) fn apply_bind_flags(
    fd: BorrowedFd,
    set: libc::c_ulong,
    cleared: libc::c_ulong,
    dest: &Path,
) -> Result<(), RootfsError> {
    let set = set & !(libc::MS_BIND | libc::MS_REC | libc::MS_REMOUNT);
    if set == 0 && cleared == 0 {
        return Ok(());
    }
    let target = FdPath::new(fd);
    let base = libc::MS_REMOUNT | libc::MS_BIND;
    let err = |e| mount_err("bind", dest, e);
    let first = match sys::mount(None, target.as_cstr(), None, base | set, None) {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => e,
        r => return r.map_err(err),
    };
    let source = sys::mount_flags(fd).map_err(err)?;
    let locked = |reason| RootfsError::LockedFlags {
        dest: dest.to_owned(),
        reason,
        source: io::Error::from_raw_os_error(libc::EPERM),
    };
    if cleared & source & LOCKABLE != 0 {
        return Err(locked("cannot clear flags the source mount has locked"));
    }
    if set & ATIME_FLAGS != 0 && set & ATIME_FLAGS != source & ATIME_FLAGS {
        return Err(locked(
            "cannot change the atime flags the source mount has locked",
        ));
    }
    sys::mount(
        None,
        target.as_cstr(),
        None,
        base | set | (source & LOCKABLE),
        None,
    )
    .map_err(|_| err(first))
}

/// What a bind mount binds: a host path, or a detached copy of it made by
/// `create` (for a user namespace that may not reach the path itself).
#[derive(Clone, Copy)]
pub(crate) enum BindSource<'a> {
    Path(&'a Path),
    Tree(BorrowedFd<'a>),
}

/// Bind-mounts host path `src` onto `dest` inside the root, then applies flags.
pub(crate) fn bind(
    root: BorrowedFd,
    src: &Path,
    dest: &Path,
    flags: libc::c_ulong,
    fstype: &str,
) -> Result<OwnedFd, RootfsError> {
    bind_from(root, BindSource::Path(src), dest, flags, 0, fstype)
}

/// [`bind`] from a [`BindSource`], with the flags asked off (`cleared`).
pub(crate) fn bind_from(
    root: BorrowedFd,
    src: BindSource,
    dest: &Path,
    flags: libc::c_ulong,
    cleared: libc::c_ulong,
    fstype: &str,
) -> Result<OwnedFd, RootfsError> {
    let source_err = |path: &Path, e| RootfsError::Source {
        path: path.to_owned(),
        source: e,
    };
    let is_dir = match src {
        BindSource::Path(p) => std::fs::metadata(p).map_err(|e| source_err(p, e))?.is_dir(),
        BindSource::Tree(fd) => {
            let st = sys::fstat(fd).map_err(|e| source_err(dest, e))?;
            st.st_mode & libc::S_IFMT == libc::S_IFDIR
        }
    };
    let kind = if is_dir { Kind::Dir } else { Kind::File };
    let dst = destination(root, dest, kind, fstype)?;
    match src {
        BindSource::Path(p) => {
            let csrc = sys::cstr(p).map_err(|e| mount_err(fstype, dest, e))?;
            let target = FdPath::new(dst.as_fd());
            sys::mount(
                Some(&csrc),
                target.as_cstr(),
                None,
                libc::MS_BIND | (flags & libc::MS_REC),
                None,
            )
        }
        BindSource::Tree(fd) => sys::attach(fd, dst.as_fd()),
    }
    .map_err(|e| mount_err(fstype, dest, e))?;
    let top = reopen(root, dest)?;
    apply_bind_flags(top.as_fd(), flags, cleared, dest)?;
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

/// Performs one `mounts` entry; `tree` is the detached copy of a bind
/// source that `create` made for it, if any.
pub(crate) fn mount_entry(
    ctx: &mut Ctx,
    m: &Mount,
    tree: Option<BorrowedFd>,
) -> Result<(), RootfsError> {
    let dest = container_dest(ctx.rootfs, m.destination());
    let fstype = m.typ().as_deref().unwrap_or("");
    let opts = MountOptions::parse(m.options().as_deref().unwrap_or(&[]));
    let idmapped = is_idmapped(m, &opts);
    let root = ctx.root.as_fd();
    if idmapped && !(fstype == "bind" || opts.is_bind()) {
        return Err(RootfsError::InvalidMount {
            dest,
            reason: "an id-mapped mount must be a bind mount",
        });
    }
    if fstype == "bind" || opts.is_bind() {
        let path;
        let src = match tree {
            Some(fd) => BindSource::Tree(fd),
            // `create` makes the id-mapped copy (only the host's root may).
            None if idmapped => {
                return Err(RootfsError::InvalidMount {
                    dest,
                    reason: "the id-mapped copy of the source is missing",
                })
            }
            None => {
                path = bind_source(m, ctx.bundle, &dest)?;
                BindSource::Path(&path)
            }
        };
        let flags = opts.flags | libc::MS_BIND;
        let fd = bind_from(root, src, &dest, flags, opts.cleared, "bind")?;
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
    let (dst, existed) = destination_reporting(root, &dest, Kind::Dir, fstype)?;
    let mut data = if fstype == "overlay" {
        overlay_data(&opts.data, ctx.bundle)
    } else {
        opts.data.clone()
    };
    let mut flags = opts.flags;
    if fstype == "tmpfs" && existed && !has_mode(&data) {
        // A tmpfs over an existing directory gets its mode unless `mode=`
        // says otherwise, as with runc.
        let st = sys::fstat(dst.as_fd()).map_err(|e| mount_err(fstype, &dest, e))?;
        data = tmpfs_mode_data(st.st_mode, &data);
    }
    if delays_read_only(fstype, &dest) {
        // Made read-only at the end (`finish`), after what goes inside.
        flags &= !libc::MS_RDONLY;
    }
    // tmpcopyup: the directory the tmpfs is about to cover, to copy from.
    let copy_from = if opts.copy_up && fstype == "tmpfs" {
        Some(copy_up::open_for_listing(dst.as_fd()).map_err(|e| mount_err(fstype, &dest, e))?)
    } else {
        None
    };
    let source = m
        .source()
        .as_ref()
        .map_or_else(|| fstype.to_owned(), |s| s.to_string_lossy().into_owned());
    let r = mount_fs(&dst, &source, fstype, flags, &data);
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
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {
            return Err(
                not_a_directory(root, &dest, fstype).unwrap_or_else(|| mount_err(fstype, &dest, e))
            )
        }
        Err(e) => return Err(mount_err(fstype, &dest, e)),
    }
    let top = reopen(root, &dest)?;
    if let Some(from) = copy_from {
        copy_up::copy_tree(from, top.as_fd()).map_err(|e| RootfsError::CopyUp {
            dest: dest.clone(),
            source: e,
        })?;
    }
    finish_entry(top.as_fd(), &opts, &dest)
}

fn has_mode(data: &str) -> bool {
    data.split(',').any(|o| o.starts_with("mode="))
}

/// Whether a mount is id-mapped: `idmap`/`ridmap`, or mappings of its own
/// (runtime-spec 1.1's `mounts[].uidMappings`).
pub(crate) fn is_idmapped(m: &Mount, opts: &MountOptions) -> bool {
    opts.idmap.is_some() || m.uid_mappings().is_some() || m.gid_mappings().is_some()
}

/// The data of a tmpfs mounted over an existing directory of mode `mode`:
/// `mode=` of that directory first, so that the config's own wins.
fn tmpfs_mode_data(mode: libc::mode_t, data: &str) -> String {
    let mut out = format!("mode={:04o}", mode & 0o7777);
    if !data.is_empty() {
        out.push(',');
        out.push_str(data);
    }
    out
}

/// Whether a `ro` of this mount waits for [`remount_read_only`]: a tmpfs,
/// and /dev, get their content (device nodes, copied-up files, mount
/// points of later mounts) after they are mounted, as with runc.
pub(crate) fn delays_read_only(fstype: &str, dest: &Path) -> bool {
    fstype == "tmpfs" || dest == Path::new("/dev")
}

/// After pivot: makes read-only the mounts whose `ro` [`delays_read_only`]
/// held back, found by their destination in the new root.
pub(crate) fn remount_read_only(
    root: BorrowedFd,
    spec: &oci_spec::runtime::Spec,
    rootfs: &Path,
) -> Result<(), RootfsError> {
    for m in spec.mounts().iter().flatten() {
        let ro = m
            .options()
            .iter()
            .flatten()
            .fold(false, |ro, o| match o.as_str() {
                "ro" => true,
                "rw" => false,
                _ => ro,
            });
        if !ro {
            continue;
        }
        let fstype = m.typ().as_deref().unwrap_or("");
        let dest = container_dest(rootfs, m.destination());
        if !delays_read_only(fstype, &dest) {
            continue;
        }
        let err = |source| RootfsError::Readonly {
            path: dest.clone(),
            source,
        };
        let fd = resolve::open(root, &dest, false, false).map_err(err)?;
        sys::mount_setattr(fd.as_fd(), crate::options::MOUNT_ATTR_RDONLY).map_err(err)?;
    }
    Ok(())
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
