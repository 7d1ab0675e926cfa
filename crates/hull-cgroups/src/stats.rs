//! Statistics shaped like the "data" object of `runc events --stats`.

use crate::fs::{exists, parse_err, read, read_kv, read_u64, read_u64_opt};
use crate::{CgroupError, CgroupPaths, Layout};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

// Serialized as runc 1.4 encodes its stats (types/events.go): fields in
// its order, and the ones it omits when zero or empty omitted here too.

fn is_zero(v: &u64) -> bool {
    *v == 0
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Stats {
    pub cpu: Cpu,
    #[serde(default)]
    pub cpuset: CpuSet,
    pub memory: Memory,
    pub pids: Pids,
    pub blkio: Blkio,
    pub hugetlb: BTreeMap<String, Hugetlb>,
    /// Intel RDT: hull does not manage it; runc prints `{}` without it.
    #[serde(default)]
    pub intel_rdt: IntelRdt,
    /// runc reads no interface statistics for its containers: `null`.
    #[serde(default)]
    pub network_interfaces: Option<Vec<BTreeMap<String, u64>>>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct IntelRdt {}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Cpu {
    #[serde(default, skip_serializing_if = "CpuUsage::is_empty")]
    pub usage: CpuUsage,
    #[serde(default, skip_serializing_if = "Throttling::is_empty")]
    pub throttling: Throttling,
}

/// Nanoseconds.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct CpuUsage {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub total: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

impl CpuUsage {
    fn is_empty(&self) -> bool {
        self.total == 0
            && self.percpu.is_empty()
            && self.percpu_kernel.is_empty()
            && self.percpu_user.is_empty()
            && self.kernel == 0
            && self.user == 0
    }
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Throttling {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub periods: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

impl Throttling {
    fn is_empty(&self) -> bool {
        self.periods == 0 && self.throttled_periods == 0 && self.throttled_time == 0
    }
}

/// The cpuset controller's settings (v1; runc reads none on v2).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct CpuSet {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    pub cpu_exclusive: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    pub mem_hardwall: u64,
    pub mem_exclusive: u64,
    pub memory_migrate: u64,
    pub memory_spread_page: u64,
    pub memory_spread_slab: u64,
    pub memory_pressure: u64,
    pub sched_load_balance: u64,
    pub sched_relax_domain_level: i64,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct MemoryEntry {
    pub limit: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

impl MemoryEntry {
    fn is_empty(&self) -> bool {
        self.limit == 0 && self.usage == 0 && self.max == 0 && self.failcnt == 0
    }
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Memory {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache: u64,
    #[serde(default, skip_serializing_if = "MemoryEntry::is_empty")]
    pub usage: MemoryEntry,
    #[serde(default, skip_serializing_if = "MemoryEntry::is_empty")]
    pub swap: MemoryEntry,
    #[serde(default, skip_serializing_if = "MemoryEntry::is_empty")]
    pub kernel: MemoryEntry,
    #[serde(
        default,
        rename = "kernelTCP",
        skip_serializing_if = "MemoryEntry::is_empty"
    )]
    pub kernel_tcp: MemoryEntry,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Pids {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub current: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub limit: u64,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct BlkioEntry {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub major: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub minor: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub op: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub value: u64,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Blkio {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Hugetlb {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

/// USER_HZ as seen by cpuacct.stat; Linux fixes it at 100 for userspace.
const NS_PER_TICK: u64 = 1_000_000_000 / 100;

pub(crate) fn collect(p: &CgroupPaths) -> Result<Stats, CgroupError> {
    match (p.layout, &p.unified) {
        (Layout::V2, Some(d)) => v2(d),
        _ => v1(p),
    }
}

fn v1(p: &CgroupPaths) -> Result<Stats, CgroupError> {
    let mut s = Stats::default();
    if let Some(d) = p.v1_dir("cpuacct") {
        s.cpu.usage.total = read_u64(d, "cpuacct.usage")?;
        s.cpu.usage.percpu = read(d, "cpuacct.usage_percpu")?
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        let st = read_kv(d, "cpuacct.stat")?;
        s.cpu.usage.user = st.get("user").copied().unwrap_or(0) * NS_PER_TICK;
        s.cpu.usage.kernel = st.get("system").copied().unwrap_or(0) * NS_PER_TICK;
        (s.cpu.usage.percpu_user, s.cpu.usage.percpu_kernel) = percpu_modes(d)?;
    }
    if let Some(d) = p.v1_dir("cpuset") {
        s.cpuset = cpuset_v1(d)?;
    }
    if let Some(d) = p.v1_dir("cpu") {
        let st = read_kv(d, "cpu.stat")?;
        s.cpu.throttling = Throttling {
            periods: st.get("nr_periods").copied().unwrap_or(0),
            throttled_periods: st.get("nr_throttled").copied().unwrap_or(0),
            throttled_time: st.get("throttled_time").copied().unwrap_or(0),
        };
    }
    if let Some(d) = p.v1_dir("memory") {
        let entry = |prefix: &str| -> Result<MemoryEntry, CgroupError> {
            Ok(MemoryEntry {
                limit: read_u64_opt(d, &format!("{prefix}.limit_in_bytes"))?,
                usage: read_u64_opt(d, &format!("{prefix}.usage_in_bytes"))?,
                max: read_u64_opt(d, &format!("{prefix}.max_usage_in_bytes"))?,
                failcnt: read_u64_opt(d, &format!("{prefix}.failcnt"))?,
            })
        };
        s.memory.usage = entry("memory")?;
        s.memory.swap = entry("memory.memsw")?;
        s.memory.kernel = entry("memory.kmem")?;
        s.memory.kernel_tcp = entry("memory.kmem.tcp")?;
        s.memory.raw = read_kv(d, "memory.stat")?;
        s.memory.cache = s
            .memory
            .raw
            .get("total_cache")
            .or(s.memory.raw.get("cache"))
            .copied()
            .unwrap_or(0);
    }
    if let Some(d) = p.v1_dir("pids") {
        s.pids = pids(d)?;
    }
    if let Some(d) = p.v1_dir("blkio") {
        s.blkio.io_service_bytes_recursive =
            blkio_v1(d, "blkio.throttle.io_service_bytes_recursive")?;
        s.blkio.io_serviced_recursive = blkio_v1(d, "blkio.throttle.io_serviced_recursive")?;
    }
    if let Some(d) = p.v1_dir("hugetlb") {
        for size in hugetlb_sizes(d, ".limit_in_bytes")? {
            let f = |suffix: &str| read_u64_opt(d, &format!("hugetlb.{size}.{suffix}"));
            let h = Hugetlb {
                usage: f("usage_in_bytes")?,
                max: f("max_usage_in_bytes")?,
                failcnt: f("failcnt")?,
            };
            s.hugetlb.insert(size, h);
        }
    }
    Ok(s)
}

/// cpuacct.usage_all: "cpu user system" then one line per CPU (ns).
fn percpu_modes(d: &Path) -> Result<(Vec<u64>, Vec<u64>), CgroupError> {
    let (mut user, mut kernel) = (Vec::new(), Vec::new());
    if !exists(d, "cpuacct.usage_all") {
        return Ok((user, kernel));
    }
    for line in read(d, "cpuacct.usage_all")?.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if let (Some(u), Some(k)) = (f.get(1), f.get(2)) {
            user.push(u.parse().unwrap_or(0));
            kernel.push(k.parse().unwrap_or(0));
        }
    }
    Ok((user, kernel))
}

/// The cpuset files of a v1 cpuset cgroup (a missing one reads as 0).
fn cpuset_v1(d: &Path) -> Result<CpuSet, CgroupError> {
    let list = |name: &str| -> Result<Vec<u16>, CgroupError> {
        if !exists(d, name) {
            return Ok(Vec::new());
        }
        let text = read(d, name)?;
        parse_cpu_list(text.trim()).ok_or_else(|| parse_err(d, name, format!("{:?}", text.trim())))
    };
    let num = |name: &str| read_u64_opt(d, name);
    let level = if exists(d, "cpuset.sched_relax_domain_level") {
        let t = read(d, "cpuset.sched_relax_domain_level")?;
        t.trim().parse().unwrap_or(0)
    } else {
        0
    };
    Ok(CpuSet {
        cpus: list("cpuset.cpus")?,
        cpu_exclusive: num("cpuset.cpu_exclusive")?,
        mems: list("cpuset.mems")?,
        mem_hardwall: num("cpuset.mem_hardwall")?,
        mem_exclusive: num("cpuset.mem_exclusive")?,
        memory_migrate: num("cpuset.memory_migrate")?,
        memory_spread_page: num("cpuset.memory_spread_page")?,
        memory_spread_slab: num("cpuset.memory_spread_slab")?,
        memory_pressure: num("cpuset.memory_pressure")?,
        sched_load_balance: num("cpuset.sched_load_balance")?,
        sched_relax_domain_level: level,
    })
}

/// "0-3,5" as [0, 1, 2, 3, 5]; empty as none.
fn parse_cpu_list(s: &str) -> Option<Vec<u16>> {
    let mut out = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u16, u16) = (a.parse().ok()?, b.parse().ok()?);
                if a > b {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

fn pids(d: &Path) -> Result<Pids, CgroupError> {
    let limit = read_u64(d, "pids.max")?;
    Ok(Pids {
        current: read_u64(d, "pids.current")?,
        // runc reports "max" as 0.
        limit: if limit == u64::MAX { 0 } else { limit },
    })
}

fn hugetlb_sizes(d: &Path, suffix: &str) -> Result<Vec<String>, CgroupError> {
    let rd = std::fs::read_dir(d).map_err(|source| CgroupError::Read {
        path: d.to_path_buf(),
        source,
    })?;
    let mut out: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.strip_prefix("hugetlb.")
                .and_then(|r| r.strip_suffix(suffix))
                .filter(|s| !s.contains('.'))
                .map(str::to_string)
        })
        .collect();
    out.sort();
    Ok(out)
}

/// Lines "maj:min Op value" (and a final "Total value" line, skipped).
fn blkio_v1(d: &Path, file: &str) -> Result<Vec<BlkioEntry>, CgroupError> {
    if !exists(d, file) {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for line in read(d, file)?.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() != 3 {
            continue;
        }
        let Some((maj, min)) = f[0].split_once(':') else {
            continue;
        };
        if let (Ok(major), Ok(minor), Ok(value)) = (maj.parse(), min.parse(), f[2].parse()) {
            out.push(BlkioEntry {
                major,
                minor,
                op: f[1].to_string(),
                value,
            });
        }
    }
    Ok(out)
}

fn v2(d: &Path) -> Result<Stats, CgroupError> {
    let mut s = Stats::default();
    let cpu = read_kv(d, "cpu.stat")?;
    let g = |m: &BTreeMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0);
    s.cpu.usage.total = g(&cpu, "usage_usec") * 1000;
    s.cpu.usage.user = g(&cpu, "user_usec") * 1000;
    s.cpu.usage.kernel = g(&cpu, "system_usec") * 1000;
    s.cpu.throttling = Throttling {
        periods: g(&cpu, "nr_periods"),
        throttled_periods: g(&cpu, "nr_throttled"),
        throttled_time: g(&cpu, "throttled_usec") * 1000,
    };
    if exists(d, "memory.current") {
        let events = read_kv(d, "memory.events")?;
        s.memory.usage = MemoryEntry {
            limit: read_u64(d, "memory.max")?,
            usage: read_u64(d, "memory.current")?,
            max: read_u64_opt(d, "memory.peak")?,
            failcnt: g(&events, "max"),
        };
        s.memory.swap = MemoryEntry {
            limit: read_u64_opt(d, "memory.swap.max")?,
            usage: read_u64_opt(d, "memory.swap.current")?,
            max: read_u64_opt(d, "memory.swap.peak")?,
            failcnt: 0,
        };
        s.memory.raw = read_kv(d, "memory.stat")?;
        s.memory.cache = g(&s.memory.raw, "file");
    }
    if exists(d, "pids.current") {
        s.pids = pids(d)?;
    }
    if exists(d, "io.stat") {
        for line in read(d, "io.stat")?.lines() {
            let mut it = line.split_whitespace();
            let Some((maj, min)) = it.next().and_then(|dev| dev.split_once(':')) else {
                continue;
            };
            let (Ok(major), Ok(minor)) = (maj.parse(), min.parse()) else {
                continue;
            };
            for kv in it {
                let Some((k, v)) = kv.split_once('=') else {
                    continue;
                };
                let Ok(value) = v.parse() else { continue };
                let (list, op) = match k {
                    "rbytes" => (&mut s.blkio.io_service_bytes_recursive, "Read"),
                    "wbytes" => (&mut s.blkio.io_service_bytes_recursive, "Write"),
                    "rios" => (&mut s.blkio.io_serviced_recursive, "Read"),
                    "wios" => (&mut s.blkio.io_serviced_recursive, "Write"),
                    _ => continue,
                };
                list.push(BlkioEntry {
                    major,
                    minor,
                    op: op.into(),
                    value,
                });
            }
        }
    }
    for size in hugetlb_sizes(d, ".max")? {
        let events = read_kv(d, &format!("hugetlb.{size}.events"))?;
        let h = Hugetlb {
            usage: read_u64_opt(d, &format!("hugetlb.{size}.current"))?,
            max: read_u64_opt(d, &format!("hugetlb.{size}.max"))?,
            failcnt: g(&events, "max"),
        };
        s.hugetlb.insert(size, h);
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_parse_ranges_and_singles() {
        assert_eq!(parse_cpu_list("0-3,5"), Some(vec![0, 1, 2, 3, 5]));
        assert_eq!(parse_cpu_list("0"), Some(vec![0]));
        assert_eq!(parse_cpu_list(""), Some(vec![]));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("x"), None);
    }

    #[test]
    fn stats_serialize_in_runcs_order_omitting_what_runc_omits() {
        let mut s = Stats::default();
        s.cpu.usage.kernel = 10;
        s.memory.usage.limit = 5;
        let text = serde_json::to_string(&s).expect("json");
        assert_eq!(
            text,
            "{\"cpu\":{\"usage\":{\"kernel\":10,\"user\":0}},\"cpuset\":{\"cpu_exclusive\":0,\
             \"mem_hardwall\":0,\"mem_exclusive\":0,\"memory_migrate\":0,\"memory_spread_page\":0,\
             \"memory_spread_slab\":0,\"memory_pressure\":0,\"sched_load_balance\":0,\
             \"sched_relax_domain_level\":0},\"memory\":{\"usage\":{\"limit\":5,\"failcnt\":0}},\
             \"pids\":{},\"blkio\":{},\"hugetlb\":{},\"intel_rdt\":{},\"network_interfaces\":null}"
        );
    }
}
