//! The resources `update` applies, from its flags as runc reads them: a
//! LinuxResources JSON document (`--resources FILE` or `-` for stdin; the
//! other flags are then ignored), or one flag per field, with runc's value
//! syntax (memory sizes with k/m/g suffixes, `-1` for unlimited) and its
//! error wording ("invalid value for memory: invalid size: 'x'").

use std::io::Read;

use oci_spec::runtime::LinuxResources;
use serde_json::{json, Value};

use crate::error::{Error, Result};

/// What kind of number a flag holds, and where it goes in the document.
enum Field {
    Unsigned(&'static str, &'static str),
    Signed(&'static str, &'static str),
    Size(&'static str, &'static str),
    Text(&'static str, &'static str),
}

/// runc's flags in the order it reads them.
const FIELDS: &[(&str, Field)] = &[
    ("cpuset-cpus", Field::Text("cpu", "cpus")),
    ("cpuset-mems", Field::Text("cpu", "mems")),
    ("cpu-idle", Field::Signed("cpu", "idle")),
    ("cpu-burst", Field::Unsigned("cpu", "burst")),
    ("cpu-period", Field::Unsigned("cpu", "period")),
    ("cpu-rt-period", Field::Unsigned("cpu", "realtimePeriod")),
    ("cpu-share", Field::Unsigned("cpu", "shares")),
    ("cpu-quota", Field::Signed("cpu", "quota")),
    ("cpu-rt-runtime", Field::Signed("cpu", "realtimeRuntime")),
    ("memory", Field::Size("memory", "limit")),
    ("memory-swap", Field::Size("memory", "swap")),
    ("kernel-memory", Field::Size("memory", "kernel")),
    ("kernel-memory-tcp", Field::Size("memory", "kernelTCP")),
    ("memory-reservation", Field::Size("memory", "reservation")),
];

/// The resources to apply. `flag` gives a flag's value by its long name
/// (None when not given); `stdin` is read for `--resources -`.
pub fn resources(
    flag: &dyn Fn(&str) -> Option<String>,
    stdin: &mut dyn Read,
) -> Result<LinuxResources> {
    let doc = match flag("resources").filter(|r| !r.is_empty()) {
        Some(path) => read_document(&path, stdin)?,
        None => from_flags(flag)?,
    };
    check_intel_rdt(flag)?;
    serde_json::from_value(doc).map_err(|e| Error::Other(format!("resources: {e}")))
}

fn read_document(path: &str, stdin: &mut dyn Read) -> Result<Value> {
    let mut buf = Vec::new();
    if path == "-" {
        stdin
            .read_to_end(&mut buf)
            .map_err(|e| Error::sys("read resources from stdin", e))?;
    } else {
        buf = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    }
    serde_json::from_slice(&buf).map_err(|e| Error::Other(format!("resources from {path}: {e}")))
}

fn from_flags(flag: &dyn Fn(&str) -> Option<String>) -> Result<Value> {
    let mut doc = json!({});
    let mut set = |section: &str, key: &str, v: Value| {
        if !doc[section].is_object() {
            doc[section] = json!({});
        }
        doc[section][key] = v;
    };
    if let Some(w) = flag("blkio-weight") {
        let w: u16 = w
            .parse()
            .map_err(|_| invalid("blkio-weight", &w, "out of range"))?;
        if w != 0 {
            set("blockIO", "weight", w.into());
        }
    }
    for (name, field) in FIELDS {
        let Some(text) = flag(name).filter(|v| !v.is_empty()) else {
            continue;
        };
        match field {
            Field::Text(s, k) => set(s, k, text.into()),
            Field::Unsigned(s, k) => {
                let v: u64 = text.parse().map_err(|e| invalid(name, &text, e))?;
                set(s, k, v.into());
            }
            Field::Signed(s, k) => {
                let v: i64 = text.parse().map_err(|e| invalid(name, &text, e))?;
                set(s, k, v.into());
            }
            Field::Size(s, k) => {
                let v = if text == "-1" {
                    -1
                } else {
                    ram_in_bytes(&text).ok_or_else(|| {
                        Error::Other(format!("invalid value for {name}: invalid size: '{text}'"))
                    })?
                };
                set(s, k, v.into());
            }
        }
    }
    if flag("kernel-memory").is_some() || flag("kernel-memory-tcp").is_some() {
        crate::warn("Kernel memory settings are ignored and will be removed");
    }
    if let Some(n) = flag("pids-limit") {
        let v: i64 = n.parse().map_err(|e| invalid("pids-limit", &n, e))?;
        set("pids", "limit", v.into());
    }
    Ok(doc)
}

fn invalid(name: &str, value: &str, why: impl std::fmt::Display) -> Error {
    Error::Other(format!("invalid value for {name}: {value:?}: {why}"))
}

/// A size as Docker's go-units reads memory sizes: a decimal number, an
/// optional space, an optional k/m/g/t/p (powers of 1024, any case), an
/// optional `i` and `b`: `512`, `64m`, `1.5G`, `10MiB`.
pub fn ram_in_bytes(s: &str) -> Option<i64> {
    let num_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, rest) = s.split_at(num_end);
    if num.is_empty() || !num.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let value: f64 = num.parse().ok()?;
    let rest = rest.strip_prefix(' ').unwrap_or(rest).to_ascii_lowercase();
    let (mult, rest) = match rest.chars().next() {
        Some(c @ ('k' | 'm' | 'g' | 't' | 'p')) => {
            let power = "kmgtp".find(c).map_or(0, |i| i as i32 + 1);
            (1024f64.powi(power), &rest[1..])
        }
        _ => (1.0, rest.as_str()),
    };
    let rest = rest.strip_prefix('i').unwrap_or(rest);
    let rest = rest.strip_prefix('b').unwrap_or(rest);
    if !rest.is_empty() {
        return None;
    }
    Some((value * mult) as i64)
}

/// hull does not manage Intel RDT: the schema flags fail as runc's do on a
/// host without it, or say hull cannot update them.
fn check_intel_rdt(flag: &dyn Fn(&str) -> Option<String>) -> Result<()> {
    let given = |n: &str| flag(n).is_some_and(|v| !v.is_empty());
    let enabled = |dir: &str| {
        std::path::Path::new("/sys/fs/resctrl/info")
            .join(dir)
            .is_dir()
    };
    if given("l3-cache-schema") && !enabled("L3") {
        return Err(Error::Other(
            "Intel RDT/CAT: l3 cache schema is not enabled".into(),
        ));
    }
    if given("mem-bw-schema") && !enabled("MB") {
        return Err(Error::Other(
            "Intel RDT/MBA: memory bandwidth schema is not enabled".into(),
        ));
    }
    if given("l3-cache-schema") || given("mem-bw-schema") {
        return Err(Error::Other(
            "updating a non-existent Intel RDT configuration is not supported".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(pairs: &[(&str, &str)]) -> Result<LinuxResources> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let get = move |n: &str| pairs.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        resources(&get, &mut std::io::empty())
    }

    #[test]
    fn sizes_read_as_go_units_reads_them() {
        assert_eq!(ram_in_bytes("512"), Some(512));
        assert_eq!(ram_in_bytes("64m"), Some(64 << 20));
        assert_eq!(ram_in_bytes("1.5G"), Some(3 << 29));
        assert_eq!(ram_in_bytes("10MiB"), Some(10 << 20));
        assert_eq!(ram_in_bytes("10 kb"), Some(10 << 10));
        assert_eq!(ram_in_bytes("-2"), None);
        assert_eq!(ram_in_bytes("12x"), None);
        assert_eq!(ram_in_bytes(""), None);
    }

    #[test]
    fn negative_one_means_unlimited_for_memory_flags() {
        let r = from(&[("memory", "-1"), ("memory-swap", "-1")]).expect("resources");
        let m = r.memory().as_ref().expect("memory");
        assert_eq!(m.limit(), Some(-1));
        assert_eq!(m.swap(), Some(-1));
    }

    #[test]
    fn cpu_burst_idle_and_pids_limit_are_read() {
        let r = from(&[
            ("cpu-burst", "1000"),
            ("cpu-idle", "1"),
            ("pids-limit", "-1"),
        ])
        .expect("resources");
        let cpu = r.cpu().as_ref().expect("cpu");
        assert_eq!(cpu.burst(), Some(1000));
        assert_eq!(cpu.idle(), Some(1));
        assert_eq!(r.pids().as_ref().map(|p| p.limit()), Some(-1));
    }

    #[test]
    fn bad_values_name_the_flag() {
        let e = from(&[("memory", "lots")])
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert_eq!(e, "invalid value for memory: invalid size: 'lots'");
        let e = from(&[("cpu-period", "-5")])
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("invalid value for cpu-period"), "{e}");
    }
}
