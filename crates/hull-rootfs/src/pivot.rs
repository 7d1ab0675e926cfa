//! Entering the new root: pivot_root (the default), MS_MOVE + chroot
//! (`--no-pivot`), or chroot alone (no mount namespace of the container's).

use std::io;
use std::path::Path;

use crate::{sys, RootfsError, RootfsOptions};

/// pivot_root into the rootfs (or MS_MOVE + chroot with `no_pivot`), detach the old root,
/// chdir("/").
pub fn pivot(opts: &RootfsOptions) -> Result<(), RootfsError> {
    let step = |step: &'static str| {
        move |e: nix::Error| RootfsError::Pivot {
            step,
            source: e.into(),
        }
    };
    let io_step = |step: &'static str| move |e: io::Error| RootfsError::Pivot { step, source: e };
    let crootfs = sys::cstr(opts.rootfs).map_err(io_step("rootfs path"))?;
    if opts.host_mount_namespace {
        // pivot_root and MS_MOVE would change the host's own tree: chroot.
        nix::unistd::chdir(crootfs.as_c_str()).map_err(step("chdir into the rootfs"))?;
        nix::unistd::chroot(".").map_err(step("chroot into the rootfs"))?;
        return nix::unistd::chdir("/").map_err(step("chdir to /"));
    }
    if opts.no_pivot {
        hide_host_proc_and_sys(opts.rootfs)?;
        nix::unistd::chdir(crootfs.as_c_str()).map_err(step("chdir into the rootfs"))?;
        sys::mount(Some(&crootfs), c"/", None, libc::MS_MOVE, None)
            .map_err(io_step("move the rootfs onto /"))?;
        nix::unistd::chroot(".").map_err(step("chroot into the rootfs"))?;
        return nix::unistd::chdir("/").map_err(step("chdir to /"));
    }
    let old_root = nix::fcntl::open(
        "/",
        nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(step("open the old root"))?;
    nix::unistd::chdir(crootfs.as_c_str()).map_err(step("chdir into the rootfs"))?;
    // pivot_root(".", ".") stacks the old root on top of the new one; no put_old dir needed.
    sys::pivot_root(c".", c".").map_err(io_step("pivot_root"))?;
    nix::unistd::fchdir(&old_root).map_err(step("fchdir to the old root"))?;
    // Keep the unmount of the old root from propagating to the host.
    sys::mount(None, c".", None, libc::MS_SLAVE | libc::MS_REC, None)
        .map_err(io_step("make the old root rslave"))?;
    nix::mount::umount2(".", nix::mount::MntFlags::MNT_DETACH)
        .map_err(step("detach the old root"))?;
    nix::unistd::chdir("/").map_err(step("chdir to /"))
}

/// With `--no-pivot` the old root stays in the mount namespace, out of
/// sight of the chroot but not of the kernel: a full procfs or sysfs mount
/// of the host's there lets the container mount a bare /proc (without its
/// masked paths) in a user namespace of its own. Detach them first (made
/// rslave so that nothing propagates to the host), or cover them with a
/// tmpfs where they can not be detached, as runc does.
fn hide_host_proc_and_sys(rootfs: &Path) -> Result<(), RootfsError> {
    let mountinfo =
        std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| RootfsError::Read {
            path: "/proc/self/mountinfo",
            source: e,
        })?;
    let err = |source| RootfsError::Pivot {
        step: "hide the host's procfs and sysfs mounts",
        source,
    };
    for mountpoint in full_proc_and_sys_mounts(&mountinfo, rootfs) {
        let c = sys::cstr(Path::new(&mountpoint)).map_err(err)?;
        match sys::mount(None, &c, None, libc::MS_SLAVE | libc::MS_REC, None) {
            // Under one already detached.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            r => r.map_err(err)?,
        }
        match nix::mount::umount2(c.as_c_str(), nix::mount::MntFlags::MNT_DETACH) {
            Ok(()) => {}
            Err(nix::Error::EINVAL | nix::Error::EPERM) => {
                sys::mount(Some(c"tmpfs"), &c, Some(c"tmpfs"), 0, None).map_err(err)?
            }
            Err(e) => return Err(err(e.into())),
        }
    }
    Ok(())
}

/// Mount points of the procfs and sysfs mounts of their filesystem's root
/// (`full` ones: what the kernel's check for a new procfs mount looks for)
/// outside the rootfs, from mountinfo lines.
fn full_proc_and_sys_mounts(mountinfo: &str, rootfs: &Path) -> Vec<String> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mut fields = left.split(' ');
            let root = fields.nth(3)?;
            let mountpoint = unescape(fields.next()?);
            let fstype = right.split(' ').next()?;
            let inside = Path::new(&mountpoint).starts_with(rootfs);
            (root == "/" && matches!(fstype, "proc" | "sysfs") && !inside).then_some(mountpoint)
        })
        .collect()
}

/// Undoes mountinfo's octal escapes (`\040` for a space, ...).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match octal {
            Some(d) => {
                out.push(d.iter().fold(0u8, |n, b| n.wrapping_mul(8) + (b - b'0')));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_full_proc_and_sysfs_mounts_outside_the_rootfs() {
        let mi = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime shared:2 - sysfs sysfs rw
24 22 0:21 /sys /proc/sys ro - proc proc rw
25 27 0:23 / /my\\040dir rw - proc proc rw
26 27 0:24 / /b/rootfs/proc rw - proc proc rw
27 23 0:25 / /sys/fs/cgroup rw - tmpfs tmpfs rw
";
        assert_eq!(
            full_proc_and_sys_mounts(mi, Path::new("/b/rootfs")),
            ["/proc", "/sys", "/my dir"]
        );
    }
}
