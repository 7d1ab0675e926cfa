//! Namespaces: clone flags for new ones, opening and checking `path`
//! namespaces in the parent (so a bad path fails `create` before anything
//! runs), joining them in the init, time offsets, hostname.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::error::{Error, Result};

/// A namespace to join, opened and type-checked by the parent.
pub struct JoinNamespace {
    pub typ: LinuxNamespaceType,
    pub fd: OwnedFd,
    pub path: std::path::PathBuf,
}

pub fn clone_flag(typ: LinuxNamespaceType) -> libc::c_int {
    match typ {
        LinuxNamespaceType::Mount => libc::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => libc::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => libc::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC,
        LinuxNamespaceType::User => libc::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => libc::CLONE_NEWPID,
        LinuxNamespaceType::Network => libc::CLONE_NEWNET,
        LinuxNamespaceType::Time => libc::CLONE_NEWTIME,
    }
}

/// Flags for the namespaces `clone3` creates. Cgroup and time namespaces are
/// left out: the init unshares them itself, the cgroup one after it joined
/// its cgroup (so that cgroup is the namespace's root) and the time one after
/// writing its offsets (it takes effect at exec).
pub fn clone_flags(spec: &Spec) -> u64 {
    crate::config::namespaces(spec)
        .filter(|ns| ns.path().is_none())
        .filter(|ns| {
            !matches!(
                ns.typ(),
                LinuxNamespaceType::Cgroup | LinuxNamespaceType::Time
            )
        })
        .fold(0u64, |acc, ns| acc | clone_flag(ns.typ()) as u32 as u64)
}

const NS_GET_NSTYPE: libc::c_ulong = 0xb703;

/// Opens every `path` namespace and checks it is of the declared type.
pub fn open_joins(spec: &Spec) -> Result<Vec<JoinNamespace>> {
    let mut out = Vec::new();
    for ns in crate::config::namespaces(spec) {
        let Some(path) = ns.path() else { continue };
        let fd = open_ns(path, ns.typ())?;
        out.push(JoinNamespace {
            typ: ns.typ(),
            fd,
            path: path.clone(),
        });
    }
    // The user namespace first: joining it gives the rights to join the rest.
    out.sort_by_key(|j| j.typ != LinuxNamespaceType::User);
    Ok(out)
}

fn open_ns(path: &Path, typ: LinuxNamespaceType) -> Result<OwnedFd> {
    let bad = |why: String| {
        Error::Config(format!(
            "linux.namespaces: {typ} namespace path {}: {why}",
            path.display()
        ))
    };
    let fd: OwnedFd = std::fs::File::open(path)
        .map_err(|e| bad(e.to_string()))?
        .into();
    // SAFETY: NS_GET_NSTYPE only reads the namespace type of an fd we own.
    let actual = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE as _) };
    if actual < 0 {
        return Err(bad("not a namespace file".into()));
    }
    if actual != clone_flag(typ) {
        return Err(bad(format!("is not a {typ} namespace")));
    }
    Ok(fd)
}

pub fn join(ns: &JoinNamespace) -> Result<()> {
    // SAFETY: setns on an fd we own, with its checked type.
    if unsafe { libc::setns(ns.fd.as_raw_fd(), clone_flag(ns.typ)) } != 0 {
        return Err(Error::sys(
            format!("join {} namespace {}", ns.typ, ns.path.display()),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

pub fn unshare(flag: libc::c_int, what: &str) -> Result<()> {
    // SAFETY: unshare with a single namespace flag.
    if unsafe { libc::unshare(flag) } != 0 {
        return Err(Error::sys(
            format!("unshare {what} namespace"),
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// Writes `linux.timeOffsets` for the time namespace just unshared; they
/// must be written before any process enters it (that is, before exec).
pub fn write_time_offsets(spec: &Spec) -> Result<()> {
    let Some(offsets) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().as_ref())
    else {
        return Ok(());
    };
    let mut text = String::new();
    for (clock, off) in offsets {
        let name = match clock.as_str() {
            "monotonic" => "monotonic",
            "boottime" => "boottime",
            other => {
                return Err(Error::Config(format!(
                    "linux.timeOffsets: unknown clock {other:?} (monotonic or boottime)"
                )))
            }
        };
        text.push_str(&format!(
            "{name} {} {}\n",
            off.secs().unwrap_or(0),
            off.nanosecs().unwrap_or(0)
        ));
    }
    std::fs::write("/proc/self/timens_offsets", text)
        .map_err(|e| Error::io("/proc/self/timens_offsets", e))
}

pub fn set_hostname(spec: &Spec) -> Result<()> {
    if let Some(h) = spec.hostname().as_deref() {
        nix::unistd::sethostname(h)
            .map_err(|e| Error::sys(format!("hostname {h:?}"), std::io::Error::from(e)))?;
    }
    if let Some(d) = spec.domainname().as_deref() {
        // SAFETY: setdomainname reads `d.len()` bytes from the string.
        if unsafe { libc::setdomainname(d.as_ptr().cast(), d.len()) } != 0 {
            return Err(Error::sys(
                format!("domainname {d:?}"),
                std::io::Error::last_os_error(),
            ));
        }
    }
    Ok(())
}

/// Writes `/proc/<pid>/{uid_map,setgroups,gid_map}` from the parent.
pub fn write_id_maps(pid: i32, spec: &Spec) -> Result<()> {
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    let fmt = |maps: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| {
        maps.iter()
            .flatten()
            .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
            .collect::<String>()
    };
    let uid = fmt(linux.uid_mappings());
    let gid = fmt(linux.gid_mappings());
    if !uid.is_empty() {
        let p = format!("/proc/{pid}/uid_map");
        std::fs::write(&p, &uid)
            .map_err(|e| Error::Config(format!("linux.uidMappings: write {uid:?}: {e}")))?;
    }
    if !gid.is_empty() {
        let p = format!("/proc/{pid}/gid_map");
        std::fs::write(&p, &gid)
            .map_err(|e| Error::Config(format!("linux.gidMappings: write {gid:?}: {e}")))?;
    }
    Ok(())
}

/// Writes `linux.sysctl` into the container's /proc/sys (after pivot).
pub fn apply_sysctls(spec: &Spec) -> Result<()> {
    let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    for (key, value) in sysctl {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        std::fs::write(&path, value)
            .map_err(|e| Error::Config(format!("linux.sysctl {key}={value}: {path}: {e}")))?;
    }
    Ok(())
}
