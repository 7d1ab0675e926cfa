//! Reading and writing cgroupfs files with errors that name the file.

use crate::CgroupError;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `value` to `dir/name` in a single write(2), as cgroupfs expects.
pub(crate) fn write(dir: &Path, name: &str, value: &str) -> Result<(), CgroupError> {
    let path = dir.join(name);
    let res = fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|mut f| f.write_all(value.as_bytes()));
    res.map_err(|source| CgroupError::Write {
        path,
        value: value.to_string(),
        source,
    })
}

pub(crate) fn read(dir: &Path, name: &str) -> Result<String, CgroupError> {
    let path = dir.join(name);
    fs::read_to_string(&path).map_err(|source| CgroupError::Read { path, source })
}

pub(crate) fn exists(dir: &Path, name: &str) -> bool {
    dir.join(name).exists()
}

pub(crate) fn parse_err(dir: &Path, name: &str, reason: impl Into<String>) -> CgroupError {
    CgroupError::Parse {
        path: dir.join(name),
        reason: reason.into(),
    }
}

/// Reads a single number; "max" (v2) reads as u64::MAX.
pub(crate) fn read_u64(dir: &Path, name: &str) -> Result<u64, CgroupError> {
    let s = read(dir, name)?;
    let t = s.trim();
    if t == "max" {
        return Ok(u64::MAX);
    }
    t.parse::<u64>()
        .map_err(|e| parse_err(dir, name, format!("{t:?}: {e}")))
}

/// Like `read_u64` but a missing file reads as 0 (optional statistics).
pub(crate) fn read_u64_opt(dir: &Path, name: &str) -> Result<u64, CgroupError> {
    if exists(dir, name) {
        read_u64(dir, name)
    } else {
        Ok(0)
    }
}

/// Parses "key value" lines (memory.stat, cpu.stat, cpuacct.stat).
pub(crate) fn read_kv(
    dir: &Path,
    name: &str,
) -> Result<std::collections::BTreeMap<String, u64>, CgroupError> {
    let mut out = std::collections::BTreeMap::new();
    if !exists(dir, name) {
        return Ok(out);
    }
    for line in read(dir, name)?.lines() {
        let mut it = line.split_whitespace();
        if let (Some(k), Some(v)) = (it.next(), it.next()) {
            if let Ok(v) = v.parse::<u64>() {
                out.insert(k.to_string(), v);
            }
        }
    }
    Ok(out)
}

/// Pids listed in `dir/cgroup.procs`; a directory that is gone has none.
pub(crate) fn procs(dir: &Path) -> Result<Vec<i32>, CgroupError> {
    let path = dir.join("cgroup.procs");
    let s = match fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(CgroupError::Read { path, source }),
    };
    s.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.trim()
                .parse::<i32>()
                .map_err(|e| parse_err(dir, "cgroup.procs", format!("{l:?}: {e}")))
        })
        .collect()
}

/// Removes `dir` and every cgroup below it, deepest first, retrying EBUSY
/// briefly (the kernel frees a cgroup a moment after its last task exits).
pub(crate) fn remove_tree(dir: &Path) -> Result<(), CgroupError> {
    // The usual case, a leaf cgroup with no task left, needs no listing.
    match fs::remove_dir(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(_) => {}
    }
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(CgroupError::Remove {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    let children: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .map(|e| e.path())
        .collect();
    for child in children {
        remove_tree(&child)?;
    }
    let mut tries = 0;
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(source) => {
                return Err(CgroupError::Remove {
                    path: dir.to_path_buf(),
                    source,
                })
            }
        }
    }
}

/// `field` needs `controller`, whose `file` must exist in `d`.
pub(crate) fn need(
    d: &Path,
    file: &str,
    field: &'static str,
    controller: &'static str,
) -> Result<(), CgroupError> {
    if exists(d, file) {
        Ok(())
    } else {
        Err(CgroupError::Unsupported {
            field,
            controller,
            detail: format!("no {}", d.join(file).display()),
        })
    }
}
