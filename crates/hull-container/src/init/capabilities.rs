//! Capability sets of the container process, set exactly as configured:
//! bounding (dropped with PR_CAPBSET_DROP), effective/permitted/inheritable
//! (one capset call) and ambient (raised one by one).

use oci_spec::runtime::{Capabilities, LinuxCapabilities};

use crate::error::{Error, Result};

/// The five sets as bit masks.
#[derive(Debug, Default, Clone, Copy)]
pub struct CapMasks {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

fn mask(set: &Option<Capabilities>) -> Result<u64> {
    let mut m = 0u64;
    for cap in set.iter().flatten() {
        let name = format!("CAP_{cap}");
        let c: caps::Capability = name.parse().map_err(|_| {
            Error::Config(format!("process.capabilities: unknown capability {name}"))
        })?;
        m |= c.bitmask();
    }
    Ok(m)
}

pub fn masks(caps: &LinuxCapabilities) -> Result<CapMasks> {
    Ok(CapMasks {
        bounding: mask(caps.bounding())?,
        effective: mask(caps.effective())?,
        permitted: mask(caps.permitted())?,
        inheritable: mask(caps.inheritable())?,
        ambient: mask(caps.ambient())?,
    })
}

fn last_cap() -> u8 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

fn cap_name(bit: u8) -> String {
    caps::all()
        .into_iter()
        .find(|c| c.index() == bit)
        .map(|c| c.to_string())
        .unwrap_or_else(|| format!("capability {bit}"))
}

/// Fails, naming the capability, when the config asks for one that this
/// host's bounding set does not hold (no runtime can grant those).
pub fn check_grantable(m: &CapMasks) -> Result<()> {
    let wanted = m.bounding | m.effective | m.permitted | m.inheritable | m.ambient;
    for bit in 0..64u8 {
        if wanted & (1 << bit) == 0 {
            continue;
        }
        // SAFETY: PR_CAPBSET_READ only reads our own bounding set.
        let r = unsafe { libc::prctl(libc::PR_CAPBSET_READ, bit as libc::c_ulong, 0, 0, 0) };
        if r != 1 {
            return Err(Error::Config(format!(
                "process.capabilities: {} is not in the host's bounding set and cannot be granted",
                cap_name(bit)
            )));
        }
    }
    Ok(())
}

/// Drops every capability outside the bounding set.
pub fn drop_bounding(m: &CapMasks) -> Result<()> {
    for bit in 0..=last_cap() {
        if m.bounding & (1 << bit) != 0 {
            continue;
        }
        // SAFETY: PR_CAPBSET_DROP changes only our own bounding set.
        let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, bit as libc::c_ulong, 0, 0, 0) };
        if r != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINVAL) {
                return Err(Error::sys(
                    format!("drop {} from bounding set", cap_name(bit)),
                    e,
                ));
            }
        }
    }
    Ok(())
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Sets effective, permitted and inheritable in one call, then ambient.
pub fn apply(m: &CapMasks) -> Result<()> {
    let header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let split = |v: u64| (v as u32, (v >> 32) as u32);
    let (e0, e1) = split(m.effective);
    let (p0, p1) = split(m.permitted);
    let (i0, i1) = split(m.inheritable);
    let data = [
        CapData {
            effective: e0,
            permitted: p0,
            inheritable: i0,
        },
        CapData {
            effective: e1,
            permitted: p1,
            inheritable: i1,
        },
    ];
    // SAFETY: capset reads a v3 header and two data structs we own.
    let r = unsafe { libc::syscall(libc::SYS_capset, &header as *const CapHeader, data.as_ptr()) };
    if r != 0 {
        return Err(Error::sys("capset", std::io::Error::last_os_error()));
    }
    // SAFETY: clearing our own ambient set.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        );
    }
    // The kernel allows only capabilities both permitted and inheritable in
    // the ambient set; runc skips the others too (runc's default spec lists
    // ambient caps but no inheritable ones).
    let ambient = m.ambient & m.permitted & m.inheritable;
    for bit in 0..64u8 {
        if ambient & (1 << bit) == 0 {
            continue;
        }
        // SAFETY: raising a capability in our own ambient set.
        let r = unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_RAISE,
                bit as libc::c_ulong,
                0,
                0,
            )
        };
        if r != 0 {
            // Like runc: a capability missing from the inheritable or
            // permitted set cannot be ambient; warn and go on.
            crate::warn(&format!(
                "cannot raise ambient capability {}: {}",
                cap_name(bit),
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}
