//! Bind sources a new user namespace may not reach. The container's init
//! runs as the root of its user namespace from its first instruction
//! (clone3 makes every namespace at once), which is a plain user on the
//! host: a source under a directory only the host's root may search is out
//! of its reach. `create`, still the host's root, makes a detached copy of
//! each such source (open_tree with OPEN_TREE_CLONE) before the clone; the
//! init inherits the descriptors and attaches them (move_mount), as runc
//! does with its mount source descriptors. Which sources: those the host
//! uid and gid of the container's root can not stat, checked with that
//! filesystem identity (a handful of syscalls, user namespaces only).

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxIdMapping, Mount, Spec};

use crate::options::MountOptions;
use crate::{mounts, sys};

/// Detached copies of the bind sources of `spec`'s mounts that the root of
/// the new user namespace may not reach, by index (`None` elsewhere: not a
/// bind, reachable, a source inside the rootfs, which is resolved in the
/// container's mount namespace after the mounts before it, or one that
/// could not be copied, which the init then reports itself). Only those:
/// a copy made by the host's root carries none of the locks a user
/// namespace's copy of a mount has on its flags (read-only, nosuid...),
/// and sources the container can reach keep them, as with runc.
///
/// Each copy is made a slave of its source, as a bind made in the
/// container's namespace (rslave, or with the copy of a user namespace,
/// shared turned slave) would be: nothing made on it in the container goes
/// back to the host. Only `create` running as the host's root does this.
pub fn detached_bind_sources(spec: &Spec, bundle: &Path, rootfs: &Path) -> Vec<Option<OwnedFd>> {
    let (Some(mounts), Some((uid, gid))) = (spec.mounts().as_ref(), container_root(spec)) else {
        return Vec::new();
    };
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Vec::new();
    }
    let sources: Vec<_> = mounts
        .iter()
        .map(|m| bind_source(m, bundle, rootfs))
        .collect();
    if sources.iter().all(Option::is_none) {
        return Vec::new();
    }
    let unreachable: Vec<bool> = match AsUser::switch(uid, gid) {
        Some(_as_user) => sources
            .iter()
            .map(|s| {
                s.as_ref().is_some_and(|(p, _)| {
                    std::fs::metadata(p).is_err_and(|e| e.raw_os_error() == Some(libc::EACCES))
                })
            })
            .collect(),
        None => return Vec::new(),
    };
    sources
        .into_iter()
        .zip(unreachable)
        .map(|(source, unreachable)| {
            let (src, recursive) = source.filter(|_| unreachable)?;
            let path = sys::cstr(&src).ok()?;
            let tree = sys::clone_tree_at(&path, recursive).ok()?;
            sys::set_propagation_of(tree.as_fd(), libc::MS_SLAVE, recursive).ok()?;
            Some(tree)
        })
        .collect()
}

/// The host path of a bind mount's source and whether it is recursive;
/// `None` for other mounts and sources inside the rootfs.
fn bind_source(m: &Mount, bundle: &Path, rootfs: &Path) -> Option<(PathBuf, bool)> {
    let opts = MountOptions::parse(m.options().as_deref().unwrap_or(&[])).ok()?;
    if m.typ().as_deref() != Some("bind") && !opts.is_bind() {
        return None;
    }
    let src = m.source().as_ref()?;
    let src = if src.is_absolute() {
        mounts::clean(src)
    } else {
        mounts::clean(&bundle.join(src))
    };
    (!src.starts_with(rootfs)).then_some((src, opts.flags & libc::MS_REC != 0))
}

/// The host uid and gid of the new user namespace's root.
fn container_root(spec: &Spec) -> Option<(u32, u32)> {
    let linux = spec.linux().as_ref()?;
    let host = |maps: Option<&Vec<LinuxIdMapping>>| {
        maps?
            .iter()
            .find_map(|m| (m.container_id() == 0 && m.size() > 0).then_some(m.host_id()))
    };
    Some((
        host(linux.uid_mappings().as_ref())?,
        host(linux.gid_mappings().as_ref())?,
    ))
}

/// This thread's filesystem identity as the container's root sees the
/// host: its uid and gid, no supplementary group, no capability (a fsuid
/// other than 0 drops the filesystem capabilities). Back to root when
/// dropped.
struct AsUser {
    groups: Vec<libc::gid_t>,
}

impl AsUser {
    fn switch(uid: u32, gid: u32) -> Option<AsUser> {
        let groups = nix::unistd::getgroups()
            .ok()?
            .into_iter()
            .map(|g| g.as_raw())
            .collect();
        // SAFETY: setgroups with an empty list, on this (only) thread.
        if unsafe { libc::setgroups(0, std::ptr::null()) } != 0 {
            return None;
        }
        let guard = AsUser { groups };
        // SAFETY: credential calls on this thread; restored on drop.
        unsafe {
            libc::setfsgid(gid);
            libc::setfsuid(uid);
        }
        Some(guard)
    }
}

impl Drop for AsUser {
    fn drop(&mut self) {
        // SAFETY: back to the identity `create` runs with: fsuid/fsgid 0
        // (which gives the filesystem capabilities back) and its groups.
        unsafe {
            libc::setfsuid(0);
            libc::setfsgid(0);
            libc::setgroups(self.groups.len(), self.groups.as_ptr());
        }
    }
}
