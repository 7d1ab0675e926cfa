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

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxIdMapping, Mount, Spec};

use crate::options::MountOptions;
use crate::{idmap, mounts, sys, RootfsError};

/// Detached copies of bind sources, by index in `mounts`, for the
/// container's init to attach (`None` elsewhere, where the init binds the
/// source itself):
/// - id-mapped mounts (`idmap`, `ridmap`, `mounts[].uidMappings`), always:
///   only the host's root may id-map a mount of the host's. Without maps
///   of their own they take the container's user namespace (`userns`, or
///   a new one with `linux.uidMappings`). A failure here fails `create`.
/// - with `new_userns`, sources the root of the new user namespace may not
///   reach (a copy made by the host's root carries none of the locks a
///   user namespace's copy of a mount has on its flags, read-only,
///   nosuid..., so sources the container can reach keep them, as with
///   runc); one that can not be copied is left to the init to report.
///
/// Sources inside the rootfs are resolved by the init, in the container's
/// mount namespace after the mounts before them; an id-mapped one is an
/// error. Each copy is made a slave of its source, as a bind made in the
/// container's namespace (rslave, or with the copy of a user namespace,
/// shared turned slave) would be: nothing made on it in the container goes
/// back to the host.
pub fn detached_bind_sources(
    spec: &Spec,
    bundle: &Path,
    rootfs: &Path,
    new_userns: bool,
    userns: Option<BorrowedFd>,
) -> Result<Vec<Option<OwnedFd>>, RootfsError> {
    let Some(mounts) = spec.mounts().as_ref() else {
        return Ok(Vec::new());
    };
    // The common case, no user namespace and no id-mapped mount: nothing
    // to parse or allocate.
    let may_idmap = |m: &Mount| {
        m.uid_mappings().is_some()
            || m.gid_mappings().is_some()
            || m.options()
                .iter()
                .flatten()
                .any(|o| o == "idmap" || o == "ridmap")
    };
    if !new_userns && !mounts.iter().any(may_idmap) {
        return Ok(Vec::new());
    }
    let opts: Vec<MountOptions> = mounts
        .iter()
        .map(|m| MountOptions::parse(m.options().as_deref().unwrap_or(&[])))
        .collect();
    let idmapped: Vec<bool> = mounts
        .iter()
        .zip(&opts)
        .map(|(m, o)| mounts::is_idmapped(m, o))
        .collect();
    let unreachable = if new_userns {
        unreachable_sources(spec, mounts, &opts, bundle, rootfs)
    } else {
        vec![false; mounts.len()]
    };
    if !idmapped.iter().chain(&unreachable).any(|&b| b) {
        return Ok(Vec::new());
    }
    let mut namespaces = idmap::Namespaces::default();
    let mut out = Vec::with_capacity(mounts.len());
    for (i, m) in mounts.iter().enumerate() {
        out.push(if idmapped[i] {
            Some(idmapped_tree(
                spec,
                m,
                &opts[i],
                bundle,
                rootfs,
                userns,
                &mut namespaces,
            )?)
        } else if unreachable[i] {
            bind_source(m, &opts[i], bundle, rootfs).and_then(|(src, recursive)| {
                let tree = sys::clone_tree_at(&sys::cstr(&src).ok()?, recursive).ok()?;
                sys::set_propagation_of(tree.as_fd(), libc::MS_SLAVE, recursive).ok()?;
                Some(tree)
            })
        } else {
            None
        });
    }
    Ok(out)
}

/// Which bind sources the host uid and gid of the new user namespace's
/// root can not stat (all `false` when they are unknown, or when `create`
/// is not the host's root).
fn unreachable_sources(
    spec: &Spec,
    mounts: &[Mount],
    opts: &[MountOptions],
    bundle: &Path,
    rootfs: &Path,
) -> Vec<bool> {
    let none = vec![false; mounts.len()];
    let Some((uid, gid)) = container_root(spec) else {
        return none;
    };
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return none;
    }
    let sources: Vec<_> = mounts
        .iter()
        .zip(opts)
        .map(|(m, o)| bind_source(m, o, bundle, rootfs))
        .collect();
    if sources.iter().all(Option::is_none) {
        return none;
    }
    let Some(_as_user) = AsUser::switch(uid, gid) else {
        return none;
    };
    sources
        .iter()
        .map(|s| {
            s.as_ref().is_some_and(|(p, _)| {
                std::fs::metadata(p).is_err_and(|e| e.raw_os_error() == Some(libc::EACCES))
            })
        })
        .collect()
}

/// The id-mapped detached copy of mount `m`'s source.
fn idmapped_tree(
    spec: &Spec,
    m: &Mount,
    opts: &MountOptions,
    bundle: &Path,
    rootfs: &Path,
    userns: Option<BorrowedFd>,
    namespaces: &mut idmap::Namespaces,
) -> Result<OwnedFd, RootfsError> {
    let dest = m.destination().to_owned();
    let invalid = |reason| RootfsError::InvalidMount {
        dest: dest.clone(),
        reason,
    };
    let Some((src, recursive)) = bind_source(m, opts, bundle, rootfs) else {
        return Err(if m.source().is_none() || !is_bind(m, opts) {
            invalid("an id-mapped mount must be a bind mount with a source")
        } else {
            invalid("an id-mapped mount's source can not be inside the rootfs")
        });
    };
    let err = |source| RootfsError::IdMap {
        source_path: src.clone(),
        dest: dest.clone(),
        source,
    };
    let linux = spec.linux().as_ref();
    let own = (m.uid_mappings().as_deref(), m.gid_mappings().as_deref());
    let container = (
        linux.and_then(|l| l.uid_mappings().as_deref()),
        linux.and_then(|l| l.gid_mappings().as_deref()),
    );
    let ns = match (own, container, userns) {
        ((Some(u), Some(g)), _, _) => namespaces.get(u, g).map_err(err)?.as_fd(),
        ((None, None), _, Some(fd)) => fd,
        ((None, None), (Some(u), Some(g)), None) => namespaces.get(u, g).map_err(err)?.as_fd(),
        ((None, None), _, None) => {
            return Err(invalid(
                "an id-mapped mount without uidMappings and gidMappings needs a user namespace",
            ))
        }
        _ => return Err(invalid("uidMappings and gidMappings go together")),
    };
    let tree = sys::clone_tree_at(&sys::cstr(&src).map_err(err)?, recursive).map_err(err)?;
    sys::set_idmap(tree.as_fd(), ns, opts.idmap == Some(true)).map_err(err)?;
    sys::set_propagation_of(tree.as_fd(), libc::MS_SLAVE, recursive).map_err(err)?;
    Ok(tree)
}

fn is_bind(m: &Mount, opts: &MountOptions) -> bool {
    m.typ().as_deref() == Some("bind") || opts.is_bind()
}

/// The host path of a bind mount's source and whether it is recursive;
/// `None` for other mounts and sources inside the rootfs.
fn bind_source(
    m: &Mount,
    opts: &MountOptions,
    bundle: &Path,
    rootfs: &Path,
) -> Option<(PathBuf, bool)> {
    if !is_bind(m, opts) {
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
