//! Applying LinuxResources to a cgroup v2 directory, converting v1-style
//! values the way runc does (formulas in docs/cgroups.md).

use crate::fs::{exists, need, read_u64, write};
use crate::v1::{check_limit, pids_value, rdma_lines};
use crate::CgroupError;
use oci_spec::runtime::LinuxResources;
use std::path::Path;

/// cpu.shares (2..=262144) to cpu.weight (1..=10000).
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

/// blkio weight (10..=1000) to io.weight (1..=10000).
pub fn blkio_weight_to_io(weight: u16) -> u64 {
    if weight == 0 {
        return 0;
    }
    1 + (u64::from(weight.clamp(10, 1000)) - 10) * 9999 / 990
}

/// memory.swap.max from the OCI memory+swap value: swap - limit.
pub fn swap_max(swap: i64, limit: Option<i64>) -> Result<Option<String>, CgroupError> {
    match (swap, limit) {
        (-1, _) => Ok(Some("max".into())),
        (0, _) => Ok(None),
        (_, None | Some(-1)) => Err(CgroupError::Invalid {
            field: "linux.resources.memory.swap",
            value: swap.to_string(),
            reason: "a swap limit needs a memory limit on cgroup v2".into(),
        }),
        (s, Some(l)) if s < l => Err(CgroupError::Invalid {
            field: "linux.resources.memory.swap",
            value: s.to_string(),
            reason: format!("memory+swap must be >= memory limit {l}"),
        }),
        (s, Some(l)) => Ok(Some((s - l).to_string())),
    }
}

fn bytes(v: i64) -> String {
    if v == -1 {
        "max".into()
    } else {
        v.to_string()
    }
}

fn put(
    d: &Path,
    file: &str,
    v: &str,
    field: &'static str,
    controller: &'static str,
) -> Result<(), CgroupError> {
    need(d, file, field, controller)?;
    write(d, file, v)
}

pub(crate) fn apply(d: &Path, r: &LinuxResources) -> Result<(), CgroupError> {
    memory(d, r)?;
    if let Some(v) = r
        .pids()
        .map(|p| pids_value(p.limit()))
        .transpose()?
        .flatten()
    {
        put(d, "pids.max", &v, "linux.resources.pids", "pids")?;
    }
    cpu(d, r)?;
    io(d, r)?;
    for h in r.hugepage_limits().iter().flatten() {
        let field = "linux.resources.hugepageLimits";
        let v = check_limit(field, h.limit())?
            .map(bytes)
            .unwrap_or_else(|| "0".into());
        put(
            d,
            &format!("hugetlb.{}.max", h.page_size()),
            &v,
            field,
            "hugetlb",
        )?;
    }
    if let Some(n) = r.network() {
        if n.class_id().is_some() || n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
            return Err(CgroupError::Unsupported {
                field: "linux.resources.network",
                controller: "net_cls/net_prio",
                detail: format!(
                    "they are cgroup v1 only and {} is a cgroup v2 hierarchy",
                    d.display()
                ),
            });
        }
    }
    for line in rdma_lines(r) {
        put(d, "rdma.max", &line, "linux.resources.rdma", "rdma")?;
    }
    if let Some(devs) = r.devices() {
        if !devs.is_empty() {
            crate::v2_devices::apply(d, devs)?;
        }
    }
    unified(d, r)
}

pub(crate) fn unified(d: &Path, r: &LinuxResources) -> Result<(), CgroupError> {
    for (k, v) in r.unified().iter().flatten() {
        if k.contains('/') || k.starts_with('.') || k.is_empty() {
            return Err(CgroupError::Invalid {
                field: "linux.resources.unified",
                value: k.clone(),
                reason: "not a cgroup file name".into(),
            });
        }
        if !exists(d, k) {
            return Err(CgroupError::Invalid {
                field: "linux.resources.unified",
                value: k.clone(),
                reason: format!(
                    "{} does not exist (controller not enabled?)",
                    d.join(k).display()
                ),
            });
        }
        write(d, k, v)?;
    }
    Ok(())
}

fn memory(d: &Path, r: &LinuxResources) -> Result<(), CgroupError> {
    let Some(m) = r.memory() else { return Ok(()) };
    let limit = m
        .limit()
        .map(|v| check_limit("linux.resources.memory.limit", v))
        .transpose()?
        .flatten();
    let swap = m
        .swap()
        .map(|v| check_limit("linux.resources.memory.swap", v))
        .transpose()?
        .flatten();
    let reservation = m
        .reservation()
        .map(|v| check_limit("linux.resources.memory.reservation", v))
        .transpose()?
        .flatten();
    let swap_v = match swap {
        Some(s) => swap_max(s, limit)?,
        None if limit == Some(-1) => Some("max".to_string()),
        None => None,
    };
    if let Some(l) = limit {
        if m.check_before_update() == Some(true) && l > 0 {
            let usage = read_u64(d, "memory.current")?;
            if (l as u64) < usage {
                return Err(CgroupError::Invalid {
                    field: "linux.resources.memory.limit",
                    value: l.to_string(),
                    reason: format!("below current usage {usage} (checkBeforeUpdate)"),
                });
            }
        }
    }
    // swap.max first: it is independent of memory.max on v2.
    if let Some(s) = swap_v {
        if exists(d, "memory.swap.max") {
            write(d, "memory.swap.max", &s)?;
        } else if s != "max" {
            return Err(CgroupError::Unsupported {
                field: "linux.resources.memory.swap",
                controller: "memory (swap accounting)",
                detail: format!("no {}", d.join("memory.swap.max").display()),
            });
        }
    }
    if let Some(l) = limit {
        put(
            d,
            "memory.max",
            &bytes(l),
            "linux.resources.memory.limit",
            "memory",
        )?;
    }
    if let Some(v) = reservation {
        put(
            d,
            "memory.low",
            &bytes(v),
            "linux.resources.memory.reservation",
            "memory",
        )?;
    }
    // swappiness, disableOOMKiller, kernel, kernelTCP have no v2 file: ignored like runc.
    Ok(())
}

fn cpu(d: &Path, r: &LinuxResources) -> Result<(), CgroupError> {
    let Some(c) = r.cpu() else { return Ok(()) };
    if c.realtime_runtime().is_some_and(|v| v != 0) || c.realtime_period().is_some_and(|v| v != 0) {
        return Err(CgroupError::Unsupported {
            field: "linux.resources.cpu.realtimeRuntime/realtimePeriod",
            controller: "cpu realtime",
            detail: format!(
                "realtime is cgroup v1 only and {} is a cgroup v2 hierarchy",
                d.display()
            ),
        });
    }
    if let Some(s) = c.shares().filter(|s| *s != 0) {
        put(
            d,
            "cpu.weight",
            &shares_to_weight(s).to_string(),
            "linux.resources.cpu.shares",
            "cpu",
        )?;
    }
    if let Some(i) = c.idle() {
        put(
            d,
            "cpu.idle",
            &i.to_string(),
            "linux.resources.cpu.idle",
            "cpu",
        )?;
    }
    let quota = c.quota();
    let period = c.period().filter(|p| *p != 0);
    if let Some(q) = quota {
        if q < -1 || q == 0 {
            return Err(CgroupError::Invalid {
                field: "linux.resources.cpu.quota",
                value: q.to_string(),
                reason: "must be positive or -1 (unlimited)".into(),
            });
        }
    }
    if quota.is_some() || period.is_some() {
        let mut v = match quota {
            Some(q) if q > 0 => q.to_string(),
            _ => "max".to_string(),
        };
        if let Some(p) = period {
            v.push_str(&format!(" {p}"));
        }
        put(d, "cpu.max", &v, "linux.resources.cpu.quota", "cpu")?;
    }
    if let Some(b) = c.burst() {
        put(
            d,
            "cpu.max.burst",
            &b.to_string(),
            "linux.resources.cpu.burst",
            "cpu",
        )?;
    }
    if let Some(v) = c.cpus().as_deref().filter(|v| !v.is_empty()) {
        put(d, "cpuset.cpus", v, "linux.resources.cpu.cpus", "cpuset")?;
    }
    if let Some(v) = c.mems().as_deref().filter(|v| !v.is_empty()) {
        put(d, "cpuset.mems", v, "linux.resources.cpu.mems", "cpuset")?;
    }
    Ok(())
}

fn io(d: &Path, r: &LinuxResources) -> Result<(), CgroupError> {
    let Some(b) = r.block_io() else { return Ok(()) };
    if b.leaf_weight().is_some()
        || b.weight_device()
            .iter()
            .flatten()
            .any(|w| w.leaf_weight().is_some())
    {
        return Err(CgroupError::Unsupported {
            field: "linux.resources.blockIO.leafWeight",
            controller: "blkio leaf weight",
            detail: format!(
                "leaf weights are cgroup v1 only and {} is a cgroup v2 hierarchy",
                d.display()
            ),
        });
    }
    if let Some(w) = b.weight() {
        put(
            d,
            "io.weight",
            &format!("default {}", blkio_weight_to_io(w)),
            "linux.resources.blockIO.weight",
            "io",
        )?;
    }
    for wd in b.weight_device().iter().flatten() {
        if let Some(w) = wd.weight() {
            let v = format!("{}:{} {}", wd.major(), wd.minor(), blkio_weight_to_io(w));
            put(
                d,
                "io.weight",
                &v,
                "linux.resources.blockIO.weightDevice",
                "io",
            )?;
        }
    }
    let lists = [
        ("rbps", b.throttle_read_bps_device()),
        ("wbps", b.throttle_write_bps_device()),
        ("riops", b.throttle_read_iops_device()),
        ("wiops", b.throttle_write_iops_device()),
    ];
    for (key, list) in lists {
        for t in list.iter().flatten() {
            let v = format!("{}:{} {key}={}", t.major(), t.minor(), t.rate());
            put(d, "io.max", &v, "linux.resources.blockIO.throttle*", "io")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_convert_like_runc() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(0), 0);
    }

    #[test]
    fn blkio_weight_converts_like_runc() {
        assert_eq!(blkio_weight_to_io(10), 1);
        assert_eq!(blkio_weight_to_io(500), 4950);
        assert_eq!(blkio_weight_to_io(1000), 10_000);
    }

    #[test]
    fn swap_is_swap_minus_limit() {
        assert_eq!(swap_max(300, Some(100)).unwrap().as_deref(), Some("200"));
        assert_eq!(swap_max(-1, Some(100)).unwrap().as_deref(), Some("max"));
        assert_eq!(swap_max(0, Some(100)).unwrap(), None);
        assert!(swap_max(50, Some(100)).is_err());
        assert!(swap_max(50, None).is_err());
    }
}
