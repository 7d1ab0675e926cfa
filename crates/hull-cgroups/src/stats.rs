//! Statistics shaped like the "data" object of `runc events --stats`.

use crate::fs::{exists, read, read_kv, read_u64, read_u64_opt};
use crate::{CgroupError, CgroupPaths, Layout};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Stats {
    pub cpu: Cpu,
    pub memory: Memory,
    pub pids: Pids,
    pub blkio: Blkio,
    pub hugetlb: BTreeMap<String, Hugetlb>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Cpu {
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

/// Nanoseconds.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct CpuUsage {
    pub total: u64,
    pub percpu: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Throttling {
    pub periods: u64,
    pub throttled_periods: u64,
    pub throttled_time: u64,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct MemoryEntry {
    pub limit: u64,
    pub usage: u64,
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Memory {
    pub cache: u64,
    pub usage: MemoryEntry,
    pub swap: MemoryEntry,
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    pub raw: BTreeMap<String, u64>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Pids {
    pub current: u64,
    pub limit: u64,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct BlkioEntry {
    pub major: u64,
    pub minor: u64,
    pub op: String,
    pub value: u64,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Blkio {
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Hugetlb {
    pub usage: u64,
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
