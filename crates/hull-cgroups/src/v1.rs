//! Applying LinuxResources to v1 controllers.

use crate::fs::{exists, need, read, read_u64, write};
use crate::{CgroupError, CgroupPaths};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxResources, LinuxThrottleDevice};
use std::path::Path;

/// v1 controller names we know (anything else in mount options is an option).
const CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "blkio",
    "pids",
    "hugetlb",
    "net_cls",
    "net_prio",
    "perf_event",
    "rdma",
    "misc",
];

pub(crate) fn is_controller(s: &str) -> bool {
    CONTROLLERS.contains(&s)
}

/// Validates a byte limit: -1 means unlimited, 0 means "not set".
pub(crate) fn check_limit(field: &'static str, v: i64) -> Result<Option<i64>, CgroupError> {
    match v {
        0 => Ok(None),
        -1 => Ok(Some(-1)),
        v if v < -1 => Err(CgroupError::Invalid {
            field,
            value: v.to_string(),
            reason: "must be positive or -1 (unlimited)".into(),
        }),
        v => Ok(Some(v)),
    }
}

fn dir<'a>(
    p: &'a CgroupPaths,
    controller: &'static str,
    field: &'static str,
) -> Result<&'a Path, CgroupError> {
    p.v1_dir(controller)
        .ok_or_else(|| CgroupError::Unsupported {
            field,
            controller,
            detail: no_hierarchy(controller),
        })
}

/// What `dir` looked for: a v1 hierarchy of `controller` in the mount table,
/// normally mounted at /sys/fs/cgroup/<controller>.
pub(crate) fn no_hierarchy(controller: &str) -> String {
    format!(
        "no cgroup v1 hierarchy with it in /proc/self/mountinfo (looked for {}/{controller})",
        crate::layout::CGROUP_ROOT
    )
}

pub(crate) fn apply(p: &CgroupPaths, r: &LinuxResources) -> Result<(), CgroupError> {
    if let Some(u) = r.unified() {
        if !u.is_empty() {
            return Err(CgroupError::Invalid {
                field: "linux.resources.unified",
                value: format!("{:?}", u.keys().collect::<Vec<_>>()),
                reason: "unified keys need cgroup v2 but this host has only cgroup v1".into(),
            });
        }
    }
    memory(p, r)?;
    pids(p, r)?;
    cpu(p, r)?;
    blkio(p, r)?;
    hugetlb(p, r)?;
    network(p, r)?;
    rdma(p, r)?;
    if let Some(devs) = r.devices() {
        devices(p, devs)?;
    }
    Ok(())
}

fn memory(p: &CgroupPaths, r: &LinuxResources) -> Result<(), CgroupError> {
    let Some(m) = r.memory() else { return Ok(()) };
    let limit = m
        .limit()
        .map(|v| check_limit("linux.resources.memory.limit", v))
        .transpose()?
        .flatten();
    let mut swap = m
        .swap()
        .map(|v| check_limit("linux.resources.memory.swap", v))
        .transpose()?
        .flatten();
    let reservation = m
        .reservation()
        .map(|v| check_limit("linux.resources.memory.reservation", v))
        .transpose()?
        .flatten();
    let kernel = m
        .kernel()
        .map(|v| check_limit("linux.resources.memory.kernel", v))
        .transpose()?
        .flatten();
    let ktcp = m
        .kernel_tcp()
        .map(|v| check_limit("linux.resources.memory.kernelTCP", v))
        .transpose()?
        .flatten();
    if let Some(s) = m.swappiness() {
        if s > 100 {
            return Err(CgroupError::Invalid {
                field: "linux.resources.memory.swappiness",
                value: s.to_string(),
                reason: "must be 0..=100".into(),
            });
        }
    }
    let set_any = limit.is_some()
        || swap.is_some()
        || reservation.is_some()
        || kernel.is_some()
        || ktcp.is_some()
        || m.swappiness().is_some()
        || m.disable_oom_killer() == Some(true);
    if !set_any {
        return Ok(());
    }
    let d = dir(p, "memory", "linux.resources.memory")?;
    if limit == Some(-1) && swap.is_none() {
        // Like runc: an unlimited memory limit also lifts the swap limit.
        swap = Some(-1);
    }
    if let (Some(l), Some(s)) = (limit, swap) {
        if l > 0 && s > 0 && s < l {
            return Err(CgroupError::Invalid {
                field: "linux.resources.memory.swap",
                value: s.to_string(),
                reason: format!("memory+swap must be >= memory limit {l}"),
            });
        }
    }
    if let Some(l) = limit {
        if m.check_before_update() == Some(true) && l > 0 {
            let usage = read_u64(d, "memory.usage_in_bytes")?;
            if (l as u64) < usage {
                return Err(CgroupError::Invalid {
                    field: "linux.resources.memory.limit",
                    value: l.to_string(),
                    reason: format!("below current usage {usage} (checkBeforeUpdate)"),
                });
            }
        }
    }
    let memsw = "memory.memsw.limit_in_bytes";
    match (limit, swap) {
        (Some(l), Some(s)) if exists(d, memsw) => {
            // memsw must stay >= limit at every step, so order the writes.
            let cur = read_u64(d, memsw)?;
            if s == -1 || (s as u64) > cur {
                write(d, memsw, &s.to_string())?;
                write(d, "memory.limit_in_bytes", &l.to_string())?;
            } else {
                write(d, "memory.limit_in_bytes", &l.to_string())?;
                write(d, memsw, &s.to_string())?;
            }
        }
        (l, s) => {
            if let Some(l) = l {
                write(d, "memory.limit_in_bytes", &l.to_string())?;
            }
            // Without swap accounting (no memsw file) the swap limit is ignored, as runc does.
            if let Some(s) = s.filter(|_| exists(d, memsw)) {
                write(d, memsw, &s.to_string())?;
            }
        }
    }
    if let Some(v) = reservation {
        write(d, "memory.soft_limit_in_bytes", &v.to_string())?;
    }
    if let Some(v) = kernel.filter(|_| exists(d, "memory.kmem.limit_in_bytes")) {
        write(d, "memory.kmem.limit_in_bytes", &v.to_string())?;
    }
    if let Some(v) = ktcp.filter(|_| exists(d, "memory.kmem.tcp.limit_in_bytes")) {
        write(d, "memory.kmem.tcp.limit_in_bytes", &v.to_string())?;
    }
    if let Some(s) = m.swappiness() {
        write(d, "memory.swappiness", &s.to_string())?;
    }
    if m.disable_oom_killer() == Some(true) {
        write(d, "memory.oom_control", "1")?;
    }
    Ok(())
}

/// pids.max value: limit > 0 is a limit, -1 unlimited, 0 "not set" (runc).
pub(crate) fn pids_value(limit: i64) -> Result<Option<String>, CgroupError> {
    match limit {
        l if l > 0 => Ok(Some(l.to_string())),
        0 => Ok(None),
        -1 => Ok(Some("max".into())),
        l => Err(CgroupError::Invalid {
            field: "linux.resources.pids.limit",
            value: l.to_string(),
            reason: "must be positive, 0 or -1 (unlimited)".into(),
        }),
    }
}

fn pids(p: &CgroupPaths, r: &LinuxResources) -> Result<(), CgroupError> {
    let Some(pl) = r.pids() else { return Ok(()) };
    let Some(v) = pids_value(pl.limit())? else {
        return Ok(());
    };
    let d = dir(p, "pids", "linux.resources.pids")?;
    write(d, "pids.max", &v)
}

fn cpu(p: &CgroupPaths, r: &LinuxResources) -> Result<(), CgroupError> {
    let Some(c) = r.cpu() else { return Ok(()) };
    let cfs = [
        (
            "cpu.shares",
            c.shares().map(|v| v.to_string()),
            "linux.resources.cpu.shares",
        ),
        (
            "cpu.cfs_period_us",
            c.period().map(|v| v.to_string()),
            "linux.resources.cpu.period",
        ),
        (
            "cpu.cfs_quota_us",
            c.quota().map(|v| v.to_string()),
            "linux.resources.cpu.quota",
        ),
        (
            "cpu.cfs_burst_us",
            c.burst().map(|v| v.to_string()),
            "linux.resources.cpu.burst",
        ),
        (
            "cpu.rt_period_us",
            c.realtime_period().map(|v| v.to_string()),
            "linux.resources.cpu.realtimePeriod",
        ),
        (
            "cpu.rt_runtime_us",
            c.realtime_runtime().map(|v| v.to_string()),
            "linux.resources.cpu.realtimeRuntime",
        ),
        (
            "cpu.idle",
            c.idle().map(|v| v.to_string()),
            "linux.resources.cpu.idle",
        ),
    ];
    if let Some(q) = c.quota() {
        if q < -1 || q == 0 {
            return Err(CgroupError::Invalid {
                field: "linux.resources.cpu.quota",
                value: q.to_string(),
                reason: "must be positive or -1 (unlimited)".into(),
            });
        }
    }
    for (file, val, field) in cfs {
        let Some(val) = val else { continue };
        let d = dir(p, "cpu", field)?;
        need(d, file, field, "cpu")?;
        write(d, file, &val)?;
    }
    let sets = [
        (
            "cpuset.cpus",
            c.cpus().as_deref(),
            "linux.resources.cpu.cpus",
        ),
        (
            "cpuset.mems",
            c.mems().as_deref(),
            "linux.resources.cpu.mems",
        ),
    ];
    for (file, val, field) in sets {
        let Some(val) = val.filter(|v| !v.is_empty()) else {
            continue;
        };
        let d = dir(p, "cpuset", field)?;
        write(d, file, val)?;
    }
    Ok(())
}

fn throttle(
    d: &Path,
    file: &str,
    field: &'static str,
    list: &Option<Vec<LinuxThrottleDevice>>,
) -> Result<(), CgroupError> {
    for t in list.iter().flatten() {
        need(d, file, field, "blkio")?;
        write(
            d,
            file,
            &format!("{}:{} {}", t.major(), t.minor(), t.rate()),
        )?;
    }
    Ok(())
}

fn blkio(p: &CgroupPaths, r: &LinuxResources) -> Result<(), CgroupError> {
    let Some(b) = r.block_io() else { return Ok(()) };
    let get = |field| dir(p, "blkio", field);
    if let Some(w) = b.weight() {
        let d = get("linux.resources.blockIO.weight")?;
        let file = weight_file(
            d,
            "blkio.weight",
            "blkio.bfq.weight",
            "linux.resources.blockIO.weight",
        )?;
        write(d, file, &w.to_string())?;
    }
    if let Some(w) = b.leaf_weight() {
        let d = get("linux.resources.blockIO.leafWeight")?;
        need(
            d,
            "blkio.leaf_weight",
            "linux.resources.blockIO.leafWeight",
            "blkio",
        )?;
        write(d, "blkio.leaf_weight", &w.to_string())?;
    }
    for wd in b.weight_device().iter().flatten() {
        let field = "linux.resources.blockIO.weightDevice";
        let d = get(field)?;
        if let Some(w) = wd.weight() {
            let file = weight_file(d, "blkio.weight_device", "blkio.bfq.weight_device", field)?;
            write(d, file, &format!("{}:{} {}", wd.major(), wd.minor(), w))?;
        }
        if let Some(w) = wd.leaf_weight() {
            need(d, "blkio.leaf_weight_device", field, "blkio")?;
            write(
                d,
                "blkio.leaf_weight_device",
                &format!("{}:{} {}", wd.major(), wd.minor(), w),
            )?;
        }
    }
    let lists = [
        (
            "blkio.throttle.read_bps_device",
            "linux.resources.blockIO.throttleReadBpsDevice",
            b.throttle_read_bps_device(),
        ),
        (
            "blkio.throttle.write_bps_device",
            "linux.resources.blockIO.throttleWriteBpsDevice",
            b.throttle_write_bps_device(),
        ),
        (
            "blkio.throttle.read_iops_device",
            "linux.resources.blockIO.throttleReadIOPSDevice",
            b.throttle_read_iops_device(),
        ),
        (
            "blkio.throttle.write_iops_device",
            "linux.resources.blockIO.throttleWriteIOPSDevice",
            b.throttle_write_iops_device(),
        ),
    ];
    for (file, field, list) in lists {
        if list.as_ref().is_some_and(|l| !l.is_empty()) {
            throttle(get(field)?, file, field, list)?;
        }
    }
    Ok(())
}

/// CFQ's blkio.weight is gone from modern kernels; BFQ offers blkio.bfq.weight.
fn weight_file<'a>(
    d: &Path,
    cfq: &'a str,
    bfq: &'a str,
    field: &'static str,
) -> Result<&'a str, CgroupError> {
    if exists(d, cfq) {
        Ok(cfq)
    } else if exists(d, bfq) {
        Ok(bfq)
    } else {
        Err(CgroupError::Unsupported {
            field,
            controller: "blkio",
            detail: format!(
                "no {} or {} (no CFQ/BFQ io scheduler)",
                d.join(cfq).display(),
                bfq
            ),
        })
    }
}

fn hugetlb(p: &CgroupPaths, r: &LinuxResources) -> Result<(), CgroupError> {
    for h in r.hugepage_limits().iter().flatten() {
        let field = "linux.resources.hugepageLimits";
        let d = dir(p, "hugetlb", field)?;
        let file = format!("hugetlb.{}.limit_in_bytes", h.page_size());
        need(d, &file, field, "hugetlb")?;
        let v = check_limit(field, h.limit())?.unwrap_or(0);
        write(d, &file, &v.to_string())?;
    }
    Ok(())
}

fn network(p: &CgroupPaths, r: &LinuxResources) -> Result<(), CgroupError> {
    let Some(n) = r.network() else { return Ok(()) };
    if let Some(id) = n.class_id() {
        let d = dir(p, "net_cls", "linux.resources.network.classID")?;
        write(d, "net_cls.classid", &id.to_string())?;
    }
    for prio in n.priorities().iter().flatten() {
        let d = dir(p, "net_prio", "linux.resources.network.priorities")?;
        write(
            d,
            "net_prio.ifpriomap",
            &format!("{} {}", prio.name(), prio.priority()),
        )?;
    }
    Ok(())
}

pub(crate) fn rdma_lines(r: &LinuxResources) -> Vec<String> {
    let mut out = Vec::new();
    for (dev, lim) in r.rdma().iter().flatten() {
        let mut parts = vec![dev.clone()];
        if let Some(h) = lim.hca_handles() {
            parts.push(format!("hca_handle={h}"));
        }
        if let Some(o) = lim.hca_objects() {
            parts.push(format!("hca_object={o}"));
        }
        if parts.len() > 1 {
            out.push(parts.join(" "));
        }
    }
    out
}

fn rdma(p: &CgroupPaths, r: &LinuxResources) -> Result<(), CgroupError> {
    for line in rdma_lines(r) {
        let d = dir(p, "rdma", "linux.resources.rdma")?;
        write(d, "rdma.max", &line)?;
    }
    Ok(())
}

/// One rule in the kernel's "type major:minor access" syntax.
pub(crate) fn device_rule(d: &LinuxDeviceCgroup) -> Result<String, CgroupError> {
    let typ = d
        .typ()
        .map(|t| t.as_str().to_string())
        .unwrap_or_else(|| "a".into());
    if !matches!(typ.as_str(), "a" | "b" | "c") {
        return Err(CgroupError::Invalid {
            field: "linux.resources.devices[].type",
            value: typ,
            reason: "device cgroup rules take a, b or c".into(),
        });
    }
    let num = |v: Option<i64>, what: &'static str| match v {
        None | Some(-1) => Ok("*".to_string()),
        Some(n) if n >= 0 => Ok(n.to_string()),
        Some(n) => Err(CgroupError::Invalid {
            field: what,
            value: n.to_string(),
            reason: "must be >= 0 or absent (any)".into(),
        }),
    };
    let major = num(d.major(), "linux.resources.devices[].major")?;
    let minor = num(d.minor(), "linux.resources.devices[].minor")?;
    let access = d.access().clone().unwrap_or_else(|| "rwm".into());
    if access.is_empty() || !access.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
        return Err(CgroupError::Invalid {
            field: "linux.resources.devices[].access",
            value: access,
            reason: "must be a combination of r, w and m".into(),
        });
    }
    Ok(format!("{typ} {major}:{minor} {access}"))
}

fn devices(p: &CgroupPaths, devs: &[LinuxDeviceCgroup]) -> Result<(), CgroupError> {
    if devs.is_empty() {
        return Ok(());
    }
    // Parse everything first so a bad rule leaves the cgroup untouched.
    let rules = devs
        .iter()
        .map(|d| Ok((d.allow(), device_rule(d)?)))
        .collect::<Result<Vec<_>, CgroupError>>()?;
    let d = dir(p, "devices", "linux.resources.devices")?;
    for (allow, rule) in rules {
        let file = if allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        write(d, file, &rule)?;
    }
    Ok(())
}

/// A new cpuset cgroup starts with empty cpus/mems and refuses tasks:
/// copy them from the parent (which we fill first, top-down).
pub(crate) fn init_cpuset(dir: &Path, stop_at: &Path) -> Result<(), CgroupError> {
    if dir == stop_at {
        return Ok(());
    }
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    init_cpuset(parent, stop_at)?;
    for file in ["cpuset.cpus", "cpuset.mems"] {
        if read(dir, file)?.trim().is_empty() {
            let v = read(parent, file)?;
            write(dir, file, v.trim())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(v: serde_json::Value) -> Result<String, CgroupError> {
        device_rule(&serde_json::from_value(v).unwrap())
    }

    #[test]
    fn device_rules_use_kernel_syntax() {
        assert_eq!(
            rule(serde_json::json!({"allow": false})).unwrap(),
            "a *:* rwm"
        );
        let r = rule(
            serde_json::json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}),
        );
        assert_eq!(r.unwrap(), "c 1:3 rw");
        let r = rule(serde_json::json!({"allow": true, "type": "b", "major": 8, "access": "m"}));
        assert_eq!(r.unwrap(), "b 8:* m");
        assert!(rule(serde_json::json!({"allow": true, "access": "q"})).is_err());
        assert!(rule(serde_json::json!({"allow": true, "major": -3})).is_err());
    }

    #[test]
    fn limits_and_pids_values() {
        assert_eq!(check_limit("f", 0).unwrap(), None);
        assert_eq!(check_limit("f", -1).unwrap(), Some(-1));
        assert!(check_limit("f", -2)
            .unwrap_err()
            .to_string()
            .contains("f = -2"));
        assert_eq!(pids_value(-1).unwrap().as_deref(), Some("max"));
        assert_eq!(pids_value(7).unwrap().as_deref(), Some("7"));
        assert_eq!(pids_value(0).unwrap(), None);
        assert!(pids_value(-4).is_err());
    }
}
