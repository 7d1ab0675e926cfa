//! hull-rootfs: builds a container's root filesystem inside the init process's mount
//! namespace and pivots into it.
//!
//! Call order (from the container init, already in its new mount namespace):
//! [`prepare`] → hooks → [`pivot`] → [`finish`] → optionally [`mount_console`].
//!
//! Every destination inside the rootfs is resolved through file descriptors
//! (`openat2` with `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`) and missing components are
//! created relative to their parent descriptor, so symlinks in the image can not send a
//! mount, device node or symlink onto the host.

mod bind_sources;
mod cgroup;
mod copy_up;
mod devices;
mod error;
mod idmap;
mod mounts;
pub mod options;
mod paths;
mod pivot;
mod resolve;
mod sys;

use std::cell::Cell;
use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

pub use bind_sources::detached_bind_sources;
pub use error::RootfsError;
pub use options::MountOptions;
pub use pivot::pivot;

use resolve::Kind;

/// What [`prepare`], [`pivot`] and [`finish`] need.
pub struct RootfsOptions<'a> {
    pub spec: &'a oci_spec::runtime::Spec,
    /// Absolute host path of `root.path` (already resolved against the bundle).
    pub rootfs: &'a Path,
    /// The bundle directory: relative bind sources and overlay dirs are relative to it.
    pub bundle: &'a Path,
    /// runc `--no-pivot`: use MS_MOVE + chroot instead of pivot_root.
    pub no_pivot: bool,
    /// mknod is not allowed: bind-mount host devices instead.
    pub in_user_namespace: bool,
    pub in_cgroup_namespace: bool,
    /// No mount namespace of the container's own (none in linux.namespaces):
    /// the rootfs is built in the runtime's mount namespace, as runc does.
    /// The propagation of / and of the rootfs's parent mount is then left
    /// alone (it is the host's), and [`pivot`] chroots instead of pivoting.
    /// Everything is mounted on the bind of the rootfs onto itself, which
    /// [`unmount_host_rootfs`] takes away in one go.
    pub host_mount_namespace: bool,
    /// The runtime's /proc/self/mountinfo, read before the clone, to list
    /// the cgroup hierarchies from for `cgroup` mounts (the new mount
    /// namespace is a copy); None: read it when a cgroup mount needs it.
    pub cgroup_mountinfo: Option<&'a str>,
    /// [`detached_bind_sources`], by index in `mounts` (empty when there
    /// are none): each is taken, attached and closed by [`prepare`].
    pub bind_trees: &'a [Cell<Option<OwnedFd>>],
}

/// Propagation values of `linux.rootfsPropagation`.
const PROPAGATIONS: &[(&str, libc::c_ulong)] = &[
    ("private", libc::MS_PRIVATE),
    ("rprivate", libc::MS_PRIVATE | libc::MS_REC),
    ("shared", libc::MS_SHARED),
    ("rshared", libc::MS_SHARED | libc::MS_REC),
    ("slave", libc::MS_SLAVE),
    ("rslave", libc::MS_SLAVE | libc::MS_REC),
    ("unbindable", libc::MS_UNBINDABLE),
    ("runbindable", libc::MS_UNBINDABLE | libc::MS_REC),
];

/// The `MS_*` flags of `linux.rootfsPropagation`, or `None` when unset (or empty).
pub fn rootfs_propagation(
    spec: &oci_spec::runtime::Spec,
) -> Result<Option<libc::c_ulong>, RootfsError> {
    let Some(value) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_deref())
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    PROPAGATIONS
        .iter()
        .find(|(n, _)| *n == value)
        .map(|(_, f)| Some(*f))
        .ok_or_else(|| RootfsError::UnknownRootfsPropagation(value.to_owned()))
}

/// The propagation `prepare` gives / while it builds the rootfs. An
/// unbindable / would make the bind of the rootfs onto itself fail with
/// EINVAL (the kernel refuses to bind from an unbindable mount), so it is
/// private meanwhile (unbindable mounts are private as to propagation);
/// `finish` makes the new root unbindable at the end.
fn setup_propagation(flags: libc::c_ulong) -> libc::c_ulong {
    if flags & libc::MS_UNBINDABLE != 0 {
        (flags & !libc::MS_UNBINDABLE) | libc::MS_PRIVATE
    } else {
        flags
    }
}

fn set_propagation(path: &CStr, flags: libc::c_ulong) -> io::Result<()> {
    sys::mount(None, path, None, flags, None)
}

/// Whether the rootfs's parent mount must be made private before the rootfs
/// is bound onto itself: with `/` anything but recursively slave or private,
/// the mount holding the rootfs may still share a peer group with the host's
/// (on a host whose `/` is shared, every copied mount does). Then the bind
/// and every mount made on it would propagate into the host, and pivot_root
/// refuses a new root whose parent mount is shared (EINVAL). The default
/// (rslave) needs nothing.
fn needs_private_parent(flags: libc::c_ulong) -> bool {
    flags & libc::MS_REC == 0 || flags & (libc::MS_SLAVE | libc::MS_PRIVATE) == 0
}

/// Makes the mount that holds the rootfs private, as runc does: the rootfs
/// itself when it is a mount point (containerd's always is), else the first
/// mount point above it (mount(2) MS_PRIVATE fails with EINVAL on a path that
/// is not one).
fn make_parent_mount_private(rootfs: &Path) -> Result<(), RootfsError> {
    for dir in rootfs.ancestors() {
        let c = sys::cstr(dir).map_err(|e| RootfsError::Propagation {
            dest: dir.to_owned(),
            source: e,
        })?;
        match set_propagation(&c, libc::MS_PRIVATE) {
            Ok(()) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => continue,
            Err(e) => {
                return Err(RootfsError::Propagation {
                    dest: dir.to_owned(),
                    source: e,
                })
            }
        }
    }
    Ok(())
}

fn open_dir(path: &Path, what: &'static str) -> Result<OwnedFd, RootfsError> {
    let c = sys::cstr(path).map_err(|e| RootfsError::Pivot {
        step: what,
        source: e,
    })?;
    nix::fcntl::open(
        c.as_c_str(),
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| RootfsError::Pivot {
        step: what,
        source: e.into(),
    })
}

/// True when `mounts` bind-mounts something onto /dev: then no devices or /dev symlinks
/// are made (the caller brought its own /dev), as runc does.
fn dev_is_bind_mounted(spec: &oci_spec::runtime::Spec, rootfs: &Path) -> bool {
    spec.mounts().iter().flatten().any(|m| {
        mounts::container_dest(rootfs, m.destination()) == Path::new("/dev")
            && (m.typ().as_deref() == Some("bind")
                || m.options()
                    .iter()
                    .flatten()
                    .any(|o| o == "bind" || o == "rbind"))
    })
}

/// Before pivot: set mount propagation of / (rslave by default, or rootfsPropagation;
/// private for now when that is unbindable),
/// bind-mount the rootfs onto itself (recursive), perform every `mounts` entry in order,
/// create `linux.devices` and the default devices, and the /dev symlinks.
pub fn prepare(opts: &RootfsOptions) -> Result<(), RootfsError> {
    prepare_with(opts, &mut || Ok(()))
}

/// A step of the caller's before the cgroup mounts: `create`'s init joins
/// its v1 cgroups and makes its cgroup namespace there, so that the mounts
/// before it overlap with `create` making those cgroups.
pub type BeforeCgroups<'a> =
    dyn FnMut() -> Result<(), Box<dyn std::error::Error + Send + Sync>> + 'a;

/// [`prepare`], with `before_cgroups` run once: before the first `cgroup`
/// or `cgroup2` mount, or after the mounts when there is none (and always
/// before the device nodes are made).
pub fn prepare_with(
    opts: &RootfsOptions,
    before_cgroups: &mut BeforeCgroups,
) -> Result<(), RootfsError> {
    let prop = rootfs_propagation(opts.spec)?;
    let flags = setup_propagation(prop.unwrap_or(libc::MS_SLAVE | libc::MS_REC));
    if !opts.host_mount_namespace {
        set_propagation(c"/", flags).map_err(|e| RootfsError::Propagation {
            dest: "/".into(),
            source: e,
        })?;
        if needs_private_parent(flags) {
            make_parent_mount_private(opts.rootfs)?;
        }
    }
    let crootfs = sys::cstr(opts.rootfs).map_err(|e| mounts::mount_err("bind", opts.rootfs, e))?;
    sys::mount(
        Some(&crootfs),
        &crootfs,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    )
    .map_err(|e| mounts::mount_err("bind", opts.rootfs, e))?;

    let mut ctx = mounts::Ctx {
        root: open_dir(opts.rootfs, "open rootfs")?,
        rootfs: opts.rootfs,
        bundle: opts.bundle,
        in_user_namespace: opts.in_user_namespace,
        in_cgroup_namespace: opts.in_cgroup_namespace,
        mountinfo: opts.cgroup_mountinfo.map(str::to_owned),
    };
    let mut cgroups_ready = false;
    let mut ready = |done: &mut bool| -> Result<(), RootfsError> {
        if !*done {
            *done = true;
            before_cgroups().map_err(RootfsError::BeforeCgroups)?;
        }
        Ok(())
    };
    for (i, m) in opts.spec.mounts().iter().flatten().enumerate() {
        if matches!(m.typ().as_deref(), Some("cgroup" | "cgroup2")) {
            ready(&mut cgroups_ready)?;
        }
        let tree = opts.bind_trees.get(i).and_then(Cell::take);
        mounts::mount_entry(&mut ctx, m, tree.as_ref().map(AsFd::as_fd))?;
    }
    ready(&mut cgroups_ready)?;

    if dev_is_bind_mounted(opts.spec, opts.rootfs) {
        return Ok(());
    }
    let root = ctx.root.as_fd();
    let spec_devices = opts
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().as_deref())
        .unwrap_or(&[]);
    for d in spec_devices {
        devices::create(root, &devices::Node::from_spec(d)?, opts.in_user_namespace)?;
    }
    for (path, major, minor) in devices::DEFAULT_DEVICES {
        let path = Path::new(path);
        if spec_devices.iter().any(|d| d.path() == path) {
            continue;
        }
        let node = devices::Node {
            path,
            kind: libc::S_IFCHR,
            major,
            minor,
            mode: 0o666,
            uid: 0,
            gid: 0,
        };
        devices::create(root, &node, opts.in_user_namespace)?;
    }
    devices::dev_symlinks(root)?;
    // The terminal's slave is bound on /dev/console after pivot, when /dev
    // may be read-only already (`ro` on it): its mount point is made now.
    if opts
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false)
    {
        let console = Path::new("/dev/console");
        resolve::create(root, console, Kind::File, true).map_err(|source| {
            RootfsError::Console {
                path: console.to_owned(),
                source,
            }
        })?;
    }
    Ok(())
}

/// The mount ID of the topmost mount at `path` (statx STATX_MNT_ID).
pub fn mount_id(path: &Path) -> Result<u64, RootfsError> {
    let err = |source: io::Error| RootfsError::MountId {
        path: path.to_owned(),
        source,
    };
    let c = sys::cstr(path).map_err(err)?;
    // SAFETY: statx is plain data; all-zero is a valid value to fill in.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a statx buffer we own.
    let r = unsafe {
        libc::statx(
            libc::AT_FDCWD,
            c.as_ptr(),
            libc::AT_NO_AUTOMOUNT,
            libc::STATX_MNT_ID,
            &mut stx,
        )
    };
    if r != 0 {
        return Err(err(io::Error::last_os_error()));
    }
    if stx.stx_mask & libc::STATX_MNT_ID == 0 {
        return Err(err(io::Error::from_raw_os_error(libc::ENOSYS)));
    }
    Ok(stx.stx_mnt_id)
}

/// Undoes what [`prepare`] mounted in the runtime's mount namespace (see
/// `host_mount_namespace`): detaches the bind of the rootfs onto itself,
/// and with it every mount made on it. `before` is [`mount_id`] of the
/// rootfs from before the container was made: when the topmost mount is
/// still that one, nothing of ours is there and nothing is unmounted (the
/// rootfs may be a mount of the caller's, an overlay of containerd's).
pub fn unmount_host_rootfs(rootfs: &Path, before: u64) -> Result<(), RootfsError> {
    match mount_id(rootfs) {
        Ok(id) if id == before => return Ok(()),
        Ok(_) => {}
        Err(RootfsError::MountId { source, .. }) if source.raw_os_error() == Some(libc::ENOENT) => {
            return Ok(())
        }
        Err(e) => return Err(e),
    }
    nix::mount::umount2(rootfs, nix::mount::MntFlags::MNT_DETACH).map_err(|e| {
        RootfsError::Unmount {
            path: rootfs.to_owned(),
            source: e.into(),
        }
    })
}

/// After pivot: the read-only tmpfs mounts (made writable until now),
/// maskedPaths, readonlyPaths, root.readonly, and the final rootfsPropagation.
/// Works on descriptors with the new mount API, so it does not need /proc in the new root.
pub fn finish(opts: &RootfsOptions) -> Result<(), RootfsError> {
    let root = open_dir(Path::new("/"), "open the new root")?;
    mounts::remount_read_only(root.as_fd(), opts.spec, opts.rootfs)?;
    let linux = opts.spec.linux().as_ref();
    let masked = linux
        .and_then(|l| l.masked_paths().as_deref())
        .unwrap_or(&[]);
    paths::mask_all(root.as_fd(), masked)?;
    for p in linux
        .and_then(|l| l.readonly_paths().as_deref())
        .unwrap_or(&[])
    {
        paths::make_readonly(root.as_fd(), Path::new(p))?;
    }
    if opts.spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        let err = |e| RootfsError::Readonly {
            path: "/".into(),
            source: e,
        };
        sys::mount_setattr(root.as_fd(), options::MOUNT_ATTR_RDONLY).map_err(err)?;
    }
    if let Some(flags) = rootfs_propagation(opts.spec)? {
        set_propagation(c"/", flags).map_err(|e| RootfsError::Propagation {
            dest: "/".into(),
            source: e,
        })?;
    }
    Ok(())
}

/// After pivot and before [`finish`] (which may make the root read-only):
/// makes the directory `path` inside the new root, and what is missing on
/// the way, as runc does for `process.cwd`. Resolved inside the root with
/// no magic links, so a path through /proc can not lead it out.
pub fn make_dir(path: &Path) -> Result<(), RootfsError> {
    let root = open_dir(Path::new("/"), "open the new root")?;
    resolve::create(root.as_fd(), path, Kind::Dir, false)
        .map(drop)
        .map_err(|source| RootfsError::Resolve {
            path: path.to_owned(),
            source,
        })
}

/// Bind-mounts a pty slave (a path in the container's /dev/pts) onto /dev/console,
/// creating the target file if missing. Called after pivot.
pub fn mount_console(slave: &Path) -> Result<(), RootfsError> {
    let err = |source: io::Error| RootfsError::Console {
        path: slave.to_owned(),
        source,
    };
    let root = open_dir(Path::new("/"), "open the new root")?;
    let dst =
        resolve::create(root.as_fd(), Path::new("/dev/console"), Kind::File, true).map_err(err)?;
    let src = resolve::open(root.as_fd(), slave, false, true).map_err(err)?;
    sys::bind_fds(src.as_fd(), dst.as_fd(), false).map_err(err)
}

#[cfg(test)]
mod tests {
    #[test]
    fn unbindable_is_private_while_the_rootfs_is_built() {
        use super::setup_propagation as s;
        assert_eq!(s(libc::MS_UNBINDABLE), libc::MS_PRIVATE);
        assert_eq!(
            s(libc::MS_UNBINDABLE | libc::MS_REC),
            libc::MS_PRIVATE | libc::MS_REC
        );
        assert_eq!(
            s(libc::MS_SLAVE | libc::MS_REC),
            libc::MS_SLAVE | libc::MS_REC
        );
        assert_eq!(s(libc::MS_SHARED), libc::MS_SHARED);
    }

    #[test]
    fn only_recursive_slave_or_private_roots_keep_the_parent_mount_as_is() {
        use super::needs_private_parent as n;
        assert!(!n(libc::MS_SLAVE | libc::MS_REC));
        assert!(!n(libc::MS_PRIVATE | libc::MS_REC));
        assert!(n(libc::MS_SHARED | libc::MS_REC));
        assert!(n(libc::MS_SHARED));
        assert!(n(libc::MS_SLAVE));
        assert!(n(libc::MS_PRIVATE));
    }
}
