//! `cgroup` mounts: cgroup2 on a unified host; on cgroup v1 / hybrid a tmpfs with one
//! mount per v1 hierarchy (a new cgroup mount inside a cgroup namespace, else a bind of the
//! process's own cgroup directory), plus symlinks for co-mounted controllers. On a hybrid
//! host the cgroup2 hierarchy (usually `unified`) is handled the same way.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Mount;

use crate::mounts::{self, mount_err, Ctx};
use crate::options::MountOptions;
use crate::resolve::{self, Kind};
use crate::sys;
use crate::RootfsError;

const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// Super options of a v1 cgroup mount that are not controller names.
const NOT_CONTROLLERS: &[&str] = &[
    "rw",
    "ro",
    "xattr",
    "clone_children",
    "noprefix",
    "cpuset_v2_mode",
];

fn host_is_cgroup2() -> bool {
    std::fs::File::open("/sys/fs/cgroup")
        .ok()
        .and_then(|f| sys::fs_magic(f.as_fd()).ok())
        == Some(CGROUP2_SUPER_MAGIC)
}

pub(crate) fn mount(
    ctx: &mut Ctx,
    m: &Mount,
    dest: &Path,
    opts: &MountOptions,
) -> Result<(), RootfsError> {
    if m.typ().as_deref() == Some("cgroup2") || host_is_cgroup2() {
        return mount_v2(ctx, dest, opts);
    }
    mount_v1(ctx, dest, opts)
}

fn mount_v2(ctx: &mut Ctx, dest: &Path, opts: &MountOptions) -> Result<(), RootfsError> {
    let root = ctx.root.as_fd();
    let dst = mounts::destination(root, dest, Kind::Dir, "cgroup2")?;
    match mounts::mount_fs(&dst, "cgroup2", "cgroup2", opts.flags, &opts.data) {
        Ok(()) => Ok(()),
        // Without a cgroup namespace a user namespace may not mount cgroup2: bind the host's.
        Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EBUSY)) => {
            drop(dst);
            mounts::bind(
                root,
                Path::new("/sys/fs/cgroup"),
                dest,
                libc::MS_BIND | libc::MS_REC | opts.flags,
                "cgroup2",
            )
            .map(drop)
        }
        Err(e) => Err(mount_err("cgroup2", dest, e)),
    }
}

/// One v1 hierarchy from mountinfo.
struct Hierarchy<'a> {
    /// Root of the mount inside its hierarchy (usually "/").
    root: &'a str,
    mountpoint: &'a str,
    /// Comma-joined controller list, in the kernel's order (as /proc/self/cgroup shows it);
    /// empty for the cgroup2 hierarchy of a hybrid host.
    controllers: String,
    v2: bool,
}

fn v1_hierarchies(mountinfo: &str) -> Vec<Hierarchy<'_>> {
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mut r = right.split(' ');
        let v2 = match r.next() {
            Some("cgroup") => false,
            Some("cgroup2") => true,
            _ => continue,
        };
        let super_opts = r.nth(1).unwrap_or("");
        let mut l = left.split(' ');
        let (Some(root), Some(mountpoint)) = (l.nth(3), l.next()) else {
            continue;
        };
        let mut controllers = String::new();
        for o in super_opts.split(',').filter(|_| !v2) {
            if NOT_CONTROLLERS.contains(&o) || o.starts_with("release_agent=") {
                continue;
            }
            if !controllers.is_empty() {
                controllers.push(',');
            }
            controllers.push_str(o);
        }
        out.push(Hierarchy {
            root,
            mountpoint,
            controllers,
            v2,
        });
    }
    out
}

/// The process's path in the hierarchy with `controllers`, from /proc/self/cgroup.
fn own_path<'a>(proc_cgroup: &'a str, controllers: &str) -> Option<&'a str> {
    proc_cgroup.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let _id = f.next()?;
        (f.next()? == controllers).then_some(())?;
        f.next()
    })
}

fn mount_v1(ctx: &mut Ctx, dest: &Path, opts: &MountOptions) -> Result<(), RootfsError> {
    let root = ctx.root.as_fd();
    let flags = opts.flags & !libc::MS_RDONLY;
    let base = mounts::destination(root, dest, Kind::Dir, "tmpfs")?;
    mounts::mount_fs(&base, "tmpfs", "tmpfs", flags, "mode=755")
        .map_err(|e| mount_err("tmpfs", dest, e))?;
    drop(base);

    if ctx.mountinfo.is_none() {
        ctx.mountinfo = Some(
            std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| RootfsError::Read {
                path: "/proc/self/mountinfo",
                source: e,
            })?,
        );
    }
    let proc_cgroup = if ctx.in_cgroup_namespace {
        String::new()
    } else {
        std::fs::read_to_string("/proc/self/cgroup").map_err(|e| RootfsError::Read {
            path: "/proc/self/cgroup",
            source: e,
        })?
    };
    let mountinfo = ctx.mountinfo.as_deref().unwrap_or("");
    for h in v1_hierarchies(mountinfo) {
        let Some(name) = Path::new(h.mountpoint).file_name() else {
            continue;
        };
        let sub = dest.join(name);
        if ctx.in_cgroup_namespace {
            let fstype = if h.v2 { "cgroup2" } else { "cgroup" };
            let dst = mounts::destination(root, &sub, Kind::Dir, fstype)?;
            mounts::mount_fs(&dst, fstype, fstype, opts.flags, &h.controllers)
                .map_err(|e| mount_err(fstype, &sub, e))?;
        } else {
            let Some(own) = own_path(&proc_cgroup, &h.controllers) else {
                continue;
            };
            let rel = own.strip_prefix(h.root).unwrap_or(own);
            let mut src = PathBuf::from(h.mountpoint);
            src.push(rel.trim_start_matches('/'));
            mounts::bind(
                root,
                &src,
                &sub,
                libc::MS_BIND | libc::MS_REC | opts.flags,
                "cgroup",
            )?;
        }
        // Co-mounted controllers ("cpu,cpuacct") get one symlink per controller.
        let name_str = name.to_string_lossy();
        if name_str.contains(',') {
            let target = sys::cstr(Path::new(name)).map_err(|e| mount_err("cgroup", &sub, e))?;
            for c in name_str.split(',') {
                let link = dest.join(c);
                let (dir, lname) =
                    resolve::parent_and_name(root, &link).map_err(|e| RootfsError::Symlink {
                        path: link.clone(),
                        source: e,
                    })?;
                match sys::symlinkat(&target, dir.as_fd(), &lname) {
                    Err(e) if e.raw_os_error() != Some(libc::EEXIST) => {
                        return Err(RootfsError::Symlink {
                            path: link,
                            source: e,
                        })
                    }
                    _ => {}
                }
            }
        }
    }
    if opts.flags & libc::MS_RDONLY != 0 {
        let top = mounts::reopen(root, dest)?;
        let target = sys::FdPath::new(top.as_fd());
        sys::mount(
            None,
            target.as_cstr(),
            None,
            libc::MS_REMOUNT | flags | libc::MS_RDONLY,
            None,
        )
        .map_err(|e| mount_err("tmpfs", dest, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 25 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
32 31 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
33 31 0:28 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
36 31 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,cpu,cpuacct
";

    #[test]
    fn parses_v1_hierarchies() {
        let h = v1_hierarchies(MOUNTINFO);
        assert_eq!(h.len(), 3);
        assert!(h[0].v2 && h[0].controllers.is_empty());
        assert_eq!(h[0].mountpoint, "/sys/fs/cgroup/unified");
        assert_eq!(h[1].mountpoint, "/sys/fs/cgroup/systemd");
        assert_eq!(h[1].controllers, "name=systemd");
        assert_eq!(h[2].mountpoint, "/sys/fs/cgroup/cpu,cpuacct");
        assert_eq!(h[2].controllers, "cpu,cpuacct");
        assert_eq!(h[2].root, "/");
        assert!(!h[2].v2);
    }

    #[test]
    fn finds_own_cgroup() {
        let pc = "12:cpu,cpuacct:/user.slice\n1:name=systemd:/init.scope\n0::/x\n";
        assert_eq!(own_path(pc, "cpu,cpuacct"), Some("/user.slice"));
        assert_eq!(own_path(pc, "name=systemd"), Some("/init.scope"));
        assert_eq!(own_path(pc, "memory"), None);
        assert_eq!(own_path(pc, ""), Some("/x"));
    }
}
